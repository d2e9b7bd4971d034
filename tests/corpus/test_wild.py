"""Real files from publishers and years the reader was not built on (`../shared/corpus/wild/`):
every one read as payments, its rows and pence exact (the folder's EXPECTED.tsv).

They are examples of classes of file the reader once got wrong (an amount heading it did not
know, an empty amount column beside a filled one, a date heading it did not know, no header
found, `$` amounts, a second header line, payment lines after a glossary with no header), and
four controls read right before; tests/corpus/NOTES.md says how each class is now read.
"""

import csv

import pytest

from schemas.validate import report_file
from tests.conftest import CORPUS

WILD = CORPUS / "wild"
NO_WILD = f"the wild sample is not at {WILD} (set MONEYTRAIL_CORPUS to the corpus folder)"


def wild_rows():
    path = WILD / "EXPECTED.tsv"
    if not path.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_WILD), id="no-wild")]
    with path.open(encoding="utf-8") as rows:
        return [pytest.param(row, id=row["file"].removeprefix("files/"))
                for row in csv.DictReader(rows, delimiter="\t")]


@pytest.mark.parametrize("expected", wild_rows())
def test_a_file_nobody_tuned_for_is_read_as_payments_to_the_penny(expected):
    report = report_file(WILD / expected["file"]).to_json()
    assert report["failure"] is None
    assert report["kind"] == expected["kind"] == "transactions"
    assert report["rows_read"] == int(expected["data_rows"])
    assert report["rows_read"] == report["rows_valid"] + report["rows_quarantined"]
    assert report["amount_total_pence"] == int(expected["amount_sum_pence"])
    # No quiet loss: the amount was read on (nearly) every row, and every payment withheld is
    # counted with a reason that names its field.
    assert report["rows_quarantined"] <= report["rows_read"] // 20
    quarantined = sum(e["count"] for e in report["errors"])
    assert report["rows_quarantined"] <= quarantined
    if report["rows_quarantined"]:
        withheld = f"FAIL: {report['rows_quarantined']:,} of {report['rows_read']:,} payments"
        assert report["verdict"].startswith(withheld)
    else:
        assert report["verdict"].startswith(("PASS", "FAIL: no column for the Code's mandatory"))


@pytest.mark.parametrize("expected", wild_rows())
def test_every_column_says_how_it_was_mapped(expected):
    report = report_file(WILD / expected["file"]).to_json()
    hows = {c["how"] for c in report["columns"]}
    assert hows <= {"crosswalk", "tokens", "content", "override", "fallback", "duplicate",
                    "ignored", "unknown", "blank"}
    mapped = {c["field"]: c["how"] for c in report["columns"] if c["field"]}
    assert {"Amount", "PaymentDate", "BeneficiaryName"} <= set(mapped)
