"""A whole file through read, map, validate and convert: counts reconcile, nothing is lost."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.descriptors import SCHEMA_DIR, load_descriptor
from schemas.validate import check_file, report_file

MESSY = (
    "Spend over \xa3500 - March 2024\r\n"  # a title line with a cp1252 pound sign
    ",,,,,\r\n"
    "Body Name,Supplier Name,Payment Date,Net Amount(\xa3),Expense Area,Colour\r\n"
    "Testshire,ACME LTD,01/03/2024,\"1,000.00\",Highways,red\r\n"
    "Testshire,REDACTED PERSONAL DATA,02/03/2024,250.50-,Adult Care,\r\n"
    "Testshire,#REF!,03/03/2024,12.00,Highways,\r\n"
    "Testshire,BETA PLC,31/13/2024,5.00,Highways,\r\n"
    "Testshire,GAMMA LTD,04/03/2024,#REF!,Highways,\r\n"
    ",,,,,\r\n"
    "Body Name,Supplier Name,Payment Date,Net Amount(\xa3),Expense Area,Colour\r\n"
    "Testshire,DELTA LTD,28/03/2024,(100.00),Libraries,blue\r\n"
    ",,,756.50,,\r\n"
)


@pytest.fixture
def messy(write):
    return write("march.csv", MESSY, encoding="cp1252")


def test_counts_reconcile_to_the_penny(messy):
    report = report_file(messy, publisher_id="testshire").to_json()
    assert report["rows_read"] == 6
    assert report["rows_valid"] == 3
    assert report["rows_quarantined"] == 3
    assert report["rows_read"] == report["rows_valid"] + report["rows_quarantined"]
    assert report["skipped"] == {"preamble": 1, "blank": 2, "repeated_header": 1, "totals": 1}
    # 1000.00 - 250.50 + 12.00 + 5.00 + 0 (#REF!) - 100.00
    assert report["amount_total_pence"] == 66650
    assert report["amount_valid_pence"] == 64950
    assert report["header_row"] == 3
    assert report["encoding"] == "cp1252"
    assert report["date_min"] == "2024-03-01" and report["date_max"] == "2024-03-28"
    assert report["redacted_rows"] == 1 and report["redactions"] == {"personal_data": 1}
    assert report["notes"] == [
        "the totals row at row 12 states 756.50 but the rows add up to 666.50 (-90.00 difference)"
    ]


def test_errors_name_the_row_field_value_and_what_was_expected(messy):
    errors = {(e["field"], e["type"]): e for e in report_file(messy).to_json()["errors"]}
    assert set(errors) == {("BeneficiaryName", "spreadsheet_error"), ("PaymentDate", "type"),
                           ("Amount", "spreadsheet_error")}
    date = errors[("PaymentDate", "type")]
    assert date["count"] == 1
    assert date["examples"] == [{"sheet": None, "row": 7, "field": "PaymentDate",
                                 "value": "31/13/2024"}]
    assert "a date" in date["expected"]


def test_valid_rows_become_payments_and_invalid_rows_go_to_quarantine(messy):
    report, chunks = check_file(messy, publisher_id="testshire")
    [chunk] = list(chunks)
    payments = chunk.payments("testshire", report.record.sha256)
    assert list(payments.columns) == [f["name"] for f in load_descriptor("payment")["fields"]]
    assert payments["amount_pence"].tolist() == [100000, -25050, -10000]
    assert payments["source_row"].tolist() == [4, 5, 11]
    assert payments["redaction_reason"].tolist()[1] == "personal_data"
    assert json.loads(payments["extra"].iloc[0]) == {"Colour": "red"}
    assert set(payments["file_sha256"]) == {report.record.sha256}

    quarantine = chunk.quarantine()
    assert quarantine["source_row"].tolist() == [6, 7, 8]
    assert quarantine["reasons"].tolist() == [
        "BeneficiaryName: spreadsheet_error '#REF!'",
        "PaymentDate: type '31/13/2024'",
        "Amount: spreadsheet_error '#REF!'",
    ]
    assert json.loads(quarantine["mapped"].iloc[2])["Amount"] == "#REF!"
    assert payments["amount_pence"].sum() + quarantine["amount_pence"].sum() == 66650


@pytest.mark.parametrize("chunk_rows", [2, 50_000])
def test_a_loaders_batch_is_the_payments_less_their_empty_columns(messy, chunk_rows):
    import pandas as pd

    report, chunks = check_file(messy, publisher_id="testshire", chunk_rows=chunk_rows)
    for chunk in chunks:
        full = chunk.payments("testshire", report.record.sha256)
        filled = [c for c in full.columns if full[c].notna().any() and c != "file_sha256"]
        batch = chunk.payment_batch("testshire", report.record.sha256,
                                    leave_out=("file_sha256",))
        assert "file_sha256" not in batch and "gross_amount_pence" not in batch
        assert list(batch.columns) == filled
        pd.testing.assert_frame_equal(batch, full[filled], check_column_type=False)


def test_score_and_missing_fields(messy):
    report = report_file(messy).to_json()
    assert report["missing_mandatory_fields"] == ["purpose", "irrecoverable VAT",
                                                  "merchant category"]
    # Payments withheld cost the most: half the rows are quarantined, half the 50 points.
    assert report["score_parts"] == {"payments": 25.0, "fields": 17.1, "formats": 10.0}
    assert report["score"] == 52
    assert report["passed"] is False
    assert report["verdict"].startswith("FAIL: 3 of 6 payments withheld (£17.00)")


def test_a_clean_lga_file_passes(write):
    path = write("clean.csv", (
        "OrganisationLabel,OrganisationalUnit,BeneficiaryName,PaymentDate,TransactionNumber,"
        "Amount,IrrecoverableVATAmount,Purpose,MerchantCategory\n"
        "Testshire,Highways,ACME LTD,01/04/2024,T1,1000.00,0.00,Road salt,Highways materials\n"
        "Testshire,Highways,ACME LTD,02/04/2024,T2,-25.00,0.00,Credit note,Highways materials\n"
    ))
    report = report_file(path).to_json()
    assert report["passed"] is True
    assert report["score"] == 100
    assert report["warnings"] == []


def test_supplier_totals_and_glossaries_are_reported_as_such(write):
    totals = write("q1.csv", "Supplier ID,Supplier Name,Amount\n1,ACME,\"1,000\"\n2,BETA,5\n")
    glossary = write("notes.csv", "EXAMPLES OF GPC EXPENDITURE,\nAuto Rental,Car hire\n")
    assert report_file(totals).to_json()["kind"] == "supplier_totals"
    assert report_file(totals).to_json()["amount_total_pence"] == 100500
    glossary_report = report_file(glossary).to_json()
    assert glossary_report["kind"] == "not_spend"
    assert glossary_report["rows_read"] == 0


def test_an_html_page_is_refused_clearly(write):
    page = write("spend.csv", "<!DOCTYPE html><html><body>Sorry, page moved</body></html>")
    report = report_file(page).to_json()
    assert report["kind"] == "not_spend"
    assert "HTML page" in report["failure"] and "spend.csv" in report["failure"]


def test_month_first_file_is_detected_and_reported(write):
    path = write("q4.csv", "Supplier Name,Updated,Amount\nA,11/17/2009,1\nB,9/1/2009,2\n")
    report = report_file(path).to_json()
    assert report["date_order"] == "MDY"
    assert (report["date_min"], report["date_max"]) == ("2009-09-01", "2009-11-17")
    assert report["rows_quarantined"] == 0


def test_publisher_quirks_apply(write):
    path = write("devon.csv",
                 "Entity,ENEntity Name,PymtDate,SumOfNet Amt\n87025,ACME,2010-05-04,1\n")
    report = report_file(path, publisher_id="devon-county-council").to_json()
    columns = {c["header"]: c for c in report["columns"]}
    assert columns["Entity"]["field"] == "BeneficiaryOtherID"
    assert columns["Entity"]["how"] == "override"


@pytest.mark.parametrize("name", ["spend", "purchase-card"])
def test_the_published_example_files_pass_with_full_marks(name):
    report = report_file(SCHEMA_DIR / "examples" / f"{name}.csv", name).to_json()
    assert report["passed"] is True
    assert report["score"] == 100
    assert all(c["field"] for c in report["columns"])


def test_spreadsheet_errors_are_found_in_the_columns_the_reader_saw_a_hash_in(messy, write):
    from sources.read import HASH_COLUMNS

    report, chunks = check_file(messy, publisher_id="testshire")
    (chunk,) = list(chunks)
    assert chunk.frame.attrs[HASH_COLUMNS] == {"BeneficiaryName", "Amount"}
    errors = chunk.validation.errors
    assert sorted(errors.loc[errors["check"] == "spreadsheet_error", "field"]) == [
        "Amount", "BeneficiaryName"]
    # A chunk built without the reader's hint is checked column by column, to the same result.
    chunk.frame.attrs.clear()
    again = chunk.validator.validate(chunk.frame)
    assert again.errors.equals(chunk.validation.errors)


def test_date_order_is_told_from_the_first_rows_not_the_first_chunk(write):
    """The month-first proof here comes 200 rows in, past the first chunks, and still decides
    the whole file: the order is told from a sample of the first rows, not the first chunk."""
    rows = ["A,01/02/2009,1"] * 200 + ["B,11/17/2009,2"]
    path = write("q4.csv", "Supplier Name,Updated,Amount\n" + "\n".join(rows) + "\n")
    report, chunks = check_file(path, chunk_rows=64)
    sizes = [len(chunk.frame) for chunk in chunks]
    # Whole chunks from the first; the last 73 rows cut two thirds, one third.
    assert sizes == [64, 64, 49, 24]
    summary = report.to_json()
    assert summary["date_order"] == "MDY"
    assert (summary["date_min"], summary["date_max"]) == ("2009-01-02", "2009-11-17")


def test_a_files_last_rows_are_cut_in_two_so_the_last_chunk_is_small(write):
    """A CSV's rows come in whole chunks, the first included, until the reader's estimate of
    the rows left falls under one and a half: those are cut two thirds, one third, so that a
    process inserting them (warehouse.preparing) is left a small chunk to do at the end."""
    rows = [f"Supplier {i % 97},01/02/2009,{i}" for i in range(20_000)]
    path = write("long.csv", "Supplier Name,Updated,Amount\n" + "\n".join(rows) + "\n")
    report, chunks = check_file(path, chunk_rows=4_000)
    sizes = [len(chunk.frame) for chunk in chunks]
    assert sum(sizes) == report.rows_read == 20_000
    *whole, cut, last = sizes
    assert set(whole) == {4_000}
    assert cut + last < 1.5 * 4_000 and abs(cut - 2 * last) < 200, sizes


def test_the_date_sample_stops_once_a_date_proves_the_file_day_first(write):
    """A day-first date settles the order, so the first chunk is not held back by reading
    50,000 rows ahead; a file with no such proof is sampled in full, as above."""
    from schemas.dates import proves_day_first
    from sources.read import read_file

    rows = ["A,01/02/2009,1"] * 15 + ["B,25/02/2009,2"] + ["C,11/17/2009,3"] * 100
    path = write("mixed.csv", "Supplier Name,Updated,Amount\n" + "\n".join(rows) + "\n")
    _, chunks = read_file(path, chunk_rows=64, date_settled=proves_day_first)
    table, _ = next(chunks)
    assert table.date_sample == ["01/02/2009", "25/02/2009"]  # two steps of 8 rows read
    _, chunks = read_file(path, chunk_rows=64)
    table, _ = next(chunks)
    assert table.date_sample == ["01/02/2009", "11/17/2009", "25/02/2009"]
    # Either way the order is day-first, as the whole sample says.
    report, chunks = check_file(path, chunk_rows=64)
    list(chunks)
    assert report.to_json()["date_order"] == "DMY"


@pytest.mark.parametrize("chunk_rows", [8, 64, 20_000])
def test_error_examples_are_the_first_rows_in_the_file_however_it_is_chunked(write, chunk_rows):
    rows = [f"A{i},01/02/2024,1.00" if i % 3 else f",01/02/2024,{i}.00" for i in range(60)]
    path = write("gaps.csv", "Supplier Name,Payment Date,Amount\n" + "\n".join(rows) + "\n")
    report, chunks = check_file(path, chunk_rows=chunk_rows)
    for _ in chunks:
        pass
    (required,) = [e for e in report.to_json()["errors"] if e["type"] == "required"]
    assert required["count"] == 20
    assert [e["row"] for e in required["examples"]] == [2, 5, 8, 11, 14]


def test_the_report_is_the_same_however_the_file_is_chunked(write):
    """Error groups are listed by the first row found with each, and counts by size then name,
    so that the report a publisher reads (and the warehouse stores) does not depend on where
    the reader cut the file: a spreadsheet error late, a bad amount early; redaction markers
    and personal names whose counts tie, met in a different order in each chunk."""
    rows = []
    for i in range(120):
        payee = ["Acme Ltd", "REDACTED", "Mr J Smith", "Commercially confidential",
                 "John Smith", "Personal data"][i % 6]
        amount = "#REF!" if i == 90 else "ten pounds" if i in (7, 100) else f"{i}.00"
        date = "32/01/2024" if i == 50 else "01/02/2024"
        rows.append(f"{payee},{date},{amount}")
    path = write("order.csv", "Supplier Name,Payment Date,Amount\n" + "\n".join(rows) + "\n")
    reports = []
    for chunk_rows in (8, 40, 64, 20_000):
        report, chunks = check_file(path, chunk_rows=chunk_rows)
        for _ in chunks:
            pass
        reports.append(report.to_json())
    assert [(e["type"], e["field"]) for e in reports[-1]["errors"]] == [
        ("type", "Amount"), ("type", "PaymentDate"), ("spreadsheet_error", "Amount")]
    assert list(reports[-1]["redactions"].values()) == sorted(
        reports[-1]["redactions"].values(), reverse=True)
    for other in reports[:-1]:
        assert json.dumps(other) == json.dumps(reports[-1])


def test_text_is_arrow_backed_and_the_python_backend_gives_the_same_rows(messy):
    import pandas as pd

    def outcome():
        report, chunks = check_file(messy, publisher_id="testshire")
        kept = [(chunk.frame, chunk.payments("testshire", "0" * 64), chunk.quarantine())
                for chunk in chunks]
        return report.to_json(), kept

    # pyarrow is a dependency: the reader's text columns are Arrow strings, whose .str methods
    # are vectorised kernels (docs/performance.md).
    summary, kept = outcome()
    assert kept[0][0]["BeneficiaryName"].dtype.storage == "pyarrow"
    with pd.option_context("mode.string_storage", "python"):
        python_summary, python_kept = outcome()
    assert python_kept[0][0]["BeneficiaryName"].dtype.storage == "python"
    assert python_summary == summary
    for ours, theirs in zip(kept, python_kept, strict=True):
        for frame, python_frame in zip(ours, theirs, strict=True):
            pd.testing.assert_frame_equal(frame, python_frame, check_dtype=False,
                                          check_column_type=False, check_index_type=False)
            assert list(frame.dtypes.astype(str)) == list(python_frame.dtypes.astype(str))


def test_the_reader_lets_go_of_a_chunks_rows_before_handing_it_over(write):
    """While the caller holds a chunk, the reader keeps no list of that chunk's rows alive: the
    per-chunk garbage collection of a load would otherwise walk every cell of the chunk."""
    import gc

    from sources.read import read_file

    rows = [f"Supplier {i},01/02/2024,{i}.00" for i in range(300)]
    path = write("many.csv", "Supplier Name,Payment Date,Amount\n" + "\n".join(rows) + "\n")
    _, chunks = read_file(path, chunk_rows=100)
    seen = 0
    for _, frame in chunks:
        first = int(frame["_row"].iloc[0])  # the line the chunk starts on
        # Exact types: other libraries' objects subclass list and refuse indexing.
        held = [o for o in gc.get_objects() if type(o) is list and len(o) >= len(frame)
                and type(o[0]) is tuple and o[0] and o[0][0] == first]
        assert not held, f"the reader still holds the {len(held[0])} rows from line {first}"
        # Nor the block of the rows' cells it framed the chunk from.
        cells = [o for o in gc.get_objects() if type(o) is list and len(o) >= len(frame)
                 and type(o[0]) is list and o[0][:1] == [f"Supplier {first - 2}"]]
        assert not cells, f"the reader still holds the cells of the rows from line {first}"
        seen += len(frame)
    assert seen == 300


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.sampled_from(["", "x", "a \"q\"", "£5", "é"]),
                                   st.text(max_size=5)), min_size=3, max_size=3),
                min_size=1, max_size=12),
       st.sampled_from(["pyarrow", "python"]))
def test_extra_json_is_the_json_of_each_rows_filled_cells(rows, storage):
    """extra_json joins a column at a time: each row's text is json.dumps of its dict of
    non-empty cells, or NA for a row with none, whichever string backend pandas uses."""
    import pandas as pd

    from schemas.convert import extra_json

    headers = ["Colour", "Notes \"n\"", "Ref"]
    with pd.option_context("mode.string_storage", storage):
        frame = pd.DataFrame({f"extra:{h}": pd.array([r[i] or None for r in rows],
                                                     dtype="string")
                              for i, h in enumerate(headers)})
        encoded = extra_json(frame)
    for row, text in zip(rows, encoded.tolist(), strict=True):
        filled = {h: v for h, v in zip(headers, row, strict=True) if v}
        assert (text if isinstance(text, str) else None) == (
            json.dumps(filled, ensure_ascii=False) if filled else None)


def _parts_report(path, split, chunk_rows, **options):
    """A file's report and rows read as two parts, the second's report merged into the first's
    (as warehouse.preparing reads a large CSV in two processes)."""
    import pandas as pd

    frames, reports = [], []
    for records in ((0, split), (split, None)):
        report, chunks = check_file(path, chunk_rows=chunk_rows, records=records, **options)
        frames += [chunk.frame for chunk in chunks]
        reports.append(report)
    reports[0].merge(reports[1])
    return reports[0].to_json(), pd.concat(frames, ignore_index=True) if frames else None


@pytest.mark.parametrize("split", [1, 2, 3, 5, 7, 50, 10_000])
@pytest.mark.parametrize("chunk_rows", [2, 4, 64])
def test_a_file_read_in_two_parts_gives_the_rows_and_report_of_one_read(messy, split,
                                                                        chunk_rows):
    """Parts split anywhere, chunked anyhow: the same rows, in order, and the same report, to
    the byte (preamble counted once, errors and examples in file order, totals, the date
    range)."""
    import pandas as pd

    whole, chunks = check_file(messy, publisher_id="testshire", chunk_rows=chunk_rows)
    rows = pd.concat([chunk.frame for chunk in chunks], ignore_index=True)
    summary, parts = _parts_report(messy, split, chunk_rows, publisher_id="testshire")
    assert json.dumps(summary) == json.dumps(whole.to_json())
    pd.testing.assert_frame_equal(parts, rows)


def test_a_later_part_reads_past_the_earlier_one_and_no_further(write):
    rows = [f"Supplier {i},01/02/2009,{i}.00" for i in range(1, 101)]
    path = write("parts.csv", "Title\n\nSupplier Name,Payment Date,Amount\n" + "\n".join(rows))
    report, chunks = check_file(path, chunk_rows=16, records=(30, 70))
    frames = list(chunks)
    assert [len(chunk.frame) for chunk in frames] == [16, 16, 8]  # 40 records, whole chunks
    assert frames[0].frame["BeneficiaryName"].iloc[0] == "Supplier 31"
    assert frames[-1].frame["_row"].iloc[-1] == 3 + 70  # the 70th record, on line 73
    assert report.to_json()["skipped"] == {}  # the title and blank line: the first part's
    assert report.rows_read == 40


def test_a_part_that_fails_first_keeps_the_rest_out_of_the_report(write):
    """Reading stops at a failure: a merged report counts nothing past it."""
    from schemas.report import FileReport

    path = write("ok.csv", "Supplier Name,Payment Date,Amount\nA,01/02/2009,1.00\n")
    first = FileReport.start(path, "spend", None)
    first.fail("ok.csv: unreadable at line 9")
    later, chunks = check_file(path)
    list(chunks)
    first.merge(later)
    assert first.rows_read == 0 and first.failure == "ok.csv: unreadable at line 9"
