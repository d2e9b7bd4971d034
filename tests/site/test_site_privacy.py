"""A private individual the demo world names (a foster carer) is flagged in the private
warehouse and appears nowhere in the published site: no database, table, column or search
index holds the name, while the payment's amount still counts. A payee flagged on some of its
payments only is withheld on all of them, and is never a supplier or a flow."""

import sqlite3
from contextlib import closing

from schemas.privacy import WITHHELD
from sources.demo_world import PERSON, generate_ledger

NAME = "Ashworth"


def _person_payments():
    return [p for p in generate_ledger().after_republish() if p.entity == PERSON]


def test_the_warehouse_keeps_the_name_flagged(demo):
    _, _, data = demo
    with closing(sqlite3.connect(data / "warehouse.db")) as db:
        flagged = db.execute("select beneficiary_name, personal_data, sum(amount_pence), "
                             "count(*) from payments where beneficiary_name like ? "
                             "group by 1, 2", (f"%{NAME}%",)).fetchall()
    people = _person_payments()
    assert flagged == [(people[0].payee, "title", sum(p.pence for p in people), len(people))]


def test_no_site_database_holds_the_name_anywhere(demo):
    _, site_dir, _ = demo
    databases = sorted(site_dir.glob("*.db"))
    assert len(databases) > 1
    for path in databases:
        with closing(sqlite3.connect(path)) as db:
            tables = [r[0] for r in db.execute(
                "select name from sqlite_master where type in ('table', 'view')")]
            for table in tables:
                columns = [r[1] for r in db.execute(f'pragma table_info("{table}")')]
                for column in columns:
                    hits = db.execute(f'select count(*) from "{table}" where '
                                      f'cast("{column}" as text) like ?', (f"%{NAME}%",))
                    assert hits.fetchone()[0] == 0, f"{path.name}: {table}.{column}"
    (site_dir / "metadata.json").read_text(encoding="utf-8").index("{")  # exists
    assert NAME not in (site_dir / "metadata.json").read_text(encoding="utf-8")


def test_the_site_shows_the_payment_withheld_and_its_money_still_counts(demo):
    _, site_dir, _ = demo
    people = _person_payments()
    with closing(sqlite3.connect(site_dir / "moneytrail.db")) as db:
        shown = db.execute("select beneficiary_name, personal_data, supplier_id, payee_key, "
                           "sum(amount_pence), count(*) from payments where personal_data "
                           "is not null group by 1, 2, 3, 4").fetchall()
    assert shown == [(WITHHELD, "title", None, None, sum(p.pence for p in people), len(people))]


# Payees the guard withholds on some rows and not on others: by the row's category, by its
# supplier type; and one it withholds everywhere (a title). None may reach the site by name.
MIXED = """Organisation Name,Payment Date,Supplier Name,Supplier Type,Amount,Expense Type
Testshire Council,01/04/2024,Adewunmi Oriolowo,,600.00,Direct Payments
Testshire Council,02/04/2024,Adewunmi Oriolowo,,40.00,Transport
Testshire Council,03/04/2024,Colin Dewhurst,,250.00,Fees
Testshire Council,04/04/2024,Colin Dewhurst,Company,300.00,Fees
Testshire Council,05/04/2024,Mrs Q Pennyworth,,75.00,Fees
Testshire Council,06/04/2024,Acme Ltd,Company,700.00,Supplies
"""
WITHHELD_NAMES = ("Oriolowo", "Dewhurst", "Pennyworth")


def test_a_payee_withheld_on_one_row_is_withheld_on_all_and_never_a_supplier(tmp_path):
    from sources.registry import Publisher, Registry
    from warehouse import flows
    from warehouse.engine import connect
    from warehouse.load import load_file, upsert_publisher
    from warehouse.site import build_site

    path = tmp_path / "spend.csv"
    path.write_text(MIXED, encoding="utf-8")
    engine = connect(f"sqlite:///{tmp_path / 'warehouse.db'}")
    publisher = Publisher("testshire", "GB-LAE-TST", "Testshire Council", "council")
    upsert_publisher(engine, publisher)
    assert load_file(engine, publisher, "http://example.invalid/spend.csv", path).rows_loaded == 6
    flows.rebuild(engine, Registry({publisher.id: publisher}))
    with closing(sqlite3.connect(tmp_path / "warehouse.db")) as db:
        flagged = dict(db.execute("select beneficiary_name, count(personal_data) from payments "
                                  "group by 1"))
        suppliers = db.execute("select id, name from suppliers").fetchall()
        aliases = db.execute("select spelling, supplier_id from supplier_aliases").fetchall()
    # The warehouse keeps what the guard decided, row by row...
    assert flagged == {"Adewunmi Oriolowo": 1, "Colin Dewhurst": 1, "Mrs Q Pennyworth": 1,
                       "Acme Ltd": 0}
    # ... and resolves none of those names into a supplier.
    assert [spelling for spelling, _ in aliases] == ["Acme Ltd"]
    assert [name for _, name in suppliers] == ["Acme Ltd"]

    build_site(engine, tmp_path / "site")
    engine.dispose()
    for db_path in sorted((tmp_path / "site").glob("*.db")):
        with closing(sqlite3.connect(db_path)) as db:
            for name in WITHHELD_NAMES:
                for slug in (name, name.lower()):
                    assert _tables_holding(db, slug) == [], (db_path.name, slug)
                hits = db.execute("select count(*) from payments_fts where payments_fts "
                                  "match ?", (name,)).fetchone()[0]
                assert hits == 0, (db_path.name, name)
            shown = db.execute("select beneficiary_name, count(*), sum(amount_pence), "
                               "count(supplier_id) from payments group by 1 order by 1"
                               ).fetchall()
            payees = db.execute("select payee_id from flows").fetchall()
        assert shown == [("Acme Ltd", 1, 70000, 1), (WITHHELD, 5, 126500, 0)], db_path.name
        assert all(not any(n.lower() in p.lower() for n in WITHHELD_NAMES) for (p,) in payees)


def _tables_holding(db: sqlite3.Connection, text: str) -> list[str]:
    """Every table.column of a site database whose text holds `text`."""
    found = []
    tables = [r[0] for r in db.execute("select name from sqlite_master where type = 'table'")]
    for table in tables:
        for column in [r[1] for r in db.execute(f'pragma table_info("{table}")')]:
            query = f'select count(*) from "{table}" where instr(cast("{column}" as text), ?)'
            if db.execute(query, (text,)).fetchone()[0]:
                found.append(f"{table}.{column}")
    return found
