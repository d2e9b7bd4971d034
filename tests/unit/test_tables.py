"""Formats sniffed from bytes and tables read from CSV, XLSX, ODS and ZIP wrappers."""

import datetime as dt
import io
import zipfile

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from sources import tables
from sources.formats import sniff_format
from sources.tables import UnreadableFile, cell_text, read_tables, sniff_delimiter


def xlsx_bytes(sheets: dict[str, list[list]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    "raw, fmt",
    [
        (b"Supplier,Amount\nA,1\n", "csv"),
        (b"\xef\xbb\xbfBody,Amount\n", "csv"),
        (b'"Date","Supplier"\n', "csv"),  # a CSV named .xls (Home Office)
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "html"),
        (b"  <html><head>", "html"),
        (b"%PDF-1.4 ...", "pdf"),
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "xls"),
        (bytes(range(32)) * 20, "binary"),
        (b"PK\x03\x04 not really a zip", "binary"),
    ],
)
def test_format_is_sniffed_from_bytes(raw, fmt):
    assert sniff_format(io.BytesIO(raw)) == fmt


def test_xlsx_ods_and_zip_are_told_apart():
    assert sniff_format(io.BytesIO(xlsx_bytes({"S": [["a"]]}))) == "xlsx"
    assert sniff_format(io.BytesIO(zip_bytes({"spend.csv": b"a,b\n"}))) == "zip"
    ods = io.BytesIO()
    pd.DataFrame({"Supplier": ["A"], "Amount": [1]}).to_excel(ods, engine="odf", index=False)
    assert sniff_format(io.BytesIO(ods.getvalue())) == "ods"


@pytest.mark.parametrize(
    "head, delimiter",
    [("a,b,c\n1,2,3\n", ","), ("a\tb\tc\n1\t2\t3\n", "\t"), ("a;b;c\n1;2,5;3\n", ";"),
     ("a|b\n1|2\n", "|"), ("single\n", ",")],
)
def test_delimiter_sniffed(head, delimiter):
    assert sniff_delimiter(head) == delimiter


def rows_of(raw: bytes):
    found = read_tables(io.BytesIO(raw), "fixture")
    return found, [list(t.rows) for t in found.tables]


def test_csv_rows_carry_physical_line_numbers_through_quoted_newlines_and_bare_cr():
    found, [rows] = rows_of(b'a,b\r"multi\nline",1\r\rz,2\r')
    assert found.format == "csv"
    assert rows == [(1, ["a", "b"]), (2, ["multi\nline", "1"]), (4, []), (5, ["z", "2"])]


def test_a_nul_between_cr_and_lf_in_a_quoted_cell_numbers_records_alike_in_blocks():
    raw = b'a"q,\n"\r\x00\n"q,\n"'  # found by the property test below
    one_at_a_time = list(tables.csv_rows(io.BytesIO(raw), "utf-8"))
    numbers, cells = tables.csv_rows(io.BytesIO(raw), "utf-8").take(3)
    assert list(zip(numbers.tolist(), cells, strict=True)) == one_at_a_time
    assert [n for n, _ in one_at_a_time] == [1, 2, 4]


# Pieces of CSV text chosen to meet every way a record can end or run on: quoted line breaks
# of each kind, a quote left open to the end, blank lines, NULs, stray quotes.
CSV_PIECES = ['a', 'b,c', ',', '"', '""', '"q,\n"', '"\r\n"', '"x\ry"', '\n', '\r', '\r\n',
              '\n\r', '\x00', ' ', '"open', 'é', '\r\r\n']


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(CSV_PIECES), max_size=60), st.integers(1, 7))
def test_records_taken_in_blocks_are_numbered_as_one_at_a_time(pieces, size):
    raw = "".join(pieces).encode("utf-8")
    one_at_a_time = list(tables.csv_rows(io.BytesIO(raw), "utf-8"))
    rows, taken = tables.csv_rows(io.BytesIO(raw), "utf-8"), []
    while True:
        numbers, cells = rows.take(size)
        if not cells:
            break
        assert len(numbers) == len(cells) <= size
        taken += zip(numbers.tolist(), cells, strict=True)
    assert taken == one_at_a_time
    assert rows.take(size)[1] == [] and list(rows) == []  # spent, and its file closed


def test_a_block_may_start_with_records_already_read_one_at_a_time():
    rows = tables.csv_rows(io.BytesIO(b'h\r\n"a\nb"\n1\n2\n3\n'), "utf-8")
    assert [next(rows), next(rows)] == [(1, ["h"]), (2, ["a\nb"])]
    numbers, cells = rows.take(10)
    assert numbers.tolist() == [4, 5, 6] and cells == [["1"], ["2"], ["3"]]


@pytest.mark.parametrize("raw", [
    b"a,b\n1\x00,2\n",
    b"a,b\n1,2\x00\n" + b"x,y\n" * 300_000,  # the NUL is found past the first block read
    "\ufeffa,b\n1\x00,2\n".encode("utf-16-le"),  # in UTF-16 a zero byte is no NUL
    "a,b\n1,2\n".encode("utf-16"),
    "a,b\n1\x00,2\n".encode("cp1252"),
])
def test_nul_bytes_do_not_sink_a_csv(raw):
    _, [rows] = rows_of(raw)
    assert rows[:2] == [(1, ["a", "b"]), (2, ["1", "2"])]


def test_every_sheet_of_a_workbook_is_read_with_native_values_as_text():
    raw = xlsx_bytes({
        "Apr 24": [["Date", "Amount"], [dt.datetime(2024, 4, 9, 1, 0), 558.82]],
        "May 24": [["Date", "Amount"], [dt.date(2024, 5, 1), 2172.07]],
    })
    found, sheets = rows_of(raw)
    assert found.format == "xlsx" and found.encoding is None
    assert sheets[0][1] == (2, ["2024-04-09 01:00:00", "558.82"])
    assert sheets[1][1] == (2, ["2024-05-01", "2172.07"])


@pytest.mark.parametrize(
    "value, text",
    [(None, ""), (754.6, "754.6"), (45352.0, "45352"), (-4.5e-13, "-0.00000000000045"),
     (True, "TRUE"), (dt.datetime(2023, 6, 1), "2023-06-01"), ("x", "x")],
)
def test_workbook_cells_render_as_shown(value, text):
    assert cell_text(value) == text


def test_zip_wrapper_members_are_read_and_named():
    raw = zip_bytes({"__MACOSX/._x.csv": b"junk", "spend.csv": b"Supplier,Amount\nA,1\n",
                     "readme.txt": b"\x00\x01\x02" * 100})
    found, sheets = rows_of(raw)
    assert found.format == "zip" and found.encoding == "utf-8"
    assert sheets == [[(1, ["Supplier", "Amount"]), (2, ["A", "1"])]]
    assert [t.sheet for t in read_tables(io.BytesIO(raw)).tables] == ["spend.csv"]


def test_zip_member_over_the_size_cap_is_refused(monkeypatch):
    monkeypatch.setattr(tables, "MAX_MEMBER_BYTES", 1000)
    raw = zip_bytes({"bomb.csv": b"0" * 100_000})
    with pytest.raises(UnreadableFile, match="bomb.csv"):
        read_tables(io.BytesIO(raw), "bomb.zip")


@pytest.mark.parametrize("fmt", ["zip", "xlsx"])
def test_a_file_unpacking_past_its_cap_is_refused_before_it_is_read(monkeypatch, fmt):
    monkeypatch.setitem(tables.UNPACKED_CAPS, fmt, 50_000)
    raw = (zip_bytes({"a.csv": b"0" * 30_000, "b.csv": b"1" * 30_000}) if fmt == "zip"
           else xlsx_bytes({"S": [["x" * 100]] * 1000}))
    with pytest.raises(UnreadableFile, match=r"big\.\w+: unpacks to [\d,]+ bytes, over the "
                                             r"50,000 byte cap"):
        read_tables(io.BytesIO(raw), f"big.{fmt}")


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"<html><body>Page not found</body></html>", "HTML page"),
        (b"%PDF-1.7", "PDF"),
        (b"", "empty"),
        (zip_bytes({"notes.txt": bytes(range(32)) * 50}), "no CSV or spreadsheet"),
    ],
)
def test_unreadable_files_are_refused_with_the_file_named(raw, message):
    with pytest.raises(UnreadableFile, match=message) as refused:
        read_tables(io.BytesIO(raw), "march.csv")
    assert "march.csv" in str(refused.value)
