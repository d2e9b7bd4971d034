"""Broken files made from real corpus files: nothing crashes and every row is accounted for.

Each test is one family of damage publishers do to files (docs/reliability.md, "Bad input",
lists them and is checked against FAMILIES here). Every mutated file is loaded into a fresh
SQLite warehouse file and must end either loaded, with every data row in `payments` or in
`quarantine` (with a reason naming the field) and the totals reconciling to the penny, or
rejected as a whole with a message naming the file and no rows kept.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from schemas.descriptors import load_descriptor
from sources.formats import OLE2_MAGIC, ZIP_MAGIC
from sources.registry import Publisher, load_registry
from sources.rows import SKIP_REASONS
from tests.conftest import CORPUS, NO_CORPUS, REPO
from tests.reliability import mutations
from warehouse.engine import connect
from warehouse.load import load_file, upsert_publisher
from warehouse.tables import files, payments, quarantine

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(not (CORPUS / "EXPECTED.tsv").exists(), reason=NO_CORPUS),
]

# Small real files of different kinds; their header lines come from EXPECTED.tsv.
CSV_FILES = (
    "hm-treasury/transparency_june12.csv",  # UTF-8
    "craven-district-council/payments.csv",  # cp1252, totals row, twice-named columns
    "foreign-commonwealth-office/spend-december-2010.csv",  # UTF-8 and cp1252 mixed
    "general-teaching-council-england/gtce spend april 2011 to january 2012.csv",  # notes on top
    "openlylocal-test-fixtures/file_with_extra_lines_at_top.csv",  # preamble, £ in headers
)
WORKBOOKS = (
    "lancashire-fire-rescue/fire-2025-26-q1.xlsx",
    "devon-county-council/DCCSpendingOver500_201005.xls",
    "hm-treasury/transparency_june12.csv.zip",  # the UTF-8 CSV wrapped in a ZIP by the test
)
SUMMARY = ("rows_read", "rows_valid", "rows_quarantined", "rows_skipped", "amount_total_pence",
           "amount_valid_pence", "date_min", "date_max", "redacted_rows")
FIELDS = "|".join(f["name"] for f in load_descriptor("spend")["fields"])
REASON = re.compile(rf"^({FIELDS}): \w+ ")
# Bounded and deterministic: the same examples on every run, about a minute for the file. A
# failing example is reported as found: shrinking one costs minutes of loads.
BOUNDED = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                   phases=[Phase.explicit, Phase.generate],
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FAMILIES: dict[str, str] = {}


def family(name: str) -> Callable:
    """Register a test as the one that runs a bad-input family (the docs table lists them)."""

    def register(test: Callable) -> Callable:
        FAMILIES[name] = test.__name__
        return test

    return register


@dataclass
class Loaded:
    """What loading one file into a fresh warehouse left there."""

    status: str
    message: str | None
    file: dict
    payments: list[tuple]  # (sheet, source_row, amount_pence)
    quarantine: list[tuple]  # (sheet, source_row, amount_pence, reasons)

    @property
    def summary(self) -> dict:
        return {key: self.file[key] for key in SUMMARY}

    def rows(self) -> Counter:
        """Every row kept, valid or not, as (sheet, source_row, amount_pence, valid)."""
        return Counter([(*p, True) for p in self.payments]
                       + [(*q[:3], False) for q in self.quarantine])


@functools.cache
def registry():
    return load_registry()


@functools.cache
def publisher(name: str) -> Publisher:
    publisher_id = name.split("/")[0]
    try:
        return registry()[publisher_id]
    except KeyError:
        return Publisher(id=publisher_id, org_id="XX-TEST-1", name=publisher_id, kind="other")


def load(data: bytes, name: str) -> Loaded:
    """Load bytes as the file `name` into a fresh SQLite warehouse and read back what it kept."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(name).name
        path.write_bytes(data)
        engine = connect(f"sqlite:///{Path(folder) / 'warehouse.db'}")
        try:
            who = publisher(name)
            upsert_publisher(engine, who)
            outcome = load_file(engine, who, f"http://publisher.test/{path.name}", path)
            with engine.connect() as conn:
                file = dict(conn.execute(sa.select(files)).mappings().one())
                kept = conn.execute(sa.select(
                    payments.c.sheet, payments.c.source_row, payments.c.amount_pence)).all()
                held = conn.execute(sa.select(
                    quarantine.c.sheet, quarantine.c.source_row, quarantine.c.amount_pence,
                    quarantine.c.reasons)).all()
        finally:
            engine.dispose()
    loaded = Loaded(outcome.status, outcome.message, file, [tuple(r) for r in kept],
                    [tuple(r) for r in held])
    assert_accounted(loaded, outcome, path.name)
    return loaded


def assert_accounted(loaded: Loaded, outcome, name: str) -> None:
    """The property every mutated file must keep, whatever was done to it."""
    file = loaded.file
    assert loaded.status in ("loaded", "rejected")
    assert file["status"] == {"loaded": "current", "rejected": "rejected"}[loaded.status]
    assert file["status_message"] == loaded.message
    if loaded.status == "rejected":
        # All or nothing: a rejected file keeps no row, and says why, naming the file.
        assert loaded.payments == [] and loaded.quarantine == []
        assert (outcome.rows_loaded, outcome.rows_quarantined) == (0, 0)
        failure = _report(file)["failure"]
        if failure:
            assert name in failure and loaded.message == failure
        else:
            assert "file holds no payments" in loaded.message
            assert loaded.message.startswith(Path(name).name)
        return
    assert file["rows_read"] == file["rows_valid"] + file["rows_quarantined"]
    assert len(loaded.payments) == file["rows_valid"] == outcome.rows_loaded
    assert len(loaded.quarantine) == file["rows_quarantined"] == outcome.rows_quarantined
    assert sum(p[2] for p in loaded.payments) == file["amount_valid_pence"]
    held_pence = sum(q[2] for q in loaded.quarantine if q[2] is not None)
    assert held_pence == file["amount_total_pence"] - file["amount_valid_pence"]
    keys = Counter((r[0], r[1]) for r in loaded.payments + loaded.quarantine)
    assert max(keys.values(), default=1) == 1, "a source row was kept twice"
    for row in loaded.quarantine:
        assert REASON.match(row[3]), f"quarantine reason names no field: {row[3]!r}"
    report = _report(file)
    assert sum(report["skipped"].values()) == file["rows_skipped"]
    assert set(report["skipped"]) <= set(SKIP_REASONS)


def _report(file: dict) -> dict:
    return json.loads(file["report"]) if file["report"] else {"failure": None, "skipped": {}}


@functools.cache
def expected(name: str) -> dict:
    with (CORPUS / "EXPECTED.tsv").open(encoding="utf-8") as rows:
        return next(r for r in csv.DictReader(rows, delimiter="\t") if r["file"] == name)


@functools.cache
def original(name: str) -> bytes:
    if name.endswith(".csv.zip"):
        inner = name.removesuffix(".zip")
        return mutations.zipped(Path(inner).name, original(inner))
    return (CORPUS / "files" / name).read_bytes()


@functools.cache
def parsed(name: str) -> mutations.CsvFile:
    return mutations.parse_csv(original(name), int(expected(name)["header_line"]))


@functools.cache
def record_ends(name: str) -> dict[int, int]:
    return mutations.record_lines(original(name))


@functools.cache
def baseline(name: str) -> Loaded:
    """The unmutated file loaded the same way; it must match the hand-checked truth."""
    loaded = load(original(name), name)
    truth = expected(name.removesuffix(".zip"))
    assert loaded.status == "loaded"
    assert loaded.file["rows_read"] == int(truth["data_rows"])
    assert abs(loaded.file["amount_total_pence"] - int(truth["amount_sum_pence"])) <= 2
    return loaded


def test_rewriting_a_csv_record_by_record_changes_nothing():
    # The record-level families below write CSVs back with the csv module; alone that is inert.
    for name in CSV_FILES:
        table = parsed(name)
        again = load(mutations.write_csv(table), name)
        assert again.summary == baseline(name).summary
        assert again.rows() == baseline(name).rows()
        assert mutations.line_numbers(table)[table.header_index] == int(
            expected(name)["header_line"])


csv_files = st.sampled_from(CSV_FILES)
any_file = st.sampled_from(CSV_FILES + WORKBOOKS)
cells = st.one_of(
    st.sampled_from(mutations.NASTY_CELLS),
    st.text(max_size=30),
    st.text(alphabet="0123456789.,-£/() ", max_size=14),
    st.builds(lambda char, n: char * n, st.sampled_from("x9,\"£\n"), st.integers(1000, 100_000)),
)
garbage_rows = st.one_of(
    st.lists(cells, max_size=40),
    st.integers(100, 20_000).map(lambda width: ["1"] * width),  # far wider than the header
)


@family("reencode")
@BOUNDED
@given(name=csv_files, encoding=st.sampled_from(mutations.ENCODINGS))
def test_a_reencoded_file_reads_the_same(name, encoding):
    loaded = load(mutations.reencode(original(name), encoding), name)
    assert loaded.summary == baseline(name).summary
    assert loaded.rows() == baseline(name).rows()


@family("shuffle_columns")
@BOUNDED
@given(name=csv_files, data=st.data())
def test_shuffled_columns_read_the_same(name, data):
    table = parsed(name)
    width = max(len(record) for record in table.records)
    order = data.draw(st.permutations(range(width)))
    loaded = load(mutations.write_csv(mutations.shuffle_columns(table, order)), name)
    assert loaded.summary == baseline(name).summary
    assert loaded.rows() == baseline(name).rows()


@family("duplicate_header")
@BOUNDED
@given(name=csv_files, positions=st.lists(st.integers(0, 10_000), min_size=1, max_size=5))
def test_a_header_repeated_mid_file_is_skipped(name, positions):
    table, _ = mutations.duplicate_header(parsed(name), positions)
    loaded, base = load(mutations.write_csv(table), name), baseline(name)
    assert loaded.summary == base.summary | {"rows_skipped": base.file["rows_skipped"]
                                             + len(positions)}
    repeats = _report(loaded.file)["skipped"]["repeated_header"]
    assert repeats == _report(base.file)["skipped"].get("repeated_header", 0) + len(positions)
    amounts = Counter((p[2], True) for p in loaded.payments) + Counter(
        (q[2], False) for q in loaded.quarantine)
    assert amounts == Counter((row[2], row[3]) for row in base.rows().elements())


@family("garbage_rows")
@BOUNDED
@given(name=csv_files,
       inserts=st.lists(st.tuples(st.integers(0, 10_000), garbage_rows), min_size=1, max_size=6))
def test_garbage_rows_are_kept_or_skipped_and_the_real_rows_are_untouched(name, inserts):
    table, indices = mutations.insert_records(parsed(name), inserts)
    lines = mutations.line_numbers(table)
    garbage = {lines[i] for i in indices}
    loaded, base = load(mutations.write_csv(table), name), baseline(name)
    assert loaded.status == "loaded"
    real = Counter({row: n for row, n in loaded.rows().items() if row[1] not in garbage})
    # The publisher's own rows: the same count and the same pence, to the penny.
    assert real.total() == base.file["rows_read"]
    assert sum(row[2] or 0 for row in real.elements()) == base.file["amount_total_pence"]
    # Each garbage row is loaded, quarantined with a reason, or skipped with a reason.
    kept = loaded.rows().total() - real.total()
    skipped = loaded.file["rows_skipped"] - base.file["rows_skipped"]
    assert kept + skipped == len(inserts)


@family("header_lost")
@BOUNDED
@given(name=csv_files, how=st.sampled_from(["dropped", "blanked", "overwritten"]),
       text=st.lists(cells, min_size=1, max_size=12))
def test_a_file_without_its_header_is_read_by_its_content_or_rejected_whole(name, how, text):
    """Payment lines with no header are recognised by what their columns hold (dates, amounts,
    names) and loaded to the penny; where that cannot be done the file is refused whole, with a
    reason. Never a part of it, never a payment typed as a total."""
    table = parsed(name)
    if how == "dropped":
        table = mutations.drop_header(table)
    else:
        records = list(table.records)
        records[table.header_index] = [""] * 3 if how == "blanked" else text
        table = replace(table, records=records)
    loaded, base = load(mutations.write_csv(table), name), baseline(name)
    if loaded.status == "rejected":
        assert loaded.message.startswith(f"{Path(name).name}: no table of payments found")
        return
    assert loaded.file["kind"] == "transactions"
    assert loaded.file["rows_read"] == base.file["rows_read"]
    assert loaded.file["amount_total_pence"] == base.file["amount_total_pence"]


@family("truncate")
@BOUNDED
@given(name=any_file, data=st.data())
def test_a_truncated_file_keeps_every_complete_row(name, data):
    raw = original(name)
    at = data.draw(st.integers(0, len(raw) - 1))
    loaded, base = load(mutations.truncate(raw, at), name), baseline(name)
    if name not in CSV_FILES:
        # A workbook or archive cut short is refused whole, or (if only slack was cut) reads
        # exactly as before.
        assert loaded.status == "rejected" or loaded.rows() == base.rows()
        return
    complete = mutations.complete_lines(raw[:at])
    ends = record_ends(name)
    whole = Counter({row: n for row, n in base.rows().items() if ends[row[1]] <= complete})
    if loaded.status == "rejected":  # the cut fell in or above the header
        assert complete < int(expected(name)["header_line"]) and not whole
        return
    rows = loaded.rows()
    assert rows & whole == whole, "a complete row was lost or changed by the cut"
    assert (rows - whole).total() <= 1, "only the row the cut went through may differ"


@family("byte_noise")
@BOUNDED
@given(name=any_file, edits=st.lists(
    st.tuples(st.sampled_from(["flip", "insert", "delete"]), st.integers(0, 1 << 24),
              st.integers(0, 255)), min_size=1, max_size=8))
def test_flipped_inserted_and_deleted_bytes_never_lose_a_row_silently(name, edits):
    load(mutations.edit_bytes(original(name), edits), name)


@family("random_bytes")
@BOUNDED
@given(head=st.sampled_from([b"", ZIP_MAGIC, OLE2_MAGIC, b"%PDF-1.4\n",
                             b"<html>", b"\xef\xbb\xbf", b"\xff\xfe",
                             b"Supplier,Payment Date,Amount\r\n"]),
       body=st.binary(max_size=4096))
def test_random_bytes_are_read_or_refused_never_a_crash(head, body):
    load(head + body, "random.csv")


def test_every_family_is_in_the_reliability_doc():
    doc = (REPO / "docs" / "reliability.md").read_text(encoding="utf-8")
    section = doc.split("## Bad input", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M)
    assert sorted(listed) == sorted(FAMILIES)


def _two_sheet_workbook_damaged_in_the_second() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for index, sheet in enumerate([book.active, book.create_sheet("May")]):
        sheet.append(["Supplier Name", "Payment Date", "Amount"])
        for row in range(200):
            sheet.append([f"SUPPLIER {index}-{row} LTD", "01/05/2024", 100 + row])
    out = io.BytesIO()
    book.save(out)
    data = bytearray(out.getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("xl/worksheets/sheet2.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    return bytes(data)


HEADER = "Supplier Name,Payment Date,Amount\r\n"


@pytest.mark.parametrize("content, status, rows", [
    # Bad values in a column that also has an empty cell once slipped through validation.
    pytest.param(HEADER + "A LTD,01/05/2024,\r\nB LTD,1,abc\r\nC LTD,02/05/2024,5.00\r\n",
                 "loaded", (1, 2), id="bad-value-beside-an-empty-cell"),
    pytest.param(HEADER + "A LTD,01/05/2024,1e309\r\nB LTD,02/05/2024,5.00\r\n",
                 "loaded", (1, 1), id="amount-1e309"),
    pytest.param((HEADER.replace(",", "\t") + "A LTD\t01/05/2024\t5.00\r\n").encode("utf-16"),
                 "loaded", (1, 0), id="utf-16-tab-separated"),
    pytest.param(HEADER + "A LTD,01/05/2024,5.00" + ",1" * 10_000 + "\r\n",
                 "loaded", (1, 0), id="a-row-of-10000-cells"),
    pytest.param(_two_sheet_workbook_damaged_in_the_second(), "rejected", (0, 0),
                 id="xlsx-damaged-in-its-second-sheet"),
])
def test_bad_input_this_suite_found_is_handled(content, status, rows):
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    name = "found.xlsx" if data.startswith(ZIP_MAGIC) else "found.csv"
    loaded = load(data, name)
    assert (loaded.status, (len(loaded.payments), len(loaded.quarantine))) == (status, rows)
