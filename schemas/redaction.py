"""Recognise redacted payees and normalise each marker to a reason, using redaction.yaml."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

RULES_PATH = Path(__file__).with_name("redaction.yaml")


@lru_cache(maxsize=1)
def _rules() -> tuple[str, list[tuple[str, str]], str]:
    data = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
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


def redaction_reasons(payees: pd.Series) -> pd.Series:
    """The redaction reason for each payee that is a redaction marker, NA for the rest."""
    # Decided once per distinct payee: a file names far fewer payees than it has rows.
    codes, distinct = pd.factorize(payees.astype("string"))
    reasons = _distinct_reasons(pd.Series(distinct, dtype="string")).array
    return pd.Series(reasons.take(codes, allow_fill=True), index=payees.index, dtype="string")


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
