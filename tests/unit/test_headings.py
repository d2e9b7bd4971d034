"""Headings the crosswalk does not list, read by their words (sources/headings.yaml)."""

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sources.headers import CROSSWALK_PATH
from sources.headings import load_headings


@pytest.mark.parametrize(
    "heading, field",
    [
        # Money: the net amount by any name, with currency words and symbols.
        ("Amount in Sterling", "Amount"),
        ("Invoice Amount", "Amount"),
        ("GBP Amount", "Amount"),
        ("Nett", "Amount"),
        ("Payment Value", "Amount"),
        ("Invoice Line Amount Net GBP", "Amount"),
        ("Value (£)", "Amount"),
        ("£", "Amount"),
        ("Amount excl. VAT", "Amount"),
        ("Net of VAT", "Amount"),
        ("DISTRIBUTION_AMOUNT", "Amount"),
        ("Amout", "Amount"),  # a letter dropped
        ("Gross Value", "GrossAmount"),
        ("Amount inc VAT", "GrossAmount"),
        ("VAT", "VATAmount"),
        ("Non-recoverable VAT", "IrrecoverableVATAmount"),
        ("VAT_REGISTRATION_NUM", "VATRegistrationNumber"),
        # Dates: the payment's before any other.
        ("Date settled", "PaymentDate"),
        ("ACCOUNTING_DATE", "PaymentDate"),
        ("Input Date", "PaymentDate"),
        ("Posted Date", "PaymentDate"),
        ("Paymnet Date", "PaymentDate"),  # letters swapped
        ("Invoice Date", "InvoiceDate"),
        ("Due Date", None),
        ("Posting Period", "AccountingPeriod"),
        # The payee, however it is wrapped or run together.
        ("[Supplier Name]", "BeneficiaryName"),
        ("SUPPLIERNAME", "BeneficiaryName"),
        ("Payee (supplier)", "BeneficiaryName"),
        ("Creditor Name", "BeneficiaryName"),
        ("Recipient Organisation", "BeneficiaryName"),
        ("Beneficary", "BeneficiaryName"),
        ("Paid To", "BeneficiaryName"),
        ("Supplier ID", "BeneficiaryOtherID"),
        ("Vendor Number", "BeneficiaryOtherID"),
        ("Supplier Type", "BeneficiaryType"),
        ("Supplier Postcode", "SupplierPostcode"),
        ("Company Reg No", "CompaniesHouseRegistrationNumber"),
        ("Charity No", "CharityCommissionNumber"),
        # Where the money went, including misspelt service headings.
        ("Serivce Area", "OrganisationalUnit"),
        ("Directorat", "OrganisationalUnit"),
        ("Cost Centre Description", "OrganisationalUnit"),
        ("Expense Area (Project Code)", "OrganisationalUnit"),
        ("Department family", None),
        ("Entitiy", "OrganisationLabel"),
        # What it was for, and references.
        ("Expense Type (Activity Code)", "ExpenseType"),
        ("SPEND_CATEGORY", "ExpenseType"),
        ("Account Description", "ExpenseType"),
        ("Account Code", None),
        ("PO Line Description", "Narrative"),
        ("Transation number", "TransactionNumber"),
        ("Transaction Number (Invoice Ref)", "TransactionNumber"),
        ("Internal Voucher Number", "TransactionNumber"),
        ("INV_NUM", None),
        ("Contract No.", "ContractRef"),
        ("VCSE Grant", "VCSEGrant"),
        ("Widget Colour", "unknown"),
    ],
)
def test_a_heading_is_read_by_its_words(heading, field):
    found = load_headings().field(heading)
    assert (found[0] if found else "unknown") == field


def test_every_crosswalk_spelling_of_the_payment_fields_is_also_known_by_its_words():
    """The rules stand on their own for what no payment can do without: every listed
    spelling of the amount, the payment date and the payee reads the same by its words (bar
    Gateshead's and Hyndburn's system names, which only the crosswalk can know)."""
    spellings = yaml.safe_load(CROSSWALK_PATH.read_text(encoding="utf-8"))["fields"]
    system_names = {"Supplier ID(T)", "ENEntity Name", "Updated"}
    headings = load_headings()
    for field in ("Amount", "PaymentDate", "BeneficiaryName"):
        for spelling in spellings[field]:
            if spelling not in system_names:
                assert headings.field(spelling)[0] == field, spelling


HEADINGS = {"Amount": ["Net", "Amount", "Payment Value", "Invoice Amount", "Spend"],
            "PaymentDate": ["Payment Date", "Date Paid", "Transaction Date", "Date"],
            "BeneficiaryName": ["Supplier Name", "Supplier", "Payee", "Vendor Name"]}


def respell(words: list[str], case: str, joiner: str, wrap: str, order: list[int]) -> str:
    """A heading as another publisher might write it."""
    words = [words[i] for i in order]
    text = {"upper": " ".join(words).upper(), "lower": " ".join(words).lower(),
            "title": " ".join(words).title(), "camel": "".join(w.title() for w in words),
            "caps_run": "".join(words).upper()}[case]
    if case not in ("camel", "caps_run"):
        text = text.replace(" ", joiner)
    return wrap.replace("X", text)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), field=st.sampled_from(sorted(HEADINGS)),
       case=st.sampled_from(["upper", "lower", "title", "camel", "caps_run"]),
       joiner=st.sampled_from([" ", "_", "-", ".", "  "]),
       wrap=st.sampled_from(["X", "[X]", "(X)", " X ", "X:", "* X", "3 X", "X (£)", "X GBP",
                             "X in Sterling", "£ X"]))
def test_respelt_headings_keep_their_field(data, field, case, joiner, wrap):
    heading = data.draw(st.sampled_from(HEADINGS[field]))
    words = heading.split()
    order = data.draw(st.permutations(range(len(words))))
    if field != "Amount" and ("£" in wrap or "GBP" in wrap or "Sterling" in wrap):
        wrap = "X"
    spelt = respell(words, case, joiner, wrap, order)
    found = load_headings().field(spelt)
    assert found is not None and found[0] == field, spelt
