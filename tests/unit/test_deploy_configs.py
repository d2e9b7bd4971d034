"""The deployment files in orchestration/deploy load: no cluster is reachable here, so each is
validated offline against Dagster's own config schemas (orchestration.deploy.checks), and
broken copies show the checks do fail, naming what is wrong."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from orchestration.deploy import checks

DEPLOY = checks.DEPLOY
K8S = DEPLOY / "k8s" / "dagster.yaml"
DOCKER = DEPLOY / "docker" / "dagster.yaml"
SKETCH = DEPLOY / "dagster.yaml"
K8S_EXECUTOR = DEPLOY / "k8s" / "executor.yaml"
DOCKER_EXECUTOR = DEPLOY / "docker" / "executor.yaml"
COMPOSE = DEPLOY / "docker" / "compose.yaml"


def _name(path: Path) -> str:
    return str(path.relative_to(DEPLOY))


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _write(path: Path, value: dict) -> Path:
    path.write_text(yaml.safe_dump(value, sort_keys=False), encoding="utf-8")
    return path


def _edited(source: Path, tmp_path: Path, edit: Callable[[dict], object]) -> Path:
    """A copy of the file in tmp_path, changed by `edit`."""
    value = _load(source)
    edit(value)
    return _write(tmp_path / source.name, value)


def _named(problems: list[str], *words: str) -> bool:
    """Whether one problem names every word."""
    return any(all(word in problem for word in words) for problem in problems)


# -- the shipped files -----------------------------------------------------------------------


@pytest.mark.parametrize("path", checks.INSTANCE_FILES, ids=_name)
def test_instance_file_validates(path):
    assert path.exists()
    assert checks.check_instance_file(path) == []


@pytest.mark.parametrize("path", list(checks.EXECUTOR_FILES), ids=_name)
def test_executor_file_validates(path):
    assert checks.check_executor_file(path, checks.EXECUTOR_FILES[path]) == []


def test_compose_file_agrees_with_its_instance():
    assert checks.check_compose_file(COMPOSE, DOCKER) == []


def test_check_all_covers_every_file_and_is_clean(capsys):
    covered = set(checks.INSTANCE_FILES) | set(checks.EXECUTOR_FILES) | set(checks.COMPOSE_FILES)
    assert {K8S, DOCKER, SKETCH, K8S_EXECUTOR, DOCKER_EXECUTOR, COMPOSE} <= covered
    assert checks.main() == 0
    assert "no problems" in capsys.readouterr().out


def test_the_instances_name_the_classes_asked_for():
    """What the checks pass is what was meant: Postgres storage, the queued coordinator, the
    Kubernetes and Docker run launchers, run retries and telemetry off."""
    for path, launcher in ((K8S, "K8sRunLauncher"), (DOCKER, "DockerRunLauncher")):
        config = _load(path)
        assert set(config["storage"]) == {"postgres"}
        assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
        assert config["run_launcher"]["class"] == launcher
        assert config["run_retries"] == {"enabled": True, "max_retries": 2}
        assert config["telemetry"] == {"enabled": False}
        assert {"DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD"} <= checks.env_names(config)


def test_compose_sets_every_variable_an_instance_reads():
    """The Dagster services of compose.yaml have each {env: X} of docker/dagster.yaml."""
    compose = _load(COMPOSE)
    read = checks.env_names(_load(DOCKER))
    assert read
    for service in ("dagster-webserver", "dagster-daemon", "moneytrail-code"):
        environment = compose["services"][service]["environment"]
        assert read <= set(environment), service


def test_compose_celery_workers_agree_with_the_cluster_settings():
    """The Celery workers' config carries the settings runs give the executor."""
    cluster = pytest.importorskip("orchestration.cluster")
    if not hasattr(cluster, "celery_executor_config"):
        pytest.skip("orchestration.cluster has no celery_executor_config")
    content = _load(COMPOSE)["configs"]["celery-executor"]["content"]
    workers = yaml.safe_load(content)["execution"]["config"]
    runs = cluster.celery_executor_config()
    assert workers["config_source"] == runs["config_source"]
    assert workers["backend"] == runs["backend"]
    assert workers["broker"] == {"env": "MONEYTRAIL_CELERY_BROKER"}


# -- broken copies: the checks fail, and say where -------------------------------------------


def _rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


def _launcher(config: dict) -> dict:
    return config["run_launcher"]["config"]


INSTANCE_BREAKS = {
    "misspelt launcher key": (
        K8S, lambda c: _rename(_launcher(c), "job_namespace", "job_namespce"),
        ["job_namespce", "run_launcher"]),
    "missing required launcher key": (
        K8S, lambda c: _launcher(c).pop("instance_config_map"), ["instance_config_map"]),
    "launcher key of the wrong type": (
        K8S, lambda c: _launcher(c).update(env_vars="MONEYTRAIL_DATA_DIR"), ["env_vars"]),
    "kubeconfig and in-cluster both": (
        K8S, lambda c: _launcher(c).update(kubeconfig_file="/root/.kube/config"),
        ["kubeconfig_file"]),
    "launcher module not installed": (
        K8S, lambda c: c["run_launcher"].update(module="dagster_k8z"), ["dagster_k8z"]),
    "launcher class misspelt": (
        K8S, lambda c: c["run_launcher"].update({"class": "K8sRunLaunchr"}), ["K8sRunLaunchr"]),
    "coordinator limit not a number": (
        DOCKER, lambda c: c["run_coordinator"]["config"].update(max_concurrent_runs="eight"),
        ["max_concurrent_runs", "eight"]),
    "coordinator limit below -1": (
        DOCKER, lambda c: c["run_coordinator"]["config"].update(max_concurrent_runs=-5),
        ["max_concurrent_runs"]),
    "docker environment in container_kwargs": (
        DOCKER, lambda c: _launcher(c)["container_kwargs"].update(environment={"A": "1"}),
        ["environment"]),
    "docker network and networks both": (
        DOCKER, lambda c: _launcher(c).update(networks=["other"]), ["network"]),
    "misspelt postgres key": (
        DOCKER, lambda c: _rename(c["storage"]["postgres"]["postgres_db"], "hostname",
                                  "hostnme"), ["hostnme"]),
    "postgres with neither url nor db": (
        DOCKER, lambda c: c["storage"].update(postgres={}), ["postgres_url", "postgres_db"]),
    "env var given the wrong form": (
        DOCKER, lambda c: c["storage"]["postgres"]["postgres_db"].update(
            hostname={"environment": "DAGSTER_PG_HOST"}), ["hostname"]),
    "misspelt top-level key": (
        SKETCH, lambda c: _rename(c, "telemetry", "telemetri"), ["telemetri"]),
    "run retries of the wrong type": (
        K8S, lambda c: c["run_retries"].update(max_retries="two"), ["max_retries"]),
    "unified storage with run storage": (
        SKETCH, lambda c: c.update(run_storage={"module": "dagster._core.storage.runs",
                                                "class": "SqliteRunStorage",
                                                "config": {"base_dir": "/tmp"}}),
        ["storage", "run_storage"]),
}


@pytest.mark.parametrize("case", list(INSTANCE_BREAKS))
def test_a_broken_instance_file_is_reported(case, tmp_path):
    source, edit, words = INSTANCE_BREAKS[case]
    problems = checks.check_instance_file(_edited(source, tmp_path, edit))
    assert _named(problems, *words), problems


def test_an_unreadable_or_missing_file_is_a_problem_not_an_error(tmp_path):
    bad = tmp_path / "dagster.yaml"
    bad.write_text("run_launcher: [unclosed\n", encoding="utf-8")
    assert _named(checks.check_instance_file(bad), "not YAML")
    assert _named(checks.check_instance_file(tmp_path / "absent.yaml"), "cannot read")
    assert _named(checks.check_executor_file(bad, checks.EXECUTOR_FILES[K8S_EXECUTOR]),
                  "not YAML")


def _execution(config: dict) -> dict:
    return config["execution"]["config"]


EXECUTOR_BREAKS = {
    "unknown k8s executor key": (
        K8S_EXECUTOR, lambda c: _rename(_execution(c), "max_concurrent", "max_concurent"),
        ["max_concurent"]),
    "k8s executor key of the wrong type": (
        K8S_EXECUTOR, lambda c: _execution(c).update(max_concurrent="four"),
        ["max_concurrent"]),
    "k8s step config key misspelt": (
        K8S_EXECUTOR, lambda c: _rename(_execution(c), "step_k8s_config", "step_k8s_confg"),
        ["step_k8s_confg"]),
    "k8s option on the docker executor": (
        DOCKER_EXECUTOR, lambda c: _execution(c).update(job_namespace="moneytrail"),
        ["job_namespace", "docker"]),
    "docker image in container_kwargs": (
        DOCKER_EXECUTOR, lambda c: _execution(c)["container_kwargs"].update(image="x:1"),
        ["image"]),
    "no execution section": (
        K8S_EXECUTOR, lambda c: _rename(c, "execution", "executor"), ["execution"]),
    "execution named for another executor": (
        K8S_EXECUTOR, lambda c: _rename(c["execution"], "config", "docker"), ["k8s"]),
}


@pytest.mark.parametrize("case", list(EXECUTOR_BREAKS))
def test_a_broken_executor_file_is_reported(case, tmp_path):
    source, edit, words = EXECUTOR_BREAKS[case]
    problems = checks.check_executor_file(_edited(source, tmp_path, edit),
                                          checks.EXECUTOR_FILES[source])
    assert _named(problems, *words), problems


def _service(compose: dict, name: str) -> dict:
    return compose["services"][name]


def _without(compose: dict, service: str, variable: str) -> None:
    """The service's own environment, without the variable (the others keep theirs)."""
    spec = _service(compose, service)
    spec["environment"] = {k: v for k, v in spec["environment"].items() if k != variable}


def _set_env(compose: dict, service: str, **values: str) -> None:
    spec = _service(compose, service)
    spec["environment"] = {**spec["environment"], **values}


def _celery_config(compose: dict, edit: Callable[[dict], object]) -> None:
    config = compose["configs"]["celery-executor"]
    value = yaml.safe_load(config["content"])
    edit(value["execution"]["config"])
    config["content"] = yaml.safe_dump(value)


COMPOSE_BREAKS = {
    "instance variable not set in the daemon": (
        lambda i, c: _without(c, "dagster-daemon", "DAGSTER_PG_PASSWORD"),
        ["DAGSTER_PG_PASSWORD", "dagster-daemon"]),
    "forwarded variable not set in the daemon": (
        lambda i, c: _launcher(i)["env_vars"].append("MONEYTRAIL_SPARE"),
        ["MONEYTRAIL_SPARE", "dagster-daemon"]),
    "instance variable not forwarded to run containers": (
        lambda i, c: _launcher(i)["env_vars"].remove("DAGSTER_PG_HOST"),
        ["DAGSTER_PG_HOST", "env_vars"]),
    "misspelt project variable": (
        lambda i, c: _set_env(c, "moneytrail-code", MONEYTRAIL_DATADIR="/data"),
        ["MONEYTRAIL_DATADIR", "nothing reads"]),
    "executor the code does not know": (
        lambda i, c: _set_env(c, "dagster-daemon", MONEYTRAIL_EXECUTOR="kubernetes"),
        ["kubernetes"]),
    "private addresses allowed": (
        lambda i, c: _set_env(c, "moneytrail-code", MONEYTRAIL_ALLOW_PRIVATE="1"),
        ["MONEYTRAIL_ALLOW_PRIVATE"]),
    "postgres user differs": (
        lambda i, c: _set_env(c, "postgres", POSTGRES_USER="postgres"), ["username"]),
    "postgres host is no service": (
        lambda i, c: _set_env(c, "dagster-daemon", DAGSTER_PG_HOST="db"), ["hostname", "db"]),
    "broker host is no service": (
        lambda i, c: _set_env(c, "dagster-daemon",
                              MONEYTRAIL_CELERY_BROKER="pyamqp://guest@broker//"),
        ["MONEYTRAIL_CELERY_BROKER"]),
    "network without an exact name": (
        lambda i, c: c["networks"]["moneytrail"].pop("name"), ["network", "moneytrail"]),
    "data volume without an exact name": (
        lambda i, c: c["volumes"]["data"].pop("name"), ["moneytrail-data"]),
    "data folder on no volume": (
        lambda i, c: _set_env(c, "moneytrail-code", MONEYTRAIL_DATA_DIR="/srv/data"),
        ["/srv/data", "moneytrail-code"]),
    "instance not mounted": (
        lambda i, c: _service(c, "dagster-webserver").update(volumes=["data:/data"]),
        ["dagster-webserver", "dagster.yaml"]),
    "no docker socket for the daemon": (
        lambda i, c: _service(c, "dagster-daemon").update(
            volumes=["./dagster.yaml:/opt/dagster/dagster_home/dagster.yaml", "data:/data"]),
        ["docker.sock", "dagster-daemon"]),
    "no daemon": (
        lambda i, c: c["services"].pop("dagster-daemon"), ["daemon"]),
    "celery worker config misspelt": (
        lambda i, c: _celery_config(c, lambda e: _rename(e, "broker", "brokr")),
        ["brokr", "celery-executor"]),
}


@pytest.mark.parametrize("case", list(COMPOSE_BREAKS))
def test_a_broken_compose_file_is_reported(case, tmp_path):
    edit, words = COMPOSE_BREAKS[case]
    instance, compose = _load(DOCKER), _load(COMPOSE)
    edit(instance, compose)
    # Side by side, as in the repo: the compose file mounts ./dagster.yaml.
    problems = checks.check_compose_file(_write(tmp_path / "compose.yaml", compose),
                                         _write(tmp_path / "dagster.yaml", instance))
    assert _named(problems, *words), problems


def test_an_unchanged_copy_is_clean(tmp_path):
    """The broken copies fail for their break, not for being copies (YAML round trip, paths)."""
    compose = _write(tmp_path / "compose.yaml", _load(COMPOSE))
    instance = _write(tmp_path / "dagster.yaml", _load(DOCKER))
    assert checks.check_compose_file(compose, instance) == []
    assert checks.check_instance_file(_write(tmp_path / "k8s.yaml", _load(K8S))) == []


# -- the code location with a cluster executor -----------------------------------------------

LOAD = """
import json, sys
import dagster as dg
import yaml
from orchestration.definitions import defs

job = defs.resolve_job_def("harvest_job")
with open(sys.argv[1], encoding="utf-8") as file:
    run_config = yaml.safe_load(file)
try:
    dg.validate_run_config(job, run_config)
    problem = ""
except dg.DagsterInvalidConfigError as exc:
    problem = str(exc)
print(json.dumps({"executor": job.executor_def.name, "problem": problem}))
"""
CLUSTER_EXECUTORS = {"k8s": (K8S_EXECUTOR, "dagster_k8s"),
                     "docker": (DOCKER_EXECUTOR, "dagster_docker")}


def _why_not(name: str) -> str:
    """Why the code location cannot be loaded with this executor here ("" when it can)."""
    package = CLUSTER_EXECUTORS[name][1]
    if importlib.util.find_spec(package) is None:  # not imported: the subprocess does that
        return f"{package} is not installed"
    if name not in checks.executor_names():
        return f"orchestration/definitions.py's EXECUTORS has no {name!r} entry"
    return ""


@pytest.fixture(scope="module", autouse=True)
def code_locations(tmp_path_factory):
    """orchestration.definitions loaded with each cluster executor, each in a process of its
    own (the executor is chosen at import), started with the module's first test so that the
    seconds of importing overlap the other tests."""
    started = {}
    for name, (run_config, _) in CLUSTER_EXECUTORS.items():
        if _why_not(name):
            continue
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("MONEYTRAIL_")}
        data = tmp_path_factory.mktemp(f"{name}-data")
        env |= {"MONEYTRAIL_EXECUTOR": name, "MONEYTRAIL_DATA_DIR": str(data)}
        started[name] = subprocess.Popen(
            [sys.executable, "-c", LOAD, str(run_config)], cwd=checks.REPO, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield started
    for process in started.values():
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.parametrize("name", list(CLUSTER_EXECUTORS))
def test_definitions_take_the_cluster_executor(name, code_locations):
    """With MONEYTRAIL_EXECUTOR=<name>, harvest_job runs on that executor, and the executor
    file is valid run config for the job."""
    if _why_not(name):
        pytest.skip(_why_not(name))
    out, err = code_locations[name].communicate(timeout=120)
    assert code_locations[name].returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == {"executor": name, "problem": ""}


# -- the cluster's own instance, and the image ----------------------------------------------


def test_the_cluster_instance_template_validates_once_filled_in(tmp_path):
    """`moneytrail cluster` fills in deploy/cluster.yaml: the result is a valid instance."""
    text = (DEPLOY / "cluster.yaml").read_text(encoding="utf-8")
    filled = (text.replace("{postgres_url}", "postgresql+psycopg2://u@127.0.0.1:5432/d")
              .replace("{max_concurrent_runs}", "4").replace("{home}", str(tmp_path)))
    assert "{" not in filled.replace("{env:", "")
    path = tmp_path / "dagster.yaml"
    path.write_text(filled, encoding="utf-8")
    assert checks.check_instance_file(path) == []
    broken = tmp_path / "broken.yaml"
    broken.write_text(filled.replace("max_concurrent_runs: 4", "max_concurent_runs: 4"),
                      encoding="utf-8")
    assert _named(checks.check_instance_file(broken), "max_concurent_runs")


def test_the_dockerfile_copies_only_what_the_repository_has():
    repo = DEPLOY.parents[1]
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text(encoding="utf-8")
    copied = [word for line in dockerfile.splitlines() if line.startswith("COPY ")
              for word in line.split()[1:-1]]
    assert {"pyproject.toml", "orchestration", "datasette"} <= set(copied)
    assert [c for c in copied if not (repo / c).exists()] == []
    assert "'.[cluster]'" in dockerfile  # the extra that holds dagster-celery and friends
