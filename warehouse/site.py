"""Build the published site from the warehouse: one SQLite database per publisher, one combined.

The combined database is built first, physically (Datasette can attach only ten databases), with
full-text search, indexes on every faceted column and summary tables, so landing pages and charts
never scan the payments table; each publisher's database is then cut from it.
"""

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

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
COPY_CHUNK_ROWS = 200_000


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
    combined = building / f"{COMBINED}.db"
    with sqlite3.connect(combined) as db:
        _create(db)
        _copy_warehouse(engine, db)
        _derive(db, engine, published or {})
    everyone = _publisher_ids(combined)
    for publisher_id in everyone:
        _cut(combined, building / f"{publisher_id}.db", publisher_id)
    with sqlite3.connect(combined) as db:
        count = db.execute("select count(*) from payments").fetchone()[0]
        rows = pd.read_sql("select s.*, p.website, p.licence from publisher_summary s join "
                           "publishers p on p.id = s.publisher_id order by s.name", db)
    names = [COMBINED, *everyone]
    (building / "metadata.json").write_text(
        json.dumps(site_metadata(rows), indent=2, ensure_ascii=False), encoding="utf-8")
    _inspect(building, names)
    _swap(building, site_dir)
    return SiteSummary(site_dir, names, count)


def _create(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    for ddl in TABLES.values():
        db.execute(ddl)


def _copy_warehouse(engine: sa.Engine, db: sqlite3.Connection) -> None:
    """Publishers, files, live payments (with their file's URL) and quarantine."""
    for table in (publishers, files, quarantine, suppliers, supplier_aliases, flows):
        for chunk in _chunks(engine, sa.select(table)):
            _insert(db, table.name, chunk)
    who = _who_is_who(db)
    query = (sa.select(payments, files.c.url.label("source_url"))
             .join(files, payments.c.file_id == files.c.id)
             .where(files.c.status.in_(LIVE)))
    for chunk in _chunks(engine, query):
        _insert(db, "payments", _site_payments(chunk, who))


def _who_is_who(db: sqlite3.Connection) -> dict[tuple, tuple]:
    """(publisher, spelling, company no., charity no.) → (payee key, supplier id, payee
    publisher id): resolved once per spelling, not once per payment."""
    rows = db.execute("select a.publisher_id, a.spelling, a.company_number, a.charity_number, "
                      "a.payee_key, a.supplier_id, s.publisher_id from supplier_aliases a "
                      "left join suppliers s on s.id = a.supplier_id")
    return {tuple(row[:4]): tuple(row[4:]) for row in rows}


def _chunks(engine: sa.Engine, query) -> Iterator[pd.DataFrame]:
    with engine.connect() as conn:
        yield from pd.read_sql(query, conn, chunksize=COPY_CHUNK_ROWS)


def _site_payments(chunk: pd.DataFrame, who: dict[tuple, tuple]) -> pd.DataFrame:
    """The warehouse's payment rows with the columns the site facets and searches on."""
    date = chunk["payment_date"].astype("string").str.slice(0, 10)
    resolved = [who.get(tuple(None if pd.isna(v) else v for v in row), (None, None, None))
                for row in chunk[["publisher_id", "beneficiary_name", "company_number",
                                  "charity_number"]].itertuples(index=False, name=None)]
    return chunk.assign(
        payment_date=date,
        month=date.str.slice(0, 7),
        payee_key=[r[0] for r in resolved],
        supplier_id=[r[1] for r in resolved],
        payee_publisher_id=[r[2] for r in resolved],
        service=_first(chunk, "service_category", "department"),
        expense_type=_first(chunk, "expense_type", "merchant_category", "procurement_category"),
        purpose=_first(chunk, "purpose", "narrative"),
    )


def _first(chunk: pd.DataFrame, *columns: str) -> pd.Series:
    value = chunk[columns[0]]
    for column in columns[1:]:
        value = value.fillna(chunk[column])
    return value.fillna("(not stated)")


def _insert(db: sqlite3.Connection, table: str, frame: pd.DataFrame) -> None:
    columns = [row[1] for row in db.execute(f"pragma table_info({table})")]
    frame = frame[[c for c in columns if c in frame.columns]]
    marks = ",".join("?" * len(frame.columns))
    names = ",".join(f'"{c}"' for c in frame.columns)
    rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
    db.executemany(f"insert into {table} ({names}) values ({marks})", rows)


def _derive(db: sqlite3.Connection, engine: sa.Engine, published: dict) -> None:
    """Summaries, quality scorecards, full-text search and indexes."""
    for sql in SUMMARIES:
        db.execute(sql)
    for publisher_id, in db.execute("select id from publishers").fetchall():
        cards = scorecard.scorecard(engine, publisher_id, published.get(publisher_id, {}))
        db.executemany("insert into scorecard values (?,?,?,?,?,?)",
                       [(publisher_id, *card) for card in cards])
    db.execute(scorecard.SUMMARY_SQL)
    _index(db)


def _index(db: sqlite3.Connection) -> None:
    """Full-text search, an index per faceted column, and the flow lookups by payee."""
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
    db.execute("analyze")


def _publisher_ids(combined: Path) -> list[str]:
    with sqlite3.connect(combined) as db:
        return [r[0] for r in db.execute("select id from publishers order by id")]


def _cut(combined: Path, target: Path, publisher_id: str) -> None:
    """A publisher's own database: its rows of every table, with the same indexes and search."""
    with sqlite3.connect(target) as db:
        _create(db)
        db.execute("attach database ? as whole", (str(combined),))
        for table in [*TABLES]:
            if table == "payments_fts":
                continue
            db.execute(f"insert into {table} select * from whole.{table} where "
                       f"{CUT.get(table, 'publisher_id = :p')}", {"p": publisher_id})
        db.commit()
        db.execute("detach database whole")
        _index(db)


# How each table is cut down to one publisher's rows (default: its publisher_id).
CUT = {
    "publishers": "id = :p",
    "flows": "payer_id = :p",
    "flow_totals": "payer_id = :p",
    "publisher_flows": "payer_id = :p or payee_id = :p",
    "suppliers": "id in (select supplier_id from whole.supplier_aliases where publisher_id = :p)",
}


def _inspect(building: Path, names: list[str]) -> None:
    """Datasette's inspect file: table counts computed once, so immutable serving starts fast."""
    command = [sys.executable, "-m", "datasette", "inspect",
               *[str(building / f"{n}.db") for n in names],
               "--inspect-file", str(building / "inspect.json")]
    subprocess.run(command, check=True, capture_output=True)


def _swap(building: Path, site_dir: Path) -> None:
    old = site_dir.with_name(site_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if site_dir.exists():
        site_dir.rename(old)
    building.rename(site_dir)
    shutil.rmtree(old, ignore_errors=True)


