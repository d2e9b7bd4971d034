"""The site build's copy of the warehouse: whichever way it runs, the same tables and rows.

A SQLite warehouse is copied inside SQLite (INSERT … SELECT with the site attached); any other is
streamed through a cursor. Both are checked against each other, against a row-by-row derivation
in Python (what the site's columns mean), and a PostgreSQL warehouse against a SQLite one.
"""

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from schemas.privacy import WITHHELD
from tests.warehouse.conftest import postgres_schema
from warehouse import site
from warehouse.engine import connect
from warehouse.tables import LIVE, metadata

NOT_STATED = "(not stated)"


def tables(path: Path) -> dict[str, list[tuple]]:
    """Every table's rows, each value with its SQLite type, in a stable order."""
    with closing(sqlite3.connect(path)) as db:
        names = [r[0] for r in db.execute("select name from sqlite_master where type = 'table' "
                                          "and name not like 'sqlite_%' order by name")]
        return {name: sorted((tuple((type(v).__name__, v) for v in row)
                              for row in db.execute(f"select * from {name}")), key=repr)
                for name in names}


def schema(path: Path) -> list[tuple]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("select type, name, sql from sqlite_master order by name").fetchall()


@pytest.fixture(scope="module")
def warehouse(demo, tmp_path_factory) -> Path:
    """A copy of the demo's warehouse with what the demo lacks: a withdrawn file (its rows still
    count), quarantined rows, and payments that leave out the columns the site falls back on."""
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.db"
    with closing(sqlite3.connect(demo[2] / "warehouse.db")) as source, \
            closing(sqlite3.connect(path)) as db:
        source.backup(db)
        db.executescript(VARIETY)
    return path


VARIETY = """
update files set status = 'withdrawn'
    where id = (select min(id) from files where status = 'current');
insert into quarantine (file_id, publisher_id, sheet, source_row, reasons, amount_pence, mapped)
    select id, publisher_id, null, 7, '["amount_pence: not a number"]', null, '{}' from files;
update payments set service_category = null where id % 7 = 0;
update payments set service_category = null, department = null where id % 11 = 0;
update payments set expense_type = null, merchant_category = 'Fuel' where id % 5 = 0;
update payments set expense_type = null, procurement_category = 'Works' where id % 13 = 0;
update payments set purpose = null, narrative = 'as invoiced' where id % 3 = 0;
update payments set purpose = null, narrative = null where id % 17 = 0;
update payments set charity_number = '1000001' where id % 19 = 0;
"""


@pytest.fixture(scope="module")
def engine(warehouse):
    engine = connect(f"sqlite:///{warehouse}")
    yield engine
    engine.dispose()


@pytest.mark.parametrize("publisher_id", [None, "northmoor-borough-council"])
def test_copy_inside_sqlite_equals_the_streamed_copy(engine, warehouse, tmp_path, publisher_id):
    """The whole warehouse (for the combined database), or one publisher's rows."""
    attached, streamed = tmp_path / "attached.db", tmp_path / "streamed.db"
    for path in (attached, streamed):
        with closing(sqlite3.connect(path)) as db:
            site._create(db)
    site._copy_attached(engine, warehouse, attached, publisher_id)
    site._copy_streamed(engine, streamed, publisher_id)
    copied = tables(attached)
    assert all(copied[t] for t in ("publishers", "files", "quarantine", "payments", "suppliers",
                                   "supplier_aliases", "flows", "publisher_flows"))
    if publisher_id:
        assert {r[2][1] for r in copied["payments"]} == {publisher_id}
    assert copied == tables(streamed)


def test_site_payments_are_the_live_payments_with_their_derived_columns(engine, warehouse,
                                                                        tmp_path):
    """The site's payment rows, derived one at a time in Python from the warehouse rows."""
    target = tmp_path / "site.db"
    with closing(sqlite3.connect(target)) as db:
        site._create(db)
    site._copy_warehouse(engine, target)
    with closing(sqlite3.connect(target)) as db:
        db.row_factory = sqlite3.Row
        built = [dict(r) for r in db.execute("select * from payments order by id")]
    expected = sorted(_derived_in_python(warehouse), key=lambda r: r["id"])
    assert [{k: r[k] for k in expected[0]} for r in built] == expected
    assert all(r["id"] >= 2 ** 61 for r in built)  # every payment under its lasting key
    assert any(r["payee_publisher_id"] for r in expected)  # providers paid by councils
    assert any(r["redaction_reason"] and r["payee_key"] is None for r in expected)


def _derived_in_python(warehouse: Path):
    with closing(sqlite3.connect(warehouse)) as db:
        db.row_factory = sqlite3.Row
        payee_publisher = dict(db.execute("select id, publisher_id from suppliers"))
        who = {(a["publisher_id"], a["spelling"], a["company_number"], a["charity_number"]):
               (a["payee_key"], a["supplier_id"], payee_publisher.get(a["supplier_id"]))
               for a in db.execute("select * from supplier_aliases")}
        url = {f["id"]: f["url"] for f in db.execute(
            f"select id, url from files where status in {tuple(LIVE)}")}
        for p in db.execute("select * from payments order by id"):
            if p["file_id"] not in url:
                continue
            key, supplier, publisher = who.get((p["publisher_id"], p["beneficiary_name"],
                                                p["company_number"], p["charity_number"]),
                                               (None, None, None))
            # A private individual's name, and whatever could carry it, is withheld.
            person = p["personal_data"] is not None
            yield {"id": p["payment_key"] or p["id"], "file_id": p["file_id"],
                   "publisher_id": p["publisher_id"],
                   "payment_date": p["payment_date"][:10], "month": p["payment_date"][:7],
                   "amount_pence": p["amount_pence"],
                   "beneficiary_name": WITHHELD if person else p["beneficiary_name"],
                   "redaction_reason": p["redaction_reason"],
                   "personal_data": p["personal_data"], "payee_key": key,
                   "supplier_id": supplier, "payee_publisher_id": publisher,
                   "service": _first(p["service_category"], p["department"]),
                   "expense_type": _first(p["expense_type"], p["merchant_category"],
                                          p["procurement_category"]),
                   "purpose": _first(p["purpose"], None if person else p["narrative"]),
                   "narrative": None if person else p["narrative"],
                   "beneficiary_id": None if person else p["beneficiary_id"],
                   "source_url": url[p["file_id"]], "source_row": p["source_row"],
                   "extra": None if person else p["extra"]}


def _first(*values):
    return next((v for v in values if v is not None), NOT_STATED)


@pytest.fixture
def postgres_copy(engine):
    """The demo warehouse copied into a fresh PostgreSQL schema (skipped when unreachable)."""
    with postgres_schema() as postgres:
        with engine.connect() as source, postgres.begin() as target:
            for table in metadata.sorted_tables:
                # Newest first: a superseded file names the newer version that replaced it.
                newest = sa.select(table).order_by(*(c.desc() for c in table.primary_key))
                rows = [dict(r) for r in source.execute(newest).mappings()]
                if rows:
                    target.execute(table.insert(), rows)
        yield postgres


def test_site_from_postgres_equals_site_from_sqlite(engine, postgres_copy, tmp_path):
    from_sqlite = site.build_site(engine, tmp_path / "sqlite")
    from_postgres = site.build_site(postgres_copy, tmp_path / "postgres")
    assert from_postgres.databases == from_sqlite.databases
    assert from_postgres.payments == from_sqlite.payments > 0
    for name in from_sqlite.databases:
        one, other = (tmp_path / folder / f"{name}.db" for folder in ("sqlite", "postgres"))
        assert schema(one) == schema(other), name
        assert tables(one) == tables(other), name
