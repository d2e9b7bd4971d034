"""Tests that the published schemas are valid, documented and usable with plain Frictionless."""

import csv
from datetime import date
from decimal import Decimal

import frictionless
import pytest
from frictionless import Resource, Schema

from schemas.descriptors import SCHEMA_DIR, SCHEMA_NAMES, load_descriptor, mandatory_requirements

REPO_ROOT = SCHEMA_DIR.parent
FIELDS = [
    (name, field["name"]) for name in SCHEMA_NAMES for field in load_descriptor(name)["fields"]
]
FIELD_IDS = [f"{name}.{field}" for name, field in FIELDS]


def field_names(name: str) -> list[str]:
    return [field["name"] for field in load_descriptor(name)["fields"]]


def frictionless_field(name: str, field_name: str) -> frictionless.Field:
    return Schema.from_descriptor(load_descriptor(name)).get_field(field_name)


def validate_csv(tmp_path, text: str, schema: str = "spend") -> frictionless.Report:
    (tmp_path / "file.csv").write_text(text, encoding="utf-8")
    # Frictionless refuses absolute data paths, so the file is given relative to a basepath.
    resource = Resource(
        path="file.csv",
        basepath=str(tmp_path),
        schema=Schema.from_descriptor(load_descriptor(schema)),
    )
    return resource.validate()


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_descriptor_is_a_valid_table_schema(name):
    report = Schema.validate_descriptor(load_descriptor(name))
    assert report.valid, report.flatten(["note"])


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_descriptor_is_versioned_and_licensed(name):
    descriptor = load_descriptor(name)
    assert descriptor["name"] == name
    assert descriptor["title"]
    assert descriptor["description"]
    assert descriptor["version"] == "1.0.0"
    assert descriptor["licenses"][0]["name"] == "OGL-UK-3.0"
    assert descriptor["missingValues"] == [""]


@pytest.mark.parametrize(("name", "field_name"), FIELDS, ids=FIELD_IDS)
def test_field_is_documented(name, field_name):
    field = next(f for f in load_descriptor(name)["fields"] if f["name"] == field_name)
    assert field["title"]
    assert field["description"].endswith(".")
    assert len(field["description"].split()) >= 6
    assert field["type"] in {"string", "number", "integer", "date", "boolean"}
    assert isinstance(field["constraints"], dict)
    assert isinstance(field["example"], str)


@pytest.mark.parametrize(("name", "field_name"), FIELDS, ids=FIELD_IDS)
def test_field_example_is_valid_for_its_field(name, field_name):
    field = frictionless_field(name, field_name)
    value, notes = field.read_cell(field.example)
    assert notes is None
    assert value is not None


@pytest.mark.parametrize(
    ("name", "required"),
    [
        ("spend", ["BeneficiaryName", "PaymentDate", "Amount"]),
        ("purchase-card", ["BeneficiaryName", "PaymentDate", "Amount"]),
        (
            "contract",
            [
                "ContractReference", "ContractTitle", "Description", "StartDate",
                "ContractValue", "SupplierName",
            ],
        ),
        ("grant", ["Identifier", "AmountAwarded", "AwardDate", "RecipientOrgName"]),
        (
            "payment",
            [
                "publisher_id", "file_sha256", "source_row", "payment_date", "date_precision",
                "amount_pence", "beneficiary_name",
            ],
        ),
    ],
)
def test_required_fields(name, required):
    fields = load_descriptor(name)["fields"]
    assert [f["name"] for f in fields if f["constraints"]["required"]] == required


def test_spend_field_names_and_order():
    assert field_names("spend") == [
        "OrganisationLabel", "OrganisationURI", "EffectiveDate", "OrganisationalUnit",
        "ServiceCategoryLabel", "ServiceCategoryURI", "BeneficiaryName", "BeneficiaryOtherID",
        "BeneficiaryType", "CompaniesHouseRegistrationNumber", "CharityCommissionNumber",
        "VATRegistrationNumber", "VCSEGrant", "PaymentDate", "InvoiceDate", "AccountingPeriod",
        "TransactionNumber", "Amount", "GrossAmount", "VATAmount", "IrrecoverableVATAmount",
        "Purpose", "Narrative", "ExpenseType", "MerchantCategory", "MerchantCategoryCode",
        "CategoryInternalName", "CPVLabel", "CPVCode", "ProclassLabel", "ProclassCode",
        "CardTransaction", "ContractRef", "CapitalOrRevenue", "SupplierPostcode",
    ]


def test_purchase_card_reuses_spend_field_names_and_types():
    spend_types = {f["name"]: f["type"] for f in load_descriptor("spend")["fields"]}
    for field in load_descriptor("purchase-card")["fields"]:
        assert spend_types[field["name"]] == field["type"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("25123.00", Decimal("25123.00")),
        ("-26123.45", Decimal("-26123.45")),
        ("£1,234.50", Decimal("1234.50")),
        (" 500.00 ", Decimal("500.00")),
        # Frictionless strips brackets and trailing signs, so the sign is lost: the reason the
        # descriptions ask for a leading minus.
        ("(12.00)", Decimal("12.00")),
        ("abc", None),
        ("#REF!", None),
    ],
)
def test_spend_amount_cells(cell, expected):
    value, _ = frictionless_field("spend", "Amount").read_cell(cell)
    assert value == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("24/06/2020", date(2020, 6, 24)),
        ("01/09/2010", date(2010, 9, 1)),
        ("31/13/2023", None),
        ("2020-06-24", None),
        ("06/24/2020", None),
    ],
)
def test_spend_payment_date_cells(cell, expected):
    value, _ = frictionless_field("spend", "PaymentDate").read_cell(cell)
    assert value == expected


@pytest.mark.parametrize(
    ("field_name", "cell", "valid"),
    [
        ("CompaniesHouseRegistrationNumber", "02366682", True),
        ("CompaniesHouseRegistrationNumber", "SC123456", True),
        ("CompaniesHouseRegistrationNumber", "123456789", False),
        ("CharityCommissionNumber", "1090095", True),
        ("CharityCommissionNumber", "1090095-1", True),
        ("CharityCommissionNumber", "SC012345", True),
        ("CharityCommissionNumber", "12345", False),
        ("VCSEGrant", "Yes", True),
        ("VCSEGrant", "N", True),
        ("VCSEGrant", "maybe", False),
    ],
)
def test_spend_identifier_and_flag_cells(field_name, cell, valid):
    _, notes = frictionless_field("spend", field_name).read_cell(cell)
    assert (notes is None) == valid


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_transparency_code_fields_exist_and_are_marked(name):
    fields = {f["name"]: f for f in load_descriptor(name)["fields"]}
    for requirement in mandatory_requirements(name):
        for field_name in requirement["anyOf"]:
            assert fields[field_name]["transparencyCode"] in {"mandatory", "recommended"}


def test_spend_transparency_code_requirements():
    assert [(r["requirement"], r["anyOf"]) for r in mandatory_requirements("spend")] == [
        ("date", ["PaymentDate", "InvoiceDate"]),
        ("department", ["OrganisationalUnit", "ServiceCategoryLabel"]),
        ("beneficiary", ["BeneficiaryName"]),
        ("purpose", ["Purpose", "Narrative", "ExpenseType"]),
        ("amount", ["Amount", "GrossAmount"]),
        ("irrecoverable VAT", ["IrrecoverableVATAmount"]),
        (
            "merchant category",
            ["MerchantCategory", "CategoryInternalName", "ProclassLabel", "CPVLabel",
             "ExpenseType"],
        ),
    ]


def test_purchase_card_transparency_code_requirements():
    assert [(r["requirement"], r["anyOf"]) for r in mandatory_requirements("purchase-card")] == [
        ("date", ["PaymentDate"]),
        ("department", ["OrganisationalUnit"]),
        ("merchant", ["BeneficiaryName"]),
        ("purpose", ["Purpose"]),
        ("amount", ["Amount"]),
        ("irrecoverable VAT", ["IrrecoverableVATAmount"]),
        ("merchant category", ["MerchantCategory", "MerchantCategoryCode"]),
    ]


@pytest.mark.parametrize("name", ["grant", "payment"])
def test_schemas_without_transparency_code_requirements(name):
    assert mandatory_requirements(name) == []


def test_unknown_schema_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="expected one of spend, purchase-card, contract"):
        load_descriptor("spending")


@pytest.mark.parametrize("field", load_descriptor("payment")["fields"], ids=lambda f: f["name"])
def test_payment_field_converts_from_a_spend_field(field):
    assert field["moneytrail:from"] is None or field["moneytrail:from"] in field_names("spend")


def test_payment_fields_set_by_the_pipeline():
    set_by_pipeline = [
        f["name"] for f in load_descriptor("payment")["fields"] if f["moneytrail:from"] is None
    ]
    assert set_by_pipeline == [
        "publisher_id", "file_sha256", "sheet", "source_row", "date_precision",
        "redaction_reason", "personal_data", "extra",
    ]


@pytest.mark.parametrize(
    ("field_name", "column"),
    [
        ("Identifier", "Identifier"),
        ("Title", "Title"),
        ("Description", "Description"),
        ("Currency", "Currency"),
        ("AmountAwarded", "Amount Awarded"),
        ("AwardDate", "Award Date"),
        ("PlannedStartDate", "Planned Dates:Start Date"),
        ("PlannedEndDate", "Planned Dates:End Date"),
        ("RecipientOrgIdentifier", "Recipient Org:Identifier"),
        ("RecipientOrgName", "Recipient Org:Name"),
        ("RecipientOrgCharityNumber", "Recipient Org:Charity Number"),
        ("RecipientOrgCompanyNumber", "Recipient Org:Company Number"),
        ("FundingOrgIdentifier", "Funding Org:Identifier"),
        ("FundingOrgName", "Funding Org:Name"),
        ("GrantProgrammeTitle", "Grant Programme:Title"),
        ("OrganisationalUnit", "Funding Org:Department"),
        ("BeneficiaryLocationName", "Beneficiary Location:Name"),
        ("BeneficiaryLocationGeoCode", "Beneficiary Location:Geographic Code"),
        ("Purpose", None),
    ],
)
def test_grant_field_maps_to_360giving_column(field_name, column):
    fields = {f["name"]: f for f in load_descriptor("grant")["fields"]}
    assert fields[field_name]["threeSixtyGiving"] == column


def test_every_grant_field_carries_a_360giving_mapping():
    assert all("threeSixtyGiving" in f for f in load_descriptor("grant")["fields"])


@pytest.mark.parametrize(
    ("cwd", "path"),
    [(REPO_ROOT, "schemas/datapackage.json"), (SCHEMA_DIR, "datapackage.json")],
)
def test_data_package_validates(monkeypatch, cwd, path):
    monkeypatch.chdir(cwd)
    report = frictionless.validate(path)
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_data_package_has_one_resource_per_schema():
    package = frictionless.Package(str(SCHEMA_DIR / "datapackage.json"))
    assert [(r.name, r.path) for r in package.resources] == [
        (name, f"examples/{name}.csv") for name in SCHEMA_NAMES
    ]
    assert [r.schema.name for r in package.resources] == list(SCHEMA_NAMES)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_example_file_header_is_the_field_names(name):
    with (SCHEMA_DIR / "examples" / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        assert next(csv.reader(handle)) == field_names(name)


def test_bad_date_and_amount_are_reported_by_cell(tmp_path):
    report = validate_csv(
        tmp_path,
        "BeneficiaryName,PaymentDate,Amount\n"
        "Aire Valley Care Homes Ltd,31/13/2023,abc\n"
        "REDACTED PERSONAL DATA,05/06/2020,615.36\n",
    )
    assert report.flatten(["rowNumber", "fieldName", "type", "cell"]) == [
        [2, "PaymentDate", "type-error", "31/13/2023"],
        [2, "Amount", "type-error", "abc"],
    ]


def test_columns_are_matched_by_name_and_extra_columns_are_allowed(tmp_path):
    report = validate_csv(
        tmp_path,
        "Amount,Profit Centre,PaymentDate,BeneficiaryName\n"
        '"£1,234.50",250210,24/06/2020,Aire Valley Care Homes Ltd\n'
        "-26123.45,250210,25/06/2020,Aire Valley Care Homes Ltd\n",
    )
    assert report.valid, report.flatten(["type", "note"])


def test_missing_required_column_and_empty_required_cell_are_reported(tmp_path):
    report = validate_csv(
        tmp_path,
        "BeneficiaryName,Amount\n"
        ",12.00\n",
    )
    assert report.flatten(["rowNumber", "fieldName", "type"]) == [
        [None, "PaymentDate", "missing-label"],
        [2, "BeneficiaryName", "constraint-error"],
    ]
