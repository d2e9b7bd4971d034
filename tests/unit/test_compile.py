"""Frictionless descriptors compiled to vectorised pandera checks with per-row errors."""

import pandas as pd
import pandera.pandas as pa

from schemas import compile as compiled
from schemas.compile import RowValidator
from schemas.descriptors import load_descriptor


def frame(**columns) -> pd.DataFrame:
    return pd.DataFrame({k: pd.Series(v, dtype="string") for k, v in columns.items()})


def test_compiles_to_a_pandera_schema_with_every_field():
    validator = RowValidator(load_descriptor("spend"))
    assert isinstance(validator.schema, pa.DataFrameSchema)
    assert set(validator.schema.columns) == {f["name"] for f in load_descriptor("spend")["fields"]}


def test_each_failing_cell_is_reported_with_field_check_and_value():
    validator = RowValidator(load_descriptor("spend"))
    result = validator.validate(frame(
        BeneficiaryName=["ACME", None, "#REF!", "Bob"],
        PaymentDate=["01/04/2024", "31/13/2023", "02/04/2024", "03/04/2024"],
        Amount=["£1,000.00", "12", "abc", "(5.00)"],
        CompaniesHouseRegistrationNumber=["01234567", None, None, "not a number"],
    ))
    errors = {(r.index, r.field, r.check, r.value) for r in result.errors.itertuples()}
    assert errors == {
        (1, "BeneficiaryName", "required", None),
        (1, "PaymentDate", "type", "31/13/2023"),
        (2, "BeneficiaryName", "spreadsheet_error", "#REF!"),
        (2, "Amount", "type", "abc"),
    }
    # An optional field's bad value is a warning: the payment is not withheld for it.
    warnings = {(r.index, r.field, r.check, r.value) for r in result.warnings.itertuples()}
    assert warnings == {(3, "CompaniesHouseRegistrationNumber", "pattern", "not a number")}
    assert result.invalid.tolist() == [False, True, True, False]


def test_optional_empty_cells_pass_and_absent_columns_are_not_invented():
    validator = RowValidator(load_descriptor("spend"))
    result = validator.validate(frame(BeneficiaryName=["A"], PaymentDate=["01/01/2024"],
                                      Amount=["1"], GrossAmount=[None]))
    assert result.errors.empty
    assert not result.invalid.any()


def test_each_column_is_parsed_once_per_chunk(monkeypatch):
    calls = []
    real = compiled.parse_pence
    monkeypatch.setattr(compiled, "parse_pence", lambda s: calls.append(s.name) or real(s))
    descriptor = {"fields": [
        {"name": "Amount", "type": "number",
         "constraints": {"required": True, "minimum": -100, "maximum": 100}},
    ]}
    validator = RowValidator(descriptor)
    result = validator.validate(frame(Amount=["5", "500", "-500"]))
    assert validator.money("Amount").pence.tolist() == [500, 50000, -50000]
    assert calls == ["Amount"]
    assert set(result.errors["check"]) == {"minimum", "maximum"}


def test_month_first_order_applies_to_the_whole_chunk():
    validator = RowValidator(load_descriptor("spend"), date_order="MDY")
    result = validator.validate(frame(BeneficiaryName=["A"], PaymentDate=["11/17/2009"],
                                      Amount=["1"]))
    assert result.errors.empty
    assert validator.dates("PaymentDate").dates.iloc[0] == pd.Timestamp("2009-11-17")


def test_enum_and_boolean_constraints():
    descriptor = {"fields": [
        {"name": "Flag", "type": "boolean", "trueValues": ["Y"], "falseValues": ["N"]},
        {"name": "Kind", "type": "string", "constraints": {"enum": ["GPC", "CCC"]}},
    ]}
    result = RowValidator(descriptor).validate(frame(Flag=["Y", "maybe"], Kind=["GPC", "XYZ"]))
    # Neither field is required: the failures warn, and withhold no row.
    assert sorted(result.warnings["check"]) == ["enum", "type"]
    assert result.errors.empty and result.invalid.tolist() == [False, False]
    descriptor["fields"][1]["constraints"]["required"] = True
    result = RowValidator(descriptor).validate(frame(Flag=["Y", "maybe"], Kind=["GPC", "XYZ"]))
    assert result.errors["check"].tolist() == ["enum"]
    assert result.invalid.tolist() == [False, True]
