"""The ingest benchmark's messy-file generator and harness, small: no timings are asserted.

The figures come from `python -m benchmarks.ingest`; here the generator's promises are checked
against a real load, so the benchmark can trust them when it reconciles a big one.
"""

import json
import os

import pytest
import sqlalchemy as sa

from benchmarks import ingest
from benchmarks.messy import HEADERS, write_messy_csv
from sources.headers import load_crosswalk
from warehouse.engine import connect
from warehouse.load import load_file, upsert_publisher
from warehouse.tables import files, payments, quarantine

ROWS = 4_000


@pytest.fixture
def loaded(tmp_path):
    made = write_messy_csv(tmp_path / "messy.csv", ROWS, seed=7, clean=tmp_path / "tidy.csv")
    engine = connect(f"sqlite:///{tmp_path / 'warehouse.db'}")
    upsert_publisher(engine, ingest.PUBLISHER)
    outcome = load_file(engine, ingest.PUBLISHER, ingest.URL, made.path)
    yield made, outcome, engine
    engine.dispose()


def test_the_load_reconciles_with_what_the_generator_wrote(loaded):
    made, outcome, engine = loaded
    with engine.connect() as conn:
        count, pence = conn.execute(
            sa.select(sa.func.count(), sa.func.sum(payments.c.amount_pence))).one()
        held = conn.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar()
        record = conn.execute(sa.select(files)).mappings().one()
    assert outcome.status == "loaded"
    assert made.reconciles(count, held, pence) == []
    assert (count, held) == (outcome.rows_loaded, outcome.rows_quarantined)
    assert count + held == made.rows == ROWS
    assert 0 < held < ROWS * 0.01
    assert record["amount_total_pence"] == made.total_pence
    assert record["encoding"] == "cp1252"
    assert json.loads(record["report"])["skipped"] == made.skipped
    assert made.reconciles(count - 1, held, pence)  # and it notices when a row is lost


def test_every_quirk_is_in_the_file(loaded):
    made, _, engine = loaded
    raw = made.path.read_bytes()
    assert raw.startswith("Expenditure over £500".encode("cp1252"))
    for quirk in ("£", "(", " ,", "REDACTED", "Personal Information", "’", "–", "/", "-"):
        assert quirk.encode("cp1252") in raw, quirk
    assert b"\r\n\r\n" in raw  # an empty line among the rows
    with engine.connect() as conn:
        reasons = conn.execute(sa.select(quarantine.c.reasons)).scalars().all()
        dates = conn.execute(sa.select(sa.func.min(payments.c.payment_date),
                                       sa.func.max(payments.c.payment_date))).one()
    assert any("Amount: type" in r for r in reasons)
    assert any("PaymentDate: type" in r for r in reasons)
    assert any("BeneficiaryName: required" in r for r in reasons)
    assert tuple(str(d) for d in dates) == ("2023-04-01", "2024-03-31")


def test_header_spellings_are_real_and_map_to_their_field(corpus):
    variants = (corpus / "HEADER_VARIANTS.tsv").read_text(encoding="utf-8")
    crosswalk = load_crosswalk()
    for field, spellings in HEADERS.items():
        for spelling in spellings:
            assert f"'{spelling}'" in variants, spelling
            found = crosswalk.lookup(spelling)
            assert (found[0] if found else None) == field, spelling


def test_same_seed_same_bytes(tmp_path):
    one = write_messy_csv(tmp_path / "one.csv", 3_000, seed=5)
    two = write_messy_csv(tmp_path / "two.csv", 3_000, seed=5)
    other = write_messy_csv(tmp_path / "other.csv", 3_000, seed=6)
    assert one.path.read_bytes() == two.path.read_bytes() != other.path.read_bytes()
    assert (one.loaded, one.loaded_pence) == (two.loaded, two.loaded_pence)


def test_quick_run_reports_every_target_in_the_shared_shape():
    result = ingest.run(quick=True)
    assert result["benchmark"] == "ingest"
    names = [t["name"] for t in result["targets"]]
    assert len(names) == 6 and any("PostgreSQL" in n for n in names)
    for target in result["targets"]:
        assert set(target) == {"name", "measured", "unit", "target", "met", "baseline",
                               "ratio", "note"}
        assert target["met"] is None  # quick runs check the harness, they give no verdicts
    assert {"cpus", "python", "sqlite"} <= set(result["machine"])


def test_the_warm_up_file_is_read_in_a_separate_process(tmp_path):
    """The warm-up must start the server that forks reading processes, or the first timed
    round pays for starting it: its file must be at least PARALLEL_MIN_BYTES."""
    from warehouse.preparing import PARALLEL_MIN_BYTES, _in_separate_process

    made = write_messy_csv(tmp_path / "warm.csv", ingest.WARM_UP_ROWS, ingest.SEED + 1)
    assert made.path.stat().st_size >= PARALLEL_MIN_BYTES
    assert _in_separate_process(made.path) or os.environ.get("MONEYTRAIL_LOAD_PROCESSES") == "0"
