"""A registry entry with a refused value fails that publisher alone: in `moneytrail run` and in
Dagster, while a good publisher served over local HTTP loads."""

import json

import dagster as dg
import pytest
import yaml
from click.testing import CliRunner

from orchestration.assets import publisher_partitions, raw_files
from orchestration.cli import main
from orchestration.resources import make_resources
from orchestration.runner import open_instance
from orchestration.sensors import new_publishers
from sources.demo_server import LocalServer
from sources.demo_world import build_demo_world

REFUSED = {"id": "file-council", "org_id": "GB-LAE-FIL", "name": "File Council",
           "kind": "council", "feeds": [{"kind": "urls", "urls": ["file:///etc/passwd"]}]}
REASON = "feeds[0]: URL 'file:///etc/passwd' is not http(s)"


@pytest.fixture
def mixed(tmp_path):
    """The demo world's Brookfield Care (commissioned by nobody here) and the refused entry."""
    www = tmp_path / "world" / "www"
    www.mkdir(parents=True)
    with LocalServer(www) as server:
        built = build_demo_world(tmp_path / "world", server.url)
        document = yaml.safe_load(built.registry_path.read_text(encoding="utf-8"))
        [good] = [e for e in document["publishers"] if e["id"] == "brookfield-care"]
        good.pop("commissioners", None)
        path = tmp_path / "mixed.yaml"
        path.write_text(yaml.safe_dump({**document, "publishers": [good, REFUSED]}),
                        encoding="utf-8")
        yield path, tmp_path / "data"


def test_run_loads_the_good_publisher_and_reports_the_refused_one(mixed, monkeypatch):
    registry, data = mixed
    monkeypatch.setenv("MONEYTRAIL_ALLOW_PRIVATE", "1")
    result = CliRunner().invoke(main, ["run", "--registry", str(registry), "--data-dir",
                                       str(data), "--json"])
    # As for any publisher that fails (an HTML page, a 404): reported, not an exit status.
    assert result.exit_code == 0, result.output
    good, refused = json.loads(result.stdout)
    assert (good["publisher_id"], good["status"], good["files"], good["rows"]) == (
        "brookfield-care", "ok", 1, 302)
    assert refused == {
        "publisher_id": "file-council", "name": "file-council", "files": 0, "rows": 0,
        "quarantined": 0, "total_pence": 0, "status": "error",
        "message": f"invalid registry entry: {REASON}", "failed_checks": []}
    with open_instance(data) as instance:
        assert sorted(instance.get_dynamic_partitions(publisher_partitions.name)) == [
            "brookfield-care", "file-council"]
        failed = dg.materialize([raw_files], partition_key="file-council", instance=instance,
                                resources=make_resources(str(registry), str(data), True),
                                raise_on_error=False)
    assert not failed.success
    [failure] = failed.get_step_failure_events()
    assert f"{registry}: file-council: {REASON}" in failure.step_failure_data.error.message


def test_run_prints_the_refused_entry_in_its_table(mixed, monkeypatch):
    registry, data = mixed
    monkeypatch.setenv("MONEYTRAIL_ALLOW_PRIVATE", "1")
    result = CliRunner().invoke(main, ["run", "--registry", str(registry), "--data-dir",
                                       str(data), "--publisher", "file-council"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        f"{'file-council':34} {0:>5} {0:>8} {0:>8} {'£0.00':>18}  error",
        f"{'':34}   invalid registry entry: {REASON}"]


def test_the_sensor_adds_the_refused_entry_as_a_partition(mixed):
    registry, data = mixed
    resources = make_resources(str(registry), str(data), True)
    with dg.instance_for_test() as instance, dg.build_sensor_context(
            instance=instance, resources=resources) as context:
        result = new_publishers(context)
    [request] = result.dynamic_partitions_requests
    assert list(request.partition_keys) == ["brookfield-care", "file-council"]
