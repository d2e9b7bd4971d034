"""Map a file's header row to canonical spend fields: the crosswalk's exact spellings first, then
the words of a heading (sources/headings.py), each checked against what its column holds."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sources.content import ColumnProfile, cell_kind
from sources.headings import Headings, header_key, load_headings
from sources.yamlfiles import read_yaml

__all__ = ["header_key"]

CROSSWALK_PATH = Path(__file__).with_name("crosswalk.yaml")
AMOUNT_FIELDS = ("Amount", "GrossAmount")
# The fields a table of payments cannot do without: the report names what was looked at for
# each when one is missing.
PAYMENT_FIELDS = ("Amount", "PaymentDate", "BeneficiaryName")
# Rows this far into a file are searched for the header (MoD puts an 89-line glossary first).
HEADER_SEARCH_ROWS = 200
# How each way of mapping ranks when two columns claim one field: the publisher's word, then
# the crosswalk's exact spellings, then a heading's words, then a column's content.
TIERS = {"override": 0, "crosswalk": 1, "tokens": 2, "content": 3}
# A column found by its content alone must be this consistently money or dates, and at least
# this share of its dates written as dates (not bare numbers, which could be anything).
CONTENT_SHARE = 0.9
MOSTLY_WRITTEN = 0.5
_HEADINGISH = re.compile(r"(?:[0-9]{1,2}\s+)?[^0-9]*$")
# Fields whose column, where it holds dates and the file has no payment date, stands in.
STAND_IN_DATES = ("AccountingPeriod",)


@dataclass(frozen=True, eq=False)  # hashed by identity: header decisions are cached per crosswalk
class Crosswalk:
    """Header spellings by normalised key, with each spelling's field and preference rank, and
    the word rules for the spellings it does not list."""

    spellings: Mapping[str, tuple[str, int]]
    fallbacks: Mapping[str, tuple[str, ...]]
    ignored: frozenset[str]
    headings: Headings

    def lookup(self, header: str) -> tuple[str, int] | None:
        return self.spellings.get(header_key(header))

    def is_ignored(self, header: str) -> bool:
        return header_key(header) in self.ignored


@lru_cache(maxsize=4)
def load_crosswalk(path: Path = CROSSWALK_PATH) -> Crosswalk:
    """Read the crosswalk, refusing a spelling that would map to two fields."""
    data = read_yaml(path)
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
    return Crosswalk(spellings, fallbacks, ignored, load_headings())


@dataclass
class ColumnMapping:
    """What one physical column became: a canonical field, or a key in the row's `extra`."""

    index: int
    header: str
    name: str
    field: str | None
    # override, crosswalk, tokens (the heading's words), content (what the column holds),
    # fallback, duplicate, ignored, unknown, blank
    how: str
    note: str = ""
    priority: int = 0


@dataclass
class HeaderMapping:
    """The mapping of a whole header row, and, for each payment field, what was considered."""

    columns: list[ColumnMapping]
    fields: dict[str, int] = field(default_factory=dict)
    considered: dict[str, list[str]] = field(default_factory=dict)

    def looked_for(self, name: str) -> str:
        """What was looked at for a field, in words, for a report that says why it is missing."""
        seen = self.considered.get(name)
        return "; ".join(seen) if seen else "no column's heading or content fits"


def map_header(
    headers: Sequence[str], crosswalk: Crosswalk, overrides: Mapping[str, str | None] = {},
    profiles: Sequence[ColumnProfile] | None = None,
) -> HeaderMapping:
    """Map a header row to fields; the best column wins each field, the rest go to extra.

    `overrides` (publisher data from the registry) maps a header, or "Header (2)" for the second
    of two same-named columns, to a field name, or to None to leave it unmapped. `profiles`,
    what each column holds in the rows under the header, check the columns mapped by their
    heading's words, put a filled column before an empty one, and find the amount and the
    payment date by content where no heading names them.
    """
    override_keys = {header_key(k): v for k, v in overrides.items()}
    mapping = HeaderMapping([])
    seen: dict[str, int] = {}
    for index, raw in enumerate(headers):
        label = raw.strip()
        if not label:
            mapping.columns.append(ColumnMapping(index, raw, f"column {index + 1}", None, "blank"))
            continue
        seen[label] = seen.get(label, 0) + 1
        name = label if seen[label] == 1 else f"{label} ({seen[label]})"
        column = _classify(index, raw, name, crosswalk, override_keys)
        if profiles is not None and column.how == "tokens":
            _check_content(column, _profile(profiles, index), crosswalk.headings, mapping)
        mapping.columns.append(column)
    _choose(mapping, profiles)
    _apply_fallbacks(mapping, crosswalk, profiles)
    if profiles is not None:
        _by_content(mapping, profiles, crosswalk.headings)
    return mapping


def _profile(profiles: Sequence[ColumnProfile], index: int) -> ColumnProfile:
    return profiles[index] if index < len(profiles) else ColumnProfile()


def _classify(
    index: int, raw: str, name: str, crosswalk: Crosswalk, override_keys: Mapping[str, str | None]
) -> ColumnMapping:
    for key in (header_key(name), header_key(raw)):
        if key in override_keys:
            target = override_keys[key]
            return ColumnMapping(index, raw, name, target, "override" if target else "ignored",
                                 priority=-1)
    if name != raw.strip():
        # A repeated header is never mapped twice: the first one carries it.
        known = crosswalk.lookup(raw) or crosswalk.headings.field(raw)
        note = f"repeats {raw.strip()!r}"
        return ColumnMapping(index, raw, name, None,
                             "duplicate" if known and known[0] else "unknown", note)
    found = crosswalk.lookup(raw)
    if found:
        return ColumnMapping(index, raw, name, found[0], "crosswalk", priority=found[1])
    if crosswalk.is_ignored(raw):
        return ColumnMapping(index, raw, name, None, "ignored")
    worded = crosswalk.headings.field(raw)
    if worded is None:
        return ColumnMapping(index, raw, name, None, "unknown")
    if worded[0] is None:
        return ColumnMapping(index, raw, name, None, "ignored", "left in extra by its words")
    return ColumnMapping(index, raw, name, worded[0], "tokens", priority=worded[1])


def _check_content(column: ColumnMapping, profile: ColumnProfile, headings: Headings,
                   mapping: HeaderMapping) -> None:
    """Unmap a column its heading's words gave a field whose kind of value it does not hold."""
    kind = headings.holds.get(column.field)
    if kind is None or profile.holds(kind):
        return
    what = profile.describe()
    mapping.considered.setdefault(column.field, []).append(
        f"{column.name!r} (its heading reads as {column.field}, but it holds {what})")
    column.note = f"its heading reads as {column.field}, but it holds {what}"
    column.field, column.how = None, "unknown"


def _choose(mapping: HeaderMapping, profiles: Sequence[ColumnProfile] | None) -> None:
    """Give each field to its best column: a filled one before an empty one, then by how it
    was mapped and its rank; the others go to extra, saying which column won."""
    def rank(column: ColumnMapping) -> tuple:
        empty = profiles is not None and _profile(profiles, column.index).empty
        return (empty, TIERS[column.how], column.priority, column.index)

    claims: dict[str, list[ColumnMapping]] = {}
    for column in mapping.columns:
        if column.field:
            claims.setdefault(column.field, []).append(column)
    for name, columns in claims.items():
        ranks = {column.index: rank(column) for column in columns}
        columns.sort(key=lambda column: ranks[column.index])
        winner = columns[0]
        mapping.fields[name] = winner.index
        for loser in columns[1:]:
            loser.how, loser.note = "duplicate", f"{name} taken by {winner.name!r}"
            if ranks[loser.index][0]:
                loser.note += f" ({loser.name!r} is empty in the rows read)"
            loser.field = None
            mapping.considered.setdefault(name, []).append(f"{loser.name!r} ({loser.note})")


def _apply_fallbacks(mapping: HeaderMapping, crosswalk: Crosswalk,
                     profiles: Sequence[ColumnProfile] | None) -> None:
    """A field the file has no column for, or only an empty one, takes the first filled
    column of its stand-ins (the invoice date for the payment date, the gross amount for the
    net), and the report says so."""
    columns, fields = mapping.columns, mapping.fields

    def empty(index: int) -> bool:
        return profiles is not None and _profile(profiles, index).empty

    for target, sources in crosswalk.fallbacks.items():
        if target in fields and not empty(fields[target]):
            continue
        for source in sources:
            if source in fields and not empty(fields[source]):
                lacking = f"the file has no {target} column"
                if target in fields:  # there is one, empty: it stays in extra
                    unused = columns[fields.pop(target)]
                    unused.field, unused.how = None, "duplicate"
                    unused.note = f"empty in the rows read: {source} stands in for {target}"
                    lacking = f"the file's {target} column {unused.name!r} is empty"
                index = fields.pop(source)
                fields[target] = index
                column = columns[index]
                column.field, column.how = target, "fallback"
                column.note = f"{source} standing in: {lacking}"
                break


def _by_content(mapping: HeaderMapping, profiles: Sequence[ColumnProfile],
                headings: Headings) -> None:
    """Find the amount and the payment date from what unmapped columns hold, where no heading
    names them: a column of money with pence, a column of written dates."""
    free = [c for c in mapping.columns if c.field is None and c.how in ("unknown", "blank")]
    if "Amount" not in mapping.fields:
        money = [c for c in free if _holds_money(_profile(profiles, c.index),
                                                 headings.wording(c.header).currency)]
        _take(mapping, "Amount", money, "holds amounts")
    if "PaymentDate" not in mapping.fields:
        # A period column that holds dates ('Jun-10', '2012-09') is the payments' month.
        free += [c for c in mapping.columns if c.field in STAND_IN_DATES]
        dates = sorted((c for c in free if c.field in (None, *STAND_IN_DATES)
                        and _holds_dates(_profile(profiles, c.index))), key=lambda c: c.index)
        if len(dates) > 1:  # the first of several date columns: nearly always the payment's
            for other in dates[1:]:
                other.note = f"a column of dates after {dates[0].name!r}"
            dates = dates[:1]
        _take(mapping, "PaymentDate", dates, "holds dates")


def _holds_money(profile: ColumnProfile, currency: bool) -> bool:
    if profile.filled < max(1, profile.cells / 2):
        return False
    if profile.share(profile.money) < CONTENT_SHARE or profile.share(profile.written_dates) > 0:
        return False
    # Whole numbers alone are as likely ids or years as money.
    return currency or profile.share(profile.pence) >= 0.2


def _holds_dates(profile: ColumnProfile) -> bool:
    return (profile.filled >= max(1, profile.cells / 2)
            and profile.share(profile.dates) >= CONTENT_SHARE
            and profile.share(profile.written_dates) >= MOSTLY_WRITTEN)



def _take(mapping: HeaderMapping, name: str, found: list[ColumnMapping], holds: str) -> None:
    if len(found) == 1:
        column = found[0]
        heading = f"its heading {column.header.strip()!r}" if column.header.strip() else "it"
        note = f"{holds}; {heading} names no field the reader knows"
        if column.field:  # a stand-in: the file has no column for the field itself
            mapping.fields.pop(column.field, None)
            note = f"{holds}; the file has no {name} column, so this {column.field} stands in"
        column.field, column.how, column.note = name, "content", note
        mapping.fields[name] = column.index
    elif found:
        names = ", ".join(repr(c.name) for c in found)
        mapping.considered.setdefault(name, []).append(
            f"{len(found)} columns hold {holds.removeprefix('holds ')} ({names}) and no "
            "heading says which is the payment's")


def header_score(cells: Sequence[str], crosswalk: Crosswalk, overrides: Mapping = {}) -> int:
    """How much a row looks like a spend header: the number of distinct fields its headings
    name (0 for a row of data, or one naming too few fields to be a header)."""
    if not looks_like_header(cells):
        return 0
    mapping = map_header(cells, crosswalk, overrides)
    known = sum(1 for c in mapping.columns if c.how not in ("unknown", "blank"))
    if known * 3 < sum(1 for c in mapping.columns if c.how != "blank"):
        return 0  # a header names many of its columns; a row of text that names a few is data
    named = set(mapping.fields)
    if len(named) >= 3:
        return len(named)
    # Two fields make a header when the crosswalk knows both by name and one is an amount, a
    # payment date or a payee: 'Supplier' and 'Amount', 'Date' and 'Supplier' (the amount is
    # then found by content, or its absence reported); not a glossary's 'Examples of
    # Expenditure'.
    exact = {c.field for c in mapping.columns if c.how in ("crosswalk", "override")}
    core = set(AMOUNT_FIELDS) | {"PaymentDate", "BeneficiaryName"}
    return len(named) if len(named) == 2 and exact == named and named & core else 0


def is_header_below(cells: Sequence[str], header: Sequence[str], crosswalk: Crosswalk,
                    overrides: Mapping = {}) -> bool:
    """Whether a row below the header row is a header too: mostly the header's own headings
    (repeated, with columns moved or renamed in part), or headings the crosswalk knows
    exactly for three fields or more. A row of text that merely reads like headings ('Cost
    Management Ltd', 'Contractors Fees') is data."""
    if not looks_like_header(cells):
        return False
    keys = {header_key(cell) for cell in cells if cell.strip()}
    shared = keys & {header_key(h) for h in header if h.strip()}
    if len(shared) >= 2 and len(shared) * 2 >= len(keys):
        return True
    mapping = map_header(cells, crosswalk, overrides)
    return len({c.field for c in mapping.columns
                if c.field and c.how in ("crosswalk", "override")}) >= 3


def looks_like_header(cells: Sequence[str]) -> bool:
    """A row of headings, not of data: two or more filled cells, no date among them and hardly
    a number (a stray one in ten)."""
    filled = [text for cell in cells if (text := cell.strip())]
    if len(filled) < 2:
        return False
    # First the quick test that rejects nearly every row of data: headings hold no digits,
    # but for a column number in front ('8 Amount').
    if sum(1 for text in filled if not _HEADINGISH.match(text)) * 3 > len(filled):
        return False
    kinds = [cell_kind(text) for text in filled]
    if any(kind.written_date for kind in kinds):
        return False
    return sum(1 for kind in kinds if kind.money and not kind.words) * 10 <= len(filled)


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
