"""Build the published site from the warehouse: one SQLite database per publisher, one combined.

The combined database is built physically (Datasette can attach only ten databases), with
full-text search, indexes on every faceted column and summary tables, so landing pages and charts
never scan the payments table. Each publisher's database holds its rows of every table, with the
same indexes and search. Both are filled straight from the warehouse, so the publishers' databases
are built while the combined one is (SQLite works without holding Python's lock); the combined
one then gathers their summaries, which describe one publisher each, rather than deriving them
again.

Every database is filled by the same SELECTs whatever the warehouse runs on; they derive the site's
columns (payee keys, services, each payment's file URL) in SQL. A SQLite warehouse runs them
inside SQLite, with the site database attached, so no row passes through Python; any other
warehouse is streamed through a server-side cursor.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from schemas.privacy import WITHHELD
from warehouse import flows as warehouse_flows
from warehouse import scorecard
from warehouse.site_metadata import site_metadata
from warehouse.site_schema import FACETS, SUMMARIES, TABLES
from warehouse.tables import (
    LIVE,
    files,
    flows,
    payments,
    publishers,
    quarantine,
    supplier_aliases,
    suppliers,
)

COMBINED = "moneytrail"
COPY_CHUNK_ROWS = 50_000
WORKERS = min(2, os.cpu_count() or 1)
NOT_STATED = "(not stated)"
INSPECT_APART_BYTES = 256 * 1024 ** 2
# Warehouse tables copied as they are, in this order; payments and publisher_flows follow.
COPIED = (publishers, files, quarantine, suppliers, supplier_aliases, flows)
# Tables each database derives from its own rows; all are one publisher's rows per line, so the
# combined database gathers them from the publishers' databases.
# A payee as the payments are looked up: the spelling (first four), then who it is.
PAYEE_COLUMNS = ("publisher_id", "spelling", "company_number", "charity_number", "payee_key",
                 "supplier_id", "payee_publisher_id")
PAYEES = sa.table("payees", *(sa.column(c) for c in PAYEE_COLUMNS))
GATHERED = ("spend_by_month", "spend_by_service", "spend_by_expense_type", "spend_by_supplier",
            "flow_totals", "scorecard", "publisher_summary")


@dataclass
class SiteSummary:
    site_dir: Path
    databases: list[str] = field(default_factory=list)
    payments: int = 0


def build_site(engine: sa.Engine, site_dir: Path,
               published: dict[str, dict[str, str]] | None = None) -> SiteSummary:
    """Write DIR/moneytrail.db, DIR/<publisher>.db, metadata.json and inspect.json, replacing
    the old site only once the new one is complete, so a served site is never half-built.

    `published` maps publisher id → {file url: when it appeared}, for the timeliness score.
    """
    site_dir = Path(site_dir)
    building = site_dir.with_name(site_dir.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    everyone, size = _publishers(engine)
    cards = {p: scorecard.scorecard(engine, p, (published or {}).get(p, {})) for p in everyone}
    withheld = _withheld_spellings(engine)
    combined = building / f"{COMBINED}.db"
    # The combined database takes longest: it starts first, the biggest publishers next.
    jobs = [(combined, None), *((building / f"{p}.db", p)
                                for p in sorted(everyone, key=lambda p: -size.get(p, 0)))]
    _build_all(engine, jobs, cards, withheld)
    _gather(combined, building, everyone)
    with closing(sqlite3.connect(combined)) as db:
        count = db.execute("select count(*) from payments").fetchone()[0]
        rows = pd.read_sql("select s.*, p.website, p.licence from publisher_summary s join "
                           "publishers p on p.id = s.publisher_id order by s.name", db)
    names = [COMBINED, *everyone]
    (building / "metadata.json").write_text(
        json.dumps(site_metadata(rows), indent=2, ensure_ascii=False), encoding="utf-8")
    _inspect(building, names)
    _swap(building, site_dir)
    return SiteSummary(site_dir, names, count)


def _publishers(engine: sa.Engine) -> tuple[list[str], dict[str, int]]:
    """Every publisher's id in order, and how many live rows each has (to start big ones first)."""
    with engine.connect() as conn:
        ids = conn.execute(sa.select(publishers.c.id).order_by(publishers.c.id)).scalars().all()
        rows = conn.execute(sa.select(files.c.publisher_id, sa.func.sum(files.c.rows_valid))
                            .where(files.c.status.in_(LIVE)).group_by(files.c.publisher_id))
        return list(ids), {p: int(n or 0) for p, n in rows}


def _build_all(engine: sa.Engine, jobs: list[tuple[Path, str | None]],
               cards: dict[str, list[tuple]], withheld: tuple[str, ...]) -> None:
    """Each database (None: the combined one), WORKERS at a time; the first failure stops
    those not yet started."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        running = [pool.submit(_build, engine, path, publisher_id, cards, withheld)
                   for path, publisher_id in jobs]
        try:
            for job in running:
                job.result()
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise


def _build(engine: sa.Engine, target: Path, publisher_id: str | None,
           cards: dict[str, list[tuple]], withheld: tuple[str, ...]) -> None:
    """One site database: the combined one (its summaries are gathered later), or one
    publisher's rows of every table, complete."""
    with closing(sqlite3.connect(target)) as db:
        _create(db)
    _copy_warehouse(engine, target, publisher_id, withheld)
    with closing(sqlite3.connect(target)) as db:
        _tune(db)
        if publisher_id is not None:
            _derive(db, publisher_id, cards[publisher_id])
        _index(db)
        if publisher_id is not None:
            db.execute("analyze")
        db.commit()


def _gather(combined: Path, building: Path, publisher_ids: list[str]) -> None:
    """The combined database's summaries and scorecards: every publisher's own."""
    with closing(sqlite3.connect(combined)) as db:
        _tune(db)
        for publisher_id in publisher_ids:
            db.execute("attach database ? as one", (str(building / f"{publisher_id}.db"),))
            for table in GATHERED:
                db.execute(f"insert into {table} select * from one.{table}")
            db.commit()
            db.execute("detach database one")
        db.execute("analyze")
        db.commit()


def _create(db: sqlite3.Connection) -> None:
    _tune(db)
    for ddl in TABLES.values():
        db.execute(ddl)
    db.commit()


def _tune(db: sqlite3.Connection, schema: str = "main") -> None:
    """No journal and no syncing: a build that fails is thrown away whole."""
    db.execute(f"PRAGMA {schema}.journal_mode=OFF")
    db.execute(f"PRAGMA {schema}.synchronous=OFF")


def _copy_warehouse(engine: sa.Engine, target: Path, publisher_id: str | None = None,
                    withheld: tuple[str, ...] | None = None) -> None:
    """Publishers, files, quarantine, the resolved payees, flows and the flows between
    publishers, and the live payments with their site columns: all of them, or one
    publisher's. WITHHELD: _withheld_spellings(), when already found."""
    source = _sqlite_file(engine)
    if source is None:
        _copy_streamed(engine, target, publisher_id, withheld)
    else:
        _copy_attached(engine, source, target, publisher_id, withheld)


def _withheld_spellings(engine: sa.Engine) -> tuple[str, ...]:
    """Payee spellings the privacy guard flagged on some payments and not on others (it decides
    some by the row's category or supplier type): the site withholds every payment of them."""
    flagged = warehouse_flows.PERSONAL_SPELLINGS
    query = (sa.select(payments.c.beneficiary_name).distinct()
             .where(payments.c.personal_data.is_(None), payments.c.beneficiary_name.in_(flagged))
             .order_by(payments.c.beneficiary_name))
    with engine.connect() as conn:
        return tuple(conn.execute(query).scalars())


def _sqlite_file(engine: sa.Engine) -> Path | None:
    """The warehouse's file, when it is a SQLite database on disk."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" \
            or database.startswith("file:"):
        return None
    return Path(database)


def _copy_attached(engine: sa.Engine, source: Path, target: Path,
                   publisher_id: str | None = None,
                   withheld: tuple[str, ...] | None = None) -> None:
    """INSERT … SELECT from the warehouse into the site database attached to it."""
    withheld = _withheld_spellings(engine) if withheld is None else withheld

    def sql(query: sa.Select) -> str:
        return str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))

    with closing(sqlite3.connect(source)) as db:
        db.execute("attach database ? as site", (str(target),))
        _tune(db, "site")
        # Each spelling's payee, once, in a covering index that every payment is looked up in.
        db.execute(f"create temp table payees as {sql(_payees(publisher_id))}")
        db.execute(f"create index temp.payees_lookup on payees ({_quoted(PAYEE_COLUMNS)})")
        for table, names, query in _copy_queries(db, publisher_id, "site", PAYEES, withheld):
            db.execute(f"insert into site.{table} ({_quoted(names)}) {sql(query)}")
        db.commit()
        db.execute("detach database site")


def _copy_streamed(engine: sa.Engine, target: Path, publisher_id: str | None = None,
                   withheld: tuple[str, ...] | None = None) -> None:
    """The same SELECTs through a server-side cursor, inserted a chunk at a time."""
    withheld = _withheld_spellings(engine) if withheld is None else withheld
    with closing(sqlite3.connect(target)) as db, engine.connect() as conn:
        _tune(db)
        for table, names, query in _copy_queries(db, publisher_id, withheld=withheld):
            insert = f"insert into {table} ({_quoted(names)}) values ({','.join('?' * len(names))})"
            with conn.execution_options(stream_results=True,
                                        yield_per=COPY_CHUNK_ROWS).execute(query) as result:
                for chunk in result.partitions():
                    db.executemany(insert, map(tuple, chunk))
        db.commit()


def _copy_queries(site: sqlite3.Connection, publisher_id: str | None = None,
                  schema: str = "main", payees: sa.TableClause | None = None,
                  withheld: tuple[str, ...] = ()) -> list[tuple[str, list[str], sa.Select]]:
    """(site table, its columns, the warehouse SELECT that fills them) for every table the
    warehouse fills, cut down to one publisher's rows when PUBLISHER_ID is given. PAYEES: a
    table holding _payees() already, else they are a subquery. WITHHELD: spellings whose every
    payment is withheld."""
    def cut(query: sa.Select, table: str) -> sa.Select:
        return query if publisher_id is None else query.where(_cut(table, publisher_id))

    queries = []
    for table in COPIED:
        names = [c for c in _columns(site, schema, table.name) if c in table.c]
        shown = _quarantine_shown() if table is quarantine else {}
        query = sa.select(*(shown.get(c, table.c[c]).label(c) for c in names))
        queries.append((table.name, names, cut(query, table.name)))
    queries.append(("publisher_flows", _columns(site, schema, "publisher_flows"),
                    cut(_publisher_flows(), "publisher_flows")))
    payees = _payees(publisher_id).subquery("payees") if payees is None else payees
    derived = _payment_columns(payees, withheld)
    names = [c for c in _columns(site, schema, "payments") if c in derived or c in payments.c]
    live = (payments.join(files, payments.c.file_id == files.c.id)
            .outerjoin(payees, _same_payee(payees)))
    queries.append(("payments", names, cut(
        sa.select(*(derived.get(c, payments.c.get(c)).label(c) for c in names))
        .select_from(live).where(files.c.status.in_(LIVE)).order_by(payments.c.id),
        "payments")))
    return queries


def _cut(table: str, publisher_id: str) -> sa.ColumnElement:
    """A publisher's rows of a table: those it published, paid or was paid."""
    if table == "publishers":
        return publishers.c.id == publisher_id
    if table == "suppliers":
        return suppliers.c.id.in_(sa.select(supplier_aliases.c.supplier_id)
                                  .where(supplier_aliases.c.publisher_id == publisher_id))
    if table == "flows":
        return flows.c.payer_id == publisher_id
    if table == "publisher_flows":
        return sa.or_(flows.c.payer_id == publisher_id, flows.c.payee_id == publisher_id)
    return {"files": files, "quarantine": quarantine, "supplier_aliases": supplier_aliases,
            "payments": payments}[table].c.publisher_id == publisher_id


def _publisher_flows() -> sa.Select:
    """Money between publishers: a publisher's database has what it paid and what it was paid."""
    key = (flows.c.payer_id, flows.c.payee_id)
    total = [sa.cast(sa.func.sum(c), sa.BigInteger) for c in (flows.c.payments,
                                                            flows.c.amount_pence)]
    return (sa.select(*key, *total)
            .where(flows.c.payee_is_publisher.is_(True)).group_by(*key).order_by(*key))


def _payees(publisher_id: str | None = None) -> sa.Select:
    """Each spelling's payee key, supplier and (if the supplier publishes too) publisher: all
    of them, or one publisher's."""
    alias = supplier_aliases.c
    query = (sa.select(*(alias[c] for c in PAYEE_COLUMNS[:-1]),
                       suppliers.c.publisher_id.label(PAYEE_COLUMNS[-1]))
             .select_from(supplier_aliases.outerjoin(suppliers,
                                                     suppliers.c.id == alias.supplier_id)))
    return query if publisher_id is None else query.where(alias.publisher_id == publisher_id)


def _payment_columns(payees: sa.FromClause, withheld: tuple[str, ...] = ()
                     ) -> dict[str, sa.ColumnElement]:
    """The site's payment columns that the warehouse does not hold as they are: the day and
    month as text, the resolved payee, the columns people facet on, and the file's URL."""
    day = sa.func.substr(sa.cast(payments.c.payment_date, sa.String), 1, 10)
    personal = _personal(withheld)
    return {
        **_withheld(personal),
        "payment_date": day,
        "month": sa.func.substr(day, 1, 7),
        "payee_key": payees.c.payee_key,
        "supplier_id": payees.c.supplier_id,
        "payee_publisher_id": payees.c.payee_publisher_id,
        "service": _first(payments.c.service_category, payments.c.department),
        "expense_type": _first(payments.c.expense_type, payments.c.merchant_category,
                               payments.c.procurement_category),
        "purpose": _first(payments.c.purpose, _unless(personal, payments.c.narrative)),
        "source_url": files.c.url,
    }


def _personal(withheld: tuple[str, ...]) -> sa.ColumnElement:
    """A payment to a private individual: flagged by the privacy guard, or spelt as a payee it
    flagged on another payment."""
    flagged = payments.c.personal_data.is_not(None)
    return sa.or_(flagged, payments.c.beneficiary_name.in_(withheld)) if withheld else flagged


def _withheld(personal: sa.ColumnElement) -> dict[str, sa.ColumnElement]:
    """A private individual's payment as the site shows it (schemas/privacy.py): amount, date,
    service and reason stay; the name, and whatever else could carry it, do not."""
    return {
        "beneficiary_name": sa.case((personal, sa.literal(WITHHELD)),
                                    else_=payments.c.beneficiary_name),
        **{name: _unless(personal, payments.c[name])
           for name in ("beneficiary_id", "narrative", "extra")},
    }


def _quarantine_shown() -> dict[str, sa.ColumnElement]:
    """A quarantined row naming a private individual: its reasons and amount stay, its cells
    (which hold the name) do not."""
    personal = quarantine.c.personal_data.is_not(None)
    return {name: sa.case((personal, sa.null()), else_=quarantine.c[name])
            for name in ("mapped", "extra")}


def _unless(personal: sa.ColumnElement, column: sa.ColumnElement) -> sa.ColumnElement:
    return sa.case((personal, sa.null()), else_=column)


def _same_payee(payees: sa.FromClause) -> sa.ColumnElement:
    """A payment's spelling among the payees: resolved once per spelling, not per payment."""
    alias = payees.c
    return sa.and_(alias.publisher_id == payments.c.publisher_id,
                   alias.spelling == payments.c.beneficiary_name,
                   alias.company_number.is_not_distinct_from(payments.c.company_number),
                   alias.charity_number.is_not_distinct_from(payments.c.charity_number))


def _first(*columns: sa.ColumnElement) -> sa.ColumnElement:
    return sa.func.coalesce(*columns, sa.literal(NOT_STATED))


def _columns(db: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"pragma {schema}.table_info({table})")]


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _derive(db: sqlite3.Connection, publisher_id: str, cards: list[tuple]) -> None:
    """A publisher's summaries, its quality scorecard and its summary line."""
    for sql in SUMMARIES:
        db.execute(sql)
    db.executemany("insert into scorecard values (?,?,?,?,?,?)",
                   [(publisher_id, *card) for card in cards])
    db.execute(scorecard.SUMMARY_SQL)


def _index(db: sqlite3.Connection) -> None:
    """Full-text search, an index per faceted column, and the flow lookups by payee (the
    statistics for the query planner come once every table is filled)."""
    db.execute("insert into payments_fts(payments_fts) values ('rebuild')")
    for column in FACETS:
        db.execute(f"create index payments_{column} on payments({column})")
    db.execute("create index flows_payee on flows(payee_id, payer_id)")
    db.execute("create index flow_totals_payee on flow_totals(payee_id)")
    db.execute("create index flow_totals_biggest on flow_totals(payer_id, payee_is_publisher, "
               "amount_pence)")
    db.execute("create index supplier_aliases_supplier on supplier_aliases(supplier_id)")
    # The supplier page sums a supplier's payments by publisher and year from this alone.
    db.execute("create index payments_supplier_totals on payments(supplier_id, publisher_id, "
               "payment_date, amount_pence)")


def _inspect(building: Path, names: list[str]) -> None:
    """Datasette's inspect file: table counts and hashes computed once, so immutable serving
    starts fast. The combined database is about half the bytes, so a big one is inspected
    beside the rest (a small site is not worth starting a second Datasette)."""
    combined = (building / f"{names[0]}.db").stat().st_size
    split = WORKERS > 1 and len(names) > 1 and combined > INSPECT_APART_BYTES
    groups = [names[:1], names[1:]] if split else [names]
    parts = [building / f"inspect-{i}.json" for i in range(len(groups))]
    running = [subprocess.Popen([sys.executable, "-m", "datasette", "inspect",
                                 *[str(building / f"{n}.db") for n in group],
                                 "--inspect-file", str(part)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for group, part in zip(groups, parts, strict=True)]
    inspected = {}
    for process, part in zip(running, parts, strict=True):
        _, error = process.communicate()
        if process.returncode:
            raise subprocess.CalledProcessError(process.returncode, process.args, stderr=error)
        inspected |= json.loads(part.read_text(encoding="utf-8"))
        part.unlink()
    (building / "inspect.json").write_text(json.dumps(inspected, indent=2), encoding="utf-8")


def _swap(building: Path, site_dir: Path) -> None:
    old = site_dir.with_name(site_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if site_dir.exists():
        site_dir.rename(old)
    building.rename(site_dir)
    shutil.rmtree(old, ignore_errors=True)
