"""Ingest speed and memory on generated messy spending files, against baselines in-process.

    python -m benchmarks.ingest [--rows 1000000] [--quick] [--json PATH]

Each figure is a median over --runs runs taken in rounds that time moneytrail and its
baseline one after the other, so the noise of a shared machine falls on both alike:

- ingest: `warehouse.load.load_file` (read, map, validate, load) of a generated messy CSV
  (benchmarks.messy) into a fresh SQLite warehouse, in rows per second;
- against `pandas.read_csv(dtype=str)` + `DataFrame.to_sql` of the same file into a fresh
  SQLite file (the bare baseline: no mapping, no validation);
- against `frictionless validate` (its Python API) of the same rows written tidy, as UTF-8
  headed by the schema's field names with plain amounts and dd/mm/yyyy dates, against the
  same fields of schemas/spend.json: frictionless cannot read the messy file's title line,
  header spellings or £ amounts, so it is given the easier file;
- peak resident memory of a separate process ingesting a 2-million-row file, against the
  same process's peak before it ingests; a file that large is read in a process of its own
  (warehouse.preparing), whose peak is added: the figure is both processes' peaks summed;
- time per row at 100k, 1M and 5M rows;
- the same ingest into the real PostgreSQL, in a throwaway schema, beside SQLite.

Every load is checked against what the generator wrote: rows loaded + quarantined = rows
generated, the right rows quarantined, the loaded pence equal. A load that does not
reconcile gives no figure.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from benchmarks.messy import COLUMNS, MessyFile, write_messy_csv
from benchmarks.site_latency import machine, revision
from schemas.descriptors import load_descriptor
from sources.registry import Publisher
from warehouse.engine import connect
from warehouse.load import load_file, upsert_publisher
from warehouse.preparing import cpu_seconds
from warehouse.tables import files, payments, quarantine

ROWS = 1_000_000
RSS_ROWS = 2_000_000
SCALING_ROWS = (100_000, 1_000_000, 5_000_000)
RUNS = 3
QUICK = {"rows": 3_000, "rss_rows": 6_000, "scaling": (1_000, 3_000, 9_000), "runs": 1}
TARGET_ROWS_PER_S = 100_000
TARGET_PANDAS_RATIO = 2.5
TARGET_FRICTIONLESS_SPEEDUP = 2.0
TARGET_RSS_MIB = 1024
TARGET_SCALING_SPREAD = 0.20
POSTGRES_URL = os.environ.get("MONEYTRAIL_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PUBLISHER = Publisher("bench-council", "GB-LAE-BENCH", "Borsetshire County Council", "council")
URL = "https://bench.invalid/spend.csv"
SEED = 1


class NotReconciled(AssertionError):
    """A load lost, invented or mis-sorted rows or pence: its timing is not a figure."""


def run(quick: bool = False, rows: int = ROWS) -> dict:
    """Measure every target; `quick` uses tiny files (seconds) and gives no verdicts."""
    sizes = QUICK if quick else {"rows": rows, "rss_rows": RSS_ROWS, "scaling": SCALING_ROWS,
                                 "runs": RUNS}
    work = Path(tempfile.mkdtemp(prefix="moneytrail-ingest-"))
    try:
        return _measure(work, sizes, quick)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(work: Path, sizes: dict, quick: bool) -> dict:
    made = _generate(work, sizes["rows"], clean=True)
    _warm_up(work, 500 if quick else WARM_UP_ROWS)
    ingest, pandas_s, frictionless_s = [], [], []
    cpu: dict[str, list] = {"loader_cpu_s": [], "reader_cpu_s": []}
    for _ in range(sizes["runs"]):
        ingest.append(_ingest_sqlite(work, made))
        cpu["loader_cpu_s"].append(round(LAST_OUTCOME["loader_cpu_s"], 2))
        cpu["reader_cpu_s"].append(LAST_OUTCOME["outcome"].preparer_cpu_s)
        pandas_s.append(_pandas_baseline(work, made))
        frictionless_s.append(_frictionless(made, work / "tidy.csv"))
    details = {"rows": made.rows, "runs": sizes["runs"], "ingest_s": ingest,
               "pandas_s": pandas_s, "frictionless_s": frictionless_s, **cpu}
    targets = [*_speed_targets(made.rows, ingest, pandas_s, frictionless_s),
               _memory_target(work, sizes["rss_rows"], details),
               _scaling_target(work, sizes["scaling"], made, ingest, details),
               _postgres_target(work, made, ingest, details)]
    if quick:
        for target in targets:
            target["met"] = None
    return {"benchmark": "ingest", "targets": targets, "machine": machine(),
            "code": revision(), "details": details}


def _generate(work: Path, rows: int, clean: bool = False) -> MessyFile:
    started = time.perf_counter()
    made = write_messy_csv(work / f"messy-{rows}.csv", rows, SEED,
                           clean=work / "tidy.csv" if clean else None)
    print(f"   generated {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    return made


# Rows of the warm-up file: enough bytes to be read in a separate process (PARALLEL_MIN_BYTES),
# so that the server forking those processes is started before the first timed run.
WARM_UP_ROWS = 20_000


def _warm_up(work: Path, rows: int = WARM_UP_ROWS) -> None:
    """Load a small file once, so that what a process does once (lazily built caches, the
    server that forks reading processes) does not count against the first run."""
    _ingest_sqlite(work, write_messy_csv(work / "warm.csv", rows, SEED + 1))


def _ingest_sqlite(work: Path, made: MessyFile) -> float:
    database = work / "warehouse.db"
    engine = connect(f"sqlite:///{database}")
    try:
        return _timed_load(engine, made)
    finally:
        engine.dispose()
        for path in work.glob("warehouse.db*"):
            path.unlink()


LAST_OUTCOME: dict = {}


def _timed_load(engine: sa.Engine, made: MessyFile) -> float:
    """Seconds to load the file, after checking the load reconciled to the generator."""
    upsert_publisher(engine, PUBLISHER)
    cpu = cpu_seconds()
    started = time.perf_counter()
    outcome = load_file(engine, PUBLISHER, URL, made.path)
    seconds = time.perf_counter() - started
    LAST_OUTCOME["outcome"] = outcome
    LAST_OUTCOME["loader_cpu_s"] = cpu_seconds() - cpu
    with engine.connect() as conn:
        loaded, pence = conn.execute(sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(payments.c.amount_pence), 0))).one()
        held = conn.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar()
        total = conn.execute(sa.select(files.c.amount_total_pence)).scalar()
    wrong = made.reconciles(loaded, held, int(pence))
    if outcome.status != "loaded":
        wrong.append(f"the load was {outcome.status}: {outcome.message}")
    if total != made.total_pence:
        wrong.append(f"the file's amounts total {total} pence, expected {made.total_pence}")
    if wrong:
        raise NotReconciled(f"{made.path.name}: " + "; ".join(wrong))
    reader = (f", reading process {outcome.preparer_cpu_s:.1f} s"
              if outcome.preparer_cpu_s is not None else "")
    print(f"   ingest {made.rows:,} rows ({engine.dialect.name}): {seconds:.1f} s, "
          f"{made.rows / seconds:,.0f} rows/s, reconciled; CPU: loading process "
          f"{LAST_OUTCOME['loader_cpu_s']:.1f} s{reader}", flush=True)
    return seconds


def _pandas_baseline(work: Path, made: MessyFile) -> float:
    """pandas.read_csv(dtype=str) + DataFrame.to_sql of the same file into a fresh SQLite.

    With pyarrow installed, pandas makes its text columns Arrow strings, which this baseline
    then converts back to Python objects for to_sql: slower here. The baseline uses pandas'
    Python strings, its faster configuration for this job, so our dependency does not flatter
    the ratio.
    """
    database = work / "baseline.db"
    started = time.perf_counter()
    with pd.option_context("mode.string_storage", "python"):
        frame = pd.read_csv(made.path, dtype=str, encoding=made.encoding,
                            skiprows=made.header_line - 1)
        with sqlite3.connect(database) as db:
            frame.to_sql("spend", db, index=False)
    seconds = time.perf_counter() - started
    database.unlink()
    print(f"   pandas read_csv + to_sql: {seconds:.1f} s", flush=True)
    return seconds


def _frictionless(made: MessyFile, tidy: Path) -> float:
    """frictionless validate of the tidy twin; it must see every row and every bad one."""
    from frictionless import Resource, Schema

    spend = {f["name"]: f for f in load_descriptor("spend")["fields"]}
    schema = Schema.from_descriptor({"fields": [spend[name] for name in COLUMNS if name]})
    resource = Resource(path=tidy.name, basepath=str(tidy.parent), schema=schema,
                        format="csv", encoding="utf-8")
    started = time.perf_counter()
    report = resource.validate(limit_errors=made.rows + 1)
    seconds = time.perf_counter() - started
    stats = report.tasks[0].stats
    if stats.get("rows") != made.rows or stats.get("errors") != made.quarantined:
        raise NotReconciled(f"frictionless saw {stats.get('rows')} rows and "
                            f"{stats.get('errors')} errors, not {made.rows} and "
                            f"{made.quarantined}")
    print(f"   frictionless validate: {seconds:.1f} s", flush=True)
    return seconds


def _speed_targets(rows: int, ingest: list[float], pandas_s: list[float],
                   frictionless_s: list[float]) -> list[dict]:
    ingest_s, pandas_m, frictionless_m = map(statistics.median,
                                             (ingest, pandas_s, frictionless_s))
    speed = rows / ingest_s
    return [
        _target(f"ingest {rows:,} messy rows into SQLite", speed, "rows/s",
                f">= {TARGET_ROWS_PER_S:,} rows/s", speed >= TARGET_ROWS_PER_S,
                rows / pandas_m, speed / (rows / pandas_m),
                "baseline: pandas read_csv + to_sql rows/s; ratio: ingest speed / baseline's"),
        _target("ingest time / pandas read_csv + to_sql", ingest_s, "s",
                f"<= {TARGET_PANDAS_RATIO} x baseline",
                ingest_s / pandas_m <= TARGET_PANDAS_RATIO, pandas_m, ingest_s / pandas_m,
                "median seconds of both, timed in alternating runs"),
        _target("speed-up over frictionless validate", ingest_s, "s",
                f">= {TARGET_FRICTIONLESS_SPEEDUP} x faster",
                frictionless_m / ingest_s >= TARGET_FRICTIONLESS_SPEEDUP, frictionless_m,
                frictionless_m / ingest_s,
                "baseline: frictionless validate of the tidy twin (UTF-8, schema headers, "
                "plain amounts) against the same spend.json fields; ratio: its time / ingest's"),
    ]


def _memory_target(work: Path, rows: int, details: dict) -> dict:
    made = _generate(work, rows)
    before, loader, preparer, seconds = _peak_rss(made, work / "rss.db")
    peak = loader + (preparer or 0)
    details |= {"rss_rows": rows, "rss_before_mib": before, "rss_peak_mib": peak,
                "rss_loader_peak_mib": loader, "rss_preparer_peak_mib": preparer,
                "rss_ingest_s": seconds}
    return _target(f"peak RSS ingesting {rows:,} rows", peak, "MiB",
                   f"<= {TARGET_RSS_MIB} MiB", peak <= TARGET_RSS_MIB, before, peak / before,
                   f"the loading process's peak ({loader:.0f} MiB) plus the peak of the process "
                   f"that read the file ({preparer or 0:.0f} MiB); the load runs in a process of "
                   "its own; baseline: its peak before the ingest (Python, "
                   "moneytrail and the warehouse connection loaded)")


def _peak_rss(made: MessyFile, database: Path) -> tuple[float, float, float | None, float]:
    """(MiB before, peak MiB, the reading process's peak MiB or None, seconds) of a child
    process that ingests the file."""
    expected = {k: v for k, v in dataclasses.asdict(made).items() if k != "path"}
    answer = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest", "--child", str(made.path), str(database),
         json.dumps(expected)],
        capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parents[1])
    if answer.returncode:
        raise NotReconciled(f"the ingest process failed: {answer.stderr.strip()[-2000:]}")
    figures = json.loads(answer.stdout.strip().splitlines()[-1])
    made.path.unlink()
    return (figures["before_mib"], figures["peak_mib"], figures["preparer_peak_mib"],
            figures["seconds"])


def _child(path: Path, database: Path, expected: str) -> None:
    """The memory measurement's process: ingest one file, print peak RSS as JSON."""
    made = MessyFile(path=path, **json.loads(expected))
    engine = connect(f"sqlite:///{database}")
    before = _peak_mib()
    seconds = _timed_load(engine, made)
    print(json.dumps({"before_mib": before, "peak_mib": _peak_mib(), "seconds": seconds,
                      "preparer_peak_mib": LAST_OUTCOME["outcome"].preparer_peak_mib}))


def _peak_mib() -> float:
    """This process's peak resident memory. Linux's VmHWM, not getrusage's ru_maxrss, which a
    process started by fork and exec inherits from its parent's peak."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _scaling_target(work: Path, sizes: tuple[int, ...], main: MessyFile, main_s: list[float],
                    details: dict) -> dict:
    per_row: dict[int, float] = {}
    for rows in sizes:
        if rows == main.rows:
            seconds = statistics.median(main_s)
        else:
            made = _generate(work, rows)
            # Sizes below the main one are cheap to repeat: their median, like the main size's.
            repeats = len(main_s) if rows < main.rows else 1
            seconds = statistics.median(_ingest_sqlite(work, made) for _ in range(repeats))
            made.path.unlink()
        per_row[rows] = seconds / rows * 1e6
    spread = max(per_row.values()) / min(per_row.values()) - 1
    details["scaling_us_per_row"] = {str(k): round(v, 2) for k, v in per_row.items()}
    shown = ", ".join(f"{rows:,}: {us:.1f}" for rows, us in per_row.items())
    first = per_row[sizes[0]]
    return _target("time per row, spread across sizes", spread * 100, "%",
                   f"<= {TARGET_SCALING_SPREAD:.0%}", spread <= TARGET_SCALING_SPREAD, first,
                   max(per_row.values()) / min(per_row.values()),
                   f"microseconds per row at {shown}; baseline: at {sizes[0]:,} rows")


def _postgres_target(work: Path, made: MessyFile, sqlite_s: list[float], details: dict) -> dict:
    name = f"ingest {made.rows:,} messy rows into PostgreSQL"
    sqlite_speed = made.rows / statistics.median(sqlite_s)
    try:
        seconds = _in_throwaway_schema(lambda engine: _timed_load(engine, made))
    except sa.exc.OperationalError as failure:
        reason = f"PostgreSQL at {POSTGRES_URL} is not reachable: {type(failure).__name__}"
        print(f"   skipped: {reason}", flush=True)
        return _target(name, None, "rows/s", "reported beside SQLite", None, sqlite_speed,
                       None, f"skipped: {reason}")
    details["postgres_s"] = seconds
    speed = made.rows / seconds
    return _target(name, speed, "rows/s", "reported beside SQLite", None, sqlite_speed,
                   speed / sqlite_speed, "baseline: the SQLite ingest's rows/s (median); "
                   "rows go in by COPY")


def _in_throwaway_schema(work: Callable[[sa.Engine], float]) -> float:
    schema = f"mt_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        engine = connect(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
        try:
            return work(engine)
        finally:
            engine.dispose()
            with admin.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    finally:
        admin.dispose()


def _target(name: str, measured: float | None, unit: str, target: str, met: bool | None,
            baseline: float | None, ratio: float | None, note: str) -> dict:
    return {"name": name, "measured": _round(measured), "unit": unit, "target": target,
            "met": met, "baseline": _round(baseline), "ratio": _round(ratio, 3), "note": note}


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _print(result: dict) -> None:
    header = f"{'target':<46} {'measured':>14} {'baseline':>12} {'ratio':>7}  met"
    print(f"\n{header}\n{'-' * len(header)}")
    for t in result["targets"]:
        measured = "-" if t["measured"] is None else f"{t['measured']:,.1f} {t['unit']}"
        baseline = "-" if t["baseline"] is None else f"{t['baseline']:,.1f}"
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}"
        met = {True: "met", False: "NOT MET", None: "-"}[t["met"]]
        print(f"{t['name'][:46]:<46} {measured:>14} {baseline:>12} {ratio:>7}  {met}")
        print(f"    target {t['target']}; {t['note']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS, help="rows in the main file")
    parser.add_argument("--quick", action="store_true", help="tiny files, seconds, no verdicts")
    parser.add_argument("--json", metavar="PATH", help="also write the result here")
    parser.add_argument("--child", nargs=3, metavar=("FILE", "DB", "EXPECTED"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(Path(args.child[0]), Path(args.child[1]), args.child[2])
        return 0
    result = run(quick=args.quick, rows=args.rows)
    _print(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
