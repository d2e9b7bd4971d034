"""A private individual the demo world names (a foster carer) is flagged in the private
warehouse and appears nowhere in the published site: no database, table, column or search
index holds the name, while the payment's amount still counts."""

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
