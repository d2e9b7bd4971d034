"""Load one file version into the warehouse: one transaction, idempotent, superseding."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from schemas.validate import check_file
from sources.read import file_sha256
from sources.registry import Publisher
from warehouse.tables import LIVE, files, payments, publishers, quarantine


@dataclass
class LoadOutcome:
    """What loading one file did."""

    url: str
    status: str  # loaded, unchanged, duplicate, rejected
    file_id: int | None = None
    rows_loaded: int = 0
    rows_quarantined: int = 0
    amount_total_pence: int = 0
    superseded: list[int] = field(default_factory=list)
    message: str | None = None


def upsert_publisher(engine: sa.Engine, publisher: Publisher) -> None:
    """Write a registry entry into the publishers table, changing nothing if it is the same."""
    row = {
        "id": publisher.id, "org_id": publisher.org_id, "name": publisher.name,
        "kind": publisher.kind, "gss_code": publisher.gss_code,
        "population": publisher.population, "licence": publisher.licence,
        "website": publisher.website, "commissioners": json.dumps(list(publisher.commissioners)),
    }
    with engine.begin() as conn:
        existing = conn.execute(sa.select(publishers).where(publishers.c.id == publisher.id))
        current = existing.mappings().first()
        if current is None:
            conn.execute(publishers.insert().values(**row))
        elif any(current[k] != v for k, v in row.items()):
            conn.execute(publishers.update().where(publishers.c.id == publisher.id).values(**row))


def set_publisher_status(engine: sa.Engine, publisher_id: str, status: str,
                         message: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(publishers.update().where(publishers.c.id == publisher_id)
                     .values(status=status, status_message=message))


def load_file(
    engine: sa.Engine,
    publisher: Publisher,
    url: str,
    path: Path,
    fetched_at: str | None = None,
    schema: str = "spend",
) -> LoadOutcome:
    """Validate and load one version of a published file, all or nothing.

    Loading the same bytes from the same URL again changes nothing. New bytes at a known URL
    become its next version: the old version's rows are replaced, its record is kept as
    superseded. A file that cannot be loaded is recorded as rejected and supersedes nothing.
    """
    sha256 = file_sha256(path)
    fetched_at = fetched_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with engine.begin() as conn:
        same = conn.execute(sa.select(files.c.id, files.c.status).where(
            files.c.publisher_id == publisher.id, files.c.url == url,
            files.c.sha256 == sha256)).first()
        if same is not None and same.status != "superseded":
            if same.status == "withdrawn":
                conn.execute(files.update().where(files.c.id == same.id)
                             .values(status="current", status_message=None))
            return LoadOutcome(url, "unchanged", same.id)
        if same is not None:
            # The URL went back to bytes it had before: that version comes back as the newest.
            file_id = _revive(conn, same.id, publisher.id, url)
        else:
            file_id = _insert_file(conn, publisher.id, url, sha256, fetched_at, schema)
        twin = conn.execute(sa.select(files.c.url).where(
            files.c.publisher_id == publisher.id, files.c.sha256 == sha256,
            files.c.status.in_(LIVE), files.c.id != file_id)).first()
        if twin is not None:
            message = f"the same bytes are already loaded from {twin.url}"
            _finish(conn, file_id, "duplicate", message, None)
            return LoadOutcome(url, "duplicate", file_id, message=message)
        outcome = _load_rows(conn, file_id, publisher, url, path, schema)
        if outcome.status == "loaded":
            outcome.superseded = _supersede(conn, publisher.id, url, file_id)
        return outcome


def _insert_file(conn, publisher_id, url, sha256, fetched_at, schema) -> int:
    version = conn.execute(sa.select(sa.func.max(files.c.version)).where(
        files.c.publisher_id == publisher_id, files.c.url == url)).scalar() or 0
    return conn.execute(files.insert().values(
        publisher_id=publisher_id, url=url, sha256=sha256, version=version + 1,
        fetched_at=fetched_at, status="loading", schema_name=schema,
    )).inserted_primary_key[0]


def _revive(conn, file_id: int, publisher_id: str, url: str) -> int:
    version = conn.execute(sa.select(sa.func.max(files.c.version)).where(
        files.c.publisher_id == publisher_id, files.c.url == url)).scalar()
    conn.execute(files.update().where(files.c.id == file_id).values(
        status="loading", superseded_by=None, version=version + 1))
    return file_id


def _load_rows(conn, file_id, publisher, url, path, schema) -> LoadOutcome:
    report, chunks = check_file(path, schema, publisher.id, publisher.quirks)
    outcome = LoadOutcome(url, "loaded", file_id)
    for chunk in chunks:
        if chunk.table.kind != "transactions":
            continue  # supplier totals are reported, never loaded as payments
        valid = chunk.payments(publisher.id, report.record.sha256)
        bad = chunk.quarantine()
        _insert_frame(conn, payments, valid.assign(file_id=file_id))
        _insert_frame(conn, quarantine, bad.assign(file_id=file_id, publisher_id=publisher.id))
        outcome.rows_loaded += len(valid)
        outcome.rows_quarantined += len(bad)
    summary = report.to_json()
    outcome.amount_total_pence = summary["amount_total_pence"]
    if summary["failure"] or summary["kind"] != "transactions":
        outcome.status = "rejected"
        outcome.message = summary["failure"] or f"a {summary['kind']} file holds no payments"
    _finish(conn, file_id, "current" if outcome.status == "loaded" else "rejected",
            outcome.message, summary)
    return outcome


def _finish(conn, file_id: int, status: str, message: str | None, summary: dict | None) -> None:
    values = {"status": status, "status_message": message}
    if summary:
        values |= {
            key: summary[key] for key in (
                "kind", "format", "encoding", "rows_read", "rows_valid", "rows_quarantined",
                "rows_skipped", "amount_total_pence", "amount_valid_pence", "date_min",
                "date_max", "redacted_rows", "score")
        }
        values["missing_fields"] = json.dumps(summary["missing_mandatory_fields"])
        values["columns"] = json.dumps({c["header"]: c["field"] for c in summary["columns"]})
        values["report"] = json.dumps(summary, default=str)
    conn.execute(files.update().where(files.c.id == file_id).values(**values))


def _supersede(conn, publisher_id: str, url: str, file_id: int) -> list[int]:
    older = [row.id for row in conn.execute(sa.select(files.c.id).where(
        files.c.publisher_id == publisher_id, files.c.url == url,
        files.c.status.in_(LIVE), files.c.id != file_id))]
    if older:
        conn.execute(payments.delete().where(payments.c.file_id.in_(older)))
        conn.execute(quarantine.delete().where(quarantine.c.file_id.in_(older)))
        conn.execute(files.update().where(files.c.id.in_(older))
                     .values(status="superseded", superseded_by=file_id))
    return older


def mark_withdrawn(engine: sa.Engine, publisher_id: str, url: str, message: str) -> bool:
    """Mark the live version of a URL withdrawn, keeping its rows; False if none is live."""
    with engine.begin() as conn:
        changed = conn.execute(files.update().where(
            files.c.publisher_id == publisher_id, files.c.url == url,
            files.c.status == "current").values(status="withdrawn", status_message=message))
        return changed.rowcount > 0


def _insert_frame(conn, table: sa.Table, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    columns = [c.name for c in table.columns if c.name in frame.columns]
    conn.execute(table.insert(), _records(frame[columns]))


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as plain Python values: None for missing, date for dates, int for integers."""
    out = {}
    for name, column in frame.items():
        if pd.api.types.is_datetime64_any_dtype(column):
            values = [None if pd.isna(v) else v.date() for v in column]
        else:
            values = column.astype(object).where(column.notna(), None).tolist()
        out[name] = values
    keys = list(out)
    return [dict(zip(keys, row, strict=True)) for row in zip(*out.values(), strict=True)]
