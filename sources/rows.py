"""Tell payment rows from the rest: blank rows, repeated headers, totals rows and stray notes."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Padding publishers leave in "empty" cells: NBSP, and the dagger Lambeth's report tool emits.
BLANK_CHARS = " \t\r\n\u00a0\u2020\ufeff"
# A cell holding only one of these labels restates a sum; "TOTAL INSIGNIA LTD" does not.
TOTAL_LABELS = frozenset(
    {"total", "totals", "grand total", "sub total", "subtotal", "sub-total", "total spend",
     "total:", "grand total:", "overall total", "report total"}
)
# A date glued to its neighbour ('25/06/2012900', 'Catch2212/06/2012') by a broken export.
_GLUED_DATE = re.compile(r"(\d{2}/\d{2}/\d{4})")

SKIP_REASONS = {
    "preamble": "title or notes above the header",
    "blank": "every cell empty",
    "repeated_header": "a copy of the header row",
    "second_header": "a second header line under the first (a system's own column names)",
    "changed_header": "a header row part-way down, from which the columns are read anew",
    "totals": "a totals row restating the sum of other rows",
    "not_data": "no amount, date or payee (a footnote or placeholder)",
}


def repair_fused(cells: list[str], width: int) -> tuple[list[str], bool]:
    """Split a cell in which a dd/mm/yyyy date is fused with the cell before or after it.

    Only a row short of the header's width is touched, and only when splitting exactly one
    fused cell restores that width; anything else is left for validation to reject.
    """
    if len(cells) >= width:
        return cells, False
    fused = [(i, m) for i, cell in enumerate(cells) if (m := _glued_date(cell))]
    if len(fused) != 1:
        return cells, False
    index, match = fused[0]
    cell = cells[index]
    parts = [p for p in (cell[: match.start()], match.group(1), cell[match.end():]) if p.strip()]
    repaired = cells[:index] + parts + cells[index + 1:]
    if len(repaired) != width:
        return cells, False
    return repaired, True


def _glued_date(cell: str) -> re.Match | None:
    """The one date in a cell when it touches a letter or digit with no space between."""
    matches = list(_GLUED_DATE.finditer(cell))
    if len(matches) != 1:
        return None
    match = matches[0]
    before = cell[match.start() - 1] if match.start() else " "
    after = cell[match.end()] if match.end() < len(cell) else " "
    return match if before.isalnum() or after.isdigit() else None


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Strip padding from every cell; missing cells become empty strings."""
    cells = [_text(value) for value in frame.to_numpy(dtype=object).ravel().tolist()]
    return pd.DataFrame(_matrix(cells, frame.shape), index=frame.index, columns=frame.columns)


class Cells:
    """A chunk's cells as Arrow text, row by row, `width` cells a row: stripped of padding
    (BLANK_CHARS), empty cells null. Stripping, blank tests and the search for "#" run as
    Arrow kernels over the whole chunk instead of once per cell in Python."""

    def __init__(self, rows: list[list[str]], width: int) -> None:
        padded = (row if len(row) == width else row + [""] * (width - len(row)) for row in rows)
        text = pc.utf8_trim(pa.array(list(itertools.chain.from_iterable(padded)),
                                     type=pa.large_string()), characters=BLANK_CHARS)
        self.text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.large_string()), text)
        self.rows, self.width = len(rows), width
        self.nonblank = _numpy(pc.is_valid(self.text)).reshape(self.rows, width)

    def hash_columns(self) -> frozenset[int]:
        """The positions of the columns with a "#" in some cell: only they can hold a
        spreadsheet error such as #REF!."""
        # Found in the array's one text buffer: each "#" byte's cell is the one whose offsets
        # enclose it, so the cost is a scan of the bytes, not a test of every cell.
        text = self.text
        offsets_buffer, data_buffer = text.buffers()[1:3]
        if data_buffer is None or text.offset != 0:
            found = _numpy(pc.fill_null(pc.match_substring(text, "#"), False))
            cells = np.flatnonzero(found)
        else:
            offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[: len(text) + 1]
            data = np.frombuffer(data_buffer, dtype=np.uint8)[: offsets[-1]]
            at = np.flatnonzero(data[offsets[0]:] == ord("#")) + offsets[0]
            cells = np.searchsorted(offsets, at, side="right") - 1
            cells = cells[self.nonblank.ravel()[cells]]  # bytes under a null cell are not text
        return frozenset(np.unique(cells % self.width).tolist())

    def column(self, index: int, rows: np.ndarray | None = None) -> pa.Array:
        """One column's text (null where empty), of every row or of the given rows."""
        positions = np.arange(self.rows) if rows is None else rows
        return self.text.take(pa.array(positions * self.width + index))

    def equal(self, index: int, value: str) -> np.ndarray:
        """Which rows hold exactly `value` in a column."""
        if not value:
            return ~self.nonblank[:, index]
        return _numpy(pc.fill_null(pc.equal(self.column(index), value), False))

    def row(self, row: int) -> list[str]:
        start = row * self.width
        return [cell or "" for cell in self.text[start:start + self.width].to_pylist()]

    def cell(self, row: int, index: int) -> str:
        return self.text[row * self.width + index].as_py() or ""


def _numpy(values: pa.Array) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False)


def _matrix(cells: list[str], shape: tuple[int, int]) -> np.ndarray:
    matrix = np.empty(len(cells), dtype=object)
    matrix[:] = cells
    return matrix.reshape(shape)


def _text(value: object) -> str:
    if isinstance(value, str):
        return value.strip(BLANK_CHARS)
    return "" if value is None or pd.isna(value) else str(value).strip(BLANK_CHARS)


def classify(
    cells: pd.DataFrame, header: Sequence[str], fields: dict[str, int]
) -> pd.Series:
    """Label each row: "" for a data row, else one of SKIP_REASONS' keys.

    `cells` is cleaned; `fields` maps canonical field names to column positions.
    """
    rows = cells.to_numpy(dtype=object).tolist()
    reasons = classify_matrix(Cells(rows, cells.shape[1]), header, fields)
    return pd.Series(reasons, index=cells.index, dtype=object)


def classify_matrix(cells: Cells, header: Sequence[str], fields: dict[str, int]) -> np.ndarray:
    """classify() over a chunk's Cells, as an array of labels."""
    rows, width = cells.rows, cells.width
    nonblank = cells.nonblank
    reason = np.full(rows, "", dtype=object)
    reason[~nonblank.any(axis=1)] = "blank"

    named = [i for i, h in enumerate(header) if h.strip() and i < width]
    if named:
        wanted = [header[i].strip(BLANK_CHARS) for i in named]
        # Only rows matching the header's first named cell can repeat it: the rest of the
        # comparison is made for those few rows, not for every cell of the chunk.
        for row in np.flatnonzero(cells.equal(named[0], wanted[0])):
            if reason[row] == "" and [cells.cell(row, i) for i in named] == wanted:
                reason[row] = "repeated_header"

    def present(name: str) -> np.ndarray:
        index = fields.get(name)
        if index is None or index >= width:
            return np.zeros(rows, dtype=bool)
        return nonblank[:, index]

    has_amount = present("Amount")
    has_date = present("PaymentDate")
    has_payee = present("BeneficiaryName")
    candidates = (reason == "") & has_amount & ~has_date
    labelled = candidates & has_payee
    for row in np.flatnonzero(labelled):
        labelled[row] = cells.cell(row, fields["BeneficiaryName"]).casefold() in TOTAL_LABELS
    candidates &= ~has_payee | labelled
    for row in np.flatnonzero(candidates):
        if _is_totals_row(cells.row(row), fields["Amount"]):
            reason[row] = "totals"
    reason[(reason == "") & ~(has_amount | has_date | has_payee)] = "not_data"
    return reason


def _is_totals_row(row: list[str], amount_index: int) -> bool:
    """True when the amount is the row's only content, bar a bare "Total" label."""
    for position, value in enumerate(row):
        if position == amount_index or not value:
            continue
        if value.casefold() not in TOTAL_LABELS:
            return False
    return True
