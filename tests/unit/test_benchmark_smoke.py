"""The benchmark's synthetic warehouse, small: complete, deterministic and buildable into a site;
and the `python -m benchmarks` harness, run quick.

No timings are asserted here: the figures come from `make bench` (`python -m benchmarks`).
"""

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from benchmarks import __main__ as bench
from benchmarks.synthetic import RARE_ROWS, RARE_SUPPLIER, RARE_TERM, make_warehouse
from schemas.descriptors import load_descriptor
from warehouse.engine import connect
from warehouse.site import build_site

PAYMENTS = 2_000
PUBLISHERS = 6


def _rows(path: Path, sql: str, *params) -> list[tuple]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql, params).fetchall()


def test_generator_fills_every_table_and_required_column(tmp_path):
    path = make_warehouse(tmp_path / "warehouse.db", PAYMENTS, publishers=PUBLISHERS, seed=3)
    assert _rows(path, "select count(*) from payments") == [(PAYMENTS,)]
    assert _rows(path, "select count(*) from publishers") == [(PUBLISHERS,)]
    assert _rows(path, "select count(*), sum(rows_read), count(distinct status) from files") == [
        (PUBLISHERS * 12, PAYMENTS, 1)]
    required = [f["name"] for f in load_descriptor("payment")["fields"]
                if f.get("constraints", {}).get("required")]
    assert {"publisher_id", "amount_pence", "beneficiary_name"} <= set(required)
    for column in [*required, "file_id"]:
        assert _rows(path, f"select count(*) from payments where {column} is null") == [(0,)]
    assert _rows(path, "select count(*) from payments where beneficiary_name = ?",
                 RARE_SUPPLIER) == [(RARE_ROWS,)]
    # Every payment's file belongs to its publisher and carries the file's hash.
    assert _rows(path, "select count(*) from payments p join files f on f.id = p.file_id "
                       "where f.publisher_id != p.publisher_id or f.sha256 != p.file_sha256"
                 ) == [(0,)]
    [(redacted, negative)] = _rows(path, "select sum(redaction_reason is not null), "
                                         "sum(amount_pence < 0) from payments")
    assert 0 < redacted < PAYMENTS * 0.1 and 0 < negative < PAYMENTS * 0.1


def test_same_seed_same_rows(tmp_path):
    one = make_warehouse(tmp_path / "one.db", PAYMENTS, publishers=PUBLISHERS, seed=3)
    two = make_warehouse(tmp_path / "two.db", PAYMENTS, publishers=PUBLISHERS, seed=3)
    other = make_warehouse(tmp_path / "other.db", PAYMENTS, publishers=PUBLISHERS, seed=4)
    for table in ("publishers", "files", "payments"):
        sql = f"select * from {table} order by 1"
        assert _rows(one, sql) == _rows(two, sql)
    assert _rows(one, "select * from payments order by 1") != _rows(
        other, "select * from payments order by 1")


def test_site_builds_from_the_synthetic_warehouse(tmp_path):
    path = make_warehouse(tmp_path / "warehouse.db", PAYMENTS, publishers=PUBLISHERS, seed=3)
    engine = connect(f"sqlite:///{path}")
    try:
        summary = build_site(engine, tmp_path / "site")
    finally:
        engine.dispose()
    assert summary.payments == PAYMENTS
    combined = tmp_path / "site" / "moneytrail.db"
    assert _rows(combined, "select count(*) from payments") == [(PAYMENTS,)]
    assert _rows(combined, "select count(*) from payments_fts where payments_fts match ?",
                 RARE_TERM) == [(RARE_ROWS,)]
    assert _rows(combined, "select count(*) from flows") != [(0,)]  # councils pay providers
    assert len(summary.databases) == PUBLISHERS + 1


def test_bench_harness_runs_every_benchmark_and_reports_a_missing_one(tmp_path, capsys):
    """`python -m benchmarks --quick`: one table and one JSON file, a row per target, and a
    benchmark that cannot run reported as an error row while the others still run."""
    out = tmp_path / "bench.json"
    status = bench.main(["--quick", "--only", "site", "no_such_benchmark", "--json", str(out)])
    assert status == 1  # the missing one
    printed = capsys.readouterr().out
    assert "benchmark" in printed and "ratio" in printed and "ERROR" in printed
    result = json.loads(out.read_text())
    assert result["quick"] is True and result["machine"]["cpus"] and "commit" in result["code"]
    site, missing = result["benchmarks"]
    assert missing["error"].startswith("not available") and missing["targets"] == []
    assert site["error"] is None and site["machine"]
    names = [t["name"] for t in site["targets"]]
    assert names[:2] == ["build_site (publish)", "warehouse.flows.rebuild"]
    assert {"landing page", "facet by service", "rare-term search"} <= set(names)
    for target in site["targets"]:
        assert set(target) >= {"name", "measured", "unit", "target", "met", "baseline", "ratio",
                               "note"}
        assert target["measured"] > 0 and target["baseline"] > 0 and target["ratio"] > 0
        assert target["met"] is None  # quick runs give no verdicts
        assert target["name"] in printed
