"""`make dev` after `make demo`: the Dagster UI opens on the demo's data folder, showing its
publishers as partitions, the demo's own runs and check results and the registry it used, and
Ctrl-C stops every process it started."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from orchestration.demo import run_demo
from sources.registry import load_registry
from tests.integration.test_pipeline import free_port
from tests.integration.test_processes import session
from tests.terminal import interruptible

REPO = Path(__file__).resolve().parents[2]
LOCATION = {"repositoryName": "__repository__",
            "repositoryLocationName": "orchestration.definitions"}
SEEN = """
query Seen($location: RepositorySelector!) {
  assetNodes(assetKeys: [{path: ["warehouse_files"]}]) {
    partitionKeys
    assetChecksOrError { ... on AssetChecks { checks {
      name executionForLatestMaterialization { status } } } }
  }
  runsOrError { ... on Runs { results { status } } }
  allTopLevelResourceDetailsOrError(repositorySelector: $location) {
    ... on ResourceDetailsList { results { name configuredValues { key value } } }
  }
  repositoryOrError(repositorySelector: $location) {
    ... on Repository {
      sensors { name sensorState { status } }
      schedules { name scheduleState { status } }
    }
  }
}
"""

pytestmark = [
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc"),
    pytest.mark.skipif(shutil.which("make") is None, reason="needs make"),
]


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("demo")
    run_demo(data)
    return data


def make_dev(data: Path, port: int, log: Path) -> subprocess.Popen:
    """`make dev` as a terminal starts it, leading a session of its own; never reinstalling
    (-o the install stamp), with this interpreter's environment."""
    stamp = REPO / ".venv" / ".installed"
    command = ["make", "-o", str(stamp), "dev", f"STAMP={stamp}", f"DATA={data}",
               f"DEV_PORT={port}", f"BIN={Path(sys.executable).parent}"]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DAGSTER_", "MONEYTRAIL_"))}
    with open(log, "w") as output:
        return subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True,
                                preexec_fn=interruptible,
                                stdin=subprocess.DEVNULL, stdout=output, stderr=output)


def wait_for_ui(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, "make dev ended before the UI answered"
        try:
            if requests.get(f"{url}/server_info", timeout=5).ok:
                return
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, "the UI never answered"
        time.sleep(0.25)


def test_make_dev_shows_the_demo_and_ctrl_c_stops_everything(demo_data, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = make_dev(demo_data, port, tmp_path / "dev.log")
    try:
        wait_for_ui(url, process)
        seen = requests.post(f"{url}/graphql", timeout=60, json={
            "query": SEEN, "variables": {"location": LOCATION}}).json()["data"]
        started = {pid for pid, _, _ in session(process.pid)}
        os.killpg(process.pid, signal.SIGINT)  # what a terminal sends its foreground group
        process.wait(timeout=60)
        deadline = time.monotonic() + 30
        while session(process.pid) and time.monotonic() < deadline:
            time.sleep(0.25)
        left = session(process.pid)
    finally:
        if process.poll() is None or session(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert left == [], (tmp_path / "dev.log").read_text()[-3000:]
    assert len(started) >= 4  # make, dagster dev, its webserver, daemon and code server

    registry = demo_data / "demo-world" / "registry.yaml"
    [node] = seen["assetNodes"]
    assert sorted(node["partitionKeys"]) == sorted(load_registry(registry).publishers)
    checks = {c["name"]: c["executionForLatestMaterialization"]["status"]
              for c in node["assetChecksOrError"]["checks"]}
    assert checks["schema_conformance"] == checks["reconciliation"] == "SUCCEEDED"
    assert set(checks.values()) <= {"SUCCEEDED", "FAILED"}  # each evaluated by the demo
    runs = seen["runsOrError"]["results"]
    assert runs and {r["status"] for r in runs} == {"SUCCESS"}
    resources = {r["name"]: {v["key"]: v["value"] for v in r["configuredValues"]}
                 for r in seen["allTopLevelResourceDetailsOrError"]["results"]}
    assert resources["registry"]["path"] == f'"{registry.resolve()}"'
    assert resources["warehouse"]["data_dir"] == f'"{demo_data.resolve()}"'
    states = seen["repositoryOrError"]
    assert {s["name"]: s["sensorState"]["status"] for s in states["sensors"]} == {
        "new_publishers": "STOPPED"}
    assert {s["name"]: s["scheduleState"]["status"] for s in states["schedules"]} == {
        "weekly_harvest": "STOPPED", "weekly_site": "STOPPED"}
