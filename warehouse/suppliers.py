"""Normalise payee names so spellings of one organisation meet; spot payees that publish."""

import re
import unicodedata
from collections.abc import Iterable

from sources.registry import Publisher

# Legal-form and filler words that do not tell two organisations apart.
_SUFFIXES = re.compile(r"\b(limited|ltd|plc|llp|lp|cic|cio|co|company|inc|the|and)\b")
_TRADING_AS = re.compile(r"\b(t/a|ta|trading as)\b.*$")
_BRACKETS = re.compile(r"\([^)]*\)")
_PUNCT = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")


def payee_key(name: str | None) -> str | None:
    """A comparison key: 'The Northmoor Leisure Trust Ltd (T/A Active Northmoor)' and
    'NORTHMOOR LEISURE TRUST LIMITED' both become 'northmoor leisure trust'."""
    if not name:
        return None
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    text = _TRADING_AS.sub("", _BRACKETS.sub(" ", text.replace("&", " and ")))
    text = _PUNCT.sub(" ", text)
    text = _SUFFIXES.sub(" ", text)
    return _SPACES.sub(" ", text).strip() or None


def publisher_keys(publishers: Iterable[Publisher]) -> dict[str, str]:
    """payee_key of each publisher's name → publisher id, for spotting payees that publish."""
    return {key: p.id for p in publishers if (key := payee_key(p.name))}
