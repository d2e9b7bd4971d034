"""A load or a download killed with SIGKILL half-way, then rerun, leaves what a clean run leaves.

The kill comes from outside, as the kernel's OOM killer or a lost machine would: the load runs
in a child process and the test watches the warehouse itself (SQLite's write lock and WAL file,
PostgreSQL's pg_stat_activity) to kill it at a known stage, with no hook in the loader.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from sources.archive import Archive
from sources.demo_server import Fault, LocalServer
from sources.harvest import HarvestSettings, fetch, make_session
from sources.read import file_sha256
from sources.registry import Publisher
from tests.conftest import REPO
from tests.warehouse.conftest import POSTGRES_URL, _postgres_reachable
from warehouse.engine import connect
from warehouse.load import load_file, upsert_publisher
from warehouse.tables import files, payments, publishers, quarantine

pytestmark = pytest.mark.reliability

PUBLISHER = Publisher(id="testshire", org_id="GB-LAE-TST", name="Testshire Council",
                      kind="council")
HEADER = "Body Name,Supplier Name,Payment Date,Amount,Expense Area,Expense Type\n"
# Big enough that the load takes seconds and its rows spill out of SQLite's page cache into
# the WAL before the commit, small enough to stay inside one 50,000-row chunk.
ROWS = 15_000
FETCHED_AT = "2024-05-01T00:00:00+00:00"
NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
APPLICATION = "moneytrail-crash-test"
SQLITE_SPILLED_BYTES = 1 << 20
WAIT_SECONDS = 120
# Every crash case the tests run, and the stage it is killed at; docs/reliability.md's
# "Crash safety" table lists them.
CRASH_CASES = {
    "first_load_killed": "transaction_open",
    "new_version_killed": "rows_written",
    "download_killed": "body_half_written",
}


def spend_csv(rows: int, version: int) -> str:
    """A plain valid spend file; every 997th amount is #REF!, so some rows are quarantined."""
    lines = [HEADER]
    for i in range(rows):
        amount = "#REF!" if i % 997 == 0 else f"{(i * 7919 + version) % 10_000_000 / 100:.2f}"
        lines.append(f"Testshire,SUPPLIER {i % 1009} LTD,{i % 28 + 1:02d}/{i // 28 % 12 + 1:02d}"
                     f"/2024,{amount},Service {i % 31},Type {i % 17}\n")
    return "".join(lines)


@dataclass
class Warehouse:
    """One warehouse under test, and how to watch a load in another process write to it."""

    backend: str
    url: str
    options: dict = field(default_factory=dict)

    def engine(self) -> sa.Engine:
        return connect(self.url, connect_args=self.options)

    def stage_reached(self, stage: str) -> bool:
        if self.backend == "sqlite":
            return _sqlite_stage(Path(self.url.removeprefix("sqlite:///")), stage)
        # The rows go in by INSERT or COPY, whichever the loader uses.
        writing = "" if stage == "transaction_open" else "^(INSERT INTO|COPY) payments"
        return _postgres_sessions(writing, in_transaction=True) > 0

    def settle(self) -> None:
        """Wait until the killed client's server side is gone (PostgreSQL rolls it back)."""
        if self.backend == "postgresql":
            _wait_for(lambda: _postgres_sessions("") == 0,
                      "PostgreSQL to end the killed load's session")


def _sqlite_stage(db: Path, stage: str) -> bool:
    # Another connection holding the write lock means a load's transaction is open.
    probe = sqlite3.connect(db, timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.rollback()
        return False
    except sqlite3.OperationalError:
        wal = db.with_name(db.name + "-wal")
        return stage == "transaction_open" or (wal.exists()
                                               and wal.stat().st_size > SQLITE_SPILLED_BYTES)
    finally:
        probe.close()


@functools.cache
def _monitor() -> sa.Engine:
    # One autocommit connection, so each poll is a fresh look at pg_stat_activity and quick
    # enough to catch a batch of inserts in flight.
    return sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", pool_size=1)


def _postgres_sessions(query: str, in_transaction: bool = False) -> int:
    """The load sessions (by application name) whose current or last query matches `query`."""
    sql = ("SELECT count(*) FROM pg_stat_activity WHERE application_name = :app"
           " AND query ~ :query")
    if in_transaction:
        sql += " AND backend_xid IS NOT NULL"
    with _monitor().connect() as conn:
        return conn.execute(sa.text(sql), {"app": APPLICATION, "query": query}).scalar()


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {WAIT_SECONDS} s waiting for {what}")
        time.sleep(0.005)


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouses(request, tmp_path) -> Iterator[Callable[[str], Warehouse]]:
    """Make empty warehouses (with the publisher) on SQLite or on the real PostgreSQL."""
    if request.param == "postgresql" and (reason := _postgres_reachable()):
        pytest.skip(reason)
    schemas = []

    def make(name: str) -> Warehouse:
        if request.param == "sqlite":
            made = Warehouse("sqlite", f"sqlite:///{tmp_path / name}.db")
        else:
            schema = f"mt_crash_{uuid.uuid4().hex[:10]}"
            admin = sa.create_engine(POSTGRES_URL)
            with admin.begin() as conn:
                conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
            admin.dispose()
            schemas.append(schema)
            made = Warehouse("postgresql", POSTGRES_URL, {
                "options": f"-csearch_path={schema}", "application_name": APPLICATION})
        engine = made.engine()
        upsert_publisher(engine, PUBLISHER)
        engine.dispose()
        return made

    yield make
    _monitor().dispose()
    if schemas:
        admin = sa.create_engine(POSTGRES_URL)
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def load(warehouse: Warehouse, path: Path, url: str) -> str:
    engine = warehouse.engine()
    try:
        return load_file(engine, PUBLISHER, url, path, FETCHED_AT).status
    finally:
        engine.dispose()


def load_in_child() -> None:
    """The child process: load one file, as `moneytrail load` would (argv: one JSON object)."""
    job = json.loads(sys.argv[1])
    warehouse = Warehouse(job["backend"], job["url"], job["options"])
    load(warehouse, Path(job["path"]), job["file_url"])


def kill_mid_load(warehouse: Warehouse, path: Path, url: str, case: str) -> None:
    """Start loading `path` in a child process and SIGKILL it at the stage of a crash case."""
    stage = CRASH_CASES[case]
    job = json.dumps({"backend": warehouse.backend, "url": warehouse.url,
                      "options": warehouse.options, "path": str(path), "file_url": url})
    child = subprocess.Popen(
        [sys.executable, "-c", "from tests.reliability.test_crash_safety import load_in_child;"
         " load_in_child()", job], cwd=REPO, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: child.poll() is not None or warehouse.stage_reached(stage),
                  f"the load to reach {stage}")
        assert child.poll() is None, (
            f"the load ended before it reached {stage}: {child.stderr.read().decode()[-2000:]}")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    warehouse.settle()


def snapshot(warehouse: Warehouse) -> dict:
    """Everything a load leaves, ids aside (a killed PostgreSQL transaction still uses up its
    sequence numbers); rows as a count and a checksum in a stable order."""
    engine = warehouse.engine()
    try:
        with engine.connect() as conn:
            sha_of = dict(conn.execute(sa.select(files.c.id, files.c.sha256)).all())
            file_rows = sorted(
                tuple((k, v) for k, v in row.items() if k not in ("id", "superseded_by"))
                + (("superseded_by", sha_of.get(row["superseded_by"])),)
                for row in conn.execute(sa.select(files)).mappings())
            shot = {"publishers": conn.execute(sa.select(publishers)).all(), "files": file_rows}
            for table in (payments, quarantine):
                shot[table.name] = _rows_digest(conn, table)
    finally:
        engine.dispose()
    return shot


def _rows_digest(conn, table: sa.Table) -> tuple[int, str]:
    columns = [c for c in table.columns if c.name not in ("id", "file_id")]
    query = (sa.select(files.c.sha256, *columns).join_from(table, files)
             .order_by(files.c.sha256, table.c.sheet, table.c.source_row))
    digest, count, last = hashlib.sha256(), 0, None
    for row in conn.execute(query):
        key = (row[0], row.sheet, row.source_row)
        assert key != last, f"{table.name} holds row {key} twice"
        digest.update(repr(tuple(row)).encode())
        count, last = count + 1, key
    return count, digest.hexdigest()


def test_a_load_killed_mid_file_and_rerun_leaves_what_a_clean_run_leaves(warehouses, tmp_path):
    first, second = tmp_path / "spend.csv", tmp_path / "spend-revised.csv"
    first.write_text(spend_csv(ROWS, 1), encoding="utf-8")
    second.write_text(spend_csv(ROWS, 2), encoding="utf-8")
    url = "http://publisher.test/spend.csv"
    clean = warehouses("clean")
    empty = snapshot(clean)
    assert load(clean, first, url) == "loaded"
    after_first = snapshot(clean)
    assert load(clean, second, url) == "loaded"
    after_second = snapshot(clean)
    assert after_first["payments"][0] == ROWS - ROWS // 997 - 1
    assert sorted(dict(f)["status"] for f in after_second["files"]) == ["current", "superseded"]

    crashed = warehouses("crashed")
    # first_load_killed: nothing of the file is left, not even its record in `files`.
    kill_mid_load(crashed, first, url, "first_load_killed")
    assert snapshot(crashed) == empty
    assert load(crashed, first, url) == "loaded"
    assert snapshot(crashed) == after_first
    # new_version_killed: the old version stays current with all its rows.
    kill_mid_load(crashed, second, url, "new_version_killed")
    assert snapshot(crashed) == after_first
    assert load(crashed, second, url) == "loaded"
    assert snapshot(crashed) == after_second
    if crashed.backend == "sqlite":
        db = crashed.url.removeprefix("sqlite:///")
        with sqlite3.connect(db) as check:
            assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def fetch_in_child() -> None:
    """The child process: fetch one URL into an archive (argv: url, archive folder)."""
    url, root = sys.argv[1], Path(sys.argv[2])
    settings = HarvestSettings(allow_private=True, retries=0)
    fetch(url, PUBLISHER.id, Archive(root), make_session(settings), settings, lambda: NOW)


def test_a_download_killed_mid_file_leaves_no_object_and_the_rerun_stores_it(tmp_path):
    site, root = tmp_path / "site", tmp_path / "archive"
    site.mkdir()
    data = spend_csv(600, 1).encode()  # about 40 KB: 160 drips of 256 bytes, 0.02 s apart
    (site / "spend.csv").write_bytes(data)
    with LocalServer(site) as server:
        server.faults["/spend.csv"] = Fault(drip=0.02)
        url = f"{server.url}/spend.csv"
        child = subprocess.Popen(
            [sys.executable, "-c", "from tests.reliability.test_crash_safety import "
             "fetch_in_child; fetch_in_child()", url, str(root)], cwd=REPO)
        try:
            # download_killed: the download's buffer has reached the disk, half-written.
            assert CRASH_CASES["download_killed"] == "body_half_written"
            _wait_for(lambda: child.poll() is not None or any(
                p.stat().st_size > 0 for p in root.glob(".download-*")),
                "the download to start writing")
            assert child.poll() is None, "the download ended before it was killed"
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait()
        half = [p for p in root.glob(".download-*")]
        assert half and all(0 < p.stat().st_size < len(data) for p in half)
        assert [p for p in (root / "objects").rglob("*") if p.is_file()] == []
        assert not (root / "manifest.jsonl").exists()

        del server.faults["/spend.csv"]
        settings = HarvestSettings(allow_private=True, retries=0)
        archive = Archive(root)
        record = fetch(url, PUBLISHER.id, archive, make_session(settings), settings, lambda: NOW)
    assert (record.status, record.sha256) == ("new", hashlib.sha256(data).hexdigest())
    objects = [p for p in (root / "objects").rglob("*") if p.is_file()]
    assert [(p.name, file_sha256(p)) for p in objects] == [(record.sha256, record.sha256)]
    assert Archive(root).known_urls(PUBLISHER.id) == [url]


def test_every_crash_case_is_in_the_reliability_doc():
    doc = (REPO / "docs" / "reliability.md").read_text(encoding="utf-8")
    section = doc.split("## Crash safety", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M)
    assert sorted(listed) == sorted(CRASH_CASES)
