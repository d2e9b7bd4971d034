"""Build the published site from the warehouse: one SQLite database per publisher, one combined.

After the first build, `build_site` redoes only what changed: each publisher's database has a
fingerprint of what it is built from, the databases whose fingerprint moved are built again,
and the combined database takes their rows in place, in one transaction (see
warehouse/generations.py for how a served site is kept from being written).

The combined database is built physically (Datasette can attach only ten databases), with
full-text search, indexes on every faceted column and summary tables, so landing pages and charts
never scan the payments table. Each publisher's database holds its rows of every table (its
suppliers named and totalled from its own payments), with search and the indexes a database of
one publisher uses. Both are filled straight from the warehouse, so the publishers' databases
are built while the combined one is (SQLite works without holding Python's lock); the combined
one then gathers their summaries, which describe one publisher each, rather than deriving them
again.

Every database is filled by the same SELECTs whatever the warehouse runs on; they derive the site's
columns (payee keys, services, each payment's file URL) in SQL. A SQLite warehouse runs them
inside SQLite, with the site database attached, so no row passes through Python; any other
warehouse is streamed through a server-side cursor.
"""

import hashlib
import json
import os
import re
import shutil
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from schemas.privacy import WITHHELD
from warehouse import flows as warehouse_flows
from warehouse import generations, scorecard
from warehouse.archived_copies import copy_path
from warehouse.flows import METHOD_RANK
from warehouse.site_metadata import site_metadata
from warehouse.site_schema import FACETS, SUMMARIES, TABLES, with_pounds
from warehouse.tables import (
    LIVE,
    files,
    flows,
    payments,
    publishers,
    quarantine,
    resolution_state,
    supplier_aliases,
    suppliers,
    withdrawn_payments,
)

COMBINED = "moneytrail"
# A publisher holding more than this share of the payments has its database copied to start the
# combined one.
BIGGEST_SHARE = 0.5
COPY_CHUNK_ROWS = 50_000
WORKERS = min(2, os.cpu_count() or 1)
NOT_STATED = "(not stated)"
# What the site is built from besides the warehouse's rows: code and curated data.
SITE_SOURCES = ("site.py", "site_schema.py", "residents.py", "site_metadata.py", "flows.py",
                "resolution.py", "archived_copies.py",
                "suppliers.py", "curated_suppliers.yaml", "charts.py", "scorecard.py",
                "generations.py")
# Warehouse tables copied as they are, in this order; payments and publisher_flows follow.
COPIED = (publishers, files, quarantine, suppliers, supplier_aliases, flows, withdrawn_payments)
# Tables each database derives from its own rows; all are one publisher's rows per line, so the
# combined database gathers them from the publishers' databases.
# A payee as the payments are looked up: the spelling (first four), then who it is.
PAYEE_COLUMNS = ("publisher_id", "spelling", "company_number", "charity_number", "payee_key",
                 "supplier_id", "payee_publisher_id")
PAYEES = sa.table("payees", *(sa.column(c) for c in PAYEE_COLUMNS))
GATHERED = ("spend_by_month", "spend_by_service", "spend_by_expense_type", "spend_by_supplier",
            "flow_totals", "scorecard", "publisher_summary", "spend_by_month_trend",
            "spend_by_year", "spend_by_year_service")


@dataclass
class SiteSummary:
    site_dir: Path
    databases: list[str] = field(default_factory=list)
    payments: int = 0
    # full: every database built; incremental: those of `rebuilt` (and the combined one
    # updated in place); unchanged: nothing to do.
    mode: str = "full"
    rebuilt: list[str] = field(default_factory=list)


def build_site(engine: sa.Engine, site_dir: Path,
               published: dict[str, dict[str, str]] | None = None,
               full: bool = False) -> SiteSummary:
    """Bring the site in SITE_DIR up to date with the warehouse: DIR/moneytrail.db,
    DIR/<publisher>.db, metadata.json and inspect.json.

    Only the databases of publishers whose data changed are built again, and the combined
    database is updated in place for them, in one transaction. The first build, FULL, or a
    change to the code that builds the site build everything. A generation of the site that
    a server holds is never written: see warehouse/generations.py.
    `published` maps publisher id → {file url: when it appeared}, for the timeliness score.
    """
    site_dir = Path(site_dir)
    published = published or {}
    everyone, size = _publishers(engine)
    built_from = {"basis": site_basis(), "publishers": fingerprints(engine, everyone, published)}
    now = generations.current(site_dir)
    was = generations.state(now) if now is not None else None
    if not full and was == built_from:
        return _summary(now, everyone, "unchanged")
    if full or was is None or was["basis"] != built_from["basis"]:
        return _build_generation(engine, site_dir, everyone, size, published, built_from)
    target, handle = _writable(site_dir, now, was)
    try:
        rebuilt = _update(engine, target, now, built_from, published)
    finally:
        handle.close()
    if target != now:
        generations.point(site_dir, target)
    generations.prune(site_dir, target)
    return _summary(target, everyone, "incremental", rebuilt)


def up_to_date(engine: sa.Engine, site_dir: Path,
               published: dict[str, dict[str, str]] | None = None) -> bool:
    """Whether `build_site` would find nothing to do."""
    now = generations.current(Path(site_dir))
    if now is None:
        return False
    everyone, _ = _publishers(engine)
    return generations.state(now) == {
        "basis": site_basis(), "publishers": fingerprints(engine, everyone, published or {})}


def site_basis() -> str:
    """A digest of the code and curated data that build the site."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in SITE_SOURCES:
        source = here / name
        digest.update(source.read_bytes() if source.exists() else name.encode())
    return digest.hexdigest()


def fingerprints(engine: sa.Engine, everyone: list[str],
                 published: dict[str, dict[str, str]]) -> dict[str, str]:
    """Per publisher, a digest of what its database is built from: its row, its file versions
    and their status, when its files appeared, and the token warehouse.flows renews whenever
    its resolved payees, flows or what it shows of others changed."""
    digests = {p: hashlib.sha256() for p in everyone}
    with engine.connect() as conn:
        for row in conn.execute(sa.select(publishers).order_by(publishers.c.id)):
            digests[row.id].update(repr(tuple(row)).encode())
        for row in conn.execute(sa.select(files.c.publisher_id, files.c.id, files.c.status,
                                          files.c.superseded_by)
                                .order_by(files.c.publisher_id, files.c.id)):
            if row.publisher_id in digests:
                digests[row.publisher_id].update(repr(tuple(row)).encode())
        for publisher_id, token in conn.execute(sa.select(resolution_state.c.publisher_id,
                                                          resolution_state.c.site_token)):
            if publisher_id in digests:
                digests[publisher_id].update(token.encode())
    for publisher_id, digest in digests.items():
        digest.update(json.dumps(published.get(publisher_id, {}), sort_keys=True).encode())
    return {p: d.hexdigest() for p, d in digests.items()}


def _build_generation(engine: sa.Engine, site_dir: Path, everyone: list[str],
                      size: dict[str, int], published: dict[str, dict[str, str]],
                      built_from: dict) -> SiteSummary:
    """Every database, into a new generation; the site points to it once it is complete."""
    building = generations.new(site_dir)
    handle = generations.claim(building)
    try:
        cards = {p: scorecard.scorecard(engine, p, published.get(p, {})) for p in everyone}
        withheld = _withheld_spellings(engine)
        combined = building / f"{COMBINED}.db"
        biggest = sorted(everyone, key=lambda p: -size.get(p, 0))
        if biggest and size.get(biggest[0], 0) > BIGGEST_SHARE * sum(size.values()):
            # One publisher holds most of the payments (a council previewing its own site):
            # the combined database starts as a copy of that publisher's, and the others are
            # added to it as an update adds them, rather than building those rows twice.
            _build_all(engine, [(building / f"{p}.db", p) for p in biggest], cards, withheld)
            shutil.copyfile(building / f"{biggest[0]}.db", combined)
            with closing(sqlite3.connect(combined)) as db:
                for statement in COMBINED_INDEXES:
                    db.execute(statement)
                db.commit()
            rest = biggest[1:]
            _update_combined(engine, combined, rest, [],
                             _gathered_rows(building / f"{p}.db" for p in rest), withheld)
        else:
            # The combined database takes longest: it starts first, the biggest publishers next.
            jobs = [(combined, None), *((building / f"{p}.db", p) for p in biggest)]
            _build_all(engine, jobs, cards, withheld)
            _gather(combined, building, everyone)
        _describe(building, [COMBINED, *everyone], {}, built_from)
        generations.write_state(building, built_from)
    except BaseException:
        handle.close()
        shutil.rmtree(building, ignore_errors=True)
        raise
    handle.close()
    generations.point(site_dir, building)
    generations.prune(site_dir, building)
    return _summary(building, everyone, "full", everyone)


def _writable(site_dir: Path, now: Path, was: dict):
    """A generation to update and the lock on it: the current one when nobody serves it, else
    a spare of the same code, else a new copy of the current one."""
    for candidate in [now, *reversed(generations.all_of(site_dir))]:
        if candidate != now and not _same_basis(generations.state(candidate), was):
            continue
        handle = generations.claim(candidate)
        if handle is not None:
            return candidate, handle
    spare = generations.new(site_dir)
    handle = generations.claim(spare)
    generations.copy(now, spare, (f"{COMBINED}.db",))
    generations.write_state(spare, was)
    return spare, handle


def _same_basis(state: dict | None, was: dict) -> bool:
    return state is not None and state["basis"] == was["basis"]


def _update(engine: sa.Engine, target: Path, now: Path, built_from: dict,
            published: dict[str, dict[str, str]]) -> list[str]:
    """Bring generation TARGET to BUILT_FROM: the databases of publishers whose fingerprint
    differs are built again (or linked from the current generation, which has them), and the
    combined database takes their rows in one transaction. Until it commits, the new databases
    have temporary names, so a failure leaves TARGET as it was. While the combined database is
    written TARGET has no state file, so that a process killed then leaves a generation that
    nothing serves (an immutable reader would not roll its journal back)."""
    was = generations.state(target)
    old = was["publishers"]
    want = built_from["publishers"]
    current = generations.state(now)["publishers"] if now != target else {}
    stale = sorted(p for p in want if old.get(p) != want[p])
    gone = sorted(set(old) - set(want))
    fresh = {p: target / f"{p}.db.new" for p in stale}
    try:
        withheld = _withheld_spellings(engine)
        build = []
        for publisher_id, path in fresh.items():
            path.unlink(missing_ok=True)
            if current.get(publisher_id) == want[publisher_id]:
                os.link(now / f"{publisher_id}.db", path)
            else:
                build.append((path, publisher_id))
        cards = {p: scorecard.scorecard(engine, p, published.get(p, {})) for _, p in build}
        _build_all(engine, build, cards, withheld)
        gathered = _gathered_rows(fresh.values())
        generations.clear_state(target)
        try:
            counts = _update_combined(engine, target / f"{COMBINED}.db", stale, gone, gathered,
                                      withheld)
        except BaseException:
            generations.write_state(target, was)  # rolled back: as it was
            raise
    except BaseException:
        for path in fresh.values():
            path.unlink(missing_ok=True)
        raise
    for publisher_id, path in fresh.items():
        os.replace(path, target / f"{publisher_id}.db")
    for publisher_id in gone:
        (target / f"{publisher_id}.db").unlink(missing_ok=True)
    _describe(target, [COMBINED, *sorted(want)], {COMBINED: counts, **{p: None for p in want
                                                                       if p not in stale}},
              built_from)
    generations.write_state(target, built_from)
    return stale


def _summary(generation: Path, everyone: list[str], mode: str,
             rebuilt: list[str] | None = None) -> SiteSummary:
    inspected = json.loads((generation / "inspect.json").read_text(encoding="utf-8"))
    count = inspected[COMBINED]["tables"]["payments"]["count"]
    return SiteSummary(generation, [COMBINED, *everyone], count, mode, rebuilt or [])


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
    those not yet started. A database built alone has the core the others would use: its
    summaries are worked out on it while its indexes are built."""
    overlap = len(jobs) < WORKERS
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        running = [pool.submit(_build, engine, path, publisher_id, cards, withheld, overlap)
                   for path, publisher_id in jobs]
        try:
            for job in running:
                job.result()
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise


def _build(engine: sa.Engine, target: Path, publisher_id: str | None,
           cards: dict[str, list[tuple]], withheld: tuple[str, ...],
           overlap: bool = False) -> None:
    """One site database: the combined one (its summaries are gathered later), or one
    publisher's rows of every table, complete. OVERLAP: work out a publisher's summaries in a
    second thread while this one builds the indexes (`_derived_beside`)."""
    with closing(sqlite3.connect(target)) as db:
        _create(db)
    _copy_warehouse(engine, target, publisher_id, withheld)
    with closing(sqlite3.connect(target)) as db:
        _tune(db)
        _report_archived_copies(db)
        db.commit()
        if publisher_id is None:
            _index(db, combined=True)
        elif overlap:
            _derived_beside(db, target, publisher_id, cards[publisher_id])
        else:
            _derive(db, publisher_id, cards[publisher_id])
            _index(db, combined=False)
        if publisher_id is not None:
            db.execute("analyze")
        db.commit()


def _derived_beside(db: sqlite3.Connection, target: Path, publisher_id: str,
                    cards: list[tuple]) -> None:
    """The summaries (_derive) and the indexes (_index) of a publisher's database at once, on
    two cores: a second connection reads the payments and writes the summaries into temporary
    tables of the same names, which it reads first, while DB builds the indexes; then DB
    takes the summary lines. The database is in write-ahead mode meanwhile, so that the
    reader and the writer do not wait on each other, and back in rollback mode (no -wal file
    beside it) before it is served."""
    db.execute("PRAGMA journal_mode=WAL")
    with ThreadPoolExecutor(max_workers=1) as pool:
        summaries = pool.submit(_derived_rows, target, publisher_id, cards)
        try:
            _index(db, combined=False)
            db.commit()
        finally:
            rows = summaries.result()
    for table, (columns, lines) in rows.items():
        if lines:
            db.executemany(f"insert into {table} ({_quoted(columns)}) values "
                           f"({','.join('?' * len(columns))})", lines)
    db.commit()
    db.execute("PRAGMA journal_mode=OFF")


# The tables _derive writes, each written by one statement of its own.
DERIVED = tuple(dict.fromkeys(
    re.search(r"insert into (\w+)", sql).group(1)
    for sql in (*SUMMARIES, "insert into scorecard", scorecard.SUMMARY_SQL)))


def _derived_rows(target: Path, publisher_id: str, cards: list[tuple]
                  ) -> dict[str, tuple[list[str], list[tuple]]]:
    """_derive's lines, table by table, worked out in temporary tables (which come before the
    database's own in name lookup) by a connection of their own."""
    with closing(sqlite3.connect(target, check_same_thread=False)) as db:
        for table in DERIVED:
            db.execute(with_pounds(TABLES[table]).replace(
                "create table", "create temp table", 1))
        _derive(db, publisher_id, cards)
        db.commit()
        rows = {}
        for table in DERIVED:
            columns = _columns(db, "temp", table)
            rows[table] = (columns, db.execute(
                f"select {_quoted(columns)} from temp.{table}").fetchall())
        return rows


def _gathered_rows(databases) -> dict[str, list[tuple]]:
    """The summary lines of the publishers' databases given, table by table."""
    rows: dict[str, list[tuple]] = {table: [] for table in GATHERED}
    for path in databases:
        with closing(sqlite3.connect(path)) as db:
            for table in GATHERED:
                names = _quoted(_columns(db, "main", table))
                rows[table] += db.execute(f"select {names} from {table}").fetchall()
    return rows


# The combined database names each supplier in its summary lines as the suppliers table does
# (the most used spelling of all), where each publisher's own database uses its own spelling.
CANONICAL_NAMES = """update spend_by_supplier set supplier = (
    select name from suppliers where id = spend_by_supplier.supplier_key)
where exists (select 1 from suppliers s where s.id = spend_by_supplier.supplier_key
              and s.name is not spend_by_supplier.supplier)"""
# The combined database's tables holding some publishers' rows, and the column saying whose.
OWNED_BY = {"payments": "publisher_id", "files": "publisher_id", "quarantine": "publisher_id",
            "supplier_aliases": "publisher_id", "publishers": "id", "flows": "payer_id",
            "spend_by_month": "publisher_id", "spend_by_service": "publisher_id",
            "spend_by_expense_type": "publisher_id", "spend_by_supplier": "publisher_id",
            "flow_totals": "payer_id", "scorecard": "publisher_id",
            "publisher_summary": "publisher_id", "withdrawn_payments": "publisher_id",
            "spend_by_month_trend": "publisher_id", "spend_by_year": "publisher_id",
            "spend_by_year_service": "publisher_id"}


UPDATE_CACHE_KIB = 256 * 1024


def _update_combined(engine: sa.Engine, combined: Path, stale: list[str], gone: list[str],
                     gathered: dict[str, list[tuple]], withheld: tuple[str, ...]
                     ) -> dict[str, int]:
    """Replace the rows of the STALE and GONE publishers in the combined database by the
    warehouse's, their search entries and their summary lines (GATHERED), and take the
    suppliers whole, in one transaction with a rollback journal. Returns how many payments
    were removed and added."""
    ids = sorted(set(stale) | set(gone))
    source = _sqlite_file(engine)
    db = sqlite3.connect(combined if source is None else source, isolation_level=None)
    schema = "main" if source is None else "site"
    with closing(db):
        if source is not None:
            db.execute("attach database ? as site", (str(combined),))
        # The rollback journal makes the update all or nothing when the process is killed;
        # like every build here it does not wait on the disk (no fsync), since a generation
        # is served only once its state file is written, after the update.
        db.execute(f"PRAGMA {schema}.journal_mode=DELETE")
        db.execute(f"PRAGMA {schema}.synchronous=OFF")
        # A publisher's rows go into every index of the combined payments, page by page: a
        # cache that holds those pages once read saves reading them again per row.
        db.execute(f"PRAGMA {schema}.cache_size=-{UPDATE_CACHE_KIB}")
        if source is not None and stale:
            _payees_table(engine, db, stale)
        db.execute("begin")
        try:
            counts = _replace_rows(engine, db, schema, ids, stale, gathered, withheld,
                                   attached=source is not None)
            db.execute("commit")
        except BaseException:
            db.execute("rollback")
            raise
    return counts


def _replace_rows(engine, db, schema: str, ids: list[str], stale: list[str],
                  gathered: dict[str, list[tuple]], withheld: tuple[str, ...],
                  attached: bool) -> dict[str, int]:
    marks = ",".join("?" * len(ids))
    queries = _copy_queries(db, stale, schema, PAYEES if attached else None, withheld) \
        if stale else []
    # A SQLite warehouse's payments are replaced by difference: of a publisher's year, a
    # republished month's rows go and come, the other months' rows stay where they are.
    by_difference = attached and bool(stale)
    if by_difference:
        [payments_copy] = [q for q in queries if q[0] == "payments"]
        queries = [q for q in queries if q[0] != "payments"]
        counts = _replace_payments(engine, db, schema, ids, payments_copy)
    else:
        counts = {"removed": db.execute(f"select count(*) from {schema}.payments where "
                                        f"publisher_id in ({marks})", ids).fetchone()[0]}
        db.execute(f"insert into {schema}.payments_fts(payments_fts, rowid, beneficiary_name, "
                   f"purpose) select 'delete', id, beneficiary_name, purpose from "
                   f"{schema}.payments where publisher_id in ({marks})", ids)
    for table, column in OWNED_BY.items():
        if not (table == "payments" and by_difference):
            db.execute(f"delete from {schema}.{table} where {column} in ({marks})", ids)
    db.execute(f"delete from {schema}.publisher_flows where payer_id in ({marks}) "
               f"or payee_id in ({marks})", ids + ids)
    db.execute(f"delete from {schema}.suppliers")
    names = [c for c in _columns(db, schema, "suppliers") if c in suppliers.c]
    queries.append(("suppliers", names, sa.select(*(suppliers.c[c] for c in names))))
    for table, columns, query in queries:
        insert = f"insert into {schema}.{table} ({_quoted(columns)})"
        if attached:
            db.execute(f"{insert} {_sql(engine, query)}")
            continue
        with engine.connect() as conn:
            _insert_streamed(conn, db, insert, query, len(columns))
    if stale and not by_difference:
        marks = ",".join("?" * len(stale))
        db.execute(f"insert into {schema}.payments_fts(rowid, beneficiary_name, purpose) "
                   f"select id, beneficiary_name, purpose from {schema}.payments "
                   f"where publisher_id in ({marks})", stale)
        counts["added"] = db.execute(f"select count(*) from {schema}.payments where "
                                     f"publisher_id in ({marks})", stale).fetchone()[0]
    counts.setdefault("added", 0)
    _report_archived_copies(db, schema, stale)
    for table, rows in gathered.items():
        if rows:
            db.executemany(f"insert into {schema}.{table} values "
                           f"({','.join('?' * len(rows[0]))})", rows)
    db.execute(CANONICAL_NAMES.replace("update spend_by_supplier",
                                       f"update {schema}.spend_by_supplier")
               .replace("from suppliers", f"from {schema}.suppliers"))
    # The query planner's statistics, from a sample of each index: a full ANALYZE reads
    # every row, and statistics need only be about right.
    db.execute(f"PRAGMA {schema}.analysis_limit=1000")
    db.execute(f"analyze {schema}")
    return counts


def _replace_payments(engine, db, schema: str, ids: list[str],
                      copy: tuple[str, list[str], sa.Select]) -> dict[str, int]:
    """The payments of the publishers IDS made those the warehouse gives now (COPY): rows no
    longer given, or given with other values, are deleted with their search entries, and the
    rows not there yet inserted with theirs; rows the same to the last column stay."""
    _, columns, query = copy
    names, marks = _quoted(columns), ",".join("?" * len(ids))
    for temporary in ("fresh", "gone", "added"):
        db.execute(f"drop table if exists temp.{temporary}")
    db.execute(f"create temp table fresh as {_sql(engine, query)}")
    db.execute(f"create temp table gone as select id, beneficiary_name, purpose from ("
               f"select {names} from {schema}.payments where publisher_id in ({marks}) "
               f"except select {names} from temp.fresh)", ids)
    db.execute(f"insert into {schema}.payments_fts(payments_fts, rowid, beneficiary_name, "
               f"purpose) select 'delete', id, beneficiary_name, purpose from temp.gone")
    db.execute(f"delete from {schema}.payments where id in (select id from temp.gone)")
    db.execute(f"create temp table added as select id from temp.fresh f where not exists ("
               f"select 1 from {schema}.payments p where p.id = f.id)")
    db.execute(f"insert into {schema}.payments ({names}) select {names} from temp.fresh "
               f"where id in (select id from temp.added)")
    db.execute(f"insert into {schema}.payments_fts(rowid, beneficiary_name, purpose) select "
               f"id, beneficiary_name, purpose from {schema}.payments where id in "
               f"(select id from temp.added)")
    counts = {"removed": db.execute("select count(*) from temp.gone").fetchone()[0],
              "added": db.execute("select count(*) from temp.added").fetchone()[0]}
    for temporary in ("fresh", "gone", "added"):
        db.execute(f"drop table temp.{temporary}")
    return counts


def _payees_table(engine: sa.Engine, db: sqlite3.Connection, ids: list[str] | None) -> None:
    """Each spelling's payee (all, or those of publishers IDS) once, in a temporary table with
    a covering index that every payment is looked up in (`PAYEES`)."""
    db.execute(f"create temp table payees as {_sql(engine, _payees(ids))}")
    db.execute(f"create index temp.payees_lookup on payees ({_quoted(PAYEE_COLUMNS)})")


def _sql(engine: sa.Engine, query: sa.Select) -> str:
    return str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


def _gather(combined: Path, building: Path, publisher_ids: list[str]) -> None:
    """The combined database's summaries and scorecards: every publisher's own."""
    with closing(sqlite3.connect(combined)) as db:
        _tune(db)
        for publisher_id in publisher_ids:
            db.execute("attach database ? as one", (str(building / f"{publisher_id}.db"),))
            for table in GATHERED:
                names = _quoted(_columns(db, "main", table))
                db.execute(f"insert into {table} ({names}) select {names} from one.{table}")
            db.commit()
            db.execute("detach database one")
        db.execute(CANONICAL_NAMES)
        db.execute("analyze")
        db.commit()


def _create(db: sqlite3.Connection) -> None:
    _tune(db)
    for ddl in TABLES.values():
        db.execute(with_pounds(ddl))
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
    some by the row's category or supplier type): the site withholds every payment of them.
    When the flows step is up to date, the names it recorded as flagged anywhere (a superset:
    a payment flagged itself is withheld anyway); else found in the payments."""
    recorded = warehouse_flows.flagged_names(engine)
    if recorded is not None:
        return tuple(sorted(recorded))
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
    with closing(sqlite3.connect(source)) as db:
        db.execute("attach database ? as site", (str(target),))
        _tune(db, "site")
        _payees_table(engine, db, None if publisher_id is None else [publisher_id])
        for table, names, query in _copy_queries(db, publisher_id, "site", PAYEES, withheld):
            db.execute(f"insert into site.{table} ({_quoted(names)}) {_sql(engine, query)}")
        db.commit()
        db.execute("detach database site")


def _copy_streamed(engine: sa.Engine, target: Path, publisher_id: str | None = None,
                   withheld: tuple[str, ...] | None = None) -> None:
    """The same SELECTs through a server-side cursor, inserted a chunk at a time."""
    withheld = _withheld_spellings(engine) if withheld is None else withheld
    with closing(sqlite3.connect(target)) as db, engine.connect() as conn:
        _tune(db)
        for table, names, query in _copy_queries(db, publisher_id, withheld=withheld):
            _insert_streamed(conn, db, f"insert into {table} ({_quoted(names)})", query,
                             len(names))
        db.commit()


def _insert_streamed(conn, db: sqlite3.Connection, insert: str, query: sa.Select,
                     width: int) -> None:
    """INSERT (without its VALUES) of QUERY's rows, read through a server-side cursor."""
    statement = f"{insert} values ({','.join('?' * width)})"
    with conn.execution_options(stream_results=True,
                                yield_per=COPY_CHUNK_ROWS).execute(query) as result:
        for chunk in result.partitions():
            db.executemany(statement, map(tuple, chunk))


def _copy_queries(site: sqlite3.Connection, publisher_id: str | list[str] | None = None,
                  schema: str = "main", payees: sa.TableClause | None = None,
                  withheld: tuple[str, ...] = ()) -> list[tuple[str, list[str], sa.Select]]:
    """(site table, its columns, the warehouse SELECT that fills them) for every table the
    warehouse fills: all rows; one publisher's database's (PUBLISHER_ID a string); or, for
    updating the combined database, the rows of a list of publishers, less the suppliers
    (which the combined database takes whole). PAYEES: a table holding _payees() already, else
    they are a subquery. WITHHELD: spellings whose every payment is withheld."""
    ids = [publisher_id] if isinstance(publisher_id, str) else publisher_id

    def cut(query: sa.Select, table: str) -> sa.Select:
        return query if ids is None else query.where(_cut(table, ids))

    queries = []
    for table in COPIED:
        names = [c for c in _columns(site, schema, table.name) if c in table.c]
        if table is suppliers and ids is not None:
            if isinstance(publisher_id, str):
                queries.append((table.name, names, _own_suppliers(publisher_id)))
            continue
        shown = (_quarantine_shown() if table is quarantine else
                 _withdrawn_shown(withheld) if table is withdrawn_payments else {})
        query = sa.select(*(shown.get(c, table.c[c]).label(c) for c in names))
        queries.append((table.name, names, cut(query, table.name)))
    queries.append(("publisher_flows", _columns(site, schema, "publisher_flows"),
                    cut(_publisher_flows(), "publisher_flows")))
    payees = _payees(ids).subquery("payees") if payees is None else payees
    derived = _payment_columns(payees, withheld)
    names = [c for c in _columns(site, schema, "payments") if c in derived or c in payments.c]
    live = (payments.join(files, payments.c.file_id == files.c.id)
            .outerjoin(payees, _same_payee(payees)))
    # A publisher's own database takes its payments in the order of the site's key (its
    # rowid): each row then goes on the end of the table's b-tree, where in the warehouse's
    # order the hashed keys land anywhere in it (a third of the copy's time at 300,000 rows).
    # A combined database copied from the warehouse keeps the warehouse's order: sorting
    # millions of rows first cost more than it saved (a full site of 5M payments took 127.5 s
    # sorted, 80 s before).
    order = derived["id"] if isinstance(publisher_id, str) else payments.c.id
    queries.append(("payments", names, cut(
        sa.select(*(derived.get(c, payments.c.get(c)).label(c) for c in names))
        .select_from(live).where(files.c.status.in_(LIVE)).order_by(order),
        "payments")))
    return queries


def _cut(table: str, publisher_ids: list[str]) -> sa.ColumnElement:
    """Some publishers' rows of a table: those they published, paid or were paid."""
    if table == "publishers":
        return publishers.c.id.in_(publisher_ids)
    if table == "flows":
        return flows.c.payer_id.in_(publisher_ids)
    if table == "publisher_flows":
        return sa.or_(flows.c.payer_id.in_(publisher_ids), flows.c.payee_id.in_(publisher_ids))
    return {"files": files, "quarantine": quarantine, "supplier_aliases": supplier_aliases,
            "payments": payments, "withdrawn_payments": withdrawn_payments,
            }[table].c.publisher_id.in_(publisher_ids)


def _own_suppliers(publisher_id: str) -> sa.Select:
    """A publisher's database's suppliers: each supplier it paid, named by its own most used
    spelling, with its method, spellings and totals from this publisher's payments alone, so
    that the database changes only when this publisher's data does. (The combined database
    names every supplier as the most used spelling of all: `CANONICAL_NAMES`.)"""
    alias = supplier_aliases.c
    # Its own spellings ranked by use, each with its supplier's totals here over all of them
    # (`k` numbers the distinct spellings, so the highest is how many there are).
    by_supplier = {"partition_by": alias.supplier_id}
    numbered = (sa.select(
        alias.supplier_id, alias.spelling, alias.method, alias.confidence, alias.payments,
        alias.total_pence,
        sa.func.row_number().over(**by_supplier, order_by=(alias.payments.desc(),
                                                           alias.spelling)).label("n"),
        sa.func.dense_rank().over(**by_supplier, order_by=alias.spelling).label("k"))
        .where(alias.publisher_id == publisher_id, alias.supplier_id.is_not(None))
        .subquery("numbered"))
    one = numbered.c
    by_supplier = {"partition_by": one.supplier_id}
    ranked = (sa.select(
        one.supplier_id, one.spelling, one.n,
        sa.func.min(sa.case(*((one.method == m, n) for m, n in METHOD_RANK.items()),
                            else_=9)).over(**by_supplier).label("rank"),
        sa.func.min(one.confidence).over(**by_supplier).label("confidence"),
        sa.func.max(one.k).over(**by_supplier).label("spellings"),
        sa.func.sum(one.payments).over(**by_supplier).label("payments"),
        sa.func.sum(one.total_pence).over(**by_supplier).label("total"))
        .subquery("ranked"))
    return (sa.select(suppliers.c.id, ranked.c.spelling.label("name"), suppliers.c.org_id,
                      suppliers.c.publisher_id,
                      sa.case(*((ranked.c.rank == n, m) for m, n in METHOD_RANK.items()),
                              else_=suppliers.c.method).label("method"),
                      ranked.c.confidence, ranked.c.spellings, sa.literal(1).label("payers"),
                      sa.cast(ranked.c.payments, sa.BigInteger).label("payments"),
                      sa.cast(ranked.c.total, sa.BigInteger).label("total_pence"))
            .select_from(ranked.join(suppliers, suppliers.c.id == ranked.c.supplier_id))
            .where(ranked.c.n == 1).order_by(suppliers.c.id))


def _publisher_flows() -> sa.Select:
    """Money between publishers: a publisher's database has what it paid and what it was paid."""
    key = (flows.c.payer_id, flows.c.payee_id)
    total = [sa.cast(sa.func.sum(c), sa.BigInteger) for c in (flows.c.payments,
                                                            flows.c.amount_pence)]
    return (sa.select(*key, *total)
            .where(flows.c.payee_is_publisher.is_(True)).group_by(*key).order_by(*key))


def _payees(publisher_ids: list[str] | None = None) -> sa.Select:
    """Each spelling's payee key, supplier and (if the supplier publishes too) publisher: all
    of them, or some publishers'."""
    alias = supplier_aliases.c
    query = (sa.select(*(alias[c] for c in PAYEE_COLUMNS[:-1]),
                       suppliers.c.publisher_id.label(PAYEE_COLUMNS[-1]))
             .select_from(supplier_aliases.outerjoin(suppliers,
                                                     suppliers.c.id == alias.supplier_id)))
    return query if publisher_ids is None else query.where(alias.publisher_id.in_(publisher_ids))


def _payment_columns(payees: sa.FromClause, withheld: tuple[str, ...] = ()
                     ) -> dict[str, sa.ColumnElement]:
    """The site's payment columns that the warehouse does not hold as they are: the day and
    month as text, the resolved payee, the columns people facet on, and the file's URL."""
    day = sa.func.substr(sa.cast(payments.c.payment_date, sa.String), 1, 10)
    personal = _personal(withheld)
    return {
        **_withheld(personal),
        # The lasting id (warehouse.load.payment_keys); rows loaded before keys existed keep
        # the warehouse's row id until their file is loaded again.
        "id": sa.func.coalesce(payments.c.payment_key, payments.c.id),
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


def _report_archived_copies(db: sqlite3.Connection, schema: str = "main",
                            publisher_ids: list[str] | None = None) -> None:
    """Each file's report names its archived copy on the site (`/-/archive/<sha256>/<name>`)
    as its `file`, where the warehouse's names the path on the machine that loaded it."""
    db.create_function("archived_copy_path", 2, copy_path, deterministic=True)
    only = "" if publisher_ids is None else \
        f" and publisher_id in ({','.join('?' * len(publisher_ids))})"
    db.execute(f"update {schema}.files set report = json_set(report, '$.file', "
               f"archived_copy_path(sha256, url)) where json_valid(report) "
               f"and sha256 is not null{only}", publisher_ids or [])


def _quarantine_shown() -> dict[str, sa.ColumnElement]:
    """A quarantined row naming a private individual: its reasons and amount stay, its cells
    (which hold the name) do not."""
    personal = quarantine.c.personal_data.is_not(None)
    return {name: sa.case((personal, sa.null()), else_=quarantine.c[name])
            for name in ("mapped", "extra")}


def _withdrawn_shown(withheld: tuple[str, ...]) -> dict[str, sa.ColumnElement]:
    """A withdrawn payment to a name withheld elsewhere shows neither it nor its purpose (the
    warehouse already keeps neither for a payment flagged itself)."""
    if not withheld:
        return {}
    personal = withdrawn_payments.c.beneficiary_name.in_(withheld)
    return {name: sa.case((personal, sa.null()), else_=withdrawn_payments.c[name])
            for name in ("beneficiary_name", "purpose")}


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
    """The columns a row of TABLE stores: table_info leaves out the pounds it computes."""
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


def _index(db: sqlite3.Connection, combined: bool = True) -> None:
    """Full-text search, an index per faceted column, and the flow lookups by payee (the
    statistics for the query planner come once every table is filled). A publisher's own
    database goes without those that only the combined one uses (`COMBINED_INDEXES`)."""
    db.execute("insert into payments_fts(payments_fts) values ('rebuild')")
    for column in FACETS:
        if column != "publisher_id":
            db.execute(f"create index payments_{column} on payments({column})")
    db.execute("create index flows_payee on flows(payee_id, payer_id)")
    db.execute("create index flow_totals_payee on flow_totals(payee_id)")
    db.execute("create index flow_totals_biggest on flow_totals(payer_id, payee_is_publisher, "
               "amount_pence)")
    db.execute("create index supplier_aliases_supplier on supplier_aliases(supplier_id)")
    if combined:
        for statement in COMBINED_INDEXES:
            db.execute(statement)


# Indexes of the combined database alone: every payment of a publisher's own database has its
# publisher_id, and the supplier page (which sums a supplier's payments by publisher and year
# from the second alone) reads the combined database.
COMBINED_INDEXES = (
    "create index payments_publisher_id on payments(publisher_id)",
    "create index payments_supplier_totals on payments(supplier_id, publisher_id, "
    "payment_date, amount_pence)",
)


def _describe(generation: Path, names: list[str], known: dict[str, dict | None],
              built_from: dict) -> None:
    """metadata.json from the combined database's summary lines, and Datasette's inspect
    file (each table's count, each database's size) so immutable serving starts fast. A
    database in KNOWN with None is unchanged: its entry is kept; the combined database's
    payments are counted from the rows an update removed and added."""
    with closing(sqlite3.connect(generation / f"{COMBINED}.db")) as db:
        rows = pd.read_sql("select s.*, p.website, p.licence from publisher_summary s join "
                           "publishers p on p.id = s.publisher_id order by s.name", db)
    (generation / "metadata.json").write_text(
        json.dumps(site_metadata(rows), indent=2, ensure_ascii=False), encoding="utf-8")
    inspect = generation / "inspect.json"
    old = json.loads(inspect.read_text(encoding="utf-8")) if inspect.exists() else {}
    entries = {}
    for name in names:
        path = generation / f"{name}.db"
        delta = known.get(name, {})
        if delta is None and name in old:
            entries[name] = {**old[name], "file": str(path)}
            continue
        tables = old.get(name, {}).get("tables", {}) if delta else {}
        entries[name] = _inspected(path, built_from["publishers"].get(name, ""), tables, delta)
    temporary = inspect.with_name("inspect.json.new")
    temporary.write_text(json.dumps(entries, indent=2), encoding="utf-8")
    os.replace(temporary, inspect)


def _inspected(path: Path, fingerprint: str, before: dict, delta: dict | None) -> dict:
    """One database's entry of Datasette's inspect file, as `datasette inspect` writes it:
    every table's rows counted, except that with DELTA the payments (and their search index,
    which holds one entry per payment) are counted from BEFORE and the rows removed and added.
    The hash stands for what the database was built from: Datasette only shows it."""
    counts = {}
    with closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as db:
        for (table,) in db.execute("select name from sqlite_master where type = 'table'"):
            if delta and table in ("payments", "payments_fts") and table in before:
                counts[table] = before[table]["count"] - delta["removed"] + delta["added"]
            elif table == "payments_fts":
                counts[table] = db.execute("select count(*) from payments").fetchone()[0]
            else:
                counts[table] = db.execute(f'select count(*) from "{table}"').fetchone()[0]
    digest = hashlib.sha256(f"{path.name}:{fingerprint}".encode()).hexdigest()
    return {"hash": digest, "size": path.stat().st_size, "file": str(path),
            "tables": {table: {"count": count} for table, count in counts.items()}}
