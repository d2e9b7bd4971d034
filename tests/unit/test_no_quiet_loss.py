"""No quiet loss: every payment in a file is loaded to the penny, or the report says, naming the
column, row and reason, why it could not be."""

import json

import pytest

from schemas.render import render_text
from schemas.validate import check_file, report_file

LGA = ("Organisation,Payment Date,Supplier,Expense Type,Service,{amount},VCSE Grant,"
       "Irrecoverable VAT\n")
ROWS = ("Testshire,01/04/2024,ACME LTD,Materials,Highways,1000.00,Not yet available,N/A\n"
        "Testshire,02/04/2024,BETA PLC,Fees,Finance,250.50,Not yet available,0.00\n")


def test_a_placeholder_in_an_optional_column_withholds_no_payment(write):
    """'Not yet available' in the VCSE grant column and 'N/A' as irrecoverable VAT once sent a
    quarter's 8,000 payments to quarantine: they are warnings on those fields now."""
    path = write("q1.csv", LGA.format(amount="Amount") + ROWS)
    report, chunks = check_file(path)
    chunk = next(chunks)
    list(chunks)
    data = report.to_json()
    assert (data["rows_valid"], data["rows_quarantined"]) == (2, 0)
    assert data["amount_valid_pence"] == 125050
    assert data["errors"] == []
    warned = {(w["field"], w["type"]): w["count"] for w in data["field_warnings"]}
    assert warned == {("VCSEGrant", "type"): 2, ("IrrecoverableVATAmount", "type"): 1}
    examples = data["field_warnings"][0]["examples"]
    assert examples[0] == {"sheet": None, "row": 2, "field": "VCSEGrant",
                           "value": "Not yet available"}
    assert data["passed"] and data["verdict"].startswith("PASS: 2 payments, £1,250.50; 3 optional")
    shown = render_text(report)
    assert "warning: VCSEGrant type in 2 rows" in shown and "Read as empty" in shown
    # The payment has the field empty, and keeps what was published in its extra.
    payments = chunk.payments("testshire", report.record.sha256)
    assert payments["vcse_grant"].isna().all()
    assert payments["irrecoverable_vat_pence"].tolist()[1] == 0
    assert json.loads(payments["extra"].iloc[0]) == {"VCSE Grant": "Not yet available",
                                                     "Irrecoverable VAT": "N/A"}


def test_an_amount_heading_nobody_listed_is_read_and_says_how(write):
    path = write("q1.csv", LGA.format(amount="Value in Sterling (£)") + ROWS)
    data = report_file(path).to_json()
    assert data["amount_total_pence"] == 125050
    column = next(c for c in data["columns"] if c["field"] == "Amount")
    assert (column["header"], column["how"]) == ("Value in Sterling (£)", "tokens")


def test_a_filled_amount_column_wins_over_an_empty_one(write):
    text = ("Date,Supplier,Amount,Payment Value\n"
            "01/04/2024,ACME LTD,,1000.00\n02/04/2024,BETA PLC,,250.50\n")
    data = report_file(write("q.csv", text)).to_json()
    assert data["amount_total_pence"] == 125050 and data["rows_quarantined"] == 0
    loser = next(c for c in data["columns"] if c["header"] == "Amount")
    assert loser["how"] == "duplicate" and "is empty" in loser["note"]


def test_an_amount_column_found_by_what_it_holds(write):
    text = ("Date,Supplier,Widget,Colour\n"
            "01/04/2024,ACME LTD,\"1,000.00\",red\n02/04/2024,BETA PLC,250.50,blue\n")
    data = report_file(write("q.csv", text)).to_json()
    assert data["amount_total_pence"] == 125050
    column = next(c for c in data["columns"] if c["field"] == "Amount")
    assert (column["header"], column["how"]) == ("Widget", "content")


@pytest.mark.parametrize("header, cells, looked", [
    ("Date,Supplier,Value", "see attached",
     "'Value' (its heading reads as Amount, but it holds text)"),
    ("Date,Supplier,Reference", "A1", "no column's heading or content fits"),
])
def test_no_amount_column_fails_loudly_naming_what_was_considered(write, header, cells, looked):
    """The old reader called rows like these valid, with a total of £0.00."""
    text = f"{header}\n01/04/2024,ACME LTD,{cells}\n02/04/2024,BETA PLC,{cells}\n"
    data = report_file(write("q.csv", text)).to_json()
    assert data["kind"] == "not_spend" and not data["passed"]
    assert data["failure"] == f"q.csv: no amount column (Amount); looked at: {looked}"
    assert data["verdict"] == f"FAIL: {data['failure']}"
    assert data["score_parts"]["payments"] == 0


def test_an_amount_column_that_mostly_does_not_read_as_money_is_the_verdict(write):
    text = ("Date,Supplier,Amount\n01/04/2024,ACME LTD,one thousand\n"
            "02/04/2024,BETA PLC,two hundred\n03/04/2024,GAMMA LTD,10.00\n")
    data = report_file(write("q.csv", text)).to_json()
    # Every row is still accounted for: two quarantined with their reason, one loaded.
    assert (data["rows_valid"], data["rows_quarantined"]) == (1, 2)
    assert data["verdict"] == ("FAIL: the amount column 'Amount' (crosswalk) reads as money on "
                               "only 1 of 3 rows (first at row 2: 'one thousand')")


@pytest.mark.parametrize("text, reason", [
    ("", "is empty"),
    ("<html><body>Not found</body></html>", "is an HTML page"),
    ("Notes\nNothing was spent this month\n", "no table of payments found"),
    ("Supplier,Amount,Notes\nACME LTD,5.00,x\n", None),
])
def test_every_refusal_has_a_reason(write, text, reason):
    data = report_file(write("f.csv", text)).to_json()
    if reason is None:  # a table of payments with no date: totals, and the verdict says so
        assert data["kind"] == "supplier_totals"
        assert data["verdict"].startswith("FAIL: read as totals per supplier, not payments")
        return
    assert data["kind"] == "not_spend" and reason in data["failure"]
    assert data["verdict"].startswith("FAIL: ")


def test_a_report_never_passes_a_file_whose_money_was_not_read(write):
    text = "Date,Supplier,Amount\n01/04/2024,ACME LTD,#REF!\n"
    data = report_file(write("q.csv", text)).to_json()
    assert not data["passed"] and data["score_parts"]["payments"] == 0


def test_a_period_of_dates_stands_in_for_a_missing_payment_date(write):
    """Once read as totals per supplier (never loaded): a file whose only date is its period."""
    text = "Period,Supplier,Amount\nJun-10,ACME LTD,1000.00\nJun-10,BETA PLC,250.50\n"
    data = report_file(write("q.csv", text)).to_json()
    assert (data["kind"], data["rows_valid"], data["date_min"]) == ("transactions", 2, "2010-06")
    column = next(c for c in data["columns"] if c["header"] == "Period")
    assert (column["field"], column["how"]) == ("PaymentDate", "content")
    assert "AccountingPeriod stands in" in column["note"]


def test_a_filled_gross_amount_stands_in_for_an_empty_net_one(write):
    text = ("Date,Supplier,Net Amount,Gross Amount\n"
            "01/04/2024,ACME LTD,,1200.00\n02/04/2024,BETA PLC,,300.60\n")
    data = report_file(write("q.csv", text)).to_json()
    assert data["amount_total_pence"] == 150060 and data["rows_quarantined"] == 0
    notes = {c["header"]: (c["field"], c["how"], c["note"]) for c in data["columns"]}
    assert notes["Gross Amount"] == (
        "Amount", "fallback",
        "GrossAmount standing in: the file's Amount column 'Net Amount' is empty")
    assert notes["Net Amount"][:2] == (None, "duplicate")
