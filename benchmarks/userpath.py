"""The user's path: whole `moneytrail` commands timed as a user runs them, start-up included.

    python -m benchmarks.userpath [--quick] [--only a b c d] [--publishers 400] [--months 12]
                                  [--runs 3] [--cache DIR] [--json PATH]

Issue 18. Every command, and every baseline, runs as a process of its own started from a small
measuring process (standard library only), which times it from start to exit and reads its peak
memory: the highest sum of the proportional set sizes (PSS: shared pages shared out) of the
processes in its session, or the largest one's ru_maxrss when that is higher. Sampling the PSS
slows the command it samples (MEMORY_SAMPLE_S), so timed rounds take only ru_maxrss, and (a)'s
peak comes from one more round of each, sampled every 0.1 s; (d)'s long run is sampled every
second. A measuring process of its own, not this one, because ru_maxrss is inherited from the
parent at fork. Figures are medians of --runs rounds that run the command and then its
baseline, so a shared machine's noise falls on both; each part prints what the command said
it redid (flows and site), since that decides most of its time.

- (a) `moneytrail load` of a 300,000-row messy CSV (benchmarks.messy) into a fresh data dir,
  against a `python -c` process doing pandas read_csv(dtype=str) + to_sql of the same file into
  a fresh SQLite file; target <= 2.5 x (stretch 1.5 x);
- (b) `moneytrail load` of a 2,000-row file of a second publisher into a copy of (a)'s data
  dir, against the same load into a fresh data dir; target <= 1.2 x;
- (c) `moneytrail validate` of a 2,000-row file against a `python -c` pandas read_csv of it;
  target <= 2 x; and 200 small files validated in one call, in files/s, against separate
  invocations (timed on an even sample of them);
- (d) a year of England (benchmarks.england: 400 publishers x 12 monthly files, about 20M
  rows), served by sources.demo_server.LocalServer: `moneytrail run` end to end (target
  <= 600 s, stretch 300 s; peak <= 2 GiB) against pandas read_csv + to_sql of every file in
  one process; then one month of the biggest publisher republished with changed rows and
  `moneytrail run` again (target <= 30 s), against one process that asks the server for every
  file (HEAD) and loads the changed one with pandas; and build_site of the year's warehouse
  into a fresh folder, timed on its own.

Every load is checked against what the generator wrote, by reading the warehouse: rows loaded
and quarantined and loaded pence, by publisher; every validate report likewise. A command that
does not reconcile gives no figure. --quick uses small files and gives no verdicts; (d) gives
verdicts only at the full 400 x 12.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from benchmarks.england import (
    CACHE,
    World,
    WorldFile,
    linked_copy,
    make_world,
    republish,
    write_registry,
)
from benchmarks.ingest import NotReconciled, _print, _target
from benchmarks.messy import MessyFile, write_messy_csv
from benchmarks.site_latency import machine, revision
from sources.demo_server import LocalServer
from warehouse.tables import LIVE, files, payments, quarantine

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("a", "b", "c", "d")
SIZES = {"load_rows": 300_000, "small_rows": 2_000, "many_files": 200, "many_rows": 200,
         "separate": 40, "runs": 3, "publishers": 400, "months": 12, "scale": 1.0}
QUICK = {**SIZES, "load_rows": 20_000, "many_files": 20, "separate": 5, "runs": 1,
         "publishers": 6, "months": 2, "scale": 0.02}
TARGET_LOAD_RATIO, STRETCH_LOAD_RATIO = 2.5, 1.5
TARGET_SMALL_LOAD_RATIO = 1.2
TARGET_VALIDATE_RATIO = 2.0
TARGET_YEAR_S, STRETCH_YEAR_S = 600, 300
TARGET_PEAK_MIB = 2048
TARGET_RERUN_S = 30
PUBLISHER, SECOND_PUBLISHER = "bench-county", "bench-district"
SEED = 1
# The warehouse each command writes: the default one, DATA_DIR/warehouse.db, whatever this
# process's environment says.
WAREHOUSE_SETTING = "MONEYTRAIL_WAREHOUSE_URL"

# The measuring process: runs one command, prints its seconds, exit status and peak memory.
_MEASURE = r"""
import json, os, resource, subprocess, sys, threading, time
out, err, interval, *command = sys.argv[1:]
interval = float(interval)
peak, done = [0], threading.Event()

def proportional_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def session_kib(session):
    total = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session:
                total += proportional_kib(pid)
    return total

def sample(session):
    while not done.wait(interval):
        peak[0] = max(peak[0], session_kib(session))

with open(out, "wb") as stdout, open(err, "wb") as stderr:
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=stdout, stderr=stderr, start_new_session=True)
    sampler = threading.Thread(target=sample, args=(child.pid,), daemon=True)
    if interval > 0:
        sampler.start()
    status = child.wait()
    seconds = time.perf_counter() - started
done.set()
if interval > 0:
    sampler.join()
largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "status": status, "largest_kib": largest,
                  "peak_kib": max(peak[0], largest)}))
"""
# pandas' Python strings: its faster configuration for to_sql (see benchmarks.ingest).
_PANDAS_LOAD = """
import sqlite3, sys
import pandas
path, encoding, skip, database = sys.argv[1:]
with pandas.option_context("mode.string_storage", "python"):
    frame = pandas.read_csv(path, dtype=str, encoding=encoding, skiprows=int(skip))
with sqlite3.connect(database) as db:
    frame.to_sql("spend", db, index=False)
"""
_PANDAS_READ = """
import sys
import pandas
path, encoding, skip = sys.argv[1:]
pandas.read_csv(path, dtype=str, encoding=encoding, skiprows=int(skip))
"""
_PANDAS_YEAR = """
import json, pathlib, sqlite3, sys
import pandas
listing, database = sys.argv[1:]
with sqlite3.connect(database) as db:
    for path, encoding, skip, table in json.loads(pathlib.Path(listing).read_text()):
        with pandas.option_context("mode.string_storage", "python"):
            frame = pandas.read_csv(path, dtype=str, encoding=encoding, skiprows=skip)
        frame.to_sql(table, db, index=False, if_exists="append")
"""
_LOOK_AND_LOAD = """
import json, pathlib, sqlite3, sys
import pandas, requests
listing, path, encoding, skip, database = sys.argv[1:]
with requests.Session() as session:
    for url in json.loads(pathlib.Path(listing).read_text()):
        session.head(url, timeout=60).raise_for_status()
with pandas.option_context("mode.string_storage", "python"):
    frame = pandas.read_csv(path, dtype=str, encoding=encoding, skiprows=int(skip))
with sqlite3.connect(database) as db:
    frame.to_sql("spend", db, index=False)
"""
_BUILD_SITE = """
import sys
from pathlib import Path
from warehouse.engine import connect
from warehouse.site import build_site
build_site(connect("sqlite:///" + sys.argv[1]), Path(sys.argv[2]))
"""


class CommandFailed(RuntimeError):
    """A command exited with a status it should not have: its timing is not a figure."""


@dataclass
class Measured:
    """One command's run: seconds from start to exit, peak memory, what it printed."""

    seconds: float
    peak_mib: float  # the session's summed PSS at its highest, or largest_mib if higher
    largest_mib: float  # the largest process's ru_maxrss
    stdout: str
    stderr: str


@dataclass
class Session:
    """What the parts share: the work folder, the sizes, the files made, the details."""

    work: Path
    sizes: dict
    cache: Path
    details: dict = field(default_factory=dict)
    made: dict[str, MessyFile] = field(default_factory=dict)


def moneytrail() -> list[str]:
    """The command a user types: the console script beside this Python, else its module."""
    script = Path(sys.executable).with_name("moneytrail")
    return [str(script)] if script.exists() else [sys.executable, "-m", "orchestration.cli"]


def run(quick: bool = False, only: tuple[str, ...] = PARTS, publishers: int | None = None,
        months: int | None = None, runs: int | None = None, cache: Path = CACHE) -> dict:
    """Measure the chosen parts; `quick` uses small files (seconds) and gives no verdicts."""
    sizes = dict(QUICK if quick else SIZES)
    sizes |= {k: v for k, v in {"publishers": publishers, "months": months,
                                "runs": runs}.items() if v is not None}
    Path(cache).mkdir(parents=True, exist_ok=True)
    # Inside the cache, so that the served copy of a cached world can be hard links to it.
    work = Path(tempfile.mkdtemp(prefix="userpath-", dir=cache))
    try:
        session = Session(work, sizes, Path(cache))
        _warm_up(session)
        targets = []
        for part in only:
            targets += {"a": _load, "b": _small_load, "c": _validate, "d": _england}[part](
                session)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if quick:
        for target in targets:
            target["met"] = None
    return {"benchmark": "userpath", "targets": targets, "machine": machine(),
            "code": revision(), "sizes": sizes, "details": session.details}


def _warm_up(session: Session) -> None:
    """Run each kind of process once, so the first timed one does not pay for compiling
    bytecode or reading the libraries from disk."""
    small = _file(session, "small")
    _timed([*moneytrail(), "validate", str(small.path)], session, ok=(0, 1))
    _timed([sys.executable, "-c", "import pandas, requests, orchestration.runner"], session)


# --- the measuring process -------------------------------------------------------------------


# Reading a process's proportional set size makes the kernel walk its page tables, and a big
# process waits on that: sampled every 0.1 s, a 300,000-row load took 2 to 3 s longer (13 to
# 15 s, against 11 to 12 s unsampled). Timed rounds are therefore not sampled (their peak is
# the largest process's ru_maxrss); memory is taken in a round of its own, and a run that
# lasts minutes is sampled once a second.
MEMORY_SAMPLE_S = 0.1
LONG_RUN_SAMPLE_S = 1.0


def _timed(command: list[str], session: Session, ok: tuple[int, ...] = (0,),
           env: dict[str, str] | None = None, sample: float = 0.0) -> Measured:
    """Run a command in a measuring process of its own; fail unless it exits with `ok`.
    SAMPLE: seconds between samples of its processes' summed memory (0: none taken)."""
    out, err = session.work / "command.out", session.work / "command.err"
    measuring = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _MEASURE, str(out), str(err), str(sample),
         *command],
        capture_output=True, text=True, cwd=ROOT, env=env or _environment(), check=False)
    stdout = out.read_text(encoding="utf-8", errors="replace") if out.exists() else ""
    stderr = err.read_text(encoding="utf-8", errors="replace") if err.exists() else ""
    if measuring.returncode:
        raise CommandFailed(f"the measuring process failed: {measuring.stderr[-2000:]}")
    figures = json.loads(measuring.stdout.strip().splitlines()[-1])
    if figures["status"] not in ok:
        shown = " ".join(command)[:300]
        raise CommandFailed(f"`{shown}` exited {figures['status']}: "
                            f"{(stderr or stdout).strip()[-2000:]}")
    return Measured(figures["seconds"], figures["peak_kib"] / 1024,
                    figures["largest_kib"] / 1024, stdout, stderr)


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != WAREHOUSE_SETTING}
    return env | extra


# --- what the warehouse holds ----------------------------------------------------------------


Totals = dict[str, tuple[int, int, int]]  # publisher -> rows loaded, quarantined, loaded pence


def publisher_totals(conn) -> Totals:
    """By publisher, (payments, quarantined rows, pence of the payments) in a warehouse."""
    paid = conn.execute(sa.select(
        payments.c.publisher_id, sa.func.count(),
        sa.func.coalesce(sa.func.sum(payments.c.amount_pence), 0))
        .group_by(payments.c.publisher_id)).all()
    held = dict(conn.execute(sa.select(quarantine.c.publisher_id, sa.func.count())
                             .group_by(quarantine.c.publisher_id)).all())
    totals = {publisher: (rows, held.get(publisher, 0), int(pence))
              for publisher, rows, pence in paid}
    return totals | {publisher: (0, rows, 0) for publisher, rows in held.items()
                     if publisher not in totals}


def _holdings(data_dir: Path) -> tuple[Totals, list[str]]:
    """By publisher, (payments, quarantined rows, pence of the payments) in the data dir's
    warehouse; and the file versions that are neither live nor superseded, with why."""
    engine = sa.create_engine(f"sqlite:///{data_dir / 'warehouse.db'}")
    try:
        with engine.connect() as conn:
            totals = publisher_totals(conn)
            refused = conn.execute(sa.select(files.c.url, files.c.status,
                                             files.c.status_message).where(
                files.c.status.not_in((*LIVE, "superseded")))).all()
    finally:
        engine.dispose()
    return totals, [f"{url}: {status} ({message})" for url, status, message in refused]


def _check(data_dir: Path, expected: Totals, doing: str) -> None:
    """Raise NotReconciled unless the warehouse holds exactly what the generator wrote."""
    held, refused = _holdings(data_dir)
    wrong = [f"{publisher}: expected {want[0]:,} loaded, {want[1]:,} quarantined, {want[2]} "
             f"pence; the warehouse holds {held.get(publisher, (0, 0, 0))}"
             for publisher, want in expected.items() if held.get(publisher, (0, 0, 0)) != want]
    wrong += [f"{publisher}: not generated, yet {got} in the warehouse"
              for publisher, got in held.items() if publisher not in expected]
    if wrong:
        shown = wrong[:5] + ([f"and {len(wrong) - 5} more"] if len(wrong) > 5 else [])
        raise NotReconciled(f"{doing} did not reconcile: " + "; ".join(shown + refused[:5]))


def _truth(made: MessyFile) -> tuple[int, int, int]:
    return made.loaded, made.quarantined, made.loaded_pence


def _file(session: Session, kind: str) -> MessyFile:
    """The generated file of that kind ("big" for (a), "small" for (b) and (c)), made once."""
    if kind not in session.made:
        rows = session.sizes["load_rows" if kind == "big" else "small_rows"]
        seed = SEED if kind == "big" else SEED + 1
        session.made[kind] = write_messy_csv(session.work / f"{kind}.csv", rows, seed)
    return session.made[kind]


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    return path


# --- (a) a large load ------------------------------------------------------------------------


def _load(session: Session) -> list[dict]:
    made = _file(session, "big")
    ours, bare = [], []
    for _ in range(session.sizes["runs"]):
        ours.append(_load_command(session, made, PUBLISHER, _fresh(session.work / "big-data"),
                                  {PUBLISHER: _truth(made)}))
        bare.append(_pandas_load(session, made))
    ours_s, bare_s = (statistics.median(m.seconds for m in runs) for runs in (ours, bare))
    peak = _load_command(session, made, PUBLISHER, _fresh(session.work / "big-data"),
                         {PUBLISHER: _truth(made)}, sample=MEMORY_SAMPLE_S).peak_mib
    bare_peak = _pandas_load(session, made, sample=MEMORY_SAMPLE_S).peak_mib
    session.details["a"] = {"rows": made.rows, "load_s": _seconds(ours),
                            "pandas_s": _seconds(bare), "load_peak_mib": round(peak),
                            "pandas_peak_mib": round(bare_peak)}
    ratio = ours_s / bare_s
    return [
        _target(f"(a) load {made.rows:,} messy rows, fresh data dir", ours_s, "s",
                f"<= {TARGET_LOAD_RATIO} x baseline (stretch {STRETCH_LOAD_RATIO} x)",
                ratio <= TARGET_LOAD_RATIO, bare_s, ratio,
                f"whole command, start-up and site build included; baseline: a python -c "
                f"process doing pandas read_csv(dtype=str) + to_sql of the same file into a "
                f"fresh SQLite file; medians of {len(ours)}; stretch "
                f"{'met' if ratio <= STRETCH_LOAD_RATIO else 'not met'}"),
        _target("(a) peak memory of that load", peak, "MiB", "report only", None, bare_peak,
                peak / bare_peak, "in one more round of each, sampled every 0.1 s: the "
                "command's processes' summed memory (PSS); baseline: the pandas process's"),
    ]


def _load_command(session: Session, made: MessyFile, publisher: str, data_dir: Path,
                  expected: Totals, sample: float = 0.0) -> Measured:
    measured = _timed([*moneytrail(), "load", str(made.path), "--publisher", publisher,
                       "--data-dir", str(data_dir)], session, sample=sample)
    _check(data_dir, expected, f"moneytrail load of {made.path.name} into {data_dir.name}")
    print(f"   moneytrail load {made.rows:,} rows into {data_dir.name}: "
          f"{measured.seconds:.2f} s, {measured.peak_mib:.0f} MiB, reconciled{_said(measured)}",
          flush=True)
    return measured


def _pandas_load(session: Session, made: MessyFile, sample: float = 0.0) -> Measured:
    database = session.work / "pandas.db"
    database.unlink(missing_ok=True)
    measured = _timed([sys.executable, "-c", _PANDAS_LOAD, str(made.path), made.encoding,
                       str(made.header_line - 1), str(database)], session, sample=sample)
    with sqlite3.connect(database) as db:
        rows = db.execute("select count(*) from spend").fetchone()[0]
    database.unlink()
    if rows < made.rows:
        raise NotReconciled(f"pandas read {rows} rows of {made.path.name}, not {made.rows}")
    print(f"   pandas read_csv + to_sql: {measured.seconds:.2f} s, {measured.peak_mib:.0f} MiB",
          flush=True)
    return measured


# --- (b) a small load beside a large one -----------------------------------------------------


def _small_load(session: Session) -> list[dict]:
    big, small = _file(session, "big"), _file(session, "small")
    loaded = session.work / "big-data"
    if not (loaded / "warehouse.db").exists():
        _load_command(session, big, PUBLISHER, loaded, {PUBLISHER: _truth(big)})
    beside, alone = [], []
    for _ in range(session.sizes["runs"]):
        into = _fresh(session.work / "into-big")
        shutil.copytree(loaded, into, symlinks=True)
        beside.append(_load_command(session, small, SECOND_PUBLISHER, into, {
            PUBLISHER: _truth(big), SECOND_PUBLISHER: _truth(small)}))
        alone.append(_load_command(session, small, SECOND_PUBLISHER,
                                   _fresh(session.work / "into-fresh"),
                                   {SECOND_PUBLISHER: _truth(small)}))
    beside_s, alone_s = (statistics.median(m.seconds for m in runs) for runs in (beside, alone))
    session.details["b"] = {"rows": small.rows, "beside_rows": big.rows,
                            "beside_s": _seconds(beside), "alone_s": _seconds(alone)}
    ratio = beside_s / alone_s
    return [_target(f"(b) load {small.rows:,} rows beside {big.rows:,} rows",
                    beside_s, "s", f"<= {TARGET_SMALL_LOAD_RATIO} x baseline",
                    ratio <= TARGET_SMALL_LOAD_RATIO, alone_s, ratio,
                    f"a second publisher's file loaded into a copy of (a)'s data dir (copied "
                    f"before each run, untimed); baseline: the same load into a fresh data "
                    f"dir; medians of {len(beside)}")]


# --- (c) validate ----------------------------------------------------------------------------


def _validate(session: Session) -> list[dict]:
    small = _file(session, "small")
    ours, bare = [], []
    for _ in range(session.sizes["runs"]):
        ours.append(_validate_command(session, [small]))
        bare.append(_timed([sys.executable, "-c", _PANDAS_READ, str(small.path), small.encoding,
                            str(small.header_line - 1)], session))
        print(f"   pandas read_csv: {bare[-1].seconds:.2f} s", flush=True)
    many = _many(session)
    sample = many[::len(many) // session.sizes["separate"]][:session.sizes["separate"]]
    together, apart = [], []
    for _ in range(session.sizes["runs"]):
        together.append(_validate_command(session, many))
        apart.append(sum(_validate_command(session, [f], say=False).seconds for f in sample))
        print(f"   moneytrail validate, {len(sample)} files one at a time: {apart[-1]:.2f} s, "
              "reports reconciled", flush=True)
    ours_s, bare_s, together_s, apart_s = (
        statistics.median(m.seconds for m in ours), statistics.median(m.seconds for m in bare),
        statistics.median(m.seconds for m in together), statistics.median(apart))
    speed, apart_speed = len(many) / together_s, len(sample) / apart_s
    session.details["c"] = {"rows": small.rows, "validate_s": _seconds(ours),
                            "pandas_s": _seconds(bare), "files": len(many),
                            "files_rows": many[0].rows, "one_call_s": _seconds(together),
                            "separate_sample": len(sample),
                            "separate_s": [round(s, 3) for s in apart]}
    ratio = ours_s / bare_s
    return [
        _target(f"(c) validate a {small.rows:,}-row file", ours_s, "s",
                f"<= {TARGET_VALIDATE_RATIO} x baseline", ratio <= TARGET_VALIDATE_RATIO,
                bare_s, ratio, f"`moneytrail validate --json FILE`, start-up included; "
                f"baseline: a python -c process doing pandas read_csv(dtype=str) of it; "
                f"medians of {len(ours)}"),
        _target(f"(c) validate {len(many)} files in one call", speed, "files/s",
                "report only", None, apart_speed, speed / apart_speed,
                f"files of {many[0].rows:,} rows; baseline: one invocation per file, timed on "
                f"{len(sample)} of them, in files/s; ratio: the speed-up of one call"),
    ]


def _many(session: Session) -> list[MessyFile]:
    folder = session.work / "many"
    folder.mkdir(exist_ok=True)
    return [write_messy_csv(folder / f"spend-{i:03d}.csv", session.sizes["many_rows"],
                            SEED + 100 + i) for i in range(session.sizes["many_files"])]


def _validate_command(session: Session, made: list[MessyFile], say: bool = True
                      ) -> Measured:
    """`moneytrail validate --json` of the files; every report must count what was written.
    Exit status 1 is expected: every file holds rows that must be quarantined."""
    measured = _timed([*moneytrail(), "validate", "--json", *(str(f.path) for f in made)],
                      session, ok=(0, 1))
    reports = json.loads(measured.stdout)
    for report, want in zip(reports, made, strict=True):
        got = (report["rows_read"], report["rows_quarantined"], report["amount_valid_pence"])
        if got != (want.rows, want.quarantined, want.loaded_pence):
            raise NotReconciled(f"moneytrail validate of {want.path.name} counted {got} (rows, "
                                f"quarantined, valid pence), not "
                                f"{(want.rows, want.quarantined, want.loaded_pence)}")
    if say:
        print(f"   moneytrail validate, {len(made)} file(s): {measured.seconds:.2f} s, "
              "reports reconciled", flush=True)
    return measured


# --- (d) a year of England -------------------------------------------------------------------


def _england(session: Session) -> list[dict]:
    sizes = session.sizes
    cached = make_world(sizes["publishers"], sizes["months"], SEED, sizes["scale"],
                        session.cache)
    world = linked_copy(cached, session.work / "www")
    print(f"   world: {len(world.publishers)} publishers, {len(world.files):,} files, "
          f"{world.rows:,} rows", flush=True)
    _read_through(world)
    rows = world.rows  # before one month is republished
    data = session.work / "england-data"
    env = _environment(MONEYTRAIL_ALLOW_PRIVATE="1")
    with LocalServer(world.www) as server:
        registry = write_registry(world, server.url, session.work / "registry.yaml")
        year = _pipeline(session, registry, data, env, world, "the year")
        bare = _pandas_year(session, world)
        changed = republish(world, *_biggest_last_month(world))
        again = _pipeline(session, registry, data, env, world, f"rerun ({changed.url_path})")
        look = _look_and_load(session, world, server.url, changed.made)
    for generation in data.glob("site*"):  # the run's own site: room on disk for the next
        if generation.is_symlink():
            generation.unlink()
        else:
            shutil.rmtree(generation)
    site = _site_build(session, data)
    full = (sizes["publishers"], sizes["months"], sizes["scale"]) == (
        SIZES["publishers"], SIZES["months"], SIZES["scale"])
    session.details["d"] = {
        "publishers": len(world.publishers), "files": len(world.files), "rows": rows,
        "run_s": round(year.seconds, 2), "pandas_s": round(bare.seconds, 2),
        "run_peak_mib": round(year.peak_mib), "run_largest_process_mib": round(year.largest_mib),
        "pandas_peak_mib": round(bare.peak_mib), "republished": changed.url_path,
        "republished_rows": changed.made.rows, "rerun_s": round(again.seconds, 2),
        "look_and_load_s": round(look.seconds, 2),
        "site_build_s": None if site is None else round(site.seconds, 2)}
    return _england_targets(world, rows, year, bare, again, look, site, changed, full)


def _england_targets(world: World, rows: int, year: Measured, bare: Measured, again: Measured,
                     look: Measured, site: Measured | None, changed: WorldFile, full: bool
                     ) -> list[dict]:
    def verdict(met: bool) -> bool | None:
        return met if full else None

    scaled = "" if full else "; scaled down: no verdict"
    shape = f"{len(world.publishers)} x {len(world.files) // len(world.publishers)}"
    speed, bare_speed = rows / year.seconds, rows / bare.seconds
    stretch = "met" if year.seconds <= STRETCH_YEAR_S else "not met"
    targets = [
        _target(f"(d) run a year: {shape} files, {_count(rows)} rows",
                year.seconds, "s", f"<= {TARGET_YEAR_S} s (stretch {STRETCH_YEAR_S} s)",
                verdict(year.seconds <= TARGET_YEAR_S), bare.seconds,
                year.seconds / bare.seconds,
                f"`moneytrail run`: harvest over local HTTP, load, check, flows and site, fresh "
                f"data dir; baseline: pandas read_csv + to_sql of every file from disk in one "
                f"process; one run each; stretch {stretch}{scaled}"),
        _target("(d) rows per second of that run", speed, "rows/s", "report only", None,
                bare_speed, speed / bare_speed, "baseline: the pandas process's rows/s"),
        _target("(d) peak memory of that run", year.peak_mib, "MiB",
                f"<= {TARGET_PEAK_MIB / 1024:g} GiB", verdict(year.peak_mib <= TARGET_PEAK_MIB),
                bare.peak_mib, year.peak_mib / bare.peak_mib,
                f"the command's processes' summed memory (PSS) at its highest (largest "
                f"single process {year.largest_mib:.0f} MiB); baseline: the pandas "
                f"process's{scaled}"),
        _target("(d) run again, one month republished",
                again.seconds, "s", f"<= {TARGET_RERUN_S} s",
                verdict(again.seconds <= TARGET_RERUN_S), look.seconds,
                again.seconds / look.seconds,
                f"{changed.url_path} ({changed.made.rows:,} rows) rewritten with changed "
                f"rows; baseline: one process asking the server for each of the "
                f"{len(world.files):,} files (HEAD) and loading the changed one with "
                f"pandas{scaled}"),
    ]
    if site is not None:
        targets.append(_target(
            "(d) build_site of the year, on its own", site.seconds, "s",
            "report only", None, year.seconds, site.seconds / year.seconds,
            "into a fresh folder after the rerun; baseline: the year's whole run; ratio: the "
            "share of it a full site build would be"))
    return targets


def _read_through(world: World) -> None:
    """Read every file once, so that the run and its baseline find them alike in the page
    cache."""
    for f in world.files:
        with f.made.path.open("rb") as stream:
            while stream.read(1 << 20):
                pass


def _pipeline(session: Session, registry: Path, data_dir: Path, env: dict[str, str],
              world: World, doing: str) -> Measured:
    measured = _timed([*moneytrail(), "run", "--registry", str(registry), "--data-dir",
                       str(data_dir), "--json"], session, env=env, sample=LONG_RUN_SAMPLE_S)
    _check(data_dir, world.expected(), f"moneytrail run, {doing}, which took "
                                       f"{measured.seconds:.1f} s,")
    failed = _failed_checks(measured.stdout)
    print(f"   moneytrail run, {doing}: {measured.seconds:.1f} s, {measured.peak_mib:.0f} MiB "
          f"(largest process {measured.largest_mib:.0f} MiB), reconciled; publishers failing "
          f"each check: {failed or 'none'}{_said(measured)}", flush=True)
    session.details.setdefault("d_failed_checks", {})[doing] = failed
    return measured


def _failed_checks(summary: str) -> dict[str, int]:
    """How many publishers failed each check, from `moneytrail run --json`'s summary."""
    failed: dict[str, int] = {}
    for line in json.loads(summary):
        for check in line.get("failed_checks") or ():
            failed[check] = failed.get(check, 0) + 1
    return failed


def _pandas_year(session: Session, world: World) -> Measured:
    tables = {p["id"]: f"spend_{i}" for i, p in enumerate(world.publishers)}
    listing = session.work / "year.json"
    listing.write_text(json.dumps([[str(f.made.path), f.made.encoding, f.made.header_line - 1,
                                    tables[f.publisher]] for f in world.files]))
    database = session.work / "pandas-year.db"
    measured = _timed([sys.executable, "-c", _PANDAS_YEAR, str(listing), str(database)],
                      session, sample=LONG_RUN_SAMPLE_S)
    with sqlite3.connect(database) as db:
        rows = sum(db.execute(f"select count(*) from {t}").fetchone()[0]
                   for t in tables.values())
    database.unlink()
    if rows < world.rows:
        raise NotReconciled(f"pandas read {rows:,} rows of the year, not {world.rows:,}")
    print(f"   pandas read_csv + to_sql of every file: {measured.seconds:.1f} s, "
          f"{measured.peak_mib:.0f} MiB", flush=True)
    return measured


def _biggest_last_month(world: World) -> tuple[str, str]:
    """The publisher with the most rows, and its last month: the costliest republication."""
    rows: dict[str, int] = {}
    for f in world.files:
        rows[f.publisher] = rows.get(f.publisher, 0) + f.made.rows
    publisher = max(rows, key=rows.get)
    return publisher, max(f.month for f in world.files if f.publisher == publisher)


def _look_and_load(session: Session, world: World, base_url: str, made: MessyFile
                   ) -> Measured:
    listing = session.work / "urls.json"
    listing.write_text(json.dumps([f"{base_url}/{f.url_path}" for f in world.files]))
    database = session.work / "pandas-one.db"
    database.unlink(missing_ok=True)
    measured = _timed([sys.executable, "-c", _LOOK_AND_LOAD, str(listing), str(made.path),
                       made.encoding, str(made.header_line - 1), str(database)], session)
    database.unlink()
    print(f"   HEAD every file + pandas load of the changed one: {measured.seconds:.1f} s",
          flush=True)
    return measured


def _site_build(session: Session, data_dir: Path) -> Measured | None:
    """build_site of the warehouse into a fresh folder; None (and why, printed) if it fails,
    since the figure is optional and the site's code is changing under this benchmark."""
    try:
        measured = _timed([sys.executable, "-c", _BUILD_SITE, str(data_dir / "warehouse.db"),
                           str(session.work / "site-alone")], session)
    except CommandFailed as failure:
        print(f"   build_site on its own: not measured: {failure}", flush=True)
        return None
    print(f"   build_site on its own: {measured.seconds:.1f} s", flush=True)
    return measured


def _said(measured: Measured) -> str:
    """The command's last line on stderr (what the site and the flows redid), to print."""
    lines = [line for line in measured.stderr.splitlines() if line.strip()]
    return f"\n     it said: {lines[-1].strip()[:200]}" if lines else ""


def _count(rows: int) -> str:
    return f"{rows / 1e6:.1f}M" if rows >= 1_000_000 else f"{rows:,}"


def _seconds(runs: list[Measured]) -> list[float]:
    return [round(m.seconds, 3) for m in runs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.userpath",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small files, seconds, no verdicts")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS),
                        help="only these parts: (a) load, (b) small load beside a large one, "
                             "(c) validate, (d) a year of England")
    parser.add_argument("--publishers", type=int, help="(d): publishers (default 400)")
    parser.add_argument("--months", type=int, help="(d): months of files each (default 12)")
    parser.add_argument("--runs", type=int, help="rounds of (a), (b), (c) (default 3)")
    parser.add_argument("--cache", type=Path, default=CACHE,
                        help=f"where generated worlds are kept and reused (default {CACHE})")
    parser.add_argument("--json", metavar="PATH", help="also write the result here")
    args = parser.parse_args(argv)
    result = run(args.quick, tuple(args.only), args.publishers, args.months, args.runs,
                 args.cache)
    _print(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
