"""The validation report a publisher acts on: counts, errors with examples, totals and a score."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from schemas.descriptors import load_descriptor, mandatory_requirements
from schemas.money import parse_pence, pence_to_pounds, pence_to_text
from sources.headers import PAYMENT_FIELDS
from sources.rows import SKIP_REASONS

if TYPE_CHECKING:
    from schemas.validate import CheckedChunk
    from sources.read import FileRead

MAX_EXAMPLES = 5
TEXT_FORMATS = ("csv", "zip")
# Score weights (docs/validate.md explains them): payments loaded first, then the mandatory
# fields present, then plain formats.
PAYMENT_POINTS, FIELD_POINTS, FORMAT_POINTS = 50, 30, 20
# A table of payments whose amount column reads as money on fewer of its rows than this has the
# wrong column, or money written in a way nothing can read: the verdict says so first (its rows
# are quarantined, each with its reason, as any row with an unreadable amount is).
MIN_AMOUNT_SHARE = 0.5
WARNINGS = {
    "amount_format": "amounts written with £, commas, brackets or a trailing minus "
                     "(the Code asks for plain numbers such as -1234.50)",
    "amount_rounded": "amounts with fractions of a penny, rounded half up to whole pence",
    "date_format": "dates not written dd/mm/yyyy, as the LGA guidance recommends",
    "repaired_rows": "rows whose date was fused to a neighbouring cell and was split back out",
}


@dataclass
class ErrorGroup:
    check: str
    field: str
    expected: str
    count: int = 0
    examples: list[dict] = field(default_factory=list)
    # The place in the file (rows read before it) of the first row found with this error: the
    # report lists groups in that order, whatever chunks the file was read in.
    first: int = 0


@dataclass
class FileReport:
    """Accumulates what validating one file found, chunk by chunk."""

    file: str
    schema: str
    publisher: str | None
    requirements: list[dict]
    # The schema's required fields: a failure in one of them withholds the payment.
    mandatory: frozenset[str] = frozenset()
    record: FileRead | None = None
    failure: str | None = None
    date_order: str | None = None
    rows_read: int = 0
    rows_valid: int = 0
    rows_quarantined: int = 0
    amount_total_pence: int = 0
    amount_valid_pence: int = 0
    redactions: Counter = field(default_factory=Counter)
    personal: Counter = field(default_factory=Counter)
    personal_examples: list[dict] = field(default_factory=list)
    warnings: Counter = field(default_factory=Counter)
    errors: dict[tuple[str, str], ErrorGroup] = field(default_factory=dict)
    # Failures in optional fields: the payments are loaded with the field empty.
    field_warnings: dict[tuple[str, str], ErrorGroup] = field(default_factory=dict)
    # Rows whose amount reads as money: the verdict compares them with the rows read.
    amount_read: int = 0
    date_min: pd.Timestamp | None = None
    date_max: pd.Timestamp | None = None
    date_min_text: str | None = None
    date_max_text: str | None = None
    totals_notes: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, path: Path, schema: str, publisher: str | None):
        required = frozenset(f["name"] for f in load_descriptor(schema)["fields"]
                             if f.get("constraints", {}).get("required"))
        return cls(str(path), schema, publisher, mandatory_requirements(schema), required)

    def fail(self, message: str) -> None:
        self.failure = message

    def add(self, chunk: CheckedChunk) -> None:
        frame, validator, validation = chunk.frame, chunk.validator, chunk.validation
        self.date_order = validator.date_order
        self.rows_read += len(frame)
        quarantined = int(validation.invalid.sum())
        self.rows_quarantined += quarantined
        self.rows_valid += len(frame) - quarantined
        if "Amount" in frame:
            money = validator.money("Amount")
            self.amount_read += int(money.pence.notna().sum())
            self.amount_total_pence += int(money.pence.sum())
            self.amount_valid_pence += int(money.pence[~validation.invalid].sum())
            self.warnings["amount_format"] += int(money.non_standard.sum())
            self.warnings["amount_rounded"] += int(money.rounded.sum())
        if "PaymentDate" in frame:
            self._add_dates(validator.dates("PaymentDate"))
        if "BeneficiaryName" in frame:
            self.redactions.update(validator.redactions().value_counts().to_dict())
            self._add_personal(frame, validator.personal())
        before = self.rows_read - len(frame)  # the rows read before this chunk
        _add_groups(self.errors, chunk.validation.errors, chunk, before)
        _add_groups(self.field_warnings, chunk.validation.warnings, chunk, before)

    def _add_personal(self, frame: pd.DataFrame, reasons: pd.Series) -> None:
        """Count payees that look like private individuals, and say where, every one of them
        (never who)."""
        found = reasons.dropna()
        self.personal.update(found.value_counts().to_dict())
        sheets, rows = frame["_sheet"], frame["_row"]
        self.personal_examples += [{"sheet": sheets[row], "row": int(rows[row]),
                                    "reason": str(reason)} for row, reason in found.items()]

    def _add_dates(self, parsed) -> None:
        if self.record.format in TEXT_FORMATS:
            # A workbook's date cells have no written form to get wrong.
            self.warnings["date_format"] += int(parsed.non_standard.sum())
        dates = parsed.dates.dropna()
        if dates.empty:
            return
        low, high = dates.idxmin(), dates.idxmax()
        if self.date_min is None or dates[low] < self.date_min:
            self.date_min, self.date_min_text = dates[low], _date_text(dates[low], parsed, low)
        if self.date_max is None or dates[high] > self.date_max:
            self.date_max, self.date_max_text = dates[high], _date_text(dates[high], parsed, high)

    def finish(self) -> None:
        if self.record is None:
            return
        self.warnings["repaired_rows"] += self.record.repaired_rows
        self.totals_notes = self._totals_notes()
        self.failure = self.failure or self._loss()

    def _loss(self) -> str | None:
        """Why the file's payments cannot be read, when no reader error said so: no table of
        them, or a table without a column every payment needs, saying what was looked at.
        None when there is a table of payments to read."""
        record = self.record
        tables = [t for t in record.tables if t.mapping is not None]
        name = Path(self.file).name
        if not tables:
            reasons = "; ".join(dict.fromkeys(t.reason for t in record.tables if t.reason))
            return f"{name}: no table of payments found: {reasons or 'the file holds no rows'}"
        for table in tables:
            if table.kind != "transactions":
                continue
            for wanted in self.payment_fields:
                if wanted not in table.mapping.fields:
                    where = f"sheet {table.sheet!r}: " if table.sheet else ""
                    return (f"{name}: {where}no {_FIELD_WORDS.get(wanted, wanted)} column "
                            f"({wanted}); looked at: {table.mapping.looked_for(wanted)}")
        return None

    def _unread_amounts(self) -> str:
        """Where most amounts did not read as money: the column, the first such row, and the
        other columns that were considered for the amount."""
        table = next(t for t in self.record.tables if t.mapping and "Amount" in t.mapping.fields)
        column = table.mapping.columns[table.mapping.fields["Amount"]]
        groups = [g for g in self.errors.values() if g.field == "Amount" and g.examples]
        group = min(groups, key=lambda g: g.first, default=None)
        first = ""
        if group:
            example = group.examples[0]
            first = f" (first at row {example['row']}: {example['value']!r})"
        considered = table.mapping.considered.get("Amount")
        others = f"; also considered: {'; '.join(considered)}" if considered else ""
        return (f"the amount column {column.name!r} ({column.how}) reads as money on only "
                f"{self.amount_read:,} of {self.rows_read:,} rows{first}{others}")

    @property
    def payment_fields(self) -> list[str]:
        """The fields every payment of this schema needs a column for."""
        return [name for name in PAYMENT_FIELDS if name in self.mandatory]

    def _totals_notes(self) -> list[str]:
        notes = []
        for totals in self.record.totals_rows:
            stated = parse_pence(pd.Series([totals.amount])).pence.iloc[0]
            if pd.notna(stated) and int(stated) != self.amount_total_pence:
                difference = self.amount_total_pence - int(stated)
                where = f"{totals.sheet}:{totals.row}" if totals.sheet else f"row {totals.row}"
                notes.append(
                    f"the totals row at {where} states {pence_to_text(int(stated))} but the "
                    f"rows add up to {pence_to_text(self.amount_total_pence)} "
                    f"({pence_to_text(difference)} difference)")
        return notes

    def merge(self, later: FileReport) -> None:
        """Add the finished report of the rest of the file (read from where this one's part
        ended, sources.read.read_file's `records`), so that this becomes the report of the
        whole file, as if it had been read in one go."""
        if self.failure:
            return  # reading stopped here: what comes after was never reached
        self.failure = later.failure
        self.date_order = self.date_order or later.date_order
        if later.record is None:
            return  # the rest could not be opened: its failure says why
        record, rest = self.record, later.record
        record.skipped.update(rest.skipped)
        record.repaired_rows += rest.repaired_rows
        record.totals_rows += rest.totals_rows
        before = self.rows_read
        for name in ("rows_read", "rows_valid", "rows_quarantined", "amount_total_pence",
                     "amount_valid_pence"):
            setattr(self, name, getattr(self, name) + getattr(later, name))
        self.redactions.update(later.redactions)
        self.personal.update(later.personal)
        self.warnings.update(later.warnings)
        self.personal_examples += later.personal_examples
        self.amount_read += later.amount_read
        _merge_groups(self.errors, later.errors, before)
        _merge_groups(self.field_warnings, later.field_warnings, before)
        # A header part-way down that only the later part read.
        known = {(t.sheet, t.header_row) for t in record.tables}
        record.tables += [t for t in rest.tables if (t.sheet, t.header_row) not in known]
        if later.date_min is not None and (self.date_min is None
                                           or later.date_min < self.date_min):
            self.date_min, self.date_min_text = later.date_min, later.date_min_text
        if later.date_max is not None and (self.date_max is None
                                           or later.date_max > self.date_max):
            self.date_max, self.date_max_text = later.date_max, later.date_max_text
        self.totals_notes = self._totals_notes()
        self.failure = self.failure or self._loss()

    @property
    def kind(self) -> str:
        return self.record.kind if self.record and not self.failure else "not_spend"

    @property
    def mapped_fields(self) -> list[set[str]]:
        if not self.record:
            return []
        return [set(t.mapping.fields) for t in self.record.tables if t.mapping]

    @property
    def missing_mandatory_fields(self) -> list[str]:
        tables = self.mapped_fields or [set()]
        return [
            req["requirement"] for req in self.requirements
            if any(not (set(req["anyOf"]) & fields) for fields in tables)
        ]

    @property
    def redacted_rows(self) -> int:
        return sum(self.redactions.values())

    @property
    def rows_skipped(self) -> int:
        return sum(self.record.skipped.values()) if self.record else 0

    @property
    def score_parts(self) -> dict[str, float]:
        """Payments loaded first (a payment withheld is money lost to readers), then the
        mandatory fields, then plain formats."""
        met = len(self.requirements) - len(self.missing_mandatory_fields)
        fields = FIELD_POINTS * met / len(self.requirements) if self.requirements else 0
        if self.kind != "transactions" or not self.rows_read:
            return {"payments": 0.0, "fields": round(fields, 1), "formats": 0.0}
        payments = PAYMENT_POINTS * self.rows_valid / self.rows_read
        plain = max(self.warnings["amount_format"], self.warnings["date_format"])
        formats = FORMAT_POINTS * (1 - min(plain, self.rows_read) / self.rows_read)
        return {"payments": round(payments, 1), "fields": round(fields, 1),
                "formats": round(formats, 1)}

    @property
    def score(self) -> int:
        return int(round(sum(self.score_parts.values())))

    @property
    def passed(self) -> bool:
        return (self.kind == "transactions" and not self.failure and not self.rows_quarantined
                and not self.missing_mandatory_fields)

    @property
    def verdict(self) -> str:
        """One line: whether the file passed and, first, the reason it did not."""
        if self.failure:
            return f"FAIL: {self.failure}"
        if self.kind == "supplier_totals":
            tables = [t for t in self.record.tables if t.kind == "supplier_totals"]
            looked = tables[0].mapping.looked_for("PaymentDate") if tables else ""
            return ("FAIL: read as totals per supplier, not payments, so nothing is loaded: no "
                    f"payment date column (looked at: {looked})")
        if self.rows_read and self.amount_read < MIN_AMOUNT_SHARE * self.rows_read:
            return f"FAIL: {self._unread_amounts()}"
        if self.rows_quarantined:
            worst = max(self.errors.values(), key=lambda e: e.count, default=None)
            why = f"; most often {worst.field} {worst.check} ({worst.count:,} rows)" if worst \
                else ""
            withheld = self.amount_total_pence - self.amount_valid_pence
            return (f"FAIL: {self.rows_quarantined:,} of {self.rows_read:,} payments withheld "
                    f"({pence_to_pounds(withheld)}){why}")
        if self.missing_mandatory_fields:
            return ("FAIL: no column for the Code's mandatory "
                    f"{', '.join(self.missing_mandatory_fields)}")
        warned = sum(group.count for group in self.field_warnings.values())
        also = f"; {warned:,} optional values unreadable, read as empty" if warned else ""
        return (f"PASS: {self.rows_valid:,} payments, "
                f"{pence_to_pounds(self.amount_valid_pence)}{also}")

    def to_json(self) -> dict:
        """The documented JSON object (docs/validate.md lists every key)."""
        record = self.record
        tables = [t for t in record.tables if t.mapping] if record else []
        return {
            "file": self.file,
            "publisher": self.publisher,
            "schema": self.schema,
            "sha256": record.sha256 if record else None,
            "kind": self.kind,
            "verdict": self.verdict,
            "format": record.format if record else None,
            "encoding": record.encoding if record else None,
            "sheets": record.sheets if record else [],
            "header_row": tables[0].header_row if tables else None,
            "tables": [{"sheet": t.sheet, "header_row": t.header_row, "kind": t.kind}
                       for t in tables],
            "columns": _columns(tables),
            "missing_mandatory_fields": self.missing_mandatory_fields,
            "date_order": self.date_order,
            "rows_read": self.rows_read,
            "rows_valid": self.rows_valid,
            "rows_quarantined": self.rows_quarantined,
            "rows_skipped": self.rows_skipped,
            "skipped": dict(record.skipped) if record else {},
            "amount_total_pence": self.amount_total_pence,
            "amount_valid_pence": self.amount_valid_pence,
            "date_min": self.date_min_text,
            "date_max": self.date_max_text,
            "redacted_rows": self.redacted_rows,
            "redactions": _by_count(self.redactions),
            "personal_rows": sum(self.personal.values()),
            "personal": _by_count(self.personal),
            "personal_examples": self.personal_examples,
            # By the first row found with each; groups first found at the same row keep the
            # order of the schema's fields and checks (stable sort).
            "errors": [_error_json(e) for e in sorted(self.errors.values(),
                                                      key=lambda e: e.first)],
            "field_warnings": [_error_json(e) for e in sorted(self.field_warnings.values(),
                                                              key=lambda e: e.first)],
            "warnings": [{"type": k, "count": n, "message": WARNINGS[k]}
                         for k, n in self.warnings.items() if n],
            "totals_rows": [{"sheet": t.sheet, "row": t.row, "amount": t.amount}
                            for t in record.totals_rows] if record else [],
            "notes": self.totals_notes,
            "failure": self.failure,
            "score": self.score,
            "score_parts": self.score_parts,
            "passed": self.passed,
        }


_FIELD_WORDS = {"Amount": "amount", "PaymentDate": "payment date",
                "BeneficiaryName": "payee (supplier)"}


def _add_groups(groups: dict[tuple[str, str], ErrorGroup], failures: pd.DataFrame,
                chunk: CheckedChunk, before: int) -> None:
    """Count a chunk's failing cells by check and field, keeping the first few as examples.

    `before` is the number of rows read before the chunk: a group is placed by the first row
    found with it, whatever chunks the file was read in.
    """
    if failures.empty:
        return
    frame, expected = chunk.frame, chunk.validator.expected
    for (check, name), group in failures.groupby(["check", "field"], sort=False):
        first = group.sort_values("index", kind="stable")
        key = (check, name)
        if key not in groups:
            groups[key] = ErrorGroup(
                check, name, expected.get((name, check), check),
                first=before + frame.index.get_loc(int(first["index"].iloc[0])))
        entry = groups[key]
        entry.count += len(group)
        for _, failure in first.head(MAX_EXAMPLES - len(entry.examples)).iterrows():
            row = int(failure["index"])
            value = failure["value"]
            entry.examples.append({
                "sheet": frame.at[row, "_sheet"],
                "row": int(frame.at[row, "_row"]),
                "field": name,
                "value": None if pd.isna(value) else str(value),
            })


def _merge_groups(groups: dict[tuple[str, str], ErrorGroup],
                  later: dict[tuple[str, str], ErrorGroup], before: int) -> None:
    for key, group in later.items():
        if key not in groups:
            groups[key] = ErrorGroup(group.check, group.field, group.expected,
                                     first=before + group.first)
        entry = groups[key]
        entry.count += group.count
        entry.examples += group.examples[:max(0, MAX_EXAMPLES - len(entry.examples))]


def _by_count(counts: Counter) -> dict:
    """Most first, ties by name: the same whatever chunks the counts were added up from."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _date_text(value: pd.Timestamp, parsed, index) -> str:
    if parsed.precision[index] == "month":
        return value.strftime("%Y-%m")
    return value.strftime("%Y-%m-%d")


def _columns(tables) -> list[dict]:
    seen, columns = set(), []
    for table in tables:
        for column in table.mapping.columns:
            if column.how == "blank" or column.name in seen:
                continue
            seen.add(column.name)
            columns.append({"header": column.name, "field": column.field, "how": column.how,
                            "note": column.note})
    return columns


def _error_json(error: ErrorGroup) -> dict:
    return {"type": error.check, "field": error.field, "expected": error.expected,
            "count": error.count, "examples": error.examples}


def skip_reason_text(reason: str) -> str:
    return SKIP_REASONS.get(reason, reason)
