"""Validate a published file end to end: read, map, check each chunk, convert, and report."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from schemas.compile import RowValidator, Validation
from schemas.convert import extra_json, payment_columns, to_payments
from schemas.dates import detect_order, proves_day_first
from schemas.descriptors import load_descriptor
from schemas.report import FileReport
from sources.quirks import Quirks
from sources.read import CHUNK_ROWS, EXTRA_PREFIX, ROW, SHEET, TableRead, read_file
from sources.registry import publisher_quirks
from sources.tables import UnreadableFile


@dataclass
class CheckedChunk:
    """A chunk of mapped rows with its validation outcome."""

    table: TableRead
    frame: pd.DataFrame
    validator: RowValidator
    validation: Validation

    def payments(self, publisher_id: str, sha256: str) -> pd.DataFrame:
        """The valid rows as canonical payment rows."""
        return to_payments(self.frame, self.validator, publisher_id, sha256)[
            ~self.validation.invalid
        ]

    def payment_batch(self, publisher_id: str, sha256: str,
                      leave_out: Collection[str] = ()) -> pd.DataFrame:
        """payments(), less the columns no valid row fills and those named in `leave_out`:
        what a loader inserts, the rest taking the column's default, NULL."""
        valid = np.flatnonzero(~self.validation.invalid.to_numpy(dtype=bool))
        columns = payment_columns(self.frame, self.validator, publisher_id, sha256,
                                  rows=valid, leave_out=leave_out)
        return pd.DataFrame(columns, index=self.frame.index[valid], columns=list(columns))

    def quarantine(self) -> pd.DataFrame:
        """The invalid rows, each with every reason it failed and its text as published."""
        invalid = self.validation.invalid
        errors = self.validation.errors
        reasons = (
            errors.assign(text=errors["field"] + ": " + errors["check"] + " "
                          + errors["value"].astype("string").fillna("(empty)").map(repr))
            .groupby("index")["text"].agg("; ".join)
        )
        rows = self.frame[invalid]
        published = self.frame.drop(columns=[ROW, SHEET])
        mapped = [c for c in published.columns if not c.startswith("extra:")]
        raw = published[invalid][mapped].rename(columns=lambda c: "extra:" + c)
        amount = (self.validator.money("Amount").pence[invalid] if "Amount" in self.frame
                  else pd.Series(pd.NA, index=rows.index, dtype="Int64"))
        return pd.DataFrame({
            "sheet": rows[SHEET].astype("string"),
            "source_row": rows[ROW].astype("int64"),
            "reasons": reasons.reindex(rows.index).astype("string"),
            "amount_pence": amount,
            "mapped": extra_json(raw),
            "extra": extra_json(rows),
            # A quarantined row can name a private individual too: the site withholds it.
            "personal_data": (self.validator.personal()[invalid] if "BeneficiaryName" in rows
                              else pd.Series(pd.NA, index=rows.index, dtype="string")),
        })


def check_file(
    path: Path, schema: str = "spend", publisher_id: str | None = None,
    quirks: Quirks | None = None, chunk_rows: int = CHUNK_ROWS, sha256: str | None = None,
    records: tuple[int, int | None] | None = None,
) -> tuple[FileReport, Iterator[CheckedChunk]]:
    """Start validating a file; the report is complete once the chunks are consumed.

    Quirks default to those the UK registry records for `publisher_id`. `records` validates
    part of a CSV (sources.read.read_file): FileReport.merge joins the parts' reports.
    """
    descriptor = load_descriptor(schema)
    report = FileReport.start(Path(path), schema, publisher_id)
    quirks = quirks or publisher_quirks(publisher_id)
    try:
        # A quirk naming the date order leaves nothing to sample; else the sample may stop as
        # soon as a date proves the file day-first.
        settled = (lambda texts: True) if quirks.date_order else proves_day_first
        record, chunks = read_file(Path(path), quirks, chunk_rows, sha256, settled, records)
    except (UnreadableFile, OSError) as failure:
        report.fail(str(failure))
        return report, iter(())
    report.record = record
    return report, _checked(report, record, chunks, descriptor, quirks.date_order)


def _checked(report, record, chunks, descriptor, date_order) -> Iterator[CheckedChunk]:
    validators: dict[int, RowValidator] = {}
    try:
        for table, frame in chunks:
            validator = validators.get(id(table))
            if validator is None:
                order = date_order or _order(table, frame)
                validator = validators[id(table)] = RowValidator(descriptor, order)
            validation = validator.validate(frame)
            if not validation.warnings.empty:
                _set_aside(frame, table, validation.warnings)
            checked = CheckedChunk(table, frame, validator, validation)
            report.add(checked)
            yield checked
    except UnreadableFile as failure:
        report.fail(str(failure))
    except GeneratorExit:
        report.finish()  # closed early, a file refused part-way: its report still says why
        raise
    report.finish()


def _set_aside(frame: pd.DataFrame, table: TableRead, warnings: pd.DataFrame) -> None:
    """Empty the optional fields' cells that failed their checks, and keep their text in the
    row's extra under the column's published name: a placeholder such as 'N/A' in an optional
    column never withholds a payment, and nothing published is lost."""
    for name, rows in warnings.groupby("field")["index"]:
        header = table.mapping.columns[table.mapping.fields[name]].name
        failed = frame.index.isin(rows.astype("int64").unique())
        frame[EXTRA_PREFIX + header] = frame[name].where(failed)
        frame[name] = frame[name].where(~failed)


def _order(table: TableRead, frame: pd.DataFrame) -> str:
    """Day or month first, told from the table's first rows (the reader's sample)."""
    if "PaymentDate" not in frame:
        return "DMY"
    return detect_order(pd.Series(table.date_sample, dtype="string"))


def report_file(
    path: Path, schema: str = "spend", publisher_id: str | None = None,
    quirks: Quirks | None = None, on_rows: Callable[[int], None] | None = None,
) -> FileReport:
    """Validate a whole file and return its report; `on_rows` hears each chunk's rows."""
    report, chunks = check_file(path, schema, publisher_id, quirks)
    for chunk in chunks:
        if on_rows is not None:
            on_rows(len(chunk.frame))
    return report
