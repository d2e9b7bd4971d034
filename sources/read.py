"""Read a published spending file into chunks of mapped rows, with provenance on every row."""

from __future__ import annotations

import hashlib
import io
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sources.content import cell_kind, profile_columns
from sources.encodings import detect_encoding
from sources.formats import sniff_format
from sources.headerless import infer_columns
from sources.headers import (
    HEADER_SEARCH_ROWS,
    Crosswalk,
    HeaderMapping,
    find_header,
    header_score,
    is_header_below,
    load_crosswalk,
    map_header,
)
from sources.quirks import Quirks
from sources.rows import BLANK_CHARS, Cells, classify_matrix, repair_fused
from sources.tables import RawTable, Row, csv_rows, read_tables

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
# Rows read on past the opening rows for a header row that is not near the top (below a long
# glossary, or the last line of the file), held until it is found.
LOOKAHEAD_ROWS = 100_000
# Rows above a header that read as payments (an amount, a date and a payee where the header
# names them) make it a header written below its payments, when there are at least this many.
MIN_PAYMENTS_ABOVE = 1
# The bytes of a large CSV read to tell whether two processes can read it in parts.
HEAD_BYTES = 1 << 20


@dataclass
class TableRead:
    """One table found in a file and how its header was understood."""

    sheet: str | None
    header_row: int | None
    mapping: HeaderMapping | None
    # The distinct payment date texts of the table's first DATE_SAMPLE_ROWS rows, or of its
    # first rows up to those that decided the date order (read_file's date_settled).
    date_sample: list[str] = field(default_factory=list)
    # Why a table was not read as spending, for the publisher (mapping None).
    reason: str = ""

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
        """The sheets read, once each (a sheet whose header changes part-way down has a table
        for each header)."""
        found = [t.sheet for t in self.tables if t.mapping is not None and t.sheet is not None]
        return list(dict.fromkeys(found))


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


def reads_in_parts(path: Path, quirks: Quirks | None = None) -> bool:
    """Whether a file can be read in parts by two processes (read_file's `records`): a CSV
    whose header is among its opening rows with no payments above it, so that both count its
    records from the same place. A header further down, at the end, or none at all is found
    by reading from the top, which only one process can do."""
    with Path(path).open("rb") as stream:
        if sniff_format(stream) != "csv":
            return False
        stream.seek(0)
        head = stream.read(HEAD_BYTES)  # the opening rows' bytes: enough to find the header
    encoding = detect_encoding(iter([head]))
    opening = list(itertools.islice(csv_rows(io.BytesIO(head), encoding), HEADER_SEARCH_ROWS))
    record = FileRead(Path(path), "", "csv", encoding)
    return _layout(opening, iter(()), load_crosswalk(), quirks or Quirks(), record).plain


def _chunks(record, tables, stream, quirks, chunk_rows, date_settled, records=None):
    crosswalk = load_crosswalk()
    try:
        for raw in tables:
            yield from _table_chunks(record, raw, crosswalk, quirks, chunk_rows, date_settled,
                                     records)
    finally:
        stream.close()


@dataclass
class _Layout:
    """How a table's rows are laid out: its header (a row of the file, or inferred), its
    mapping, and the rows read so far, sorted into those above the payments and the first of
    them."""

    header_number: int | None = None
    header: list[str] = field(default_factory=list)
    mapping: HeaderMapping | None = None
    above: list[Row] = field(default_factory=list)  # preamble and blank rows
    body: list[Row] = field(default_factory=list)   # payment rows read already
    # Rows read before the body that are neither preamble nor in the body (header lines).
    headers_read: int = 0
    # The header is in the opening rows, with no payments above it: a part of the table read
    # by another process (read_file's `records`) counts the same records.
    plain: bool = False
    reason: str = ""


def _layout(opening: list[Row], rows: Iterator[Row], crosswalk: Crosswalk,
            quirks: Quirks, record: FileRead) -> _Layout:
    """Find a table's header: in its opening rows, further on (below a long glossary, or as
    the last line of the file), or, where there is none, its columns from what they hold."""
    overrides = quirks.header_overrides
    read = opening
    index = find_header([cells for _, cells in opening], crosswalk, overrides)
    if index is None and len(opening) >= HEADER_SEARCH_ROWS:
        read = opening + _read_to_header(rows, crosswalk, overrides)
        if len(read) > len(opening) and header_score(read[-1][1], crosswalk, overrides):
            index = len(read) - 1
    if index is not None:
        return _headed(read, index, crosswalk, quirks, plain=len(read) == len(opening),
                       record=record)
    inferred = infer_columns([cells for _, cells in read], quirks.columns)
    if inferred is None:
        return _Layout(above=read, reason=_no_table_reason(read, crosswalk, overrides))
    width = len(inferred.mapping.columns)
    return _Layout(None, [""] * width, inferred.mapping, read[:inferred.start],
                   read[inferred.start:])


def _read_to_header(rows: Iterator[Row], crosswalk: Crosswalk, overrides) -> list[Row]:
    """Rows read on, up to LOOKAHEAD_ROWS, until one is a header row (the last returned)."""
    read: list[Row] = []
    for row in itertools.islice(rows, LOOKAHEAD_ROWS):
        read.append(row)
        if _may_be_header(row[1]) and header_score(row[1], crosswalk, overrides):
            break
    return read


def _may_be_header(cells: list[str]) -> bool:
    """A quick test, before the real one: two or more filled cells, few with a digit."""
    filled = digits = 0
    for cell in cells:
        if cell.strip():
            filled += 1
            digits += _DIGIT.search(cell) is not None
    return filled >= 2 and digits * 4 <= filled


_DIGIT = re.compile(r"[0-9]")


def _headed(read: list[Row], index: int, crosswalk: Crosswalk, quirks: Quirks, plain: bool,
            record: FileRead) -> _Layout:
    """The layout of a table whose header is read[index]: a second header line under it, the
    payments above it when it is written below them, and its mapping by the rows under it."""
    overrides = quirks.header_overrides
    header_number, header = read[index]
    above, after = read[:index], read[index + 1:]
    headers_read = 1
    if after and _second_header(after[0][1], header, crosswalk, overrides):
        # A second header line under the first (a system's own column names under the
        # published ones): not a payment; it names the columns the first leaves blank.
        second = after[0][1]
        header = [h if h.strip() else (second[i] if i < len(second) else "")
                  for i, h in enumerate(header)] + list(second[len(header):])
        record.skipped["second_header"] += 1
        after, headers_read = after[1:], 2
    # Read with the header, as far as the rows above it show: payments, if it is written last.
    guess = map_header(header, crosswalk, overrides,
                       profile_columns([cells for _, cells in above], len(header)))
    payments_above = [i for i, (_, cells) in enumerate(above) if _payment_like(cells, guess)]
    body = after
    if len(payments_above) >= MIN_PAYMENTS_ABOVE:
        # The header is below its payments (some exports write it last): they are read with it,
        # from the first of them, or the rows of data just before it whose amount did not read
        # (a #REF!), but not the title and blank lines above them.
        first = payments_above[0]
        while first and _filled(above[first - 1][1]) >= min(3, _filled(header)):
            first -= 1
        above, body, plain = above[:first], above[first:] + after, False
    profiles = profile_columns(_without_copies(body, header), len(header))
    mapping = map_header(header, crosswalk, overrides, profiles)
    return _Layout(header_number, header, mapping, above, body, headers_read, plain)


def _filled(cells: list[str]) -> int:
    return sum(1 for cell in cells if cell.strip())


def _second_header(cells: list[str], header: list[str], crosswalk: Crosswalk,
                   overrides) -> bool:
    """A header line under the header that is not a copy of it (a copy is skipped as a
    repeated header, like any other)."""
    return not _copy_of(cells, header) and is_header_below(cells, header, crosswalk, overrides)


def _copy_of(cells: list[str], header: list[str]) -> bool:
    """Whether a row repeats the header, cell for cell (padding aside)."""
    return [c.strip() for c in cells[:len(header)]] == [h.strip() for h in header]


def _without_copies(rows: list[Row], header: list[str]) -> list[list[str]]:
    """The rows' cells, less copies of the header: a header repeated among the first rows
    must not make an empty column look filled."""
    return [cells for _, cells in rows if not _copy_of(cells, header)]


def _payment_like(cells: list[str], mapping: HeaderMapping) -> bool:
    """A row whose amount is money, whose date is a date and whose payee is there (where the
    header names them)."""
    amount_at = mapping.fields.get("Amount")
    if amount_at is None or amount_at >= len(cells) or not cells[amount_at].strip():
        return False
    if not cell_kind(cells[amount_at].strip()).money:
        return False
    date_at = mapping.fields.get("PaymentDate")
    if date_at is not None and not (date_at < len(cells)
                                    and cell_kind(cells[date_at].strip()).date):
        return False
    payee_at = mapping.fields.get("BeneficiaryName")
    return payee_at is None or (payee_at < len(cells) and bool(cells[payee_at].strip()))


def _no_table_reason(read: list[Row], crosswalk: Crosswalk, overrides) -> str:
    """Why a table was not read, for the publisher: what was looked for and the nearest miss."""
    looked = (f"no header row naming an amount and a payee or a date in its first "
              f"{len(read):,} rows, and no block of lines holding dates and amounts")
    best, named = None, []
    for number, cells in read[:HEADER_SEARCH_ROWS]:
        fields = sorted(map_header(cells, crosswalk, overrides).fields)
        if _may_be_header(cells) and len(fields) > len(named):
            best, named = number, fields
    if best is None:
        return looked
    return f"{looked} (nearest: row {best}, whose headings name only {', '.join(named)})"


def _table_chunks(
    record: FileRead, raw: RawTable, crosswalk: Crosswalk, quirks: Quirks, chunk_rows: int,
    date_settled: Callable[[set[str]], bool] | None = None,
    records: tuple[int, int | None] | None = None,
) -> Iterator[tuple[TableRead, pd.DataFrame]]:
    start, stop = records or (0, None)
    opening = list(itertools.islice(raw.rows, HEADER_SEARCH_ROWS))
    layout = _layout(opening, raw.rows, crosswalk, quirks, record)
    del opening  # its rows are the layout's now, let go of as they are framed
    if layout.mapping is None:
        record.tables.append(TableRead(raw.sheet, None, None, reason=layout.reason))
        return
    if start and not layout.plain:
        raise ValueError(f"{record.path.name}: a table laid out so cannot be read in parts")
    table = TableRead(raw.sheet, layout.header_number, layout.mapping)
    record.tables.append(table)
    for _, cells in layout.above if not start else ():
        record.skipped["preamble" if any(c.strip() for c in cells) else "blank"] += 1
    if start:
        record.skipped.pop("second_header", None)  # the part from 0 counts the header lines
    state = _Current(table, layout.header)
    before = len(layout.above) + layout.headers_read  # records above the payments
    leftover = _consumed(layout.body)  # each row let go of once taken
    read = leftover  # the rows read already, then the rest
    date_at = layout.mapping.fields.get("PaymentDate")
    step = max(1, chunk_rows // STEP_SHARE)
    if date_at is not None:
        ahead, texts = _date_sample(itertools.chain(leftover, raw.rows), date_at, date_settled,
                                    step)
        table.date_sample = sorted(texts)
        read = itertools.chain(_consumed(ahead), leftover)
    # A later part's first chunk is as big as the part before it, which another process is
    # preparing meanwhile: its rows are ready about when that part's are inserted.
    size = min(chunk_rows, start) if start else chunk_rows
    handed = 0  # payment records handed over (or read past) so far
    while handed < start:  # the rows of the part before this one, read past
        numbers, passed = _block(read, raw.rows, min(start - handed, chunk_rows))
        if not passed:
            break
        handed += len(passed)
        _adopt_headers(record, state, numbers, passed, crosswalk, quirks)
        del passed  # not held while chunks are handed over (see _framed)
    tapered = stop is not None  # a part that ends early is not cut at its end
    while True:
        if stop is not None:
            size = min(chunk_rows, stop - handed)
            if size <= 0:
                break
        if not tapered and (rest := _records_left(raw.rows, before + handed)) is not None \
                and rest < 1.5 * size and rest >= 3 * step:
            # The last rows of a file are cut in two, a third left for the last chunk, so
            # that a process inserting them has a small chunk, not a whole one, left to do
            # once this one has finished (warehouse.preparing).
            size, tapered = max(step, round(rest * 2 / 3)), True
        numbers, rows = _block(read, raw.rows, size)
        if not rows:
            break
        handed += len(rows)
        block = [rows]
        del rows  # _framed lets go of them
        yield from _framed(record, state, numbers, block, crosswalk, quirks)
        if not tapered:
            size = chunk_rows


@dataclass
class _Current:
    """The table whose header governs the rows being read, which a header row part-way down
    replaces."""

    table: TableRead
    header: list[str]

    @property
    def width(self) -> int:
        return _named_width(self.header)


def _framed(record: FileRead, state: _Current, numbers: np.ndarray, block: list[list],
            crosswalk: Crosswalk, quirks: Quirks) -> Iterator[tuple[TableRead, pd.DataFrame]]:
    """A block's rows (the one list `block` holds, taken from it) as mapped chunks: one, or,
    where a header row part-way down changes the columns, one per header, each read with its
    own.

    The rows' lists are garbage once framed: none is held while a chunk is handed over, when
    the caller collects its young generations (warehouse.preparing.collect_chunk), which would
    walk every cell.
    """
    rows = block.pop()
    while rows:
        cells = _cells(record, state, rows)
        at = _next_header(cells, state, crosswalk, quirks)
        if at is None:
            del rows
            frame = _mapped_frame(record, state.table, state.header, numbers, cells)
            if len(frame):
                yield state.table, frame
            return
        before, header, rows = rows[:at], rows[at], rows[at + 1:]
        if before:
            cells = _cells(record, state, before)
            del before
            frame = _mapped_frame(record, state.table, state.header, numbers[:at], cells)
            if len(frame):
                yield state.table, frame
        _switch(record, state, int(numbers[at]), header, rows, crosswalk, quirks)
        numbers = numbers[at + 1:]


def _cells(record: FileRead, state: _Current, rows: list[list[str]]) -> Cells:
    limit, width = len(state.header) + SURPLUS_CELLS, state.width
    for at in [i for i, cells in enumerate(rows) if not width <= len(cells) <= limit]:
        cells, repaired = repair_fused(rows[at], width)
        record.repaired_rows += repaired
        rows[at] = _fold_surplus(cells, limit)
    return Cells(rows, max(len(state.header), max(map(len, rows))))


def _next_header(cells: Cells, state: _Current, crosswalk: Crosswalk, quirks: Quirks
                 ) -> int | None:
    """The position of the first row that is a header other than an exact copy of the current
    one (which classify_matrix skips), or None.

    Only rows whose amount or date cell holds a heading's text (no digit, but for a column
    number) are tested, a handful in a file: the rest are tested as a vectorised scan.
    """
    candidates = np.zeros(cells.rows, dtype=bool)
    for index in _watched(state):
        if index < cells.width:
            candidates |= _headingish(cells.column(index))
    for row in np.flatnonzero(candidates):
        if _new_header(cells.row(row), state, crosswalk, quirks):
            return int(row)
    return None


def _headingish(column: pa.Array) -> np.ndarray:
    """Which of a column's cells (stripped already) hold a heading's text."""
    found = pc.match_substring_regex(column, _HEADINGISH)
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


def _new_header(cells: list[str], state: _Current, crosswalk: Crosswalk, quirks: Quirks
                ) -> bool:
    """Whether a row part-way down is a header other than a copy of the current one (which
    classify_matrix skips): the quick test first, then the real one."""
    return (not _copy_of(cells, state.header) and _may_be_header(cells)
            and _header_below(cells, state.header, crosswalk, quirks))


def _watched(state: _Current) -> list[int]:
    """The columns whose cells tell a header row part-way down: the amount's and the date's,
    which hold numbers in every payment and a heading's words in a header."""
    fields = state.table.mapping.fields
    return [fields[name] for name in ("Amount", "PaymentDate") if name in fields]


def _header_below(cells: list[str], header: list[str], crosswalk: Crosswalk,
                  quirks: Quirks) -> bool:
    """A header row part-way down: of a table with a header, one like it (is_header_below);
    of a table whose columns were inferred, any row that reads as a header."""
    if any(h.strip() for h in header):
        return is_header_below(cells, header, crosswalk, quirks.header_overrides)
    return header_score(cells, crosswalk, quirks.header_overrides) > 0


# A heading's text in a cell: no digit, but perhaps a column number in front ("8 Amount").
_HEADINGISH = r"^(?:[0-9]{1,2}\s+)?[^0-9]+$"


def _switch(record: FileRead, state: _Current, number: int, header: list[str],
            below: list[list[str]], crosswalk: Crosswalk, quirks: Quirks,
            count: bool = True) -> None:
    """Read the rows after a header row part-way down with that header: a copy of the current
    one's fields is skipped as a repeated header; a new layout starts a new table. `count`
    is False for a header among rows another process reads, which counts it."""
    header = [cell.strip() for cell in header]
    profiles = profile_columns(below, len(header))
    mapping = map_header(header, crosswalk, quirks.header_overrides, profiles)
    same = mapping.fields == state.table.mapping.fields
    if count:
        record.skipped["repeated_header" if same else "changed_header"] += 1
    if same:
        return
    table = TableRead(state.table.sheet, number, mapping)
    date_at = mapping.fields.get("PaymentDate")
    if date_at is not None:
        table.date_sample = sorted({cells[date_at].strip(BLANK_CHARS) for cells in below
                                    if len(cells) > date_at} - {""})
    record.tables.append(table)
    state.table, state.header = table, header


def _adopt_headers(record: FileRead, state: _Current, numbers: np.ndarray,
                   rows: list[list[str]], crosswalk: Crosswalk, quirks: Quirks) -> None:
    """Follow the header rows among rows read past (the part of the table another process
    reads), so that the rows after them are read with the header that governs them.

    The watched cells are scanned for a heading's text by Arrow, as a chunk's are: only the
    handful of rows found are looked at in Python."""
    hits = _headingish_rows(rows, _watched(state), 0)
    while hits:
        found = hits.pop(0)
        if _new_header(rows[found], state, crosswalk, quirks):
            _switch(record, state, int(numbers[found]), rows[found], rows[found + 1:],
                    crosswalk, quirks, count=False)
            hits = _headingish_rows(rows, _watched(state), found + 1)


def _headingish_rows(rows: list[list[str]], positions: list[int], start: int) -> list[int]:
    """The rows from `start` whose cell at one of `positions` holds a heading's text."""
    found = np.zeros(len(rows) - start, dtype=bool)
    for index in positions:
        column = pa.array([cells[index] if index < len(cells) else None
                           for cells in rows[start:]], type=pa.large_string())
        found |= _headingish(pc.utf8_trim(column, characters=BLANK_CHARS))
    return (np.flatnonzero(found) + start).tolist()


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
    record: FileRead, table: TableRead, header: list[str], numbers: np.ndarray, cells: Cells,
) -> pd.DataFrame:
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
