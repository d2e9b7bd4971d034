"""The year of each population: from the registry (mySociety's pop-2020: 2020) to the
warehouse, including a warehouse made before the column existed."""

import sqlite3
from contextlib import closing

import pytest
import sqlalchemy as sa

from sources.registry import load_registry
from warehouse.engine import connect
from warehouse.load import upsert_publisher
from warehouse.tables import publishers

COUNCIL = """  - id: testshire
    org_id: GB-LAE-TST
    name: Testshire Council
    kind: council
    population: 100000
"""


def _registry(tmp_path, text: str):
    path = tmp_path / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    return load_registry(path)


def test_every_uk_population_is_of_2020():
    registry = load_registry()
    with_population = [p for p in registry if p.population is not None]
    assert with_population
    assert {p.population_year for p in with_population} == {2020}
    assert {p.population_year for p in registry if p.population is None} == {None}


@pytest.mark.parametrize(("text", "year"), [
    (f"population_year: 2020\npublishers:\n{COUNCIL}", 2020),
    (f"population_year: 2020\npublishers:\n{COUNCIL}    population_year: 2023\n", 2023),
    (f"publishers:\n{COUNCIL}", None),  # not stated: the page says so
])
def test_a_population_takes_its_own_year_or_the_registrys(tmp_path, text, year):
    assert _registry(tmp_path, text)["testshire"].population_year == year


@pytest.mark.parametrize("value", ["2020", 20, True, 2.5])
def test_a_population_year_that_is_not_a_year_is_refused(tmp_path, value):
    text = f"publishers:\n{COUNCIL}    population_year: {value!r}\n".replace("'", '"')
    registry = _registry(tmp_path, text)
    assert list(registry) == []
    assert dict(registry.invalid) == {
        "testshire": f"population_year: {value!r} is not a year such as 2020"}


def test_a_warehouse_made_before_population_years_gains_the_column(tmp_path):
    path = tmp_path / "warehouse.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("create table publishers (id varchar(120) primary key, org_id varchar(80) "
                   "not null, name text not null, kind varchar(40) not null, gss_code "
                   "varchar(12), population bigint, licence varchar(40), website text, "
                   "commissioners text, status varchar(20), status_message text)")
        db.execute("insert into publishers (id, org_id, name, kind, population) values "
                   "('testshire', 'GB-LAE-TST', 'Testshire Council', 'council', 100000)")
        db.commit()
    engine = connect(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            before = conn.execute(sa.select(publishers.c.population,
                                            publishers.c.population_year)).all()
        upsert_publisher(engine, _registry(tmp_path, f"population_year: 2020\npublishers:\n"
                                                     f"{COUNCIL}")["testshire"])
        with engine.connect() as conn:
            after = conn.execute(sa.select(publishers.c.population,
                                           publishers.c.population_year)).all()
    finally:
        engine.dispose()
    assert (before, after) == ([(100000, None)], [(100000, 2020)])
