"""The distributed Dagster deployment: the pipeline through 1, 2 and 4 Celery workers.

    python -m benchmarks.cluster [--quick] [--workers 1 2 4] [--publishers N --months M]
                                 [--scale S] [--postgres URL] [--json PATH]

Two worlds, each served over local HTTP by sources.demo_server.LocalServer:
- the demo world (sources.demo_world: six publishers, about 2,300 payments);
- a simulated year of England (benchmarks.england), scaled down by default so that the whole
  benchmark takes a few minutes: 24 publishers x 3 months (--quick: 6 x 2 at a fiftieth of
  the rows, and 1 and 2 workers only); the full year is --publishers 400 --months 12.

For each world and each number of workers N, a fresh cluster (orchestration.cluster.Cluster:
its own RabbitMQ broker, N Celery workers, the Dagster daemon and webserver, a Dagster
database of its own) is started, its start-up timed on its own; then `run_on_cluster` (every
publisher's `harvest_job` run and then the `site_job` run) is timed end to end into a fresh
PostgreSQL warehouse. Before a time is reported the warehouse is checked against the truth:
for the demo world, payments, quarantined rows and pence by publisher equal what the
single-machine path (`orchestration.runner.run_pipeline`, in-process, SQLite) loads from the
same world; for England they equal what the generator wrote (`World.expected()`). A run
that does not reconcile gives no figure. Both databases are dropped afterwards, whatever
happened. The single-machine path is timed on the same world as a reference line.

Figures: per world, the seconds through N workers with the 1-worker time as baseline and the
speed-up t1 / tN as ratio; each cluster's start-up; and the single-machine run, with the
2-worker cluster's time as baseline and t_cluster(2) / t_single as ratio (how many times the
single machine is faster). There are no targets: only ratios are reported (met is None).

This machine has 2 cores: the workers, the run processes the daemon launches, the broker,
the daemon, the webserver, PostgreSQL and the HTTP server all share them, so 4 workers cannot
beat 2 here (and 2 cannot be twice 1); whatever is measured is reported as measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from benchmarks.england import CACHE, make_world, write_registry
from benchmarks.ingest import NotReconciled, _print, _target
from benchmarks.site_latency import machine, revision
from benchmarks.userpath import publisher_totals
from orchestration.cluster import (
    DEFAULT_POSTGRES,
    Cluster,
    ClusterSettings,
    drop_database,
    ensure_database,
    run_on_cluster,
)
from sources.demo_server import LocalServer
from sources.demo_world import build_demo_world
from warehouse.engine import connect, connect_url

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "docs" / "results" / "cluster.json"
SIZES = {"workers": (1, 2, 4), "publishers": 24, "months": 3, "scale": 1.0,
         "run_timeout": 1800.0}
QUICK = {"workers": (1, 2), "publishers": 6, "months": 2, "scale": 0.02,
         "run_timeout": 600.0}
SEED = 1
TARGET = "speed-up vs 1 worker"
# The warehouse run_pipeline writes when this is unset: DATA_DIR/warehouse.db (SQLite).
WAREHOUSE_SETTING = "MONEYTRAIL_WAREHOUSE_URL"

Totals = dict[str, tuple[int, int, int]]  # publisher -> payments, quarantined rows, pence


def run(quick: bool = False, workers: tuple[int, ...] | None = None,
        publishers: int | None = None, months: int | None = None, scale: float | None = None,
        postgres: str | None = None, cache: Path = CACHE) -> dict:
    """Measure both worlds through each number of workers (default 1, 2, 4; 1, 2 with
    `quick`); `publishers`, `months` and `scale` size the England world."""
    sizes = dict(QUICK if quick else SIZES)
    sizes |= {k: v for k, v in {"workers": tuple(workers) if workers else None,
                                "publishers": publishers, "months": months,
                                "scale": scale}.items() if v is not None}
    sizes["workers"] = tuple(sorted(set(sizes["workers"]) | {1}))  # 1 is every baseline
    server = postgres or os.environ.get("MONEYTRAIL_BENCH_POSTGRES", DEFAULT_POSTGRES)
    _reachable(server)
    work = Path(tempfile.mkdtemp(prefix="moneytrail-cluster-"))
    details: dict = {"postgres": _without_password(server)}
    try:
        targets = _demo(work / "demo", sizes, server, details)
        targets += _england(work / "england", sizes, server, Path(cache), details)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"benchmark": "cluster", "targets": targets, "machine": machine(),
            "code": revision(), "sizes": {**sizes, "workers": list(sizes["workers"])},
            "details": details}


# --- the worlds ------------------------------------------------------------------------------


def _demo(work: Path, sizes: dict, server: str, details: dict) -> list[dict]:
    (work / "www").mkdir(parents=True)
    with LocalServer(work / "www") as http:
        world = build_demo_world(work, http.url)
        _say(f"demo world: {len(world.truth['publishers'])} publishers, "
             f"{len(world.truth['files'])} files, served at {http.url}")
        single_s, truth, statuses = _single(world.registry_path, work / "single-data", None)
        _say(f"   single machine (run_pipeline, SQLite): {single_s:.1f} s, "
             f"{sum(t[0] for t in truth.values()):,} payments: the truth for the cluster runs")
        runs = _through_workers("demo", world.registry_path, work, sizes, server, truth,
                                statuses)
    details["demo"] = {"publishers": len(truth), "payments": sum(t[0] for t in truth.values()),
                       "single_s": round(single_s, 2), "runs": runs}
    return _targets("demo world", f"{len(truth)} publishers, "
                    f"{sum(t[0] for t in truth.values()):,} payments", runs, single_s)


def _england(work: Path, sizes: dict, server: str, cache: Path, details: dict) -> list[dict]:
    world = make_world(sizes["publishers"], sizes["months"], SEED, sizes["scale"], cache,
                       progress=_say)
    expected = world.expected()
    shape = f"{len(world.publishers)} x {sizes['months']}"
    _say(f"England world: {len(world.publishers)} publishers, {len(world.files):,} files, "
         f"{world.rows:,} rows")
    work.mkdir(parents=True)
    with LocalServer(world.www) as http:
        registry = write_registry(world, http.url, work / "registry.yaml")
        single_s, _, statuses = _single(registry, work / "single-data", expected)
        _say(f"   single machine (run_pipeline, SQLite): {single_s:.1f} s, reconciled")
        runs = _through_workers("england", registry, work, sizes, server, expected,
                                statuses)
    details["england"] = {"publishers": len(world.publishers), "months": sizes["months"],
                          "scale": sizes["scale"], "files": len(world.files),
                          "rows": world.rows, "single_s": round(single_s, 2), "runs": runs}
    return _targets(f"England {shape}", f"{len(world.files):,} files, {world.rows:,} rows",
                    runs, single_s)


def _single(registry: Path, data_dir: Path, expected: Totals | None
            ) -> tuple[float, Totals, dict[str, str]]:
    """The single-machine path on the world, timed: run_pipeline in this process into a
    SQLite warehouse in a fresh data dir; what it loaded (checked against `expected` when
    given), and each publisher's status at the end."""
    from orchestration.runner import run_pipeline

    saved = os.environ.pop(WAREHOUSE_SETTING, None)
    try:
        started = time.perf_counter()
        lines = run_pipeline(registry, data_dir, allow_private=True)
        seconds = time.perf_counter() - started
    finally:
        if saved is not None:
            os.environ[WAREHOUSE_SETTING] = saved
    held = _holdings(f"sqlite:///{data_dir / 'warehouse.db'}")
    if expected is not None:
        _reconcile(held, expected, f"run_pipeline (single machine, {seconds:.1f} s)")
    failed = _failed_runs(lines)
    if failed:
        raise NotReconciled(f"run_pipeline: publishers' runs failed: {failed[:5]}")
    shutil.rmtree(data_dir, ignore_errors=True)
    return seconds, held, _statuses(lines)


def _through_workers(world: str, registry: Path, work: Path, sizes: dict, server: str,
                     truth: Totals, statuses: dict[str, str]) -> dict[int, dict]:
    runs = {}
    for count in sizes["workers"]:
        runs[count] = _cluster_run(world, count, registry, work / f"cluster-{count}", sizes,
                                   server, truth)
        differ = {publisher: (statuses.get(publisher), status)
                  for publisher, status in runs[count].pop("statuses").items()
                  if statuses.get(publisher) != status}
        runs[count]["statuses_unlike_single_machine"] = differ
        if differ:
            _say(f"      publishers' statuses unlike the single machine's (single, cluster): "
                 f"{differ}")
    return runs


def _statuses(lines: list) -> dict[str, str]:
    return {line.publisher_id: line.status for line in lines}


def _cluster_run(world: str, count: int, registry: Path, work: Path, sizes: dict,
                 server: str, truth: Totals) -> dict:
    """One fresh cluster of `count` workers: its start-up, then run_on_cluster into a fresh
    warehouse, timed and reconciled; both databases dropped afterwards."""
    tag = uuid.uuid4().hex[:8]
    dagster_db, warehouse_db = f"mt_bench_dagster_{tag}", f"mt_bench_wh_{tag}"
    settings = ClusterSettings(work / "cluster", workers=count, postgres=server,
                               dagster_db=dagster_db, run_timeout=sizes["run_timeout"])
    said: list[str] = []
    _say(f"   {world}, {count} worker(s): starting a cluster")
    try:
        url = ensure_database(server, warehouse_db)
        started = time.perf_counter()
        with Cluster(settings, tell=said.append) as cluster:
            startup = time.perf_counter() - started
            _say(f"      started in {startup:.1f} s (UI {cluster.ui_url})")
            began = time.perf_counter()
            lines = run_on_cluster(cluster, registry, work / "data", url, allow_private=True,
                                   progress=_progress(began), tell=said.append)
            seconds = time.perf_counter() - began
            census = _census(cluster)
        stopped = time.perf_counter() - began - seconds
        failed = _failed_runs(lines)
        if failed:
            raise NotReconciled(f"{world} through {count} worker(s): runs failed: "
                                f"{failed[:5]}")
        _reconcile(_holdings(url), truth, f"{world} through {count} worker(s), "
                                          f"{seconds:.1f} s,")
    finally:
        for database in (warehouse_db, dagster_db):
            try:
                drop_database(server, database)
            except Exception as failure:  # any driver error: say so, do not hide the first
                _say(f"      could not drop database {database}: {failure}")
        shutil.rmtree(work, ignore_errors=True)
    by_worker = next((s.removeprefix("steps by worker: ") for s in said
                      if s.startswith("steps by worker")), "")
    _say(f"      ran in {seconds:.1f} s, reconciled; steps by worker: {by_worker}; runs: "
         f"{census['runs']} ({census['retries']} retries, {census['failed']} failed); "
         f"stopped in {stopped:.1f} s")
    failed_checks: dict[str, int] = {}
    for line in lines:
        for check in line.failed_checks or ():
            failed_checks[check] = failed_checks.get(check, 0) + 1
    return {"startup_s": round(startup, 2), "run_s": round(seconds, 2),
            "stop_s": round(stopped, 2), "steps_by_worker": by_worker, **census,
            "failed_checks": failed_checks, "statuses": _statuses(lines)}


def _failed_runs(lines: list) -> list[str]:
    """The end-of-run lines of publishers whose run failed (after any retries), as
    `summaries` and run_pipeline write them; a publisher whose file the pipeline refused
    (the demo world's HTML page served for a spreadsheet) is an outcome, not a failure."""
    return [f"{line.publisher_id}: {line.message}" for line in lines
            if line.status == "error" and line.message.startswith("run ")
            and " failed: " in line.message]


def _census(cluster: Cluster) -> dict:
    """The runs in the cluster's (fresh) Dagster instance: how many, retries among them, and
    how many ended in failure."""
    runs = cluster.instance.get_runs()
    return {"runs": len(runs),
            "retries": sum(1 for r in runs if "dagster/root_run_id" in r.tags),
            "failed": sum(1 for r in runs if r.status.value == "FAILURE"),
            "failed_runs": [f"{r.job_name} {r.tags.get('dagster/partition', '')} "
                            f"{r.run_id[:8]}" for r in runs if r.status.value == "FAILURE"]}


# --- what a warehouse holds ------------------------------------------------------------------


def _holdings(url: str) -> Totals:
    """By publisher: (payments, quarantined rows, pence of the payments)."""
    engine = connect(url)
    try:
        with engine.connect() as conn:
            return publisher_totals(conn)
    finally:
        engine.dispose()


def _reconcile(held: Totals, expected: Totals, doing: str) -> None:
    """Raise NotReconciled unless the warehouse holds exactly the expected totals."""
    nothing = (0, 0, 0)
    wrong = [f"{publisher}: expected {want} (payments, quarantined, pence), the warehouse "
             f"holds {held.get(publisher, nothing)}"
             for publisher, want in expected.items() if held.get(publisher, nothing) != want]
    wrong += [f"{publisher}: not expected, yet {got} in the warehouse"
              for publisher, got in held.items() if publisher not in expected and got != nothing]
    if wrong:
        shown = wrong[:5] + ([f"and {len(wrong) - 5} more"] if len(wrong) > 5 else [])
        raise NotReconciled(f"{doing} did not reconcile: " + "; ".join(shown))


# --- the figures -----------------------------------------------------------------------------


def _targets(world: str, size: str, runs: dict[int, dict], single_s: float) -> list[dict]:
    one = runs[1]["run_s"]
    targets = []
    for count, measured in runs.items():
        targets.append(_target(
            f"{world}: run through {count} worker(s)", measured["run_s"], "s", TARGET, None,
            one, one / measured["run_s"],
            f"{size}; run_on_cluster end to end (every publisher's harvest_job run, then "
            f"site_job) on a fresh cluster into a fresh PostgreSQL warehouse, reconciled; "
            f"baseline: 1 worker; ratio: speed-up t1 / t{count}; steps by worker: "
            f"{measured['steps_by_worker']}; {measured['retries']} retries"))
    first = runs[1]["startup_s"]
    for count, measured in runs.items():
        targets.append(_target(
            f"{world}: cluster start-up, {count} worker(s)", measured["startup_s"], "s",
            "report only", None, first, measured["startup_s"] / first,
            "Cluster.start: broker, workers answering, daemon, webserver serving; baseline: "
            "the 1-worker cluster's; ratio: this / that"))
    two = 2 if 2 in runs else max(runs)
    cluster_s = runs[two]["run_s"]
    targets.append(_target(
        f"{world}: single machine (run_pipeline, SQLite)", single_s, "s", "report only",
        None, cluster_s, cluster_s / single_s,
        f"{size}; orchestration.runner.run_pipeline in-process into a SQLite data dir, "
        f"reconciled; baseline: the run through {two} workers; ratio: t_cluster({two}) / "
        f"t_single"))
    return targets


def _progress(began: float) -> Callable[[str], None]:
    def say(line: str) -> None:
        _say(f"      {time.perf_counter() - began:6.1f} s  {line}")
    return say


def _say(line: str) -> None:
    print(line, flush=True)


def _reachable(server: str) -> None:
    engine = sa.create_engine(connect_url(server), connect_args={"connect_timeout": 5})
    try:
        with engine.connect():
            pass
    except Exception as failure:  # any driver or network error: say which server and why
        raise RuntimeError(f"PostgreSQL at {_without_password(server)} is not reachable: "
                           f"{type(failure).__name__}: {failure}") from failure
    finally:
        engine.dispose()


def _without_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}://{credentials}{at}{host}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cluster",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small worlds, 1 and 2 workers: checks the benchmark works")
    parser.add_argument("--workers", type=int, nargs="+",
                        help="numbers of workers (default 1 2 4; --quick 1 2); 1 is always "
                             "run, as every ratio's baseline")
    parser.add_argument("--publishers", type=int, help="England: publishers (default 24)")
    parser.add_argument("--months", type=int, help="England: months of files each (default 3)")
    parser.add_argument("--scale", type=float, help="England: multiplies every file's rows "
                                                    "(default 1; --quick 0.02)")
    parser.add_argument("--postgres", help=f"a PostgreSQL server whose user may create "
                                           f"databases (default {DEFAULT_POSTGRES})")
    parser.add_argument("--cache", type=Path, default=CACHE,
                        help=f"where generated worlds are kept and reused (default {CACHE})")
    parser.add_argument("--json", metavar="PATH", default=str(RESULT),
                        help=f"where to write the figures (default {RESULT})")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    result = run(args.quick, tuple(args.workers) if args.workers else None, args.publishers,
                 args.months, args.scale, args.postgres, args.cache)
    result = {"generated_at": started.isoformat(timespec="seconds"), "quick": args.quick,
              "command": " ".join(["python -m benchmarks.cluster",
                                   *(sys.argv[1:] if argv is None else argv)]), **result}
    _print(result)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
