"""Read a published spending file into chunks of mapped rows, with provenance on every row."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sources.headers import Crosswalk, HeaderMapping, find_header, load_crosswalk, map_header
from sources.quirks import Quirks
from sources.rows import BLANK_CHARS, Cells, classify_matrix, repair_fused
from sources.tables import RawTable, Row, read_tables

CHUNK_ROWS = 50_000
# The reader's smallest step, as a share of a chunk: the date sample is read this much at a time,
# and the end of a table is cut no finer. Chunks are whole from the first: each costs the checks a
# fixed few hundredths of a second, and the reader, not the inserting process, is the slower of
# the two (docs/performance.md), so smaller first chunks only added chunks.
STEP_SHARE = 8
# Whether a table's dates are day or month first is told from the dates in up to this many of
# its first rows, however small its chunks.
DATE_SAMPLE_ROWS = 50_000
ROW = "_row"
SHEET = "_sheet"
EXTRA_PREFIX = "extra:"
# A row this many cells wider than its header is garbage, not data: one such row must not widen
# a whole chunk (thousands of rows times its width), so its surplus is folded into one cell.
SURPLUS_CELLS = 100
# A chunk's attrs[HASH_COLUMNS] names its mapped fields with a "#" in some cell: only they can
# hold a spreadsheet error (#REF!), and finding that out here, while the cells are fresh, is a
# fraction of the cost of testing every column's cells again during validation.
HASH_COLUMNS = "moneytrail:hash_columns"


@dataclass
class TableRead:
    """One table found in a file and how its header was understood."""

    sheet: str | None
    header_row: int | None
    mapping: HeaderMapping | None
    # The distinct payment date texts of the table's first DATE_SAMPLE_ROWS rows, or of its
    # first rows up to those that decided the date order (read_file's date_settled).
    date_sample: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        if self.mapping is None:
            return "not_spend"
        fields = self.mapping.fields
        if "BeneficiaryName" in fields and "PaymentDate" not in fields:
            return "supplier_totals"
        return "transactions"


@dataclass
class TotalsRow:
    sheet: str | None
    row: int
    amount: str


@dataclass
class FileRead:
    """Everything learned while reading a file; complete once chunks() is exhausted."""

    path: Path
    sha256: str
    format: str
    encoding: str | None
    tables: list[TableRead] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    repaired_rows: int = 0
    totals_rows: list[TotalsRow] = field(default_factory=list)

    @property
    def kind(self) -> str:
        kinds = {t.kind for t in self.tables}
        for kind in ("transactions", "supplier_totals"):
            if kind in kinds:
                return kind
        return "not_spend"

    @property
    def sheets(self) -> list[str]:
        return [t.sheet for t in self.tables if t.mapping is not None and t.sheet is not None]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_file(
    path: Path, quirks: Quirks | None = None, chunk_rows: int = CHUNK_ROWS,
    sha256: str | None = None, date_settled: Callable[[set[str]], bool] | None = None,
    records: tuple[int, int | None] | None = None,
) -> tuple[FileRead, Iterator[tuple[TableRead, pd.DataFrame]]]:
    """Open a file and return its reading record and a generator of (table, chunk) pairs.

    `sha256` is the file's digest when the caller has it already (a load hashes the file
    first, to know whether it is new): the file is not read again to compute it.
    `date_settled`, given some of a table's distinct date texts, says whether they already
    decide its date order whatever the rest of the sample holds: the sample then stops there.

    `records` = (start, stop) reads only part of each table (a CSV has one): the records after
    its header from `start` (counted from 0) up to `stop` (None: to the end), so that two
    processes can each read part of a large CSV (warehouse.preparing); the part from 0 also
    counts the lines above the header. A part's record and report cover its own rows:
    FileReport.merge joins them.

    Each chunk holds one column per mapped spend field (text, stripped, empty as NA), one
    "extra:<header>" column per unmapped column, and the provenance columns _sheet and _row.
    Raises sources.tables.UnreadableFile for a file that holds no table at all.
    """
    path = Path(path)
    stream = path.open("rb")
    try:
        found = read_tables(stream, path.name)
    except Exception:
        stream.close()
        raise
    record = FileRead(path, sha256 or file_sha256(path), found.format, found.encoding)
    return record, _chunks(record, found.tables, stream, quirks or Quirks(), chunk_rows,
                           date_settled, records)


def _chunks(record, tables, stream, quirks, chunk_rows, date_settled, records=None):
    crosswalk = load_crosswalk()
    try:
        for raw in tables:
            yield from _table_chunks(record, raw, crosswalk, quirks, chunk_rows, date_settled,
                                     records)
    finally:
        stream.close()


def _table_chunks(
    record: FileRead, raw: RawTable, crosswalk: Crosswalk, quirks: Quirks, chunk_rows: int,
    date_settled: Callable[[set[str]], bool] | None = None,
    records: tuple[int, int | None] | None = None,
) -> Iterator[tuple[TableRead, pd.DataFrame]]:
    start, stop = records or (0, None)
    opening = list(itertools.islice(raw.rows, 200))
    index = find_header([cells for _, cells in opening], crosswalk, quirks.header_overrides)
    if index is None:
        record.tables.append(TableRead(raw.sheet, None, None))
        return
    header_number, header = opening[index]
    mapping = map_header(header, crosswalk, quirks.header_overrides)
    table = TableRead(raw.sheet, header_number, mapping)
    record.tables.append(table)
    for _, cells in opening[:index] if not start else ():
        record.skipped["preamble" if any(c.strip() for c in cells) else "blank"] += 1
    leftover = iter(opening[index + 1 :])
    read = leftover  # the rows read already, then the rest
    date_at = mapping.fields.get("PaymentDate")
    step = max(1, chunk_rows // STEP_SHARE)
    if date_at is not None:
        ahead, texts = _date_sample(itertools.chain(leftover, raw.rows), date_at, date_settled,
                                    step)
        table.date_sample = sorted(texts)
        read = itertools.chain(_consumed(ahead), leftover)
    width = _named_width(header)
    # A later part's first chunk is as big as the part before it, which another process is
    # preparing meanwhile: its rows are ready about when that part's are inserted.
    size = min(chunk_rows, start) if start else chunk_rows
    taken = index + 1  # records handed over so far, the header's among them
    skipped = 0
    while skipped < start:  # the rows of the part before this one, read past
        passed = len(_block(read, raw.rows, min(start - skipped, chunk_rows))[1])
        if not passed:
            break
        skipped += passed
    taken += skipped
    tapered = stop is not None  # a part that ends early is not cut at its end
    while True:
        if stop is not None:
            size = min(chunk_rows, stop + index + 1 - taken)
            if size <= 0:
                break
        if not tapered and (rest := _records_left(raw.rows, taken)) is not None \
                and rest < 1.5 * size and rest >= 3 * step:
            # The last rows of a file are cut in two, a third left for the last chunk, so
            # that a process inserting them has a small chunk, not a whole one, left to do
            # once this one has finished (warehouse.preparing).
            size, tapered = max(step, round(rest * 2 / 3)), True
        numbers, rows = _block(read, raw.rows, size)
        if not rows:
            break
        taken += len(rows)
        frame = _mapped_frame(record, table, header, numbers, rows, width)
        # The rows' lists are garbage once framed: drop them before the caller collects its
        # young generations (warehouse.preparing.collect_chunk), which would walk every cell.
        del rows
        if len(frame):
            yield table, frame
        if not tapered:
            size = chunk_rows


def _records_left(rows: Iterator[Row], taken: int) -> float | None:
    """About how many records of a table are still to be handed over, where its reader can
    tell (sources.tables.CsvRows), else None."""
    estimate = getattr(rows, "estimated_records", None)
    total = estimate() if estimate is not None else None
    return None if total is None else total - taken


def _block(read: Iterator[Row], rows: Iterator[Row], size: int) -> tuple[np.ndarray, list]:
    """The next `size` rows' line numbers and cells: those `read` holds first, then from
    `rows`, taken many at once where its reader can (sources.tables.CsvRows.take)."""
    numbers, cells = _apart(list(itertools.islice(read, size)))
    if len(cells) < size:
        wanted = size - len(cells)
        more_numbers, more = (rows.take(wanted) if hasattr(rows, "take")
                              else _apart(list(itertools.islice(rows, wanted))))
        if not cells:
            return more_numbers, more
        numbers, cells = np.concatenate([numbers, more_numbers]), cells + more
    return numbers, cells


def _apart(block: list[Row]) -> tuple[np.ndarray, list]:
    """Rows' line numbers and cells, apart."""
    numbers = np.fromiter((number for number, _ in block), dtype=np.int64, count=len(block))
    return numbers, [cells for _, cells in block]


def _date_sample(body: Iterator[Row], date_at: int, settled: Callable[[set[str]], bool] | None,
                 step: int) -> tuple[list[Row], set[str]]:
    """Read ahead up to DATE_SAMPLE_ROWS rows, `step` at a time, for their distinct date texts;
    stop early once `settled` says a step's new texts already decide the date order, so that a
    file's first chunk is not held back by reading the whole sample."""
    ahead: list[Row] = []
    texts: set[str] = set()
    while len(ahead) < DATE_SAMPLE_ROWS:
        block = list(itertools.islice(body, min(step, DATE_SAMPLE_ROWS - len(ahead))))
        if not block:
            break
        ahead += block
        new = {cells[date_at].strip(BLANK_CHARS) for _, cells in block
               if len(cells) > date_at} - {""} - texts
        texts |= new
        if settled is not None and new and settled(new):
            break
    return ahead, texts


def _consumed(rows: list[Row]) -> Iterator[Row]:
    """A list's rows in order, each let go of as it is taken, so that rows read ahead are not
    kept alive until the last of them is framed."""
    rows.reverse()
    while rows:
        yield rows.pop()


def _named_width(header: list[str]) -> int:
    named = [i for i, h in enumerate(header) if h.strip()]
    return named[-1] + 1 if named else len(header)


def _fold_surplus(cells: list[str], limit: int) -> list[str]:
    """Keep a garbage row's cells past `limit` joined in its last cell."""
    if len(cells) <= limit:
        return cells
    return cells[: limit - 1] + [", ".join(cells[limit - 1 :])]


def _mapped_frame(
    record: FileRead, table: TableRead, header: list[str], numbers: np.ndarray,
    rows: list[list[str]], width: int,
) -> pd.DataFrame:
    limit = len(header) + SURPLUS_CELLS
    for at in [i for i, cells in enumerate(rows) if not width <= len(cells) <= limit]:
        cells, repaired = repair_fused(rows[at], width)
        record.repaired_rows += repaired
        rows[at] = _fold_surplus(cells, limit)
    cells = Cells(rows, max(len(header), max(map(len, rows))))
    mapping = table.mapping
    reason = classify_matrix(cells, header, mapping.fields)
    record.skipped.update(Counter(reason[reason != ""].tolist()))
    amount_at = mapping.fields.get("Amount")
    for row in np.flatnonzero(reason == "totals"):
        record.totals_rows.append(TotalsRow(table.sheet, int(numbers[row]),
                                            cells.cell(row, amount_at)))
    keep = reason == ""
    kept = np.flatnonzero(keep)
    out = {
        name: _column(cells, index, kept) for name, index in mapping.fields.items()
    }
    for column in mapping.columns:
        if column.field is None:
            out[EXTRA_PREFIX + column.name] = _column(cells, column.index, kept)
    for index in range(len(header), cells.width):
        out[f"{EXTRA_PREFIX}column {index + 1}"] = _column(cells, index, kept)
    frame = pd.DataFrame(out, index=pd.RangeIndex(len(kept)))
    hashes = cells.hash_columns()
    frame.attrs[HASH_COLUMNS] = frozenset(
        name for name, index in mapping.fields.items() if index in hashes)
    frame[SHEET] = table.sheet
    frame[ROW] = numbers[keep]
    return frame


def _column(cells: Cells, index: int, rows: np.ndarray) -> pd.Series:
    """One column of the chunk's kept rows as text, NA where empty."""
    if index >= cells.width:
        return pd.Series(pd.NA, index=pd.RangeIndex(len(rows)), dtype="string")
    text = cells.column(index, rows)
    if pd.StringDtype().storage == "pyarrow":
        return pd.Series(pd.arrays.ArrowStringArray(text))
    return pd.Series(pd.array(text.to_pylist(), dtype="string"))  # pandas' Python strings
