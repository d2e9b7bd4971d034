"""Compile a Frictionless Table Schema into a vectorised pandera schema over published text.

pandera's own from_frictionless_schema leaves dates unchecked, makes optional integers
non-nullable and ignores groupChar/bareNumber, and its datetime coercion retries element by
element on a bad value. So the checks here run on the text as published, each one a vectorised
parse (schemas.money, schemas.dates) that is computed once per column per chunk.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd
import pandera.pandas as pa

from schemas.dates import ParsedDates, parse_dates
from schemas.money import ParsedMoney, parse_pence
from schemas.privacy import context_columns, personal_reasons
from schemas.redaction import redaction_reasons
from sources.read import HASH_COLUMNS

SPREADSHEET_ERRORS = ("#REF!", "#N/A", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#ERROR")


@dataclass
class Validation:
    """Per-row outcome of one chunk: the failing cells of mandatory fields, which make a row
    invalid (quarantined), and of optional fields, which are warnings: the payment is loaded
    with that field empty (schemas.validate)."""

    errors: pd.DataFrame  # columns: index, field, check, value
    invalid: pd.Series
    warnings: pd.DataFrame = field(default_factory=lambda: _no_failures())


def _no_failures() -> pd.DataFrame:
    return pd.DataFrame(columns=["index", "field", "check", "value"])


@lru_cache(maxsize=1)
def _register_pandera_backends() -> None:
    """Register pandera's pandas backends, as its first validate would, without hypothesis.

    With its backends pandera imports its data-synthesis strategies, and they import
    hypothesis, and with it pytest, whenever it is installed (the test extras): 0.3 s of the
    start of every command that validates, for strategies these checks never use. Hidden
    while the backends register, hypothesis stays importable for whatever wants it after.
    """
    if "hypothesis" in sys.modules:  # already paid for (under pytest): nothing to save
        pa.DataFrameSchema.register_default_backends(pd.DataFrame)
        return
    sys.modules["hypothesis"] = None  # an import of it now raises ImportError
    try:
        pa.DataFrameSchema.register_default_backends(pd.DataFrame)
    finally:
        del sys.modules["hypothesis"]


class RowValidator:
    """Validates chunks of mapped text against one Frictionless descriptor.

    Parsed money and dates are memoised per chunk, so the checks and the conversion that
    follows parse each column exactly once.
    """

    def __init__(self, descriptor: dict, date_order: str = "DMY") -> None:
        self.descriptor = descriptor
        self.date_order = date_order
        self.fields = {f["name"]: f for f in descriptor["fields"]}
        # Only these fields' failures withhold a payment: the Code's date, amount and payee.
        self.mandatory = frozenset(name for name, spec in self.fields.items()
                                   if spec.get("constraints", {}).get("required"))
        self.expected: dict[tuple[str, str], str] = {}
        self._chunk: pd.DataFrame | None = None
        self._memo: dict[tuple[str, str], object] = {}
        # Decisions kept from chunk to chunk of a file: dates per field, payees' redaction and
        # privacy reasons.
        self._known_dates: dict[str, dict[str, tuple]] = {}
        self._known: dict[str, dict] = {}
        _register_pandera_backends()
        self.schema = pa.DataFrameSchema(
            {name: self._column(spec) for name, spec in self.fields.items()},
            strict=False,
            coerce=False,
        )

    def validate(self, frame: pd.DataFrame) -> Validation:
        """Check a chunk; rows with a failing cell in a mandatory field are invalid."""
        self._chunk, self._memo = frame, {}
        try:
            self.schema.validate(frame, lazy=True)
            failures = _no_failures()
        except pa.errors.SchemaErrors as raised:
            cases = raised.failure_cases
            failures = pd.DataFrame({
                "index": cases["index"],
                "field": cases["column"],
                "check": cases["check"].replace({"not_nullable": "required"}),
                "value": cases["failure_case"].astype(object).where(
                    cases["failure_case"].notna(), None),
            })
            failures = failures[failures["index"].notna()]
        mandatory = failures["field"].isin(self.mandatory)
        errors, warnings = failures[mandatory], failures[~mandatory]
        invalid = pd.Series(False, index=frame.index)
        invalid[errors["index"].astype("int64").unique()] = True
        return Validation(errors.reset_index(drop=True), invalid,
                          warnings.reset_index(drop=True))

    def money(self, name: str) -> ParsedMoney:
        return self._parsed("money", name, parse_pence)

    def dates(self, name: str) -> ParsedDates:
        known = self._known_dates.setdefault(name, {})
        return self._parsed("date", name, lambda s: parse_dates(s, self.date_order, known))

    def sheet_errors(self, name: str) -> pd.Series:
        hashed = self._chunk.attrs.get(HASH_COLUMNS)
        if hashed is None:  # no word from the reader: look for a "#" first
            return self._parsed("sheet_error", name, _sheet_error)
        if name not in hashed:  # the reader saw no "#" in the column
            return self._parsed("sheet_error", name,
                                lambda values: pd.Series(False, index=values.index))
        return self._parsed("sheet_error", name, _sheet_error_cells)

    def missing(self, name: str) -> pd.Series:
        """Which cells of a column are empty, found once per chunk for all of its checks."""
        return self._parsed("missing", name, lambda values: values.isna())

    def redactions(self) -> pd.Series:
        """redaction_reasons of the chunk's payees (the chunk must have a payee column)."""
        known = self._known.setdefault("redaction", {})
        return self._parsed("redaction", "BeneficiaryName",
                            lambda payees: redaction_reasons(payees, known))

    def personal(self) -> pd.Series:
        """personal_reasons of every row of the chunk, NA where none: decided once per chunk
        for the payments, the quarantine and the report alike."""
        frame = self._chunk
        known = self._known.setdefault("personal", {})
        return self._parsed("personal", "BeneficiaryName", lambda payees: personal_reasons(
            payees, frame.get("BeneficiaryType"), context_columns(frame), known))

    def _parsed(self, kind: str, name: str, parse: Callable):
        key = (kind, name)
        if key not in self._memo:
            self._memo[key] = parse(self._chunk[name])
        return self._memo[key]

    def _column(self, spec: dict) -> pa.Column:
        name = spec["name"]
        constraints = spec.get("constraints", {})
        checks = [self._check(name, "spreadsheet_error", lambda s: ~self.sheet_errors(name),
                              "a value, not a spreadsheet error such as #REF!")]
        checks += self._type_checks(spec)
        checks += self._constraint_checks(spec, constraints)
        self.expected[(name, "required")] = "a value: this field is required"
        return pa.Column(
            dtype=None,
            checks=checks,
            nullable=not constraints.get("required", False),
            required=False,
        )

    def _check(self, field: str, name: str, test: Callable, expected: str) -> pa.Check:
        self.expected[(field, name)] = expected
        # Every check sees the whole column, as the memoised parses do, and passes its empty
        # cells itself (requiredness is pandera's nullable check). Pandera's ignore_na would
        # drop the empty cells before each check: a scan of the column per check, and a
        # result to realign with the parses, which cover the whole chunk.
        return pa.Check(lambda s: test(s).fillna(False).astype(bool) | self.missing(field),
                        name=name, ignore_na=False)

    def _type_checks(self, spec: dict) -> list[pa.Check]:
        name, kind = spec["name"], spec.get("type", "string")
        example = spec.get("example")
        like = f" such as {example}" if example not in (None, "") else ""
        if kind == "number":
            return [self._check(name, "type",
                                lambda s: self.money(name).ok | self.sheet_errors(name),
                                f"an amount in pounds{like}")]
        if kind == "integer":
            return [self._check(name, "type", lambda s: s.str.fullmatch(r"[+-]?\d+"),
                                f"a whole number{like}")]
        if kind == "date":
            return [self._check(name, "type",
                                lambda s: self.dates(name).ok | self.sheet_errors(name),
                                f"a date{like} (day first, or ISO yyyy-mm-dd)")]
        if kind == "boolean":
            words = [str(w).casefold() for w in
                     spec.get("trueValues", ["true"]) + spec.get("falseValues", ["false"])]
            return [self._check(name, "type", lambda s: s.str.casefold().isin(words),
                                f"one of {', '.join(words)}")]
        return []

    def _constraint_checks(self, spec: dict, constraints: dict) -> list[pa.Check]:
        name, checks = spec["name"], []
        if "pattern" in constraints:
            pattern = constraints["pattern"]
            checks.append(self._check(name, "pattern", lambda s: s.str.fullmatch(pattern),
                                      f"text matching {pattern}"))
        if "enum" in constraints:
            allowed = [str(v) for v in constraints["enum"]]
            checks.append(self._check(name, "enum", lambda s: s.isin(allowed),
                                      f"one of {', '.join(allowed)}"))
        if "maxLength" in constraints:
            limit = constraints["maxLength"]
            checks.append(self._check(name, "maxLength", lambda s: s.str.len() <= limit,
                                      f"at most {limit} characters"))
        if spec.get("type") == "number":
            checks += self._bounds(name, constraints)
        return checks

    def _bounds(self, name: str, constraints: dict) -> list[pa.Check]:
        checks = []
        if "minimum" in constraints:
            low = round(constraints["minimum"] * 100)
            checks.append(self._check(
                name, "minimum", lambda s: ~(self.money(name).pence < low).fillna(False),
                f"at least {constraints['minimum']}"))
        if "maximum" in constraints:
            high = round(constraints["maximum"] * 100)
            checks.append(self._check(
                name, "maximum", lambda s: ~(self.money(name).pence > high).fillna(False),
                f"at most {constraints['maximum']}"))
        return checks


def _sheet_error(values: pd.Series) -> pd.Series:
    # Every spreadsheet error starts with "#": a column with none (nearly every column) is
    # settled by one search of its joined text instead of a test of each cell.
    if "#" not in "".join(values.to_numpy(dtype=object, na_value="").tolist()):
        return pd.Series(False, index=values.index)
    return _sheet_error_cells(values)


def _sheet_error_cells(values: pd.Series) -> pd.Series:
    """Which cells hold a spreadsheet error, tested cell by cell."""
    return values.str.strip().str.upper().isin(SPREADSHEET_ERRORS)
