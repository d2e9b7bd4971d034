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
    if not name or is_redaction_marker(name):
        return None
    patterns = _patterns()
    if patterns["title"].match(name):
        return "title"
    organisation = patterns["organisation"].search(name) is not None
    if organisation:
        return None
    if beneficiary_type and patterns["type"].search(beneficiary_type):
        return "type"
    if context and patterns["category"].search(context) and patterns["person"].match(name):
        return "category"
    if patterns["name"].match(name):
        return "name"
    return None


def personal_reasons(payees: pd.Series, beneficiary_types: pd.Series | None = None,
                     contexts: pd.Series | None = None) -> pd.Series:
    """personal_reason for each row (NA where none), deciding each distinct row once."""
    index = payees.index
    frame = pd.DataFrame({
        "payee": payees.astype("string"),
        "type": _text(beneficiary_types, index),
        "context": _text(contexts, index),
    }, index=index)
    keys = frame.fillna("").astype(str)
    decided: dict[tuple[str, str, str], str | None] = {}
    result = []
    for row in keys.itertuples(index=False, name=None):
        if row not in decided:
            decided[row] = personal_reason(*row)
        result.append(decided[row])
    return pd.Series(result, index=index, dtype="string")


def context_of(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series | None:
    """The row's category text: the given columns that exist, joined."""
    present = [c for c in columns if c in frame]
    if not present:
        return None
    text = frame[present[0]].astype("string").fillna("")
    for column in present[1:]:
        text = text + " | " + frame[column].astype("string").fillna("")
    return text


def _text(values: pd.Series | None, index: pd.Index) -> pd.Series:
    if values is None:
        return pd.Series(pd.NA, index=index, dtype="string")
    return values.astype("string")
