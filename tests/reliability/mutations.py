"""Ways publishers break files, as mutations of real corpus files' bytes and CSV records."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, replace

from sources.encodings import detect_encoding, open_text
from sources.tables import sniff_delimiter

# Encodings a re-encoded CSV is written in: with and without a byte-order mark.
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "utf-16", "utf-16-le", "utf-16-be")
# Cells a broken export or a hostile publisher puts in a row (the formulas are CSV injection).
NASTY_CELLS = (
    "=SUM(A1:A9)", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "=HYPERLINK(\"http://x\")",
    "#REF!", "#N/A", "NaN", "-", "£", "1e309", "99999999999999999999999", "(12.00)",
    "31/02/2024", "\ufeff", "\u00a0", "\"", "\"\"\"", "\r", "\n", "\0", "Total", "TOTAL",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "Ω≈ç√∫",
)

_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class CsvFile:
    """A CSV file as records, with what is needed to write it back the same way."""

    records: list[list[str]]
    header_index: int
    delimiter: str
    encoding: str


def parse_csv(data: bytes, header_line: int) -> CsvFile:
    """Split a CSV's bytes into records the way moneytrail decodes them.

    `header_line` is the hand-checked 1-based line of the header (EXPECTED.tsv), which for
    the corpus files used here is also its record number.
    """
    encoding = detect_encoding(iter([data]))
    text = open_text(io.BytesIO(data), encoding).read()
    delimiter = sniff_delimiter(text[: 64 * 1024])
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    codec = {"mixed": "utf-8"}.get(encoding, encoding)
    return CsvFile(records, header_line - 1, delimiter, codec)


def write_csv(table: CsvFile, encoding: str | None = None) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=table.delimiter, lineterminator="\r\n").writerows(table.records)
    return out.getvalue().encode(encoding or table.encoding, errors="replace")


def drop_header(table: CsvFile) -> CsvFile:
    records = table.records[: table.header_index] + table.records[table.header_index + 1 :]
    return replace(table, records=records)


def insert_records(
    table: CsvFile, inserts: list[tuple[int, list[str]]]
) -> tuple[CsvFile, list[int]]:
    """Insert records after the header; return the indices the new records end up at.

    Each insert is (position among the body records, cells); positions wrap around the body.
    """
    body_start = table.header_index + 1
    records = list(table.records)
    body = len(records) - body_start
    placed = sorted((body_start + position % (body + 1), cells) for position, cells in inserts)
    indices = []
    for offset, (at, cells) in enumerate(placed):
        records.insert(at + offset, cells)
        indices.append(at + offset)
    return replace(table, records=records), indices


def duplicate_header(table: CsvFile, positions: list[int]) -> tuple[CsvFile, list[int]]:
    header = table.records[table.header_index]
    return insert_records(table, [(p, list(header)) for p in positions])


def shuffle_columns(table: CsvFile, order: list[int]) -> CsvFile:
    """Put every record's cells in `order` (a permutation of the widest record's columns)."""
    width = len(order)
    records = [(r + [""] * (width - len(r)))[:width] for r in table.records]
    return replace(table, records=[[r[i] for i in order] for r in records])


def reencode(data: bytes, target: str) -> bytes:
    """The same text in another encoding; characters the target lacks become '?'."""
    text = open_text(io.BytesIO(data), detect_encoding(iter([data]))).read()
    return text.encode(target, errors="replace")


def truncate(data: bytes, at: int) -> bytes:
    return data[:at]


def edit_bytes(data: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    """Apply (operation, position, byte) edits: flip XORs, insert adds, delete removes."""
    out = bytearray(data)
    for operation, position, value in edits:
        at = position % (len(out) + 1)
        if operation == "insert":
            out.insert(at, value)
        elif out and at < len(out):
            if operation == "flip":
                out[at] ^= value or 0xFF
            else:
                del out[at]
    return bytes(out)


def zipped(name: str, data: bytes) -> bytes:
    """A CSV wrapped in a ZIP archive, as some councils publish them."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return out.getvalue()


def line_numbers(table: CsvFile) -> list[int]:
    """The physical line each record starts on once written back, as the reader numbers them."""
    numbers, line = [], 1
    for record in table.records:
        numbers.append(line)
        line += 1 + sum(_line_breaks(cell) for cell in record)
    return numbers


def record_lines(data: bytes) -> dict[int, int]:
    """The first and last physical line of each record of a CSV's bytes, as the reader counts."""
    text = open_text(io.BytesIO(data), detect_encoding(iter([data]))).read()
    reader = csv.reader(io.StringIO(text.replace("\0", ""), newline=""),
                        delimiter=sniff_delimiter(text[: 64 * 1024]))
    spans, line = {}, 0
    for _ in reader:
        spans[line + 1] = reader.line_num
        line = reader.line_num
    return spans


def complete_lines(data: bytes) -> int:
    """How many physical lines of an ASCII-compatible text end inside `data`."""
    return len(_LINE_END.findall(data))


def _line_breaks(cell: str) -> int:
    # The reader counts CR, LF and CRLF each as one line end, as sources.tables.csv_rows does.
    return cell.replace("\r\n", "\n").count("\n") + cell.replace("\r\n", "").count("\r")
