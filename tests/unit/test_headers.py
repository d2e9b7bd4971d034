"""Header spellings mapped to canonical fields through the data-driven crosswalk."""

import csv

import pytest

from schemas.descriptors import load_descriptor
from sources.headers import find_header, header_key, load_crosswalk, map_header


@pytest.mark.parametrize(
    "header, key",
    [
        ("Net Amount(£)", "net amount £"),
        (" Net Amount (£) ", "net amount £"),
        ("Payment  Date", "payment date"),  # double space (GTCE)
        ("PaymentDate", "payment date"),  # LGA camelCase (Trafford)
        ("Name:  ", "name"),  # colon and padding (Hyndburn)
        ("3 Date", "date"),  # numbered headers (MMO)
        ("* SUPPLIER FINAL", "supplier final"),  # starred headers (Lancashire PCC)
        ("UniqueRef", "unique ref"),
        ("UNIQUE REF", "unique ref"),
        ("VATRegistrationNumber", "vat registration number"),
        ("\ufeffBody", "body"),
    ],
)
def test_header_key_normalises_spelling(header, key):
    assert header_key(header) == key


@pytest.mark.parametrize(
    "header, field",
    [
        ("Supplier Name", "BeneficiaryName"),
        ("Vendor Name", "BeneficiaryName"),
        ("Name:  ", "BeneficiaryName"),
        ("* SUPPLIER FINAL", "BeneficiaryName"),
        ("Supplier ID(T)", "BeneficiaryName"),
        (" Amount (£) ", "Amount"),
        ("Invoice Line Value (net of VAT)", "Amount"),
        ("TOTAL", "Amount"),
        ("Amount Including VAT", "GrossAmount"),
        ("Date (payment not invoice date)", "PaymentDate"),
        ("TRANSACTION DATE", "PaymentDate"),
        ("Directotate", "OrganisationalUnit"),
        ("Transation number", "TransactionNumber"),
        ("MERCHANT CATEGORY DESC", "MerchantCategory"),
        ("Irrecoverable VAT Amount", "IrrecoverableVATAmount"),
    ],
)
def test_real_spellings_map_to_fields(header, field):
    assert load_crosswalk().lookup(header)[0] == field


def test_every_real_header_variant_is_mapped_or_deliberately_ignored(corpus):
    crosswalk = load_crosswalk()
    with open(corpus / "HEADER_VARIANTS.tsv", encoding="utf-8") as variants:
        rows = list(csv.reader(variants, delimiter="\t"))[1:]
    assert len(rows) >= 190
    unknown = [
        header for _, header, _ in rows
        if not crosswalk.lookup(header.strip("'")) and not crosswalk.is_ignored(header.strip("'"))
    ]
    assert unknown == []


def test_best_ranked_column_wins_and_the_loser_is_kept():
    mapping = map_header(["Gross", "VAT", "Net", "Supplier Name"], load_crosswalk())
    assert mapping.fields["Amount"] == 2
    assert mapping.fields["GrossAmount"] == 0
    assert mapping.fields["VATAmount"] == 1


def test_same_field_twice_keeps_the_second_in_extra():
    mapping = map_header(["Expense Area", "Expense Area", "Amount"], load_crosswalk())
    assert mapping.fields["OrganisationalUnit"] == 0
    assert mapping.columns[1].name == "Expense Area (2)"
    assert mapping.columns[1].field is None
    assert [c.name for c in mapping.columns if c.field is None] == ["Expense Area (2)"]


def test_unknown_columns_are_kept_not_dropped():
    mapping = map_header(["Supplier", "Amount", "Widget Colour", ""], load_crosswalk())
    assert [c.name for c in mapping.columns if c.how == "unknown"] == ["Widget Colour"]
    assert mapping.columns[2].how == "unknown"
    assert mapping.columns[3].how == "blank"


def test_invoice_date_stands_in_when_there_is_no_payment_date():
    mapping = map_header(["Supplier Name", "Invoice date", "Amount"], load_crosswalk())
    assert mapping.fields["PaymentDate"] == 1
    assert mapping.columns[1].how == "fallback"
    assert "InvoiceDate" not in mapping.fields


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"Entity": "BeneficiaryOtherID"}, {"BeneficiaryOtherID": 0}),
        ({"Account Code": None, "Account Code (2)": "ExpenseType"}, {"ExpenseType": 2}),
    ],
)
def test_publisher_overrides_are_data(overrides, expected):
    headers = ["Entity", "Account Code", "Account Code", "Amount", "Supplier"]
    mapping = map_header(headers, load_crosswalk(), overrides)
    for field, index in expected.items():
        assert mapping.fields[field] == index
        assert mapping.columns[index].how == "override"


def test_header_is_found_under_a_preamble():
    rows = [
        ["Spend over £25,000 - Publication template", "", ""],
        [],
        ["Organisation", "", "Partnerships for Schools"],
        ["Date", "Supplier", "Amount"],
        ["05/05/2010", "ACME", "100"],
    ]
    assert find_header(rows, load_crosswalk()) == 3


def test_a_glossary_has_no_header():
    rows = [["EXAMPLES OF GPC EXPENDITURE", ""], ["Auto Rental", "Car hire for staff"]]
    assert find_header(rows, load_crosswalk()) is None


def test_crosswalk_fields_are_the_spend_schema_and_each_name_maps_to_itself():
    crosswalk = load_crosswalk()
    spend = [f["name"] for f in load_descriptor("spend")["fields"]]
    assert {field for field, _ in crosswalk.spellings.values()} <= set(spend)
    assert [crosswalk.lookup(name)[0] for name in spend] == spend
