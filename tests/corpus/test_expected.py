"""Every real corpus file read and validated against hand-checked truth (EXPECTED.tsv).

The rules used where the truth depends on a choice are in NOTES.md beside this file.
"""

import csv

import pytest

from schemas.validate import report_file
from tests.conftest import CORPUS, NO_CORPUS

# NOTES.md: the Devon 2010 workbook holds half-pennies; EXPECTED sums before rounding, we round
# each row half up (whole pence per payment), which its own notes put at +2p.
PENNY_TOLERANCE = {"devon-county-council/DCCSpendingOver500_201005.xls": 2}
ENCODINGS = {"n/a (xlsx)": None, "n/a (xls BIFF8)": None}


def expected_rows():
    path = CORPUS / "EXPECTED.tsv"
    if not path.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_CORPUS), id="no-corpus")]
    with path.open(encoding="utf-8") as rows:
        return [pytest.param(row, id=row["file"]) for row in csv.DictReader(rows, delimiter="\t")]


@pytest.fixture(scope="module")
def reports():
    cache = {}

    def report(name):
        if name not in cache:
            publisher = name.split("/")[0]
            cache[name] = report_file(CORPUS / "files" / name, "spend", publisher).to_json()
        return cache[name]

    return report


@pytest.mark.parametrize("expected", expected_rows())
def test_file_matches_hand_checked_truth(expected, reports):
    report = reports(expected["file"])
    assert report["kind"] == expected["kind"]
    assert report["rows_read"] == int(expected["data_rows"])
    assert report["rows_read"] == report["rows_valid"] + report["rows_quarantined"]
    tolerance = PENNY_TOLERANCE.get(expected["file"], 0)
    assert abs(report["amount_total_pence"] - int(expected["amount_sum_pence"])) <= tolerance
    assert (report["date_min"] or "none") == expected["date_min"]
    assert (report["date_max"] or "none") == expected["date_max"]
    if expected["redacted_rows"] != "n/a":
        assert report["redacted_rows"] == int(expected["redacted_rows"])
    assert report["totals_rows"] == [] or len(report["totals_rows"]) == int(
        expected["totals_rows_excluded"])


@pytest.mark.parametrize("expected", expected_rows())
def test_file_format_encoding_and_header_are_found(expected, reports):
    report = reports(expected["file"])
    encoding = ENCODINGS.get(expected["encoding"], expected["encoding"])
    assert report["encoding"] == encoding
    assert report["header_row"] == int(expected["header_line"])
    if expected["sheets"] != "n/a":
        sheets = [s.removesuffix(" (zip member)") for s in expected["sheets"].split(";")]
        assert report["sheets"] == sheets


@pytest.mark.parametrize("expected", expected_rows())
def test_bad_values_are_quarantined_not_zeroed(expected, reports):
    report = reports(expected["file"])
    bad_amounts = sum(e["count"] for e in report["errors"] if e["field"] == "Amount")
    assert bad_amounts == int(expected["bad_amounts"])
    if expected["bad_dates"] != "n/a":
        bad_dates = sum(e["count"] for e in report["errors"] if e["field"] == "PaymentDate"
                        and e["type"] != "required")
        assert bad_dates == int(expected["bad_dates"])


@pytest.mark.parametrize("expected", expected_rows())
def test_a_csv_read_in_two_parts_gives_the_report_of_one_read(expected, reports):
    """A large CSV is read by two processes at once, each a part of its records
    (warehouse.preparing): every real CSV, split at its start, middle and near its end, gives
    the report of one read, to the byte."""
    import json

    from schemas.validate import check_file
    from warehouse.preparing import _splittable

    path = CORPUS / "files" / expected["file"]
    if not _splittable(path):
        pytest.skip("a workbook is read in one part")
    whole = reports(expected["file"])
    publisher = expected["file"].split("/")[0]
    rows = whole["rows_read"] + whole["rows_skipped"]
    for split in sorted({1, rows // 2, max(1, rows - 3)}):
        first, chunks = check_file(path, "spend", publisher, records=(0, split))
        list(chunks)
        later, chunks = check_file(path, "spend", publisher, records=(split, None))
        list(chunks)
        first.merge(later)
        assert json.dumps(first.to_json()) == json.dumps(whole), split
