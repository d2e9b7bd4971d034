"""Tell payment rows from the rest: blank rows, repeated headers, totals rows and stray notes."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

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


def clean_rows(rows: list[list[str]], width: int) -> np.ndarray:
    """Rows of text cells as a rows x width matrix of stripped text, short rows padded."""
    return clean_matrix(rows, width)[0]


def clean_matrix(rows: list[list[str]], width: int) -> tuple[np.ndarray, frozenset[int]]:
    """clean_rows(), and the positions of the columns with a "#" in some cell (only they can
    hold a spreadsheet error such as #REF!), found in one pass over the chunk's text."""
    padded = (row if len(row) == width else row + [""] * (width - len(row)) for row in rows)
    cells = [cell.strip(BLANK_CHARS) for row in padded for cell in row]
    return _matrix(cells, (len(rows), width)), _hash_columns(cells, width)


# Joins a chunk's cells for one search of its text; a cell holding it is searched column-wise.
_SEPARATOR = "\x1f"


def _hash_columns(cells: list[str], width: int) -> frozenset[int]:
    text = _SEPARATOR.join(cells)
    if "#" not in text:
        return frozenset()
    if text.count(_SEPARATOR) != len(cells) - 1:  # a cell holds the separator itself
        return frozenset(j for j in range(width) if "#" in "".join(cells[j::width]))
    found: set[int] = set()
    cell, start = 0, 0
    while (at := text.find("#", start)) != -1:
        cell += text.count(_SEPARATOR, start, at)
        found.add(cell % width)
        start = text.find(_SEPARATOR, at)  # on to the next cell
        if start == -1 or len(found) == width:
            break
    return frozenset(found)


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
    reasons = classify_matrix(cells.to_numpy(dtype=object), header, fields)
    return pd.Series(reasons, index=cells.index, dtype=object)


def classify_matrix(
    cells: np.ndarray, header: Sequence[str], fields: dict[str, int]
) -> np.ndarray:
    """classify() over a matrix of cleaned cells, as an array of labels."""
    rows, width = cells.shape
    nonblank = cells != ""
    reason = np.full(rows, "", dtype=object)
    reason[~nonblank.any(axis=1)] = "blank"

    named = [i for i, h in enumerate(header) if h.strip() and i < width]
    if named:
        wanted = np.array([header[i].strip(BLANK_CHARS) for i in named], dtype=object)
        # Only rows matching the header's first named cell can repeat it: the rest of the
        # comparison is made for those few rows, not for every cell of the chunk.
        maybe = np.flatnonzero(cells[:, named[0]] == wanted[0])
        repeated = maybe[(cells[np.ix_(maybe, named)] == wanted).all(axis=1)]
        reason[repeated[reason[repeated] == ""]] = "repeated_header"

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
        labelled[row] = cells[row, fields["BeneficiaryName"]].casefold() in TOTAL_LABELS
    candidates &= ~has_payee | labelled
    for row in np.flatnonzero(candidates):
        if _is_totals_row(cells[row], fields["Amount"]):
            reason[row] = "totals"
    reason[(reason == "") & ~(has_amount | has_date | has_payee)] = "not_data"
    return reason


def _is_totals_row(row: np.ndarray, amount_index: int) -> bool:
    """True when the amount is the row's only content, bar a bare "Total" label."""
    for position, value in enumerate(row):
        if position == amount_index or not value:
            continue
        if value.casefold() not in TOTAL_LABELS:
            return False
    return True
