"""Load one file version into the warehouse: one transaction, idempotent, superseding."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from sources.read import file_sha256
from sources.registry import Publisher
from warehouse.preparing import (
    FILE_COLUMNS,
    Batch,
    Preparation,
    collect_chunk,
    collected_per_chunk,
    prepared,
)
from warehouse.tables import LIVE, files, payments, publishers, quarantine, withdrawn_payments

# Rows one SQLite INSERT statement takes: each statement executed costs the driver a fixed
# amount besides binding its values, so 64 rows a statement insert a million rows in three
# quarters of the time one row a statement took (docs/performance.md).
ROWS_PER_STATEMENT = 64
# SQLite's page cache while a file loads, in KiB (its default is 2 MiB).
LOAD_CACHE_KIB = 128 * 1024


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
    # Peak memory of the process that read the file, when a separate one did (MiB).
    preparer_peak_mib: float | None = None
    # CPU seconds that process spent reading, validating and converting the file.
    preparer_cpu_s: float | None = None


def upsert_publisher(engine: sa.Engine, publisher: Publisher) -> None:
    """Write a registry entry into the publishers table, changing nothing if it is the same."""
    row = {
        "id": publisher.id, "org_id": publisher.org_id, "name": publisher.name,
        "kind": publisher.kind, "gss_code": publisher.gss_code,
        "population": publisher.population, "population_year": publisher.population_year,
        "licence": publisher.licence,
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
    on_rows: Callable[[int], None] | None = None,
) -> LoadOutcome:
    """Validate and load one version of a published file, all or nothing.

    Loading the same bytes from the same URL again changes nothing. New bytes at a known URL
    become its next version: the old version's rows are replaced, its record is kept as
    superseded. A file that cannot be loaded is recorded as rejected and supersedes nothing.
    `on_rows` hears how many rows each chunk inserted (payments or quarantined), as they go in.
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
        outcome = _load_rows(conn, file_id, publisher, url, path, schema, sha256, on_rows)
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


def _load_rows(conn, file_id, publisher, url, path, schema, sha256, on_rows) -> LoadOutcome:
    with _bigger_page_cache(conn):
        return _load_chunks(conn, file_id, publisher, url, path, schema, sha256, on_rows)


@contextlib.contextmanager
def _bigger_page_cache(conn) -> Iterator[None]:
    """Give SQLite a bigger page cache while a file loads, so that the pages a large load
    writes stay in memory until the commit instead of spilling to the write-ahead log in
    pieces, and the index pages it touches are not reread from the file.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    driver = conn.connection.driver_connection
    before = driver.execute("PRAGMA cache_size").fetchone()[0]
    driver.execute(f"PRAGMA cache_size = -{LOAD_CACHE_KIB}")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA cache_size = {before}")


def _load_chunks(conn, file_id, publisher, url, path, schema, sha256, on_rows) -> LoadOutcome:
    outcome = LoadOutcome(url, "loaded", file_id)
    work = Preparation(Path(path), schema, publisher, file_id, sha256=sha256)
    shared = {"file_id": file_id, "publisher_id": publisher.id, "file_sha256": sha256}
    keyed = Keyed(publisher.id, url)  # and each identity's payments so far
    # Closed at once if an insert fails, so a preparing process stops with the load.
    with collected_per_chunk(), contextlib.closing(prepared(work)) as items:
        for item in items:
            if isinstance(item, Batch):
                table = payments if item.table == "payments" else quarantine
                constants = {name: shared[name] for name in FILE_COLUMNS[item.table]}
                batch = _rows(table, item.frame, conn.dialect.name, constants,
                              keyed if table is payments else None)
                _insert_rows(conn, batch)
                if table is payments:
                    outcome.rows_loaded += len(item.frame)
                else:
                    outcome.rows_quarantined += len(item.frame)
                    collect_chunk()
                if on_rows is not None:
                    on_rows(len(item.frame))
            else:
                summary, unheld = item.report, item.unheld
                outcome.preparer_peak_mib = item.peak_mib
                outcome.preparer_cpu_s = item.cpu_s
    outcome.amount_total_pence = summary["amount_total_pence"]
    if unheld or summary["failure"] or summary["kind"] != "transactions":
        outcome.status = "rejected"
        outcome.message = (
            f"{Path(path).name}: no column holds {unheld}, which every payment needs"
            if unheld else
            summary["failure"] or f"{Path(path).name}: a {summary['kind']} file holds no "
            "payments (no header row of spending columns was found)")
        # A file found damaged after some chunks went in keeps none of them: all or nothing.
        conn.execute(payments.delete().where(payments.c.file_id == file_id))
        conn.execute(quarantine.delete().where(quarantine.c.file_id == file_id))
        outcome.rows_loaded = outcome.rows_quarantined = 0
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
        _record_withdrawn(conn, publisher_id, url, file_id, older)
        conn.execute(payments.delete().where(payments.c.file_id.in_(older)))
        conn.execute(quarantine.delete().where(quarantine.c.file_id.in_(older)))
        conn.execute(files.update().where(files.c.id.in_(older))
                     .values(status="superseded", superseded_by=file_id))
    return older


def _record_withdrawn(conn, publisher_id: str, url: str, file_id: int, older: list[int]) -> None:
    """Keep what the payments of the OLDER versions were that the new version (FILE_ID) no
    longer holds, by lasting key; a key the new version holds again is no longer withdrawn."""
    kept = sa.select(payments.c.payment_key).where(payments.c.file_id == file_id,
                                                   payments.c.payment_key.is_not(None))
    gone = payments.c.file_id.in_(older) & payments.c.payment_key.is_not(None) \
        & payments.c.payment_key.not_in(kept)
    fetched = sa.select(files.c.fetched_at).where(files.c.id == file_id).scalar_subquery()
    person = payments.c.personal_data.is_not(None)
    conn.execute(withdrawn_payments.delete().where(
        withdrawn_payments.c.id.in_(kept) | withdrawn_payments.c.id.in_(
            sa.select(payments.c.payment_key).where(gone))))
    conn.execute(withdrawn_payments.insert().from_select(
        ["id", "publisher_id", "source_url", "payment_date", "amount_pence", "beneficiary_name",
         "purpose", "transaction_number", "withdrawn_on"],
        sa.select(payments.c.payment_key, payments.c.publisher_id, sa.literal(url),
                  sa.func.substr(sa.cast(payments.c.payment_date, sa.String), 1, 10),
                  payments.c.amount_pence,
                  sa.case((person, sa.null()), else_=payments.c.beneficiary_name),
                  sa.case((person, sa.null()), else_=payments.c.purpose),
                  payments.c.transaction_number, fetched).where(gone)))


def mark_withdrawn(engine: sa.Engine, publisher_id: str, url: str, message: str) -> bool:
    """Mark the live version of a URL withdrawn, keeping its rows; False if none is live."""
    with engine.begin() as conn:
        changed = conn.execute(files.update().where(
            files.c.publisher_id == publisher_id, files.c.url == url,
            files.c.status == "current").values(status="withdrawn", status_message=message))
        return changed.rowcount > 0


# What makes a payment the same payment in another version of its file: the rest (purpose,
# service, the row it is on) may be corrected or moved without changing which payment it is.
IDENTITY = ("transaction_number", "payment_date", "amount_pence", "beneficiary_name")
KEY_BITS = 61


def payment_keys(publisher_id: str, url: str, identities: Iterable[tuple],
                 seen: collections.Counter) -> list[int]:
    """Each payment's lasting id: a hash of its publisher, its file's URL (the series every
    version of the file shares) and its IDENTITY values, with how many payments of that same
    identity came before it in the file (SEEN, carried from chunk to chunk), so that two
    identical lines stay two payments. Ids fall in [2**61, 2**62): never one of the
    warehouse's own small row ids, which rows loaded before keys existed are shown under."""
    # Written for speed, a third faster than plainly (a million rows is seconds of it): the
    # names looked up once, and the counter read with get(), not through Counter.__missing__.
    keys: list[int] = []
    append, count = keys.append, seen.get
    blake2b, from_bytes = hashlib.blake2b, int.from_bytes
    prefix, shift, top = f"{publisher_id}\x1e{url}\x1e", 64 - KEY_BITS, 1 << KEY_BITS
    for identity in identities:
        text = "\x1f".join(["" if v is None else str(v) for v in identity])
        n = count(text, 0)
        seen[text] = n + 1
        append(from_bytes(blake2b(f"{prefix}{text}\x1e{n}".encode(), digest_size=8).digest(),
                          "big") >> shift | top)
    return keys


@dataclass
class Keyed:
    """Whose payments a batch holds, for their lasting ids (payment_keys), and the identities
    seen so far in the file."""

    publisher_id: str
    url: str
    seen: collections.Counter = field(default_factory=collections.Counter)


@dataclass
class Rows:
    """A chunk's rows for one table, as the database driver binds them, and the values every
    row shares (the file's id, its publisher), given once."""

    table: str
    columns: list[str]
    rows: list[tuple]
    constants: dict[str, int | str] = field(default_factory=dict)


def _rows(table: sa.Table, frame: pd.DataFrame, dialect: str,
          constants: dict[str, int | str] | None = None, keyed: Keyed | None = None) -> Rows:
    """A chunk's rows as the driver binds them: tuples, not SQLAlchemy's per-row dictionaries,
    which cost more than the database's own work on a million-row file. A batch holds only
    the columns some row fills (warehouse.preparing): the rest take their default, NULL.
    KEYED: payments, given their lasting ids as one more column (payment_key)."""
    held = [c for c in table.columns if c.name in frame.columns]
    names = [c.name for c in held]
    values = [_driver_values(frame[c.name], c.type, dialect) for c in held]
    if keyed is not None:
        given = dict(zip(names, values, strict=True))
        unfilled = [None] * len(frame)
        identities = zip(*(given.get(c, unfilled) for c in IDENTITY), strict=True)
        values.append(payment_keys(keyed.publisher_id, keyed.url, identities, keyed.seen))
        names.append("payment_key")
    rows = list(zip(*values, strict=True)) if values else [()] * len(frame)
    return Rows(table.name, names, rows, dict(constants or {}))


def _insert_rows(conn, batch: Rows) -> None:
    """Insert a batch through the connection's own driver, in its transaction: executemany
    on SQLite, with the shared values written into the statement once, and COPY on
    PostgreSQL."""
    if not batch.rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in [*batch.constants, *batch.columns])
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        statement = f"COPY {batch.table} ({names}) FROM STDIN"
        shared = tuple(batch.constants.values())
        with _as_sqlalchemy_errors(conn, statement), driver.cursor() as cursor, \
                cursor.copy(statement) as copy:
            for row in batch.rows:
                copy.write_row(shared + row)
        return
    marks = ", ".join([*map(_sql_literal, batch.constants.values()), *("?" for _ in batch.columns)])
    insert = f"INSERT INTO {batch.table} ({names}) VALUES "
    whole = len(batch.rows) // ROWS_PER_STATEMENT * ROWS_PER_STATEMENT
    work = [(insert + ", ".join([f"({marks})"] * ROWS_PER_STATEMENT),
             [tuple(itertools.chain.from_iterable(batch.rows[at:at + ROWS_PER_STATEMENT]))
              for at in range(0, whole, ROWS_PER_STATEMENT)]),
            (insert + f"({marks})", batch.rows[whole:])]
    cursor = driver.cursor()
    try:
        for statement, rows in work:
            if rows:
                with _as_sqlalchemy_errors(conn, statement):
                    cursor.executemany(statement, rows)
    finally:
        cursor.close()


def _sql_literal(value: int | str) -> str:
    """An integer or text as an SQL literal: the loader's own ids and digests, never a
    published cell."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"not an id or a digest: {value!r}")
    if isinstance(value, int):
        return str(value)
    if "\0" in value:
        raise ValueError(f"a NUL in {value!r}")
    return "'" + value.replace("'", "''") + "'"


@contextlib.contextmanager
def _as_sqlalchemy_errors(conn, statement: str) -> Iterator[None]:
    """Raise the driver's errors as SQLAlchemy's (IntegrityError ...), as conn.execute would."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as failure:
        raise sa.exc.DBAPIError.instance(statement, None, failure, dbapi.Error,
                                         dialect=conn.dialect) from failure


def _driver_values(column: pd.Series, kind: sa.types.TypeEngine, dialect: str) -> list:
    """A column as the plain Python values its driver binds: None for missing, int for
    integers, 'yyyy-mm-dd' text for dates (how SQLAlchemy stores a Date in SQLite)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        # Payment dates are whole days; a time of day would make this cast fail loudly.
        return pa.array(column).cast(pa.date32()).cast(pa.string()).to_pylist()
    if isinstance(kind, sa.Boolean) and dialect == "sqlite":
        column = column.astype("Int64")  # SQLAlchemy stores booleans in SQLite as 1 and 0
    if isinstance(column.array, pd.arrays.ArrowStringArray):
        # Arrow makes the str objects itself, a quarter faster than by way of numpy.
        return pa.chunked_array(column.array.__arrow_array__()).to_pylist()
    return column.to_numpy(dtype=object, na_value=None).tolist()
