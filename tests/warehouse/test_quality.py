"""The data-quality findings behind the Dagster asset checks."""

import json
import sqlite3

import pytest

from sources.registry import Publisher
from warehouse import quality
from warehouse.load import load_file, upsert_publisher
from warehouse.site import build_site

PUB = Publisher(id="testshire", org_id="GB-LAE-TST", name="Testshire Council", kind="council",
                website="https://testshire.example/spend")
HEADER = "Supplier Name,Payment Date,Amount,Transaction Number\n"


def rows(*lines: str) -> str:
    return HEADER + "".join(line + "\n" for line in lines)


@pytest.fixture
def load(engine, tmp_path):
    upsert_publisher(engine, PUB)

    def loader(name: str, text: str, url: str | None = None):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return load_file(engine, PUB, url or f"http://x/{name}", path)

    return loader


def test_conformance_fails_on_a_rejected_file_and_a_missing_required_column(engine, load):
    load("ok.csv", rows("ACME,01/04/2024,10,T1"))
    assert quality.conformance(engine, PUB.id).passed
    load("nodate.csv", "Supplier Name,Amount\nACME,10\n")
    load("glossary.csv", "EXAMPLES OF SPEND,\nCar hire,Vehicles\n")
    finding = quality.conformance(engine, PUB.id)
    assert not finding.passed
    assert sorted(finding.details["rejected"]) == ["http://x/glossary.csv", "http://x/nodate.csv"]


def test_reconciliation_holds_after_loading(engine, load):
    load("april.csv", rows("ACME,01/04/2024,10,T1", "BETA,02/04/2024,#REF!,T2"))
    finding = quality.reconciliation(engine, PUB.id)
    assert finding.passed and finding.details["files"] == 1


def test_duplicate_payments_are_found(engine, load):
    load("april.csv", rows("ACME,01/04/2024,10,T1", "ACME,01/04/2024,10,T1",
                           "ACME,01/04/2024,10,T2"))
    finding = quality.duplicates(engine, PUB.id)
    assert not finding.passed
    assert finding.details["repeated_rows"] == 1
    assert finding.details["examples"][0]["times"] == 2


def test_missing_months_between_first_and_last(engine, load):
    load("q.csv", rows("ACME,01/01/2024,10,T1", "ACME,01/04/2024,10,T2"))
    finding = quality.missing_months(engine, PUB.id)
    assert finding.details["missing"] == ["2024-02", "2024-03"]


@pytest.mark.parametrize(
    "published, late",
    [("2024-07-31", False), ("2024-08-01", True), ("Thu, 01 Aug 2024 10:00:00 GMT", True)],
)
def test_timeliness_is_quarter_end_plus_one_month(engine, load, published, late):
    load("june.csv", rows("ACME,28/06/2024,10,T1"))
    finding = quality.timeliness(engine, PUB.id, {"http://x/june.csv": published})
    assert finding.passed is not late


def test_header_drift_between_the_two_latest_files(engine, load):
    load("may.csv", rows("ACME,01/05/2024,10,T1"))
    load("june.csv", "Supplier Name,Payment Date,Amount,Purpose\nACME,01/06/2024,10,Salt\n")
    finding = quality.header_drift(engine, PUB.id)
    assert finding.details["added"] == ["Purpose"]
    assert finding.details["removed"] == ["Transaction Number"]


def test_site_has_a_database_per_publisher_and_a_combined_one(engine, load, tmp_path):
    load("april.csv", rows("ACME,01/04/2024,10,T1", "BETA,02/04/2024,#REF!,T2"))
    summary = build_site(engine, tmp_path / "site")
    assert summary.databases == ["moneytrail", "testshire"] and summary.payments == 1
    for name in summary.databases:
        with sqlite3.connect(tmp_path / "site" / f"{name}.db") as db:
            assert db.execute("select count(*) from payments").fetchone() == (1,)
            assert db.execute("select count(*) from quarantine").fetchone() == (1,)
    meta = json.loads((tmp_path / "site" / "metadata.json").read_text())
    assert meta["databases"]["testshire"]["title"] == "Testshire Council"
    assert meta["databases"]["testshire"]["license"] == "Open Government Licence v3.0"
    assert meta["databases"]["testshire"]["source_url"] == "https://testshire.example/spend"
    assert "pence" in meta["databases"]["testshire"]["tables"]["payments"]["columns"][
        "amount_pence"]
