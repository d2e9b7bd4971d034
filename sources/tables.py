"""Turn a file's bytes into raw tables of text: CSV, XLSX, legacy XLS, ODS and ZIP wrappers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePosixPath
from typing import BinaryIO

import numpy as np
from defusedxml import DefusedXmlException

from sources.encodings import detect_encoding, iter_chunks, open_text
from sources.formats import ZIP_MAGIC, sniff_format

csv.field_size_limit(1 << 30)
DELIMITERS = (",", "\t", ";", "|")
SNIFF_LINES = 60
TABLE_FORMATS = {"csv", "xlsx", "xls", "ods", "zip"}
# A ZIP member larger than this when decompressed is refused (a zip bomb, or not a spend file).
MAX_MEMBER_BYTES = 2 << 30
# All of a ZIP-based file's members together, unpacked. openpyxl streams a workbook's XML, but
# odfpy builds the whole document in memory (several times the XML's size), so ODS gets less.
UNPACKED_CAPS = {"xlsx": 2 << 30, "zip": 2 << 30, "ods": 256 << 20}
SPOOL_IN_MEMORY_BYTES = 64 << 20

Row = tuple[int, list[str]]


class UnreadableFile(ValueError):
    """The file is not a table moneytrail can read; the message says why."""


@dataclass
class RawTable:
    """One table-bearing part of a file: a CSV, a ZIP member or a workbook sheet."""

    sheet: str | None
    rows: Iterator[Row]


@dataclass
class FileTables:
    """What was found in one file: its format, text encoding and raw tables."""

    format: str
    encoding: str | None
    tables: Iterator[RawTable]


def read_tables(stream: BinaryIO, name: str = "") -> FileTables:
    """Open a seekable binary stream and yield its raw tables, sniffing the format from bytes."""
    fmt = sniff_format(stream)
    if fmt in UNPACKED_CAPS:
        check_unpacked_size(stream, name, UNPACKED_CAPS[fmt])
    if fmt == "csv":
        encoding = detect_encoding(iter_chunks(stream))
        stream.seek(0)
        return FileTables("csv", encoding, iter([RawTable(None, csv_rows(stream, encoding))]))
    if fmt == "xlsx":
        return FileTables("xlsx", None, _guarded(xlsx_tables, stream, name, "XLSX workbook"))
    if fmt == "xls":
        return FileTables("xls", None, _guarded(xls_tables, stream, name, "XLS workbook"))
    if fmt == "ods":
        return FileTables("ods", None, _guarded(ods_tables, stream, name, "ODS spreadsheet"))
    if fmt == "zip":
        try:
            return _zip_tables(stream, name)
        except UnreadableFile:
            raise
        except Exception as failure:
            raise UnreadableFile(_damaged(name, "ZIP archive", failure)) from failure
    if fmt == "binary" and stream.read(len(ZIP_MAGIC)) == ZIP_MAGIC:
        raise UnreadableFile(f"{name or 'file'}: starts like a ZIP archive (an XLSX, ODS or "
                             "ZIP file) but is truncated or damaged")
    raise UnreadableFile(_refusal(fmt, name))


def _guarded(reader, stream: BinaryIO, name: str, what: str) -> Iterator[RawTable]:
    """Run a workbook reader, turning its parser's failure on damaged bytes into UnreadableFile.

    The parsers (openpyxl, xlrd, odf, zipfile) raise whatever their internals trip over on a
    truncated or corrupted file: BadZipFile, zlib.error, KeyError, IndexError, AssertionError.
    """
    try:
        for table in reader(stream):
            yield RawTable(table.sheet, _guarded_rows(table.rows, name, what))
    except UnreadableFile:
        raise
    except Exception as failure:
        raise UnreadableFile(_damaged(name, what, failure)) from failure


def _guarded_rows(rows: Iterator[Row], name: str, what: str) -> Iterator[Row]:
    try:
        yield from rows
    except Exception as failure:
        raise UnreadableFile(_damaged(name, what, failure)) from failure


def check_unpacked_size(stream: BinaryIO, name: str, cap: int) -> None:
    """Refuse a ZIP-based file (XLSX, ODS, ZIP) whose members unpack past `cap` bytes, from its
    directory alone, before any parser inflates a byte: a zip bomb costs nothing to refuse.

    The directory may lie, but Python's zipfile never inflates a member past the size the
    directory declares (it stops and reports a bad CRC), so the declared sizes bound the cost.
    """
    with zipfile.ZipFile(stream) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    stream.seek(0)
    if unpacked > cap:
        raise UnreadableFile(f"{name or 'file'}: unpacks to {unpacked:,} bytes, over the "
                             f"{cap:,} byte cap (a zip bomb, or far bigger than a spending file)")


def _damaged(name: str, what: str, failure: Exception) -> str:
    if _unsafe_xml(failure):
        return (f"{name or 'file'}: the {what}'s XML declares entities or a DTD, which are "
                "refused as unsafe (an XML bomb or an external entity)")
    detail = str(failure) or "no detail"
    return (f"{name or 'file'}: the {what} is truncated or damaged and cannot be read "
            f"({type(failure).__name__}: {detail[:200]})")


def _unsafe_xml(failure: BaseException | None) -> bool:
    # openpyxl wraps what defusedxml raises in a ValueError of its own.
    while failure is not None:
        if isinstance(failure, DefusedXmlException):
            return True
        failure = failure.__cause__ or failure.__context__
    return False


def _refusal(fmt: str, name: str) -> str:
    reasons = {
        "html": "is an HTML page, not a spreadsheet (a web page served where a file was expected)",
        "pdf": "is a PDF; spending data must be published as CSV or a spreadsheet",
        "empty": "is empty",
        "binary": "is not a CSV, XLSX, XLS, ODS or ZIP file",
    }
    return f"{name or 'file'}: {reasons.get(fmt, f'has unsupported format {fmt}')}"


def csv_rows(stream: BinaryIO, encoding: str) -> CsvRows:
    """(physical line number, cells) for each CSV record, streaming.

    Line numbers count CR, LF and CRLF alike, so a bare-CR file has one line per record; a
    record holding quoted line breaks is numbered by the line it starts on.
    """
    return CsvRows(stream, encoding)


class CsvRows:
    """csv_rows' records: an iterator of (line number, cells), whose take() also hands over
    many records at once, as cells and line numbers apart, without a tuple for each.

    The text wrapper owns the stream: it is closed when the records run out.
    """

    def __init__(self, stream: BinaryIO, encoding: str) -> None:
        probe = open_text(stream, encoding)
        delimiter = sniff_delimiter(probe.read(64 * 1024))
        probe.detach()  # closing the probe would close the caller's stream
        nul = _may_hold_nul(stream, encoding)
        self._bytes = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        self._stream = stream
        self._records = 0
        self._text = open_text(stream, encoding)
        self._reader = csv.reader(_without_nul(self._text) if nul else self._text,
                                  delimiter=delimiter)
        self._line = 0  # the physical lines read so far
        self._done = False

    def __iter__(self) -> CsvRows:
        return self

    def __next__(self) -> Row:
        if self._done:
            raise StopIteration
        try:
            cells = next(self._reader)
        except StopIteration:
            self.close()
            raise
        number, self._line = self._line + 1, self._reader.line_num
        self._records += 1
        return number, cells

    def take(self, count: int) -> tuple[np.ndarray, list[list[str]]]:
        """Up to `count` more records: their line numbers, and their cells.

        A record that ends one line on is told from the reader's count of lines read; only a
        block holding a record with a quoted line break counts line breaks in its cells.
        """
        if self._done:
            return np.empty(0, dtype=np.int64), []
        start = self._line
        rows = list(itertools.islice(self._reader, count))
        end = self._line = self._reader.line_num
        self._records += len(rows)
        if len(rows) < count:
            self.close()
        if end - start == len(rows):
            return np.arange(start + 1, end + 1, dtype=np.int64), rows
        return record_lines(rows, start, end), rows

    def estimated_records(self) -> float | None:
        """How many records the whole file holds: once all are read, how many there were;
        before, told from the bytes those read so far took (to within the few kilobytes read
        ahead); None before any."""
        if self._done:
            return self._records
        if not self._records:
            return None
        done = self._stream.tell()
        return self._records * self._bytes / done if done else None

    def close(self) -> None:
        self._done = True
        self._text.close()


def record_lines(rows: list[list[str]], start: int, end: int) -> np.ndarray:
    """The line each record starts on, for records read after line `start` and up to line
    `end`.

    The csv module keeps the line breaks inside a quoted cell as they are, and ends a record
    at any other, so a record starts one line after the last ended, plus the breaks its
    predecessor's cells hold (CRLF, CR and LF one each, as the reader counts lines).
    """
    numbers = np.empty(len(rows), dtype=np.int64)
    line = start
    for at, cells in enumerate(rows):
        numbers[at] = line + 1
        line += 1 + sum(_line_breaks(cell) for cell in cells)
    if len(rows) and not start < numbers[-1] <= end:
        raise AssertionError(f"records numbered past the {end} lines read")
    return numbers


def _line_breaks(cell: str) -> int:
    if "\r" not in cell and "\n" not in cell:
        return 0
    return cell.count("\r") + cell.count("\n") - cell.count("\r\n")


def _may_hold_nul(stream: BinaryIO, encoding: str) -> bool:
    """Whether the text may hold a NUL character. In a UTF-8 or 8-bit file only a zero byte is
    one, and nearly no file has any, so most files skip the line-by-line removal."""
    if encoding.startswith("utf-16"):
        return True
    stream.seek(0)
    while block := stream.read(1 << 20):
        if b"\0" in block:
            return True
    return False


def _without_nul(lines: Iterator[str]) -> Iterator[str]:
    """The lines without NUL characters: the csv module refuses them, and a stray one must not
    sink the whole file. A CR and an LF that only a NUL kept apart ('\\r\\0\\n') become one
    line break, one line, as record_lines counts the CRLF they leave in a quoted cell."""
    held = None  # a line ending in CR, until the next shows whether an LF completes it
    for line in lines:
        if "\0" in line:
            line = line.replace("\0", "")
        if held is not None:
            if line.startswith("\n"):
                line = held + line
            else:
                yield held
            held = None
        if line.endswith("\r"):
            held = line
            continue
        yield line
    if held is not None:
        yield held


def sniff_delimiter(head: str) -> str:
    """Pick the delimiter that splits the opening lines most consistently."""
    lines = [line for line in head.splitlines()[:SNIFF_LINES] if line.strip()]
    best, best_score = ",", 0
    for delimiter in DELIMITERS:
        counts = sorted(line.count(delimiter) for line in lines)
        score = counts[len(counts) // 2] if counts else 0
        if score > best_score:
            best, best_score = delimiter, score
    return best


def cell_text(value: object) -> str:
    """Render a workbook cell as the text a person sees, without losing money precision."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # repr is the shortest decimal that round-trips: what Excel displays, as exact text.
        return format(Decimal(repr(value)), "f")
    return str(value)


def xlsx_tables(stream: BinaryIO) -> Iterator[RawTable]:
    """Yield every sheet of an XLSX workbook, streaming rows in read-only mode."""
    from openpyxl import load_workbook

    book = load_workbook(stream, read_only=True, data_only=True)
    try:
        for sheet in book.worksheets:
            yield RawTable(sheet.title, _numbered(sheet.iter_rows(values_only=True)))
    finally:
        book.close()


def _numbered(rows: Iterator[tuple]) -> Iterator[Row]:
    for number, values in enumerate(rows, start=1):
        yield number, [cell_text(v) for v in values]


def xls_tables(stream: BinaryIO) -> Iterator[RawTable]:
    """Yield every sheet of a legacy BIFF .xls workbook, with date cells as ISO text."""
    import xlrd

    # xlrd prints its complaints about a damaged file to stdout unless given a log to write to.
    book = xlrd.open_workbook(file_contents=stream.read(), on_demand=True, logfile=io.StringIO())
    for index in range(book.nsheets):
        sheet = book.sheet_by_index(index)
        yield RawTable(sheet.name, _xls_rows(sheet, book.datemode))
        book.unload_sheet(index)


def _xls_rows(sheet, datemode: int) -> Iterator[Row]:
    import xlrd

    for r in range(sheet.nrows):
        cells = []
        for cell in sheet.row(r):
            if cell.ctype == xlrd.XL_CELL_DATE:
                cells.append(cell_text(xlrd.xldate_as_datetime(cell.value, datemode)))
            elif cell.ctype == xlrd.XL_CELL_ERROR:
                cells.append(xlrd.error_text_from_code.get(cell.value, "#ERROR"))
            else:
                cells.append(cell_text(cell.value))
        yield r + 1, cells


def ods_tables(stream: BinaryIO) -> Iterator[RawTable]:
    """Yield every sheet of an OpenDocument spreadsheet."""
    import pandas as pd

    sheets = pd.read_excel(stream, sheet_name=None, header=None, dtype=object, engine="odf")
    for name, frame in sheets.items():
        rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
        yield RawTable(str(name), _numbered(rows))


def _zip_tables(stream: BinaryIO, name: str) -> FileTables:
    archive = zipfile.ZipFile(stream)
    members = [
        info
        for info in archive.infolist()
        if not info.is_dir() and not PurePosixPath(info.filename).name.startswith((".", "__"))
        and "__MACOSX" not in info.filename
    ]
    found: list[tuple[str, BinaryIO, FileTables]] = []
    for info in members:
        if info.file_size > MAX_MEMBER_BYTES:
            raise UnreadableFile(
                f"{name}: ZIP member {info.filename} unpacks to {info.file_size} bytes, "
                f"over the {MAX_MEMBER_BYTES} byte cap"
            )
        member = _extract_capped(archive, info)
        if sniff_format(member) not in TABLE_FORMATS - {"zip"}:
            member.close()
            continue
        found.append((info.filename, member, read_tables(member, f"{name}:{info.filename}")))
    if not found:
        raise UnreadableFile(f"{name}: ZIP archive holds no CSV or spreadsheet")
    encodings = {tables.encoding for _, _, tables in found if tables.encoding}
    return FileTables(
        "zip",
        encodings.pop() if len(encodings) == 1 else ("mixed" if encodings else None),
        _member_tables(found),
    )


def _extract_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> BinaryIO:
    # file_size comes from the archive's own header, which can lie: count what really unpacks.
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)
    written = 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(1 << 20):
                written += len(chunk)
                if written > MAX_MEMBER_BYTES:
                    raise UnreadableFile(f"ZIP member {info.filename} unpacks past the size cap")
                spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _member_tables(found: list[tuple[str, BinaryIO, FileTables]]) -> Iterator[RawTable]:
    try:
        for name, _, tables in found:
            for table in tables.tables:
                sheet = name if table.sheet is None else f"{name}/{table.sheet}"
                yield RawTable(sheet, table.rows)
    finally:
        for _, member, _ in found:
            member.close()
