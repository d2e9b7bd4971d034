"""Spot payments to private individuals whose names should not have been published.

The rules and word lists are in privacy.yaml. The warehouse keeps the name and the reason
(`payments.personal_data`); the published site shows the payee as withheld; `moneytrail
validate` tells the publisher how many rows and where.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from schemas.redaction import is_redaction_marker

RULES_PATH = Path(__file__).with_name("privacy.yaml")
# Reasons, in the order they are tried.
REASONS = ("title", "type", "category", "name")
# The spend fields whose text says what a payment was for: a category that pays people.
CONTEXT_FIELDS = ("ExpenseType", "ServiceCategoryLabel", "Purpose", "Narrative",
                  "CategoryInternalName", "ProclassLabel")
# What the published site shows instead of a personal payee's name.
WITHHELD = "Private individual (name withheld by moneytrail)"


@lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern]:
    data = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
    forenames = "|".join(sorted(set(data["forenames"].split()), key=len, reverse=True))
    surname = r"[a-z][a-z'’-]+"
    # One or two initials, spaced or dotted: 'J', 'J.', 'P H', 'J.A.'; not 'BT' or 'HM'.
    initials = r"[a-z](?:\.\s*[a-z]\.?|\s+[a-z]\.?|\.)?"
    return {
        "title": re.compile(data["titles"], re.IGNORECASE),
        "type": re.compile("|".join(f"(?:{p})" for p in data["individual_types"]),
                           re.IGNORECASE),
        "category": re.compile("|".join(f"(?:{p})" for p in data["categories"]), re.IGNORECASE),
        "organisation": re.compile(data["organisation_markers"], re.IGNORECASE),
        # 'JOHN SMITH', 'John Paul Jones', 'Smith, John', 'J Smith', 'J. A. Smith',
        # 'Mary-Jane O'Neill': a forename or one or two initials, then one surname.
        "name": re.compile(
            rf"^(?:(?:{forenames})(?:-(?:{forenames}))?(?:\s+(?:{forenames}|[a-z]\.?))?"
            rf"|{initials})\s+{surname}$"
            rf"|^{surname}\s*,\s*(?:(?:{forenames})|{initials})$",
            re.IGNORECASE),
        # In a category that pays people, any two words, or 'The Boulters' (a family).
        "person": re.compile(
            rf"^(?:[a-z]+|{initials})\s+{surname}$|^the\s+[a-z'’-]+s$",
            re.IGNORECASE),
    }


def personal_reason(payee: str | None, beneficiary_type: str | None = None,
                    context: str | None = None) -> str | None:
    """Why this payee looks like a private individual (one of REASONS), or None.

    context is the row's category text: expense type, service, purpose, narrative.
    """
    name = " ".join(str(payee or "").split())
    settled, person, named = _by_name(name)
    if settled is not _OPEN:
        return settled
    return _by_row(person, named, _individual(beneficiary_type), _pays_people(context))


# What the name alone leaves open, for the row's type and category to settle.
_OPEN = "open"


@lru_cache(maxsize=1 << 16)  # a publisher pays the same payees file after file, chunk after chunk
def _by_name(name: str) -> tuple[str | None, bool, bool]:
    """(reason, or None, or _OPEN; whether the name is person-shaped; name-shaped)."""
    if not name or is_redaction_marker(name):
        return None, False, False
    patterns = _patterns()
    if patterns["title"].match(name):
        return "title", False, False
    if patterns["organisation"].search(name) is not None:
        return None, False, False
    return (_OPEN, patterns["person"].match(name) is not None,
            patterns["name"].match(name) is not None)


def _by_row(person: bool, named: bool, individual: bool, pays_people: bool) -> str | None:
    if individual:
        return "type"
    if pays_people and person:
        return "category"
    return "name" if named else None


@lru_cache(maxsize=1 << 16)
def _individual(beneficiary_type: str | None) -> bool:
    return bool(beneficiary_type) and _patterns()["type"].search(beneficiary_type) is not None


@lru_cache(maxsize=1 << 16)
def _pays_people(context: str | None) -> bool:
    return bool(context) and _patterns()["category"].search(context) is not None


def personal_reasons(payees: pd.Series, beneficiary_types: pd.Series | None = None,
                     contexts: pd.Series | list[pd.Series] | None = None,
                     known: dict | None = None) -> pd.Series:
    """personal_reason for each row (NA where none), deciding each distinct value once.

    `contexts` is the row's category text: one column, or several (the row is in a category
    that pays people when any of them says so). Payee, type and category text are each decided
    per distinct value, then combined. `known` keeps those decisions from chunk to chunk of a
    file (a validator passes the same dict for every chunk): its payees and categories repeat.
    """
    known = {} if known is None else known
    index = payees.index
    by_name = _distinct(payees, lambda p: _by_name(" ".join(p.split())),
                        known.setdefault("name", {}))
    individual = _distinct(_text(beneficiary_types, index), _individual,
                           known.setdefault("type", {}))
    columns = contexts if isinstance(contexts, list) else [contexts]
    pays_people = [False] * len(index)
    for column in columns:
        if column is not None:
            decided = _distinct(column, _pays_people, known.setdefault("category", {}))
            pays_people = [a or b for a, b in zip(pays_people, decided, strict=True)]
    result = [
        settled if settled is not _OPEN else _by_row(person, named, is_type, is_category)
        for (settled, person, named), is_type, is_category
        in zip(by_name, individual, pays_people, strict=True)
    ]
    return pd.Series(result, index=index, dtype="string")


def _distinct(values: pd.Series, decide, known: dict) -> list:
    """decide(text) for each value (empty text for a missing one), called once per distinct
    text, remembered in `known`."""
    codes, uniques = pd.factorize(values.astype("string"))
    texts = uniques.tolist()
    for text in texts:
        if text not in known:
            known[text] = decide(str(text))
    decided = [known[text] for text in texts] + [decide("")]  # code -1: a missing value
    return [decided[code] for code in codes.tolist()]


def context_columns(frame: pd.DataFrame, columns: tuple[str, ...] = CONTEXT_FIELDS
                    ) -> list[pd.Series]:
    """The row's category text: those of the given columns the frame has."""
    return [frame[c] for c in columns if c in frame]


def _text(values: pd.Series | None, index: pd.Index) -> pd.Series:
    if values is None:
        return pd.Series(pd.NA, index=index, dtype="string")
    return values.astype("string")
