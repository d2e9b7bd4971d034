"""Headers in unexpected places: at the end, repeated or changed part-way down, two lines
deep, far below a glossary, or missing, with the columns found from what they hold."""

from pathlib import Path

import pytest

from schemas.render import render_text
from schemas.validate import report_file
from sources.quirks import Quirks

HEADER = ["Body", "Payment Date", "Supplier", "Expense Type", "Directorate", "Amount"]
PAYMENTS = [
    ["Testshire", "01/04/2024", "ACME LTD", "Materials", "Highways", "1,000.00"],
    ["Testshire", "02/04/2024", "BETA PLC", "Consultancy", "Finance", "2,500.50"],
    ["Testshire", "03/04/2024", "GAMMA LLP", "Legal fees", "Legal", "-120.25"],
    ["Testshire", "04/04/2024", "DELTA CIC", "Grants", "Communities", "999.99"],
]
PENCE = 100000 + 250050 - 12025 + 99999


def csv_text(rows: list[list[str]]) -> str:
    return "".join(",".join(f'"{c}"' if "," in c else c for c in row) + "\r\n" for row in rows)


def read(write, rows: list[list[str]], name: str = "spend.csv", **quirks) -> dict:
    path = write(name, csv_text(rows))
    return report_file(path, quirks=Quirks(**quirks) if quirks else None).to_json()


def test_a_header_written_as_the_last_line_reads_the_payments_above_it(write):
    report = read(write, [["Spend over £500, April 2024"], [], *PAYMENTS, HEADER])
    assert (report["kind"], report["rows_read"], report["amount_total_pence"]) == (
        "transactions", 4, PENCE)
    assert report["header_row"] == 7
    assert report["skipped"] == {"preamble": 1, "blank": 1}
    assert report["rows_quarantined"] == 0


def test_a_header_repeated_part_way_down_is_skipped_not_counted(write):
    report = read(write, [HEADER, *PAYMENTS[:2], [h.upper() for h in HEADER], *PAYMENTS[2:]])
    assert (report["rows_read"], report["amount_total_pence"]) == (4, PENCE)
    assert report["skipped"] == {"repeated_header": 1}
    assert len(report["tables"]) == 1


def test_a_header_that_moves_the_columns_part_way_down_is_followed(write):
    """A workbook's second block puts the amount in column E and the directorate in F: the
    rows after it are read by it, and it is not a payment."""
    moved = [0, 1, 2, 3, 5, 4]
    rows = [HEADER, *PAYMENTS[:2], [HEADER[i] for i in moved],
            *[[p[i] for i in moved] for p in PAYMENTS[2:]]]
    report = read(write, rows)
    assert (report["rows_read"], report["amount_total_pence"]) == (4, PENCE)
    assert report["rows_quarantined"] == 0
    assert report["skipped"] == {"changed_header": 1}
    assert [t["header_row"] for t in report["tables"]] == [1, 4]


def test_the_same_in_a_workbook_sheet(tmp_path: Path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Q1"
    moved = [0, 1, 2, 3, 5, 4]
    for row in [HEADER, *PAYMENTS[:2], [HEADER[i] for i in moved],
                *[[p[i] for i in moved] for p in PAYMENTS[2:]]]:
        sheet.append(row)
    path = tmp_path / "spend.xlsx"
    book.save(path)
    report = report_file(path).to_json()
    assert (report["rows_read"], report["amount_total_pence"]) == (4, PENCE)
    assert report["sheets"] == ["Q1"]
    assert report["skipped"] == {"changed_header": 1}


def test_a_second_header_line_names_what_the_first_leaves_blank(write):
    first = HEADER + [""]
    second = ["BODY", "PAY_DATE", "SUPPLIER", "EXP_TYPE", "DIRECTORATE", "NET_AMOUNT",
              "TOTAL_INVOICE_VALUE"]
    rows = [first, second, *[p + ["5,000.00"] for p in PAYMENTS]]
    report = read(write, rows)
    assert (report["rows_read"], report["amount_total_pence"]) == (4, PENCE)
    assert report["skipped"] == {"second_header": 1}
    assert report["columns"][-1]["header"] == "TOTAL_INVOICE_VALUE"


def test_a_header_far_below_a_long_glossary_is_found(write):
    glossary = [[f"Category {i}", f"What it covers, part {i}"] for i in range(300)]
    report = read(write, [*glossary, HEADER, *PAYMENTS])
    assert (report["rows_read"], report["amount_total_pence"]) == (4, PENCE)
    assert report["header_row"] == 301
    assert report["skipped"] == {"preamble": 300}


def test_payment_lines_with_no_header_are_read_by_what_their_columns_hold(write):
    glossary = [["EXAMPLES OF CARD SPENDING", ""], ["Hotels", "Staff on detached duty"],
                ["Florists", "Wreaths"], [], []]
    lines = [[f"GPC{100 + i}", f"0{i + 1}-Apr-24", "Travel", f"HOTEL {i}", f"{500 + i}.5"]
             for i in range(5)]
    report = read(write, [*glossary, *lines])
    assert (report["kind"], report["rows_read"]) == ("transactions", 5)
    assert report["amount_total_pence"] == sum(50050 + 100 * i for i in range(5))
    mapped = {c["field"]: (c["header"], c["how"]) for c in report["columns"] if c["field"]}
    assert mapped == {"PaymentDate": ("column 2", "content"), "Amount": ("column 5", "content"),
                      "BeneficiaryName": ("column 4", "content")}
    assert report["header_row"] is None and report["skipped"] == {"preamble": 3, "blank": 2}
    shown = render_text(report_file(write("again.csv", csv_text([*glossary, *lines]))))
    assert "no header row: columns inferred from what they hold" in shown


def test_a_publishers_quirk_names_a_headerless_files_columns(write):
    lines = [[f"0{i + 1}/04/2024", f"{100 + i}.00", f"{200 + i}.00", f"SUPPLIER {i} LTD"]
             for i in range(4)]
    # Two columns of money: content alone cannot say which is the payment's, the quirk can.
    report = read(write, lines, columns={1: "PaymentDate", 3: "Amount", 4: "BeneficiaryName"})
    assert report["amount_total_pence"] == sum(20000 + 100 * i for i in range(4))
    assert {c["field"]: c["how"] for c in report["columns"] if c["field"]} == {
        "PaymentDate": "override", "Amount": "override", "BeneficiaryName": "override"}


def test_a_file_with_no_table_of_payments_says_what_was_looked_for(write):
    report = read(write, [["Notes on this release"], ["Spending data is published monthly"],
                          ["Contact: transparency@example.org"]])
    assert report["kind"] == "not_spend"
    assert report["failure"].startswith("spend.csv: no table of payments found: no header row")
    assert report["verdict"] == "FAIL: " + report["failure"]
