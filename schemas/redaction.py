"""Recognise redacted payees and normalise each marker to a reason, using redaction.yaml."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from sources.yamlfiles import read_yaml

RULES_PATH = Path(__file__).with_name("redaction.yaml")


@lru_cache(maxsize=1)
def _rules() -> tuple[str, list[tuple[str, str]], str]:
    data = read_yaml(RULES_PATH)
    markers = "|".join(f"(?:{p})" for p in data["markers"])
    reasons = [(reason, "|".join(f"(?:{p})" for p in patterns))
               for reason, patterns in data["reasons"].items()]
    return markers, reasons, data["default"]


@lru_cache(maxsize=1)
def _marker_pattern() -> re.Pattern:
    return re.compile(_rules()[0], re.IGNORECASE)


def is_redaction_marker(payee: str | None) -> bool:
    """The same test as redaction_reasons, for one value (used name by name in resolution)."""
    return bool(payee) and _marker_pattern().search(payee.strip()) is not None


def redaction_reasons(payees: pd.Series, known: dict[str, object] | None = None) -> pd.Series:
    """The redaction reason for each payee that is a redaction marker, NA for the rest.

    `known` keeps each payee's reason from chunk to chunk of a file (a validator passes the same
    dict for every chunk).
    """
    # Decided once per distinct payee: a file names far fewer payees than it has rows.
    known = {} if known is None else known
    codes, distinct = pd.factorize(payees.astype("string"))
    texts = distinct.tolist()
    new = [text for text in texts if text not in known]
    if new:
        known.update(zip(new, _distinct_reasons(pd.Series(new, dtype="string")).tolist(),
                         strict=True))
    reasons = pd.array([known[text] for text in texts] + [pd.NA], dtype="string")
    return pd.Series(reasons.take(codes), index=payees.index, dtype="string")


def _distinct_reasons(payees: pd.Series) -> pd.Series:
    markers, reasons, default = _rules()
    text = payees.astype("string").str.strip()
    flags = re.IGNORECASE
    redacted = text.str.contains(markers, flags=flags, regex=True).fillna(False)
    result = pd.Series(pd.NA, index=payees.index, dtype="string")
    result[redacted] = default
    undecided = redacted.copy()
    for reason, pattern in reasons:
        hit = undecided & text.str.contains(pattern, flags=flags, regex=True).fillna(False)
        result[hit] = reason
        undecided &= ~hit
    return result
