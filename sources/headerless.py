"""Find the columns of a table that has no header row from what its rows hold: lines with a
column of dates, one of amounts and one of names, below whatever notes precede them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sources.content import SAMPLE_ROWS, cell_kind
from sources.headers import ColumnMapping, HeaderMapping

# A block of payment lines has at least this many lines, each with this many filled cells.
MIN_LINES = 3
MIN_CELLS = 3
# Of the lines with enough cells, the date column must be a date in at least this share.
DATE_SHARE = 0.5
# Lines of the block looked at to tell its columns apart.
LOOK_AT = 2_000
NOTE = "no header row: {what}, inferred from what the column holds"


@dataclass
class Inferred:
    """The columns found, and where the block of payment lines starts."""

    mapping: HeaderMapping
    start: int


def infer_columns(rows: Sequence[Sequence[str]],
                  positions: Mapping[int, str] | None = None) -> Inferred | None:
    """The columns of headerless payment lines among `rows`, or None when there are none.

    `positions` (a publisher's `columns` quirk: column number from 1, to field) names the
    columns instead of inferring them, and confirms a file that is headerless.
    """
    lines = [i for i, cells in enumerate(rows) if _filled(cells) >= MIN_CELLS][:LOOK_AT]
    if len(lines) < MIN_LINES:
        return None
    width = max(len(rows[i]) for i in lines)
    if positions:
        fields = {name: number - 1 for number, name in positions.items()}
        how = "override"
    else:
        fields = _infer(rows, lines, width)
        how = "content"
    if "Amount" not in fields:
        return None
    start = next((i for i in lines if _fits(rows[i], fields)), None)
    if start is None or sum(1 for i in lines if i >= start and _fits(rows[i], fields)) \
            < MIN_LINES:
        return None
    by_index = {index: name for name, index in fields.items()}
    columns = []
    for index in range(width):
        name = by_index.get(index)
        note = NOTE.format(what=_WHAT.get(name, "")) if name and how == "content" else ""
        if name and how == "override":
            note = "no header row: named by the publisher's columns quirk"
        columns.append(ColumnMapping(index, "", f"column {index + 1}", name,
                                     how if name else "unknown", note))
    return Inferred(HeaderMapping(columns, dict(fields)), start)


_WHAT = {"PaymentDate": "dates", "Amount": "amounts", "BeneficiaryName": "names"}


def _filled(cells: Sequence[str]) -> int:
    return sum(1 for cell in cells if cell.strip())


def _cell(cells: Sequence[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""


def _infer(rows: Sequence[Sequence[str]], lines: list[int], width: int) -> dict[str, int]:
    """The date, amount and payee columns of the lines: the column most often a written date,
    the other most often money (with pence first), and the column of words with most
    different values."""
    sample = [rows[i] for i in lines][:SAMPLE_ROWS * 2]
    kinds = [[cell_kind(text) if (text := _cell(cells, i)) else None for i in range(width)]
             for cells in sample]

    def count(index: int, test) -> int:
        return sum(1 for row in kinds if row[index] is not None and test(row[index]))

    fields: dict[str, int] = {}
    dates = {i: count(i, lambda k: k.written_date) for i in range(width)}
    date_at = max(dates, key=lambda i: (dates[i], -i))
    if dates[date_at] >= max(MIN_LINES, DATE_SHARE * len(sample)):
        fields["PaymentDate"] = date_at
    money = {i: (count(i, lambda k: k.money and not k.written_date),
                 count(i, lambda k: k.pence)) for i in range(width) if i != date_at}
    if money:
        amount_at = max(money, key=lambda i: (money[i], i))
        if money[amount_at][0] >= max(MIN_LINES, DATE_SHARE * len(sample)):
            fields["Amount"] = amount_at
    taken = set(fields.values())
    words = [i for i in range(width) if i not in taken
             and count(i, lambda k: k.words) >= 0.8 * len(sample)]
    if words:
        distinct = {i: len({_cell(cells, i).casefold() for cells in sample}) for i in words}
        fields["BeneficiaryName"] = max(words, key=lambda i: (distinct[i], -i))
    return fields


def _fits(cells: Sequence[str], fields: Mapping[str, int]) -> bool:
    """A payment line: its amount is money, and its date (where there is a date column) a
    date."""
    amount = _cell(cells, fields["Amount"])
    if not amount or not cell_kind(amount).money:
        return False
    if "PaymentDate" in fields:
        date = _cell(cells, fields["PaymentDate"])
        return bool(date) and cell_kind(date).date
    return True
