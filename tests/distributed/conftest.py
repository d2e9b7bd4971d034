"""A real cluster for the distributed tests: RabbitMQ, Celery workers, the Dagster daemon and
webserver on PostgreSQL storage (orchestration.cluster), and the demo world served over local
HTTP. Skipped, saying why, only when PostgreSQL is unreachable; anything else that is missing
(RabbitMQ, dagster-celery) fails, as .ci/run installs it."""

import os
import uuid

import pytest
import sqlalchemy as sa
import yaml

from orchestration.cluster import (
    DEFAULT_POSTGRES,
    Cluster,
    ClusterSettings,
    drop_database,
    ensure_database,
    marked_processes,
)
from orchestration.runner import run_pipeline
from sources.demo_server import LocalServer
from sources.demo_world import build_demo_world
from warehouse.engine import connect, connect_url
from warehouse.tables import files, payments

SERVER = os.environ.get("MONEYTRAIL_TEST_POSTGRES_SERVER", DEFAULT_POSTGRES)
# A registry entry the loader refuses: in a cluster too, it fails its own partition only.
REFUSED = {"id": "file-council", "org_id": "GB-LAE-FIL", "name": "File Council",
           "kind": "council", "feeds": [{"kind": "urls", "urls": ["file:///etc/passwd"]}]}


def _unreachable() -> str | None:
    try:
        engine = sa.create_engine(connect_url(SERVER), connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as failure:  # any driver or network error: skip, saying why
        return f"PostgreSQL at {SERVER} is not reachable: {type(failure).__name__}: {failure}"
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    reason = _unreachable()
    if reason:
        pytest.skip(reason)
    return SERVER


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The demo world (six publishers) and the refused entry, served over local HTTP for the
    whole module; yields the server (its faults can be set) and the registry's path."""
    root = tmp_path_factory.mktemp("world")
    (root / "www").mkdir()
    with LocalServer(root / "www") as server:
        built = build_demo_world(root, server.url)
        document = yaml.safe_load(built.registry_path.read_text(encoding="utf-8"))
        document["publishers"].append(REFUSED)
        registry = root / "registry-with-refused.yaml"
        registry.write_text(yaml.safe_dump(document), encoding="utf-8")
        yield server, registry


@pytest.fixture(scope="module")
def single_machine(world, tmp_path_factory):
    """The same world through `moneytrail run`'s path: in-process, SQLite warehouse."""
    _server, registry = world
    data = tmp_path_factory.mktemp("sqlite-data")
    run_pipeline(registry, data, allow_private=True)
    engine = connect(f"sqlite:///{data / 'warehouse.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def cluster(postgres_server, tmp_path_factory):
    dagster_db = f"mt_test_dagster_{uuid.uuid4().hex[:8]}"
    settings = ClusterSettings(tmp_path_factory.mktemp("cluster"), workers=2,
                               postgres=postgres_server, dagster_db=dagster_db,
                               run_timeout=600)
    try:
        with Cluster(settings) as running:
            yield running
        # Every process it started has ended: workers, broker, daemon, webserver, code
        # servers and the runs' own processes.
        assert marked_processes(running.id) == []
    finally:
        drop_database(postgres_server, dagster_db)


@pytest.fixture
def warehouse_url(postgres_server):
    """A PostgreSQL warehouse of the test's own, dropped afterwards."""
    name = f"mt_test_wh_{uuid.uuid4().hex[:8]}"
    url = ensure_database(postgres_server, name)
    yield url
    drop_database(postgres_server, name)


def payment_rows(engine: sa.Engine) -> list[tuple]:
    """Every payment as published and loaded, with the file version it came from by URL and
    checksum: everything but the warehouse's own row and file numbers, which depend on the
    order loads happened to run in."""
    columns = [c for c in payments.c if c.name not in ("id", "file_id")]
    query = (sa.select(files.c.url, files.c.sha256, *columns)
             .join(files, files.c.id == payments.c.file_id))
    with engine.connect() as conn:
        return sorted((tuple(row) for row in conn.execute(query)), key=repr)
