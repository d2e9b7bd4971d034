"""Convert validated spend rows into canonical warehouse payment rows (schemas/payment.json)."""

from __future__ import annotations

import json
from collections.abc import Collection

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.compile import RowValidator
from schemas.descriptors import load_descriptor
from sources.read import EXTRA_PREFIX, ROW, SHEET

FROM = "moneytrail:from"


def to_payments(
    frame: pd.DataFrame, validator: RowValidator, publisher_id: str, sha256: str
) -> pd.DataFrame:
    """Typed payment rows for every row of a validated chunk, in payment.json's field order.

    The mapping from spend fields is the descriptor's own "moneytrail:from" property, so the
    schema, not this code, says where each payment column comes from.
    """
    columns = payment_columns(frame, validator, publisher_id, sha256)
    return pd.DataFrame(columns, index=frame.index)


def payment_columns(
    frame: pd.DataFrame, validator: RowValidator, publisher_id: str, sha256: str,
    rows: np.ndarray | None = None, leave_out: Collection[str] = (),
) -> dict[str, pd.Series]:
    """to_payments' columns, in payment.json's field order; given `rows` (positions in the
    chunk), only those rows, and only the columns one of them fills, less `leave_out`.

    A loader wants the second form: most payment columns are empty in every row of a file
    (no source column maps to them), and selecting the kept rows of those too, a column at a
    time, cost more than building the rest (docs/performance.md).
    """
    whole = rows is None
    columns: dict[str, pd.Series | None] = {}
    for spec in load_descriptor("payment")["fields"]:
        source = spec.get(FROM)
        if source is not None:
            columns[spec["name"]] = _typed(frame, validator, source, spec["type"], whole)
    columns["publisher_id"] = pd.Series(publisher_id, index=frame.index, dtype="string")
    columns["file_sha256"] = pd.Series(sha256, index=frame.index, dtype="string")
    columns["sheet"] = frame[SHEET].astype("string")
    columns["source_row"] = frame[ROW].astype("int64")
    columns["date_precision"] = (
        validator.dates("PaymentDate").precision if "PaymentDate" in frame
        else _empty(frame, "string", whole))
    if "BeneficiaryName" in frame:
        columns["redaction_reason"] = validator.redactions()
        columns["personal_data"] = validator.personal()
    else:
        columns["redaction_reason"] = columns["personal_data"] = _empty(frame, "string", whole)
    columns["extra"] = extra_json(frame)
    order = [spec["name"] for spec in load_descriptor("payment")["fields"]]
    if whole:
        return {name: columns[name] for name in order}
    kept = {}
    for name in order:
        column = columns[name]
        if column is None or name in leave_out:
            continue
        column = column.take(rows)
        if column.notna().any():
            kept[name] = column
    return kept


def _empty(frame: pd.DataFrame, dtype: str, whole: bool) -> pd.Series | None:
    """An all-empty column of the chunk, or None where only filled columns are wanted."""
    return pd.Series(pd.NA, index=frame.index, dtype=dtype) if whole else None


def _typed(frame: pd.DataFrame, validator: RowValidator, source: str, kind: str,
           whole: bool = True) -> pd.Series | None:
    if source not in frame:
        dtype = {"integer": "Int64", "date": "datetime64[s]", "boolean": "boolean"}
        return _empty(frame, dtype.get(kind, "string"), whole)
    if kind == "integer":
        return validator.money(source).pence
    if kind == "date":
        return validator.dates(source).dates
    if kind == "boolean":
        spec = validator.fields[source]
        truthy = {str(v).casefold() for v in spec.get("trueValues", ["true"])}
        text = frame[source].str.casefold()
        return text.isin(truthy).astype("boolean").where(text.notna())
    return frame[source]


def extra_json(frame: pd.DataFrame) -> pd.Series:
    """Each row's unmapped columns as a JSON object of header → value (empty cells left out)."""
    extra = [c for c in frame.columns if c.startswith(EXTRA_PREFIX)]
    if not extra:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    # Each column's '"header": value' pairs are encoded once per distinct value, then joined
    # a column at a time by Arrow, skipping empty cells: the same text json.dumps gives for
    # the row's dict, at a fraction of the cost of joining each row in Python.
    joined = None
    for column in extra:
        pairs = _json_pairs(column[len(EXTRA_PREFIX):], frame[column])
        if joined is None:
            joined = pairs
            continue
        both = pc.binary_join_element_wise(joined, pairs, _text(", "))  # null where either is
        joined = pc.if_else(pc.is_null(joined), pairs,
                            pc.if_else(pc.is_null(pairs), joined, both))
    # A row with no cell stays null.
    objects = pc.binary_join_element_wise(_text("{"), joined, _text("}"), _text(""))
    if pd.StringDtype().storage == "pyarrow":
        return pd.Series(pd.arrays.ArrowStringArray(objects), index=frame.index)
    return pd.Series(pd.array(objects.to_pylist(), dtype="string"), index=frame.index)


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _json_pairs(header: str, values: pd.Series) -> pa.Array:
    """'"header": value' as JSON for each cell holding text, null for the rest."""
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    key = json.dumps(header, ensure_ascii=False)
    encoded = [f"{key}: {json.dumps(v, ensure_ascii=False)}" if isinstance(v, str) else None
               for v in distinct.tolist()] + [None]
    codes[codes < 0] = len(encoded) - 1  # an empty cell takes the last entry, null
    return pa.array(encoded, type=pa.large_string()).take(pa.array(codes))
