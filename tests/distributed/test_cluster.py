"""The pipeline on a real distributed deployment: every publisher of the demo world as a run
of its own partition, its steps taken by two Celery workers through a RabbitMQ broker, the
Dagster instance and the warehouse in PostgreSQL. The warehouse must equal the single-machine
path's (SQLite) row for row, also when a worker is killed in the middle of a step."""

import threading
import time

import pytest

from orchestration.cluster import summaries
from sources.demo_server import Fault
from tests.distributed.conftest import payment_rows
from warehouse.engine import connect

pytestmark = pytest.mark.distributed
PUBLISHERS = {"northmoor-borough-council", "fellbrook-council", "northmoor-leisure-trust",
              "fellside-homes", "brookfield-care", "fellbrook-learning-trust"}


def test_every_publisher_runs_on_the_workers_and_the_warehouse_equals_sqlite(
        world, single_machine, cluster, warehouse_url, tmp_path):
    _server, registry = world
    outcomes = cluster.run_publishers(registry, tmp_path / "data", warehouse_url,
                                      allow_private=True)
    assert set(outcomes) == PUBLISHERS | {"file-council"}
    # A failing publisher fails its own partition only, with its reason, and is not retried.
    refused = outcomes.pop("file-council")
    assert refused.status == "FAILURE" and len(refused.run_ids) == 1
    assert "feeds[0]: URL 'file:///etc/passwd' is not http(s)" in refused.message
    assert {key: o.status for key, o in outcomes.items()} == dict.fromkeys(PUBLISHERS,
                                                                           "SUCCESS")
    ran = cluster.steps_by_worker([r for o in outcomes.values() for r in o.run_ids])
    assert set(ran) == {"worker-1", "worker-2"}, ran
    assert sum(len(steps) for steps in ran.values()) >= 2 * len(PUBLISHERS)

    engine = connect(warehouse_url)
    try:
        rows = payment_rows(engine)
    finally:
        engine.dispose()
    assert len(rows) == 2311  # the demo world's first harvest
    assert rows == payment_rows(single_machine)

    # Then the site, from the PostgreSQL warehouse, and the end-of-run table.
    data = tmp_path / "data"
    cluster.run_site(registry, data, warehouse_url, allow_private=True)
    assert (data / "site" / "moneytrail.db").exists()
    lines = {line.publisher_id: line for line in summaries(outcomes | {"file-council": refused},
                                                           registry, warehouse_url)}
    assert (lines["northmoor-borough-council"].rows, lines["file-council"].status) == (
        825, "error")
    assert "invalid registry entry" in lines["file-council"].message


def test_a_worker_killed_mid_step_gives_the_step_to_another_and_loses_nothing(
        world, single_machine, cluster, warehouse_url, tmp_path):
    server, registry = world
    for spare in range(3, 5):
        if len(cluster.workers) >= 2:
            break
        cluster.start_worker(f"worker-{spare}")
    cluster._wait_for_workers(list(cluster.workers))
    # Fellbrook Council's first file takes long to come: whichever worker harvests it is in
    # the middle of the publisher's raw_files step when it is killed.
    path = "/fellbrook-council/"
    slow = next(p for p in _served_paths(server) if p.startswith(path))
    server.faults[slow] = Fault(delay=25)
    submitted: dict[str, str] = {}
    result: dict = {}

    def run() -> None:
        try:
            result["outcomes"] = cluster.run_publishers(
                registry, tmp_path / "data", warehouse_url, allow_private=True,
                on_submitted=submitted.update)
        except BaseException as failure:  # reported by the test below
            result["error"] = failure

    runner = threading.Thread(target=run)
    runner.start()
    try:
        victim = _worker_in_step(cluster, submitted, "fellbrook-council")
        cluster.kill_worker(victim)
        del server.faults[slow]
    finally:
        runner.join(600)
    assert "error" not in result, result.get("error")
    outcome = result["outcomes"]["fellbrook-council"]
    assert outcome.status == "SUCCESS", outcome
    ran = cluster.steps_by_worker(outcome.run_ids)
    harvested_by = {w for w, steps in ran.items() if any(s.endswith(":raw_files")
                                                         for s in steps)}
    assert victim in harvested_by and len(harvested_by) >= 2, ran
    assert all(o.status == "SUCCESS" for k, o in result["outcomes"].items()
               if k != "file-council")
    engine = connect(warehouse_url)
    try:
        assert payment_rows(engine) == payment_rows(single_machine)
    finally:
        engine.dispose()
    cluster.start_worker("worker-5")


def _served_paths(server) -> list[str]:
    return sorted("/" + str(p.relative_to(server.root)) for p in server.root.rglob("*")
                  if p.is_file())


def _worker_in_step(cluster, submitted, publisher_id, timeout=180) -> str:
    """The worker running the publisher's raw_files step, a moment after it took it (the
    step then waits on its slow file for 25 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_id = submitted.get(publisher_id)
        if run_id:
            for worker, steps in cluster.steps_by_worker([run_id]).items():
                if f"{run_id[:8]}:raw_files" in steps:
                    time.sleep(2)
                    return worker
        time.sleep(0.2)
    raise AssertionError(f"no worker started {publisher_id}'s raw_files within {timeout} s")
