"""Publishing at scale: build the site from a synthetic warehouse, serve it with real Datasette
over HTTP and time the pages people use, against the performance targets.

    python -m benchmarks.site_latency [--payments 5000000] [--keep DIR] [--resolve] [--json FILE]

`run(quick)` gives the same figures to `python -m benchmarks`. The build is timed whole and step
by step, beside its baseline: a bare copy of the warehouse's payments table, timed just before
and just after it in the same process. Every page figure is a median (and p90) over --runs
requests after --warmup warm-up requests, taken in rounds that visit every page once, so noise on
a shared machine falls on all pages alike; each is also given as a ratio to the median of a
trivial request (/-/versions.json) measured in the same rounds. The ratios are the figures to
compare between machines.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from benchmarks.synthetic import RARE_ROWS, RARE_TERM, derive, make_warehouse
from warehouse import site
from warehouse.engine import connect
from warehouse.serving import datasette_arguments

BUILD_TARGET_S = 180.0
QUICK_PAYMENTS = 3_000
BASELINE = "/-/versions.json"
WAREHOUSE = "warehouse.db"


@dataclass
class Target:
    name: str
    path: str
    target_ms: float | None  # None: reported only
    times_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    check: str = ""

    def summary(self, baseline_ms: float | None) -> dict:
        median = statistics.median(self.times_ms) if self.times_ms else None
        p90 = _percentile(self.times_ms, 90) if self.times_ms else None
        met = None if self.target_ms is None else median is not None and median <= self.target_ms
        return {"name": self.name, "path": self.path, "target_ms": self.target_ms,
                "median_ms": _round(median), "p90_ms": _round(p90),
                "median_ratio": _ratio(median, baseline_ms), "p90_ratio": _ratio(p90, baseline_ms),
                "met": met,
                "requests": len(self.times_ms), "errors": self.errors[:5], "check": self.check}


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    command = ["python", "-m", "benchmarks.site_latency", *(argv if argv is not None
                                                               else sys.argv[1:])]
    report = measure(args, " ".join(command), echo=print)
    _print(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def run(quick: bool = False) -> dict:
    """The publishing targets for `python -m benchmarks`: the build at 5M payments (QUICK: a
    small warehouse, and no verdicts), against a bare copy of the payments table, and the three
    page latencies, against a trivial request, each measured in the same process."""
    argv = ["--payments", str(QUICK_PAYMENTS), "--publishers", "6", "--runs", "5",
            "--warmup", "1"] if quick else []
    args = _arguments(argv)
    report = measure(args, "python -m benchmarks" + (" --quick" if quick else ""),
                     echo=_silent if quick else print)
    return {"benchmark": "site", "targets": _harness_targets(report, quick),
            "machine": report["machine"], "report": report}


def measure(args: argparse.Namespace, command: str, echo=print) -> dict:
    """Generate (or reuse) the warehouse, build the site, serve it and time its pages."""
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="moneytrail-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    report: dict = {"payments": args.payments, "publishers": args.publishers, "seed": args.seed,
                    "machine": machine(), "code": revision(), "command": command}
    try:
        warehouse = work / WAREHOUSE
        _warehouse(warehouse, args, report, echo)
        site_dir = work / "site"
        echo("building the site", flush=True)
        report["copy_before_s"] = _bare_copy_s(warehouse, work / "bare-copy.db")
        engine = connect(f"sqlite:///{warehouse}")
        try:
            with _phase_timer() as phases:
                started = time.perf_counter()
                summary = site.build_site(engine, site_dir)
                report["build_s"] = round(time.perf_counter() - started, 2)
        finally:
            engine.dispose()
        report["copy_after_s"] = _bare_copy_s(warehouse, work / "bare-copy.db")
        report["copy_s"] = round(statistics.mean([report["copy_before_s"],
                                                  report["copy_after_s"]]), 3)
        report["build_ratio"] = _ratio_of(report["build_s"], report["copy_s"])
        report["build_phases_s"] = _phases(phases, report["build_s"])
        report["build_target_s"] = BUILD_TARGET_S
        report["build_met"] = report["build_s"] <= BUILD_TARGET_S
        report["site_bytes"] = sum(p.stat().st_size for p in site_dir.glob("*.db"))
        report["databases"] = len(summary.databases)
        echo(f"  built in {report['build_s']} s ({report['build_ratio']} x a bare copy of the "
             f"payments table, {report['copy_s']} s): {summary.payments:,} payments, "
             f"{len(summary.databases)} databases, {report['site_bytes'] / 1e9:.2f} GB",
             flush=True)
        for phase, seconds in report["build_phases_s"].items():
            echo(f"    {phase:<45} {seconds:7.1f} s", flush=True)
        publisher, supplier = _biggest(site_dir)
        report["landing_publisher"], report["supplier"] = publisher, supplier
        targets = _targets(publisher, args.common_term, supplier)
        with _serve(site_dir, args.port, work / "datasette.log") as (connection, started_s):
            report["server_start_s"] = round(started_s, 1)
            checks = _checks(connection, publisher, args.common_term, targets)
            report["checks"] = checks
            baseline = Target("baseline", BASELINE, None)
            _measure(connection, [baseline, *targets], args.runs, args.warmup)
        for target in targets:
            target.check = checks.get(target.name, "")
        base = statistics.median(baseline.times_ms) if baseline.times_ms else None
        report["baseline"] = baseline.summary(base)
        report["results"] = [t.summary(base) for t in targets]
        report["code_after"] = revision()
        return report
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _silent(*_args, **_kwargs) -> None:
    pass


def _warehouse(warehouse: Path, args: argparse.Namespace, report: dict, echo) -> None:
    """Reuse the warehouse if it holds --payments rows, else generate it; resolve its payees
    with warehouse.flows.rebuild (timed, beside a bare copy of its payments) when generated or
    when --resolve asks."""
    if _holds(warehouse, args.payments, args.publishers):
        echo(f"reusing {warehouse} ({args.payments:,} payments)", flush=True)
        report["generate_s"] = None
        if not args.resolve:
            return
    else:
        echo(f"generating {args.payments:,} payments into {warehouse}", flush=True)
        started = time.perf_counter()
        make_warehouse(warehouse, args.payments, args.publishers, args.seed, resolve=False)
        report["generate_s"] = round(time.perf_counter() - started, 1)
        echo(f"  generated in {report['generate_s']} s; resolving payees", flush=True)
    started = time.perf_counter()
    flows = derive(warehouse)
    report["resolve_s"] = round(time.perf_counter() - started, 2)
    report["resolve_copy_s"] = _bare_copy_s(warehouse, warehouse.with_name("bare-copy.db"))
    echo(f"  warehouse.flows.rebuild in {report['resolve_s']} s "
         f"(a bare copy of the payments: {report['resolve_copy_s']} s): {flows}", flush=True)


def _bare_copy_s(warehouse: Path, scratch: Path) -> float:
    """The build's baseline: seconds SQLite takes right now to copy the warehouse's payments
    table as it is (no joins, no indexes) into a new database on the same disk."""
    scratch.unlink(missing_ok=True)
    started = time.perf_counter()
    with contextlib.closing(sqlite3.connect(scratch)) as db:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("attach database ? as w", (str(warehouse),))
        db.execute("create table payments as select * from w.payments")
        db.commit()
    seconds = time.perf_counter() - started
    scratch.unlink()
    return round(seconds, 3)


def _harness_targets(report: dict, quick: bool) -> list[dict]:
    """The report as the rows `python -m benchmarks` prints: verdicts only at full size."""
    scale = "" if not quick else (f"quick run at {report['payments']:,} payments: the targets "
                                  f"are for 5,000,000, so no verdict")
    phases = ", ".join(f"{k} {v} s" for k, v in report["build_phases_s"].items()
                       if ":" not in k)
    rows = [{"name": "build_site (publish)", "measured": report["build_s"], "unit": "s",
             "target": f"< {BUILD_TARGET_S:.0f} s at 5M payments",
             "met": None if quick else report["build_met"], "baseline": report["copy_s"],
             "ratio": report["build_ratio"],
             "note": scale or f"{report['payments']:,} payments; baseline: a bare INSERT ... "
                              f"SELECT copy of the payments table; {phases}"}]
    if report.get("resolve_s") is not None:
        rows.append({"name": "warehouse.flows.rebuild", "measured": report["resolve_s"],
                     "unit": "s", "target": "report only (runs after each load)", "met": None,
                     "baseline": report["resolve_copy_s"],
                     "ratio": _ratio_of(report["resolve_s"], report["resolve_copy_s"]),
                     "note": scale or "baseline: a bare copy of the payments table"})
    base = report["baseline"]["median_ms"]
    for row in report["results"]:
        target = "report only" if row["target_ms"] is None else f"<= {row['target_ms']:.0f} ms"
        met = None if quick or row["target_ms"] is None or row["errors"] else row["met"]
        if row["errors"] and row["target_ms"] is not None:
            met = False
        rows.append({"name": row["name"], "measured": row["median_ms"], "unit": "ms median",
                     "target": target, "met": met, "baseline": base,
                     "ratio": row["median_ratio"],
                     "note": scale or f"baseline: {BASELINE} median; p90 {row['p90_ms']} ms; "
                                      f"{row['check']}"})
    return rows


def _ratio_of(value: float, baseline: float) -> float | None:
    return round(value / baseline, 2) if baseline else None


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.site_latency",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=5_000_000)
    parser.add_argument("--publishers", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", metavar="DIR",
                        help="work here and keep the warehouse and site (reused when the "
                             "warehouse already has --payments rows)")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON here")
    parser.add_argument("--runs", type=int, default=25, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per page first")
    parser.add_argument("--common-term", default="energy")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--resolve", action="store_true",
                        help="run warehouse.flows.rebuild again on a reused warehouse, timed")
    return parser.parse_args(argv)


def _targets(publisher: str, common: str, supplier: str | None) -> list[Target]:
    targets = [
        Target("landing page", f"/publisher/{publisher}", 300),
        Target("facet by service", "/moneytrail/payments?_facet=service&_size=0", 200),
        Target("rare-term search", f"/moneytrail/payments?_search={RARE_TERM}", 50),
        Target("common-term search", f"/moneytrail/payments?_search={quote(common)}", None),
        Target("payments table", "/moneytrail/payments", None),
    ]
    if supplier:
        targets.append(Target("supplier page", f"/supplier/{quote(supplier, safe='')}", None))
    return targets


def _holds(warehouse: Path, payments: int, publishers: int) -> bool:
    """The warehouse file exists and has exactly that many payments and publishers."""
    if not warehouse.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{warehouse}?mode=ro", uri=True)) as db:
            counts = db.execute("select (select count(*) from payments), "
                                "(select count(*) from publishers), "
                                "(select count(*) > 0 from flows)").fetchone()
    except sqlite3.Error:
        return False
    return counts == (payments, publishers, 1)


@contextlib.contextmanager
def _phase_timer() -> Iterator[dict[str, float]]:
    """Seconds spent in each step of build_site, by wrapping warehouse.site's helpers (and the
    SQL its _index step runs on the combined database) for the duration of one build. The
    databases are built several at a time, so the combined one's steps are given apart and the
    publishers' databases as a sum."""
    spent: dict[str, float] = defaultdict(float)
    combined = threading.local()
    originals = {name: getattr(site, name) for name in _PHASES}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            if name == "_build":
                combined.now = args[2] is None
            if name == "_index" and combined.now:
                args = (_TimedSQL(args[0], spent), *args[1:])
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phase = _PHASES[name]
                if isinstance(phase, tuple):
                    phase = phase[0] if combined.now else phase[1]
                if phase:
                    spent[phase] += time.perf_counter() - started
        return wrapper

    for name, function in originals.items():
        setattr(site, name, timed(name, function))
    try:
        yield spent
    finally:
        for name, function in originals.items():
            setattr(site, name, function)


# Each helper's phase: one for all, or (the combined database's, the publishers' databases').
_PHASES = {"_build_all": "databases (wall clock)",
           "_gather": "combined summaries gathered, analyze",
           "_describe": "metadata and inspect file",
           "_build": ("- combined database", "- publishers' databases (sum of their times)"),
           "_copy_warehouse": ("combined: copy", None),
           "_index": (None, None)}  # timed statement by statement (_TimedSQL)


def _phases(spent: dict[str, float], total: float) -> dict[str, float]:
    """The build's steps in order, the combined database's parts under it, and what is left
    (the scorecards, read from the warehouse first; the fingerprints; the swap)."""
    steps = ("databases (wall clock)", "combined summaries gathered, analyze",
             "metadata and inspect file")
    phases = {"scorecards, fingerprints, swap": total - sum(spent[k] for k in steps),
              "databases (wall clock)": spent["databases (wall clock)"],
              "- combined database": spent["- combined database"]}
    phases |= {k: v for k, v in spent.items() if k.startswith("combined: ")}
    phases["- publishers' databases (sum of their times)"] = spent[
        "- publishers' databases (sum of their times)"]
    phases |= {k: spent[k] for k in steps[1:]}
    return {k: round(v, 1) for k, v in phases.items()}


class _TimedSQL:
    """A sqlite3 connection that adds the time of each statement to its kind's total."""

    KINDS = (("insert into payments_fts", "combined: FTS rebuild"),
             ("create index", "combined: indexes"), ("analyze", "combined: analyze"),
             ("insert into publisher_summary", "combined: publisher summary"),
             ("insert into scorecard", "combined: other SQL"))

    def __init__(self, connection: sqlite3.Connection, spent: dict[str, float]) -> None:
        self._connection = connection
        self._spent = spent

    def execute(self, sql: str, *args):
        started = time.perf_counter()
        try:
            return self._connection.execute(sql, *args)
        finally:
            self._spent[self._kind(sql)] += time.perf_counter() - started

    def executemany(self, sql: str, *args):
        started = time.perf_counter()
        try:
            return self._connection.executemany(sql, *args)
        finally:
            self._spent[self._kind(sql)] += time.perf_counter() - started

    def __getattr__(self, name: str):
        return getattr(self._connection, name)

    def _kind(self, sql: str) -> str:
        text = " ".join(sql.split()).lower()
        kind = next((kind for start, kind in self.KINDS if text.startswith(start)), None)
        if kind is None and text.startswith("insert into "):  # a summary table
            kind = f"combined: {text.split()[2]}"
        return kind or "combined: other SQL"


def _biggest(site_dir: Path) -> tuple[str, str | None]:
    """The publisher with most payments, and the supplier paid most often (if resolved)."""
    combined = site_dir / f"{site.COMBINED}.db"
    with contextlib.closing(sqlite3.connect(combined)) as db:
        publisher = db.execute("select publisher_id from publisher_summary "
                               "order by payments desc limit 1").fetchone()[0]
        try:
            supplier = db.execute("select id from suppliers order by payments desc "
                                  "limit 1").fetchone()
        except sqlite3.Error:
            supplier = None
    return publisher, supplier[0] if supplier else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _serve(site_dir: Path, port: int, log: Path) -> Iterator[tuple[http.client.HTTPConnection,
                                                                   float]]:
    """Real Datasette serving the site, as deployed; yields a connection to it and how long it
    took to answer its first request; terminates it afterwards."""
    port = port or _free_port()
    command = [sys.executable, "-m", "datasette", "serve", "--host", "127.0.0.1",
               "--port", str(port), *datasette_arguments(site_dir)]
    started = time.perf_counter()
    with open(log, "wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    connection = None
    try:
        connection = _wait_for(server, port, log)
        yield connection, time.perf_counter() - started
    finally:
        if connection is not None:
            connection.close()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_for(server: subprocess.Popen, port: int, log: Path,
              timeout_s: float = 300) -> http.client.HTTPConnection:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"datasette exited with {server.returncode}:\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            status, _ = _get(connection, BASELINE)
            if status == 200:
                return connection
        except OSError:
            pass
        connection.close()
        time.sleep(0.25)
    raise RuntimeError(f"datasette did not answer on port {port} in {timeout_s:.0f} s")


def _get(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    except (http.client.HTTPException, ConnectionError):
        connection.close()  # the next request reconnects
        raise


def _timed_get(connection: http.client.HTTPConnection, path: str) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    status, body = _get(connection, path)
    return (time.perf_counter() - started) * 1000, status, body


def _measure(connection: http.client.HTTPConnection, targets: list[Target], runs: int,
             warmup: int) -> None:
    """Warm-up requests, then RUNS rounds each visiting every target once."""
    for target in targets:
        for _ in range(warmup):
            _get(connection, target.path)
    for _ in range(runs):
        for target in targets:
            try:
                ms, status, _ = _timed_get(connection, target.path)
            except (OSError, http.client.HTTPException) as error:
                target.errors.append(f"{type(error).__name__}: {error}")
                continue
            if status == 200:
                target.times_ms.append(ms)
            else:
                target.errors.append(f"HTTP {status} after {ms:.0f} ms")


def _checks(connection: http.client.HTTPConnection, publisher: str, common: str,
            targets: list[Target]) -> dict:
    """That each page really shows what it should: facet counts not dropped by the facet time
    limit, the rare term found in its planted rows, the landing page rendered."""
    checks = {}
    status, body = _get(connection, f"/publisher/{publisher}")
    checks["landing page"] = (f"HTTP {status}, {len(body):,} bytes, charts "
                              f"{'present' if b'<svg' in body else 'MISSING'}")
    # Datasette 0.65's JSON leaves out facets_timed_out: a facet that timed out is simply
    # missing from facet_results there, and named in the HTML page's facets-timed-out note.
    status, body = _get(connection, "/moneytrail/payments.json?_facet=service&_size=0")
    data = json.loads(body) if status == 200 else {}
    computed = list(data.get("facet_results", {}))
    values = data.get("facet_results", {}).get("service", {}).get("results", [])
    _, page = _get(connection, "/moneytrail/payments?_facet=service&_size=0")
    timed_out = b"facets-timed-out" in page
    checks["facet by service"] = (
        (f"JSON HTTP {status}: {len(values)} service values, top {values[0]['value']!r} x "
         f"{values[0]['count']:,}" if values else f"JSON HTTP {status}: NO service facet results")
        + f"; facets computed: {', '.join(computed)}"
        + ("; HTML SAYS FACETS TIMED OUT" if timed_out else "; none timed out"))
    for name, term in (("rare-term search", RARE_TERM), ("common-term search", common)):
        status, body = _get(connection, f"/moneytrail/payments.json?_search={quote(term)}"
                                        "&_size=1")
        count = json.loads(body).get("filtered_table_rows_count") if status == 200 else None
        expected = f" (planted {RARE_ROWS})" if term == RARE_TERM else ""
        checks[name] = f"JSON HTTP {status}: {count if count is None else f'{count:,}'} " \
                       f"matching rows{expected}"
    for target in targets:
        if target.name not in checks:
            status, body = _get(connection, target.path)
            checks[target.name] = f"HTTP {status}, {len(body):,} bytes"
    return checks


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _ratio(value: float | None, baseline_ms: float | None) -> float | None:
    return round(value / baseline_ms, 1) if value is not None and baseline_ms else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def revision() -> dict:
    """The commit measured, and whether the site's code differed from it."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "changed": git("status", "--porcelain", "--", "warehouse", "datasette").splitlines()}


def machine() -> dict:
    memory = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        line = Path("/proc/meminfo").read_text().splitlines()[0]
        memory = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
    cpu = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory": memory,
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version}


def _print(report: dict) -> None:
    base = report["baseline"]
    print()
    for when in ("code", "code_after"):
        print(f"{when}: {report[when]['commit']}"
              f"{' + uncommitted changes' if report[when]['changed'] else ''}")
    print(f"{report['payments']:,} payments, {report['publishers']} publishers; "
          f"build {report['build_s']} s (target {BUILD_TARGET_S:.0f} s: "
          f"{'met' if report['build_met'] else 'NOT MET'})")
    print(f"baseline {BASELINE}: median {base['median_ms']} ms, p90 {base['p90_ms']} ms")
    header = f"{'page':<20} {'median ms':>10} {'p90 ms':>8} {'x base':>7} {'p90 x':>6} " \
             f"{'target':>8}  result"
    print(header)
    print("-" * len(header))
    for row in report["results"]:
        target = "-" if row["target_ms"] is None else f"{row['target_ms']:.0f} ms"
        verdict = {None: "report only", True: "met", False: "NOT MET"}[row["met"]]
        if row["errors"]:
            verdict += f" ({len(row['errors'])}+ errors: {row['errors'][0]})"
        print(f"{row['name']:<20} {_fmt(row['median_ms']):>10} {_fmt(row['p90_ms']):>8} "
              f"{_fmt(row['median_ratio']):>7} {_fmt(row['p90_ratio']):>6} {target:>8}  "
              f"{verdict}")
    print()
    for row in report["results"]:
        print(f"{row['name']}: {row['check']}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


if __name__ == "__main__":
    sys.exit(main())
