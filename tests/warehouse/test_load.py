"""Loading file versions: one transaction, idempotent, superseding, never losing a row."""

import json

import pandas as pd
import pytest
import sqlalchemy as sa

from sources.registry import Publisher
from warehouse import load as loading
from warehouse.load import load_file, mark_withdrawn, upsert_publisher
from warehouse.tables import files, metadata, payments, publishers, quarantine

PUB = Publisher(id="testshire", org_id="GB-LAE-TST", name="Testshire Council", kind="council",
                gss_code="E07000999", population=100_000, commissioners=())
APRIL = (
    "Body Name,Supplier Name,Payment Date,Amount,Expense Area,Expense Type\n"
    "Testshire,ACME LTD,01/04/2024,\"1,000.00\",Highways,Salt\n"
    "Testshire,REDACTED PERSONAL DATA,02/04/2024,250.50,Adults,Care\n"
    "Testshire,BETA PLC,03/04/2024,#REF!,Highways,Grit\n"
)
REVISED = APRIL.replace("250.50", "260.50") + "Testshire,GAMMA LTD,04/04/2024,5.00,Parks,Seed\n"


@pytest.fixture
def write(tmp_path):
    def writer(name: str, text: str):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return writer


@pytest.fixture
def loaded(engine):
    upsert_publisher(engine, PUB)
    return engine


def snapshot(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key))]
                for t in metadata.sorted_tables}


def test_a_file_loads_valid_rows_and_quarantines_the_rest(loaded, write):
    outcome = load_file(loaded, PUB, "http://x/april.csv", write("april.csv", APRIL))
    assert (outcome.status, outcome.rows_loaded, outcome.rows_quarantined) == ("loaded", 2, 1)
    with loaded.connect() as conn:
        rows = conn.execute(sa.select(payments.c.beneficiary_name, payments.c.amount_pence,
                                      payments.c.source_row, payments.c.redaction_reason)
                            .order_by(payments.c.source_row)).all()
        held = conn.execute(sa.select(quarantine.c.source_row, quarantine.c.reasons)).all()
        file = conn.execute(sa.select(files)).mappings().one()
    assert rows == [("ACME LTD", 100000, 2, None),
                    ("REDACTED PERSONAL DATA", 25050, 3, "personal_data")]
    assert held == [(4, "Amount: spreadsheet_error '#REF!'")]
    assert (file["status"], file["version"], file["rows_read"]) == ("current", 1, 3)
    assert file["amount_total_pence"] == 125050
    assert json.loads(file["report"])["rows_quarantined"] == 1


def test_loading_the_same_file_again_changes_nothing(loaded, write):
    path = write("april.csv", APRIL)
    load_file(loaded, PUB, "http://x/april.csv", path)
    before = snapshot(loaded)
    assert load_file(loaded, PUB, "http://x/april.csv", path).status == "unchanged"
    assert snapshot(loaded) == before


def test_the_same_bytes_at_another_url_are_not_counted_twice(loaded, write):
    path = write("april.csv", APRIL)
    load_file(loaded, PUB, "http://x/april.csv", path)
    outcome = load_file(loaded, PUB, "http://x/copy-of-april.csv", path)
    assert outcome.status == "duplicate" and "http://x/april.csv" in outcome.message
    with loaded.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(payments)).scalar() == 2


def test_a_republished_file_supersedes_its_predecessor_and_keeps_history(loaded, write):
    first = load_file(loaded, PUB, "http://x/april.csv", write("april.csv", APRIL))
    second = load_file(loaded, PUB, "http://x/april.csv", write("april-v2.csv", REVISED))
    assert second.status == "loaded" and second.superseded == [first.file_id]
    with loaded.connect() as conn:
        versions = conn.execute(sa.select(files.c.version, files.c.status, files.c.superseded_by)
                                .order_by(files.c.version)).all()
        amounts = sorted(a for (a,) in conn.execute(sa.select(payments.c.amount_pence)))
        held = conn.execute(sa.select(quarantine.c.file_id)).scalars().all()
    assert versions == [(1, "superseded", second.file_id), (2, "current", None)]
    assert amounts == [500, 26050, 100000]
    assert held == [second.file_id]


def test_a_rejected_version_does_not_supersede_good_data(loaded, write):
    load_file(loaded, PUB, "http://x/april.csv", write("april.csv", APRIL))
    outcome = load_file(loaded, PUB, "http://x/april.csv",
                        write("notes.csv", "EXAMPLES OF SPEND,\nCar hire,Vehicles\n"))
    assert outcome.status == "rejected" and "no table of payments found" in outcome.message
    with loaded.connect() as conn:
        statuses = conn.execute(sa.select(files.c.status).order_by(files.c.id)).scalars().all()
        count = conn.execute(sa.select(sa.func.count()).select_from(payments)).scalar()
    assert statuses == ["current", "rejected"] and count == 2


def test_a_withdrawn_file_keeps_its_rows_and_comes_back_when_republished(loaded, write):
    path = write("april.csv", APRIL)
    load_file(loaded, PUB, "http://x/april.csv", path)
    assert mark_withdrawn(loaded, PUB.id, "http://x/april.csv", "HTTP 404")
    with loaded.connect() as conn:
        assert conn.execute(sa.select(files.c.status)).scalar() == "withdrawn"
        assert conn.execute(sa.select(sa.func.count()).select_from(payments)).scalar() == 2
    assert load_file(loaded, PUB, "http://x/april.csv", path).status == "unchanged"
    with loaded.connect() as conn:
        assert conn.execute(sa.select(files.c.status)).scalar() == "current"


def test_a_load_that_fails_part_way_leaves_nothing_behind(loaded, write, monkeypatch):
    calls = []
    real = loading._insert_rows

    def failing(conn, batch):
        calls.append(batch.table)
        if batch.table == "quarantine":
            raise RuntimeError("disk full")
        real(conn, batch)

    monkeypatch.setattr(loading, "_insert_rows", failing)
    with pytest.raises(RuntimeError):
        load_file(loaded, PUB, "http://x/april.csv", write("april.csv", APRIL))
    assert calls == ["payments", "quarantine"]
    with loaded.connect() as conn:
        for table in (files, payments, quarantine):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0


def test_publisher_upsert_is_idempotent(engine):
    upsert_publisher(engine, PUB)
    upsert_publisher(engine, PUB)
    with engine.connect() as conn:
        rows = pd.read_sql(sa.select(publishers), conn)
    assert rows[["id", "gss_code", "population"]].values.tolist() == [
        ["testshire", "E07000999", 100000]]


def test_a_url_that_goes_back_to_earlier_bytes_brings_that_version_back(loaded, write):
    first = load_file(loaded, PUB, "http://x/april.csv", write("april.csv", APRIL))
    second = load_file(loaded, PUB, "http://x/april.csv", write("april-v2.csv", REVISED))
    again = load_file(loaded, PUB, "http://x/april.csv", write("april-v1.csv", APRIL))
    assert again.status == "loaded" and again.file_id == first.file_id
    assert again.superseded == [second.file_id]
    with loaded.connect() as conn:
        versions = conn.execute(sa.select(files.c.id, files.c.version, files.c.status)
                                .order_by(files.c.id)).all()
        amounts = sorted(a for (a,) in conn.execute(sa.select(payments.c.amount_pence)))
    assert versions == [(first.file_id, 3, "current"), (second.file_id, 2, "superseded")]
    assert amounts == [25050, 100000]


def test_a_file_without_a_payee_column_is_refused_whole_with_the_reason(tmp_path):
    """Ministry of Defence card files have dates and amounts but no payee: the file is refused,
    naming the file and the missing field, instead of failing the load on a NOT NULL column."""
    from sources.registry import Publisher
    from warehouse.engine import connect
    from warehouse.load import load_file, upsert_publisher
    from warehouse.tables import payments

    path = tmp_path / "cards.csv"
    path.write_text("Transaction Date,Amount,Expense Type\n01/04/2024,600.00,Travel\n"
                    "02/04/2024,700.00,Hotels\n", encoding="utf-8")
    engine = connect(f"sqlite:///{tmp_path / 'warehouse.db'}")
    who = Publisher("mod", "GB-GOR-D9", "Ministry of Defence", "central_government")
    upsert_publisher(engine, who)
    outcome = load_file(engine, who, "http://example.invalid/cards.csv", path)
    assert outcome.status == "rejected"
    assert outcome.message == (
        "cards.csv: no column holds BeneficiaryName, which every payment needs")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(payments)).scalar() == 0
    engine.dispose()


def reopened_as_earlier_version(path, *statements):
    """A SQLite connection to a warehouse made at `path`, changed by `statements` to look as
    an earlier version left it, then opened again by this version."""
    import sqlite3
    from contextlib import closing

    from warehouse.engine import connect

    connect(f"sqlite:///{path}").dispose()
    with closing(sqlite3.connect(path)) as db:
        for statement in statements:
            db.execute(statement)
        db.commit()
    connect(f"sqlite:///{path}").dispose()
    return closing(sqlite3.connect(path))


def test_a_warehouse_from_an_earlier_version_gains_the_new_columns(tmp_path):
    """A column added to the schema since (payments.personal_data) is added, empty, to an
    existing warehouse when it is opened, so loads and the site build keep working."""
    with reopened_as_earlier_version(
            tmp_path / "warehouse.db", "alter table payments drop column personal_data",
            "alter table quarantine drop column personal_data") as db:
        for table in ("payments", "quarantine"):
            columns = [row[1] for row in db.execute(f"pragma table_info({table})")]
            assert "personal_data" in columns, table


def test_a_warehouse_from_an_earlier_version_loses_its_retired_indexes(tmp_path):
    """The (publisher, date) index of earlier versions is dropped when a warehouse is opened,
    and the publisher index that replaces it is made, so loads no longer maintain it."""
    with reopened_as_earlier_version(
            tmp_path / "warehouse.db", "drop index payments_publisher",
            "create index payments_publisher_date on payments (publisher_id, payment_date)") as db:
        names = {row[1] for row in db.execute("pragma index_list(payments)")}
    assert {"payments_publisher", "payments_file"} <= names
    assert "payments_publisher_date" not in names


@pytest.mark.parametrize("count", [1, loading.ROWS_PER_STATEMENT,
                                   2 * loading.ROWS_PER_STATEMENT + 5])
def test_a_batch_goes_in_whole_and_in_order_however_its_rows_divide_into_statements(
        engine, count):
    """SQLite takes a batch ROWS_PER_STATEMENT rows an INSERT, then the rest one by one;
    every row arrives, in order, with the values the file shares."""
    publisher = Publisher("order-trust", "GB-X-ORDER", "Order Trust", "council")
    upsert_publisher(engine, publisher)
    with engine.begin() as conn:
        file_id = conn.execute(files.insert().values(
            publisher_id=publisher.id, url="http://x/o.csv", sha256="ab" * 32, version=1,
            status="loading")).inserted_primary_key[0]
        frame = pd.DataFrame({"source_row": range(2, count + 2),
                              "beneficiary_name": [f"Payee {i}" for i in range(count)],
                              "payment_date": pd.Timestamp("2024-04-01"),
                              "date_precision": "day", "amount_pence": range(count)})
        shared = {"file_id": file_id, "publisher_id": publisher.id, "file_sha256": "ab" * 32}
        loading._insert_rows(conn, loading._rows(payments, frame, conn.dialect.name, shared))
    with engine.connect() as conn:
        got = conn.execute(sa.select(payments.c.source_row, payments.c.beneficiary_name,
                                     payments.c.file_id, payments.c.publisher_id,
                                     payments.c.file_sha256).order_by(payments.c.id)).all()
    assert [tuple(row) for row in got] == [
        (i + 2, f"Payee {i}", file_id, publisher.id, "ab" * 32) for i in range(count)]
