"""Map the header spellings publishers use to canonical spend fields, driven by crosswalk.yaml."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

CROSSWALK_PATH = Path(__file__).with_name("crosswalk.yaml")
AMOUNT_FIELDS = ("Amount", "GrossAmount")
# Rows this far into a file are searched for the header (MoD puts an 89-line glossary first).
HEADER_SEARCH_ROWS = 200

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NUMBERED = re.compile(r"^(?:\*\s*|\d{1,2}\s+)")
_NON_WORD = re.compile(r"[^0-9a-z£]+")


@lru_cache(maxsize=1 << 16)
def header_key(text: str) -> str:
    """Normalise a header so that spellings differing only in case, spacing or punctuation meet.

    >>> header_key("Net Amount(£)") == header_key(" net amount (£) ")
    True

    Remembered per text: finding a file's header scores up to 200 opening rows, and each cell
    is normalised three times while a row is mapped; cells repeat from row to row and file to
    file.
    """
    text = unicodedata.normalize("NFKC", text).strip()
    text = _NUMBERED.sub("", text)
    text = _CAMEL.sub(" ", text)
    return _NON_WORD.sub(" ", text.casefold()).strip()


@dataclass(frozen=True)
class Crosswalk:
    """Header spellings by normalised key, with each spelling's field and preference rank."""

    spellings: Mapping[str, tuple[str, int]]
    fallbacks: Mapping[str, tuple[str, ...]]
    ignored: frozenset[str]

    def lookup(self, header: str) -> tuple[str, int] | None:
        return self.spellings.get(header_key(header))

    def is_ignored(self, header: str) -> bool:
        return header_key(header) in self.ignored


@lru_cache(maxsize=4)
def load_crosswalk(path: Path = CROSSWALK_PATH) -> Crosswalk:
    """Read the crosswalk, refusing a spelling that would map to two fields."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    spellings: dict[str, tuple[str, int]] = {}
    for name, variants in data["fields"].items():
        # The schema's own field name is always a spelling of itself.
        for rank, variant in enumerate([*variants, name]):
            key = header_key(variant)
            if key in spellings and spellings[key][0] != name:
                raise ValueError(
                    f"{path}: header {variant!r} maps to both {spellings[key][0]} and {name}"
                )
            spellings.setdefault(key, (name, rank))
    fallbacks = {k: tuple(v) for k, v in (data.get("fallbacks") or {}).items()}
    ignored = frozenset(header_key(h) for h in data.get("ignored") or [])
    return Crosswalk(spellings, fallbacks, ignored)


@dataclass
class ColumnMapping:
    """What one physical column became: a canonical field, or a key in the row's `extra`."""

    index: int
    header: str
    name: str
    field: str | None
    how: str  # crosswalk, override, fallback, duplicate, ignored, unknown, blank
    note: str = ""


@dataclass
class HeaderMapping:
    """The mapping of a whole header row."""

    columns: list[ColumnMapping]
    fields: dict[str, int] = field(default_factory=dict)


def map_header(
    headers: Sequence[str], crosswalk: Crosswalk, overrides: Mapping[str, str | None] = {}
) -> HeaderMapping:
    """Map a header row to fields; the best-ranked column wins each field, the rest go to extra.

    `overrides` (publisher data from the registry) maps a header, or "Header (2)" for the second
    of two same-named columns, to a field name, or to None to leave it unmapped.
    """
    override_keys = {header_key(k): v for k, v in overrides.items()}
    columns: list[ColumnMapping] = []
    claims: dict[str, tuple[int, int]] = {}
    seen: dict[str, int] = {}
    for index, raw in enumerate(headers):
        label = raw.strip()
        if not label:
            columns.append(ColumnMapping(index, raw, f"column {index + 1}", None, "blank"))
            continue
        seen[label] = seen.get(label, 0) + 1
        name = label if seen[label] == 1 else f"{label} ({seen[label]})"
        column = _classify(index, raw, name, crosswalk, override_keys)
        columns.append(column)
        if column.field:
            rank = -1 if column.how == "override" else crosswalk.lookup(raw)[1]
            best = claims.get(column.field)
            if best is None or rank < best[0]:
                claims[column.field] = (rank, index)
    fields = {name: index for name, (_, index) in claims.items()}
    for column in columns:
        if column.field and fields[column.field] != column.index:
            winner = columns[fields[column.field]].name
            column.how, column.note = "duplicate", f"{column.field} taken by {winner!r}"
            column.field = None
    _apply_fallbacks(columns, fields, crosswalk)
    return HeaderMapping(columns, fields)


def _classify(
    index: int, raw: str, name: str, crosswalk: Crosswalk, override_keys: Mapping[str, str | None]
) -> ColumnMapping:
    for key in (header_key(name), header_key(raw)):
        if key in override_keys:
            target = override_keys[key]
            return ColumnMapping(index, raw, name, target, "override" if target else "ignored")
    if name != raw.strip():
        # A repeated header is never mapped twice by the crosswalk: the first one carries it.
        found = crosswalk.lookup(raw)
        note = f"repeats {raw.strip()!r}"
        return ColumnMapping(index, raw, name, None, "duplicate" if found else "unknown", note)
    found = crosswalk.lookup(raw)
    if found:
        return ColumnMapping(index, raw, name, found[0], "crosswalk")
    if crosswalk.is_ignored(raw):
        return ColumnMapping(index, raw, name, None, "ignored")
    return ColumnMapping(index, raw, name, None, "unknown")


def _apply_fallbacks(
    columns: list[ColumnMapping], fields: dict[str, int], crosswalk: Crosswalk
) -> None:
    for target, sources in crosswalk.fallbacks.items():
        if target in fields:
            continue
        for source in sources:
            if source in fields:
                index = fields.pop(source)
                fields[target] = index
                column = columns[index]
                column.field, column.how = target, "fallback"
                column.note = f"{source} standing in: the file has no {target} column"
                break


def header_score(cells: Sequence[str], crosswalk: Crosswalk, overrides: Mapping = {}) -> int:
    """How much a row looks like a spend header: the number of distinct fields it names."""
    mapping = map_header(cells, crosswalk, overrides)
    named = set(mapping.fields)
    if named & set(AMOUNT_FIELDS) and len(named) >= 2:
        return len(named)
    return len(named) if len(named) >= 3 else 0


def find_header(
    rows: Sequence[Sequence[str]], crosswalk: Crosswalk, overrides: Mapping = {}
) -> int | None:
    """Index of the header row among the opening rows, or None when there is no spend header.

    The row naming the most fields wins; ties go to the earliest row.
    """
    best, best_score = None, 0
    for index, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if sum(1 for c in cells if c.strip()) < 2:
            continue
        score = header_score(cells, crosswalk, overrides)
        if score > best_score:
            best, best_score = index, score
    return best
