"""`moneytrail cluster` (what `make cluster` runs) as a user runs it: it starts the cluster,
runs the registry, prints the end-of-run table and the UI's address, and Ctrl-C then stops
every process it started."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import yaml

from orchestration.cluster import drop_database, free_port, processes_with
from tests.terminal import REPO, interruptible

pytestmark = pytest.mark.distributed


def test_cluster_command_runs_then_ctrl_c_stops_everything(world, postgres_server, tmp_path):
    _server, registry = world
    document = yaml.safe_load(registry.read_text(encoding="utf-8"))
    document["publishers"] = [p for p in document["publishers"] if p["id"] == "brookfield-care"]
    document["publishers"][0].pop("commissioners", None)
    small = tmp_path / "registry.yaml"
    small.write_text(yaml.safe_dump(document), encoding="utf-8")
    data = tmp_path / "data"
    tag = uuid.uuid4().hex[:8]
    warehouse, dagster = f"mt_test_cmd_wh_{tag}", f"mt_test_cmd_dg_{tag}"
    command = [sys.executable, "-m", "orchestration.cli", "cluster", "--registry", str(small),
               "--data-dir", str(data), "--workers", "1", "--ui-port", str(free_port()),
               "--postgres", postgres_server, "--warehouse-db", warehouse,
               "--dagster-db", dagster]
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ,
                                                       "MONEYTRAIL_ALLOW_PRIVATE": "1"},
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, preexec_fn=interruptible)
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(process.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None and not any(
                "Ctrl-C stops the cluster" in line for line in list(said)):
            time.sleep(0.5)
        output = "".join(said)
        assert "Ctrl-C stops the cluster" in output, output
        assert "brookfield-care" in output and "£453,024.44  ok" in output, output
        home = f"DAGSTER_HOME={data.resolve() / 'cluster' / 'dagster'}"
        assert processes_with(home), "the cluster's processes should be running"
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0, "".join(said)
        assert processes_with(home) == []
        assert (data / "site" / "moneytrail.db").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(10)
        process.stdout.close()
        drop_database(postgres_server, warehouse)
        drop_database(postgres_server, dagster)
