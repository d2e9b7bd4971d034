"""`moneytrail run` on a terminal says how far it has got, publisher by publisher and file by
file; without one it writes only what it did; and it records its runs in the data folder's
Dagster instance, the one `make dev` opens."""

import subprocess
import sys

import dagster as dg

from orchestration.instance import instance_home
from tests.integration.test_pipeline import world  # noqa: F401 (a fixture)
from tests.terminal import REPO, in_terminal
from tests.unit.test_progress import shown_lines

PUBLISHERS = ["northmoor-leisure-trust", "brookfield-care"]


def run_args(built, data) -> list[str]:
    chosen = [arg for p in PUBLISHERS for arg in ("--publisher", p)]
    return ["run", "--registry", str(built.registry_path), "--data-dir", str(data), *chosen]


def test_run_on_a_terminal_shows_each_publishers_files_and_rows(world):  # noqa: F811
    built, data = world
    code, stdout, shown = in_terminal(*run_args(built, data),
                                      env={"MONEYTRAIL_ALLOW_PRIVATE": "1"})
    assert code == 0, shown
    lines = shown_lines(shown)
    assert lines[0] == "harvest: 0 of 2 publishers"
    assert "harvest: 2 of 2 publishers, 3 files" in lines
    leisure = [line for line in lines if "northmoor-leisure-trust:" in line]
    assert leisure[0].startswith("load and check ")
    assert leisure[0].endswith("northmoor-leisure-trust: file 1 of 2, 0 rows")
    assert leisure[-1].endswith("northmoor-leisure-trust: file 2 of 2, 196 rows")
    assert lines[-1] == "flows and site"
    assert stdout.splitlines()[1].split()[:3] == ["northmoor-leisure-trust", "2", "196"]


def test_run_without_a_terminal_writes_no_progress_and_is_recorded_for_make_dev(world):  # noqa: F811
    built, data = world
    for _ in range(2):  # the second run finds nothing new
        done = subprocess.run([sys.executable, "-m", "orchestration.cli",
                               *run_args(built, data)], cwd=REPO, capture_output=True,
                              text=True, env={**_env(), "MONEYTRAIL_ALLOW_PRIVATE": "1"})
        assert done.returncode == 0, done.stderr
        assert "\r" not in done.stderr and "\033" not in done.stderr
    assert done.stderr.splitlines() == [
        "2 of 2 publishers had nothing new: not loaded again, their checks not rerun",
        "flows and site: nothing changed"]
    with dg.DagsterInstance.from_config(str(instance_home(data))) as instance:
        assert sorted(instance.get_dynamic_partitions("publisher")) == sorted(PUBLISHERS)
        runs = instance.get_runs()
        assert len(runs) == 3 and all(r.is_success for r in runs)  # two loads, the site
        harvested = instance.fetch_materializations(
            dg.AssetKey("raw_files"), limit=10).records
        assert len(harvested) == 4  # each publisher, each run
        checks = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("warehouse_files"), "reconciliation"), limit=10)
        assert len(checks) == 2


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("MONEYTRAIL_")}
