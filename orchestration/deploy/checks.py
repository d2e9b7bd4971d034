"""Offline checks of the deployment files in this folder, against Dagster's own config schemas.

No cluster, database or Docker daemon is reachable where the tests run, so without these checks
a misspelt key in a dagster.yaml would first be seen by a daemon failing to start in
production. Each check does what Dagster does when it loads the file, short of connecting to
anything: the instance schema (`dagster_instance_config`, with its own cross-field rules), the
class each `module`/`class` block names (imported, its `config` validated against the class's
`config_type()`), the storage class `storage: postgres:` stands for, and the few rules a
class's constructor enforces that its schema does not. Executor run config is validated
against the executor definition's `config_schema`; the compose file is checked for agreement
with the instance file it mounts.

Every check returns a list of problems in plain words, empty when the file is fine, and raises
nothing for a bad file. Environment variables (`{env: X}`) are checked for form only, never
resolved: their values exist only in the cluster.

    python -m orchestration.deploy.checks     # every shipped file; exit status 1 on a problem
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

DEPLOY = Path(__file__).resolve().parent
REPO = DEPLOY.parents[1]

# The DAGSTER_HOME/dagster.yaml files a deployment uses (local.yaml is the single-machine one).
INSTANCE_FILES = [
    DEPLOY / "dagster.yaml",
    DEPLOY / "local.yaml",
    DEPLOY / "k8s" / "dagster.yaml",
    DEPLOY / "docker" / "dagster.yaml",
]
# Executor run config, and the executor definition ("module:attribute") each one configures.
EXECUTOR_FILES = {
    DEPLOY / "k8s" / "executor.yaml": "dagster_k8s:k8s_job_executor",
    DEPLOY / "docker" / "executor.yaml": "dagster_docker:docker_executor",
}
# The compose file, and the instance file its Dagster services mount as DAGSTER_HOME/dagster.yaml.
COMPOSE_FILES = {DEPLOY / "docker" / "compose.yaml": DEPLOY / "docker" / "dagster.yaml"}

# Top-level instance keys whose value is a `module`/`class`/`config` block. `instance_class`
# is left out: its config extends the instance schema rather than configuring a class.
CLASS_KEYS = (
    "local_artifact_storage", "compute_logs", "run_storage", "event_log_storage",
    "schedule_storage", "scheduler", "run_coordinator", "run_launcher", "defs_state_storage",
)
# What pip installs a module that a block names but that is not installed.
PACKAGES = {"dagster_k8s": "dagster-k8s", "dagster_docker": "dagster-docker",
            "dagster_postgres": "dagster-postgres", "dagster_mysql": "dagster-mysql",
            "dagster_celery": "dagster-celery"}
# The run-config sections a job's run config may have.
RUN_CONFIG_KEYS = ("execution", "resources", "ops", "loggers")


# -- reading ---------------------------------------------------------------------------------


def load_yaml(path: Path) -> tuple[Any, list[str]]:
    """The file's YAML, and the problem (missing, unreadable, not YAML) if it has none."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return None, [f"cannot read {path}: {exc.strerror or exc}"]
    try:
        return yaml.safe_load(text), []
    except yaml.YAMLError as exc:
        return None, [f"{path} is not YAML: {exc}"]


def env_names(value: Any) -> set[str]:
    """The environment variables a config reads with `{env: NAME}`, at any depth."""
    if isinstance(value, Mapping):
        if set(value) == {"env"} and isinstance(value["env"], str):
            return {value["env"]}
        return set().union(*(env_names(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(env_names(v) for v in value))
    return set()


def _short(message: str) -> str:
    """Dagster's message without the whole expected schema it appends (often kilobytes)."""
    for tail in (' Expected: "', " You must provide this value"):
        message = message.split(tail, 1)[0]
    return message.rstrip(".") + "."


def _validate(label: str, schema: Any, value: Any) -> tuple[list[str], Any]:
    """Validate without resolving environment variables (validate_config, not process_config):
    the problems, and the value with the schema's defaults filled in when it is valid."""
    from dagster._config import validate_config

    result = validate_config(schema, value)
    return [f"{label}: {_short(error.message)}" for error in result.errors or []], result.value


# -- instance files (DAGSTER_HOME/dagster.yaml) ----------------------------------------------


def check_instance_file(path: Path) -> list[str]:
    """Problems with a DAGSTER_HOME/dagster.yaml: Dagster's instance schema and cross-field
    rules, then every class it names and that class's config; empty when the file is fine."""
    config, problems = load_yaml(path)
    if problems:
        return problems
    if config is None:
        return []  # an empty dagster.yaml is valid: every default
    if not isinstance(config, Mapping):
        return [f"{path}: expected a mapping of instance settings, got {type(config).__name__}"]
    problems = _instance_schema_problems(Path(path))
    for label, module, name, block_config in class_blocks(config):
        problems += check_class_config(label, module, name, block_config)
    return problems


def _instance_schema_problems(path: Path) -> list[str]:
    """What Dagster's own loader says of the file (schema and cross-field rules)."""
    from dagster._core.errors import DagsterInvalidConfigError
    from dagster._core.instance.config import dagster_instance_config

    try:
        dagster_instance_config(str(path.parent), config_filename=path.name)
    except DagsterInvalidConfigError as exc:
        if exc.errors:
            return [f"instance: {_short(error.message)}" for error in exc.errors]
        return [f"instance: {exc.args[0]}"]
    except Exception as exc:  # a custom instance_class that cannot be imported, say
        return [f"instance: {exc}"]
    return []


def class_blocks(config: Mapping[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    """(label, module, class, config) for every configurable class the instance names,
    including the storage class `storage: postgres:` (or `mysql:`) stands for."""
    for key in CLASS_KEYS:
        yield from _block(key, config.get(key))
    storage = config.get("storage")
    if isinstance(storage, Mapping) and len(storage) == 1:
        kind, value = next(iter(storage.items()))
        if kind == "custom":
            yield from _block("storage.custom", value)
        elif kind in ("postgres", "mysql") and isinstance(value, Mapping):
            # dagster._core.instance.ref.configurable_storage_data: the unified storage class
            # takes the section as its config (as do the run, event and schedule storages).
            module = f"dagster_{kind}"
            name = {"postgres": "DagsterPostgresStorage", "mysql": "DagsterMySQLStorage"}[kind]
            yield f"storage.{kind}", module, name, value
    secrets = config.get("secrets")
    if isinstance(secrets, Mapping):
        yield from _block("secrets.custom", secrets.get("custom"))


def _block(label: str, value: Any) -> Iterator[tuple[str, str, str, Any]]:
    if isinstance(value, Mapping) and isinstance(value.get("module"), str) and isinstance(
            value.get("class"), str):
        yield label, value["module"], value["class"], value.get("config") or {}


def check_class_config(label: str, module: str, name: str, config: Any) -> list[str]:
    """Import the class a block names, as Dagster would (`dagster.core.x` is read as
    `dagster._core.x`, as ConfigurableClassData does), and validate its config against the
    class's `config_type()`; then the rules its constructor enforces. Nothing is constructed,
    so nothing is connected to."""
    from dagster._utils import convert_dagster_submodule_name

    module = convert_dagster_submodule_name(module, "private")
    where = f"{label} ({module}.{name})"
    try:
        imported = importlib.import_module(module)
    except ImportError as exc:
        package = PACKAGES.get(module.split(".")[0])
        hint = f"; pip install {package}" if package else ""
        return [f"{where}: cannot import module {module} ({exc}){hint}"]
    cls = getattr(imported, name, None)
    if cls is None:
        return [f"{where}: module {module} has no class {name}"]
    if not callable(getattr(cls, "config_type", None)):
        return [f"{where}: {name} is not a configurable class (it has no config_type())"]
    problems, value = _validate(f"{where} config", cls.config_type(), config)
    if not problems:
        problems += [f"{where} config: {p}" for p in constructor_problems(cls, value)]
    return problems


def constructor_problems(cls: type, config: Mapping[str, Any]) -> list[str]:
    """Rules a class's constructor (or loader) enforces beyond its schema, checked without
    constructing it: a K8sRunLauncher would load the cluster's credentials, a DockerRunLauncher
    would open the Docker socket and a Postgres storage would connect."""
    name, package = cls.__name__, cls.__module__.split(".")[0]
    problems = []
    if name == "QueuedRunCoordinator":
        limit = config.get("max_concurrent_runs")
        if isinstance(limit, int) and limit < -1:
            problems.append(f"max_concurrent_runs is {limit}: only -1 (no limit) or more")
    if package == "dagster_postgres":
        # dagster_postgres.utils.pg_url_from_config
        if bool(config.get("postgres_url")) == ("postgres_db" in config):
            problems.append("postgres storage needs exactly one of postgres_url or postgres_db")
    if name == "K8sRunLauncher":
        problems += _k8s_problems(config, incluster_default=True)
    if name == "DockerRunLauncher":
        problems += _docker_problems(config)
    return problems


def _k8s_problems(config: Mapping[str, Any], incluster_default: bool | None) -> list[str]:
    """dagster_k8s.utils.load_kubernetes_config: a kubeconfig file and the in-cluster config
    are two ways to reach the cluster, not both."""
    incluster = config.get("load_incluster_config", incluster_default)
    if incluster and config.get("kubeconfig_file") is not None:
        return ["kubeconfig_file is set but load_incluster_config is true: choose one"]
    return []


def _docker_problems(config: Mapping[str, Any]) -> list[str]:
    """dagster_docker.utils.validate_docker_config: no network and networks both; no image,
    environment or network inside container_kwargs (they have keys of their own)."""
    from dagster_docker.utils import validate_docker_config

    try:
        validate_docker_config(config.get("network"), config.get("networks"),
                               config.get("container_kwargs"))
    except Exception as exc:
        return [str(exc).replace("Invariant failed. Description: ", "").strip()]
    return []


# -- executor run config ---------------------------------------------------------------------


def executor_definition(pointer: str):
    """The executor definition "module:attribute" names (dagster_k8s:k8s_job_executor)."""
    module, attribute = pointer.split(":")
    return getattr(importlib.import_module(module), attribute)


def check_executor_file(path: Path, executor: Any) -> list[str]:
    """Problems with a run-config file's `execution:` section for the executor (a definition,
    or "module:attribute"): its config validated against the executor's config_schema."""
    run_config, problems = load_yaml(path)
    return problems or check_run_config(run_config, executor)


def check_run_config(run_config: Any, executor: Any) -> list[str]:
    """Problems with run config's `execution:` section for an executor definition (or
    "module:attribute"). The section may be `execution: {config: ...}` or name the executor,
    `execution: {k8s: {config: ...}}`."""
    if isinstance(executor, str):
        try:
            executor = executor_definition(executor)
        except (ImportError, AttributeError) as exc:
            package = PACKAGES.get(executor.split(":")[0])
            hint = f"; pip install {package}" if package else ""
            return [f"cannot load the executor {executor} ({exc}){hint}"]
    if not isinstance(run_config, Mapping) or "execution" not in run_config:
        return ["expected run config with an `execution:` section"]
    problems = [f"unknown run config section {key!r}: expected one of {', '.join(RUN_CONFIG_KEYS)}"
                for key in run_config if key not in RUN_CONFIG_KEYS]
    execution = run_config["execution"]
    if not isinstance(execution, Mapping) or len(execution) != 1 or not (
            {"config", executor.name} >= set(execution)):
        return problems + [f"execution: expected one key, `config` (or `{executor.name}`)"]
    section = next(iter(execution.values())) or {}
    if isinstance(section, Mapping) and set(section) <= {"config"} and "config" in section:
        section = section["config"] or {}  # execution: {k8s: {config: ...}}
    found, value = _validate(f"execution.config ({executor.name} executor)",
                             executor.config_schema.config_type, section)
    problems += found
    if not found:
        if executor.name == "k8s":
            problems += [f"execution.config: {p}" for p in _k8s_problems(value, None)]
        if executor.name == "docker":
            problems += [f"execution.config: {p}" for p in _docker_problems(value)]
    return problems


# -- the compose file ------------------------------------------------------------------------


def check_compose_file(compose_path: Path, instance_path: Path) -> list[str]:
    """Problems with a compose file as the deployment of an instance file: the services it
    needs are there, and every environment variable the instance reads (`{env: X}`) or its run
    launcher forwards to run containers (`env_vars`) is set where it is read; the Postgres,
    RabbitMQ, network and volume names agree; executor config mounted from the compose file
    validates. A compose file is documentation as configuration here: nothing is started."""
    compose, problems = load_yaml(compose_path)
    instance, more = load_yaml(instance_path)
    problems += more
    if problems:
        return problems
    if not isinstance(compose, Mapping) or not isinstance(compose.get("services"), Mapping):
        return [f"{compose_path}: expected a compose file with services"]
    if not isinstance(instance or {}, Mapping):
        return [f"{instance_path}: expected a mapping of instance settings"]
    try:
        return _compose_problems(compose_path, instance_path, compose, instance or {})
    except (AttributeError, TypeError, ValueError) as exc:
        # A value of a shape compose or Dagster would reject too (a list for a mapping...).
        return [f"{compose_path}: unexpected shape ({exc})"]


def _compose_problems(compose_path: Path, instance_path: Path, compose: Mapping,
                      instance: Mapping) -> list[str]:
    problems = []
    services = {name: service or {} for name, service in compose["services"].items()}
    roles = _roles(services)
    problems += [f"no {role} service ({how})" for role, how in ROLES.items() if role not in roles]
    if problems:
        return problems
    envs = {name: _environment(service) for name, service in services.items()}
    dagster_services = [roles[r] for r in ("webserver", "daemon", "code location")]

    # Every Dagster service loads the instance, so needs every variable it reads.
    for name in sorted(env_names(instance)):
        problems += [f"{name}, which {instance_path.name} reads, is not set in service {s}"
                     for s in dagster_services if name not in envs[s]]
    problems += _mount_problems(compose_path, instance_path, services, envs, dagster_services)

    launcher = (instance.get("run_launcher") or {}).get("config") or {}
    forwarded = [v for v in launcher.get("env_vars") or [] if "=" not in v]
    # A KEY-only entry is copied from the launching process, which fails the launch if unset:
    # the daemon launches queued runs.
    problems += [f"{name}, which the run launcher forwards, is not set in service "
                 f"{roles['daemon']} (runs fail to launch)"
                 for name in forwarded if name not in envs[roles["daemon"]]]
    if (instance.get("run_launcher") or {}).get("class") == "DockerRunLauncher":
        # Run containers start with the forwarded variables only, and load the same instance.
        problems += [f"{name}, which {instance_path.name} reads, is not in the run launcher's "
                     "env_vars: run containers would not have it"
                     for name in sorted(env_names(instance)) if name not in forwarded]
        problems += _docker_launcher_problems(compose, services, envs, roles, launcher)

    problems += _name_problems(envs, instance)
    problems += _postgres_problems(instance, envs, roles)
    problems += _broker_problems(services, envs)
    problems += _config_problems(compose, services, envs)
    return problems


# A service's role, recognised by its command or image, so the services can be named freely.
ROLES = {
    "webserver": "command runs dagster-webserver",
    "daemon": "command runs dagster-daemon",
    "code location": "command runs `dagster code-server start` or `dagster api grpc`",
    "postgres": "image postgres",
    "rabbitmq": "image rabbitmq",
}


def _roles(services: Mapping[str, Mapping]) -> dict[str, str]:
    found = {}
    for name, service in services.items():
        command = service.get("command") or ""
        command = " ".join(command) if isinstance(command, list) else str(command)
        image = str(service.get("image") or "").rsplit("/", 1)[-1]
        for role, test in (
                ("webserver", "dagster-webserver" in command),
                ("daemon", "dagster-daemon" in command),
                ("code location", "code-server start" in command or "api grpc" in command),
                ("postgres", image.startswith("postgres")),
                ("rabbitmq", image.startswith("rabbitmq"))):
            if test:
                found.setdefault(role, name)
    return found


def _environment(service: Mapping) -> dict[str, str]:
    """A service's environment as a mapping, from either compose form (list or mapping)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def compose_default(value: str) -> str:
    """A compose interpolation's default: `${NAME:-x}` (or `${NAME-x}`) gives x."""
    match = re.fullmatch(r"\$\{\w+:?-(.*)\}", value)
    return match.group(1) if match else value


def _mounts(service: Mapping) -> list[tuple[str, str]]:
    """(source, target) of a service's volumes, from the short or the long syntax."""
    found = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            parts = volume.split(":")
            if len(parts) >= 2:
                found.append((parts[0], parts[1]))
        elif isinstance(volume, Mapping) and volume.get("target"):
            found.append((str(volume.get("source", "")), str(volume["target"])))
    return found


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _mount_problems(compose_path, instance_path, services, envs, dagster_services) -> list[str]:
    """Every Dagster service mounts the checked instance file as DAGSTER_HOME/dagster.yaml, and
    any service given MONEYTRAIL_DATA_DIR has the data folder on a volume (not its own disk)."""
    problems = []
    for name in dagster_services:
        home = envs[name].get("DAGSTER_HOME")
        if not home:
            problems.append(f"service {name} has no DAGSTER_HOME")
            continue
        sources = [source for source, target in _mounts(services[name])
                   if target == f"{home.rstrip('/')}/dagster.yaml"]
        if not any((compose_path.parent / s).resolve() == instance_path.resolve()
                   for s in sources):
            problems.append(f"service {name} does not mount {instance_path.name} as "
                            f"{home}/dagster.yaml")
    for name, env in envs.items():
        data_dir = env.get("MONEYTRAIL_DATA_DIR")
        if data_dir and not any(_under(data_dir, target) for _, target in _mounts(services[name])):
            problems.append(f"service {name}: MONEYTRAIL_DATA_DIR={data_dir} is on no volume")
    return problems


def _docker_launcher_problems(compose, services, envs, roles, launcher) -> list[str]:
    """The DockerRunLauncher names compose objects by their real names: the network its run
    containers join and the volumes they mount must have those names (compose prefixes the
    project name unless `name:` says otherwise), and the data folder must be on one of them."""
    problems = []
    networks = _real_names(compose.get("networks"))
    wanted = [launcher["network"]] if launcher.get("network") else launcher.get("networks") or []
    problems += [f"the run launcher's network {network!r} is not a compose network named "
                 f"{network!r} (set `name: {network}` on it)"
                 for network in wanted if network not in networks]
    volumes = _real_names(compose.get("volumes"))
    targets = []
    for source, target in _launcher_volumes(launcher):
        targets.append(target)
        if not source.startswith(("/", ".", "~")) and source not in volumes:
            problems.append(f"the run launcher mounts volume {source!r}, but no compose volume "
                            f"is named {source!r} (set `name: {source}` on it)")
    data_dir = envs[roles["daemon"]].get("MONEYTRAIL_DATA_DIR")
    if data_dir and not any(_under(data_dir, t) for t in targets):
        problems.append(f"run containers: MONEYTRAIL_DATA_DIR={data_dir} is on none of the "
                        "run launcher's container_kwargs volumes")
    for role in ("daemon", "webserver"):
        if not any(t == "/var/run/docker.sock" for _, t in _mounts(services[roles[role]])):
            problems.append(f"service {roles[role]} does not mount /var/run/docker.sock, which "
                            "the Docker run launcher needs")
    return problems


def _real_names(objects: Any) -> set[str]:
    """The names Docker knows compose networks or volumes by, where the file fixes them: an
    explicit `name:`, or the key of an external one; others get the project's name prefixed."""
    names = set()
    for key, value in (objects or {}).items():
        value = value or {}
        if value.get("name"):
            names.add(value["name"])
        elif value.get("external"):
            names.add(key)
    return names


def _launcher_volumes(launcher: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of the volumes in container_kwargs, in either form docker-py takes:
    a list of "source:target[:mode]" or a mapping {source: {bind: target, mode: ...}}."""
    volumes = (launcher.get("container_kwargs") or {}).get("volumes") or []
    if isinstance(volumes, Mapping):
        return [(str(s), str((v or {}).get("bind", ""))) for s, v in volumes.items()]
    found = []
    for entry in volumes:
        source, _, rest = str(entry).partition(":")
        found.append((source, rest.split(":")[0]))
    return found


def known_names() -> set[str]:
    """The MONEYTRAIL_* names the project's code mentions (orchestration, sources,
    warehouse): a compose file setting any other is setting something nobody reads."""
    names: set[str] = set()
    for package in ("orchestration", "sources", "warehouse"):
        for path in (REPO / package).rglob("*.py"):
            if DEPLOY in path.parents:
                continue  # these checks name variables too, but read none
            names |= set(re.findall(r"\bMONEYTRAIL_[A-Z0-9_]+\b",
                                    path.read_text(encoding="utf-8")))
    return names


def executor_names() -> list[str]:
    """The MONEYTRAIL_EXECUTOR values orchestration/definitions.py accepts (its EXECUTORS),
    read from the source: importing it would build the whole code location."""
    tree = ast.parse((REPO / "orchestration" / "definitions.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "EXECUTORS" for t in node.targets):
            return [k.value for k in getattr(node.value, "keys", []) if
                    isinstance(k, ast.Constant)]
    return []


def _name_problems(envs, instance) -> list[str]:
    problems = []
    known = known_names() | env_names(instance)
    executors = executor_names()
    for service, env in envs.items():
        for name in env:
            if name.startswith("MONEYTRAIL_") and name not in known:
                problems.append(f"service {service} sets {name}, which nothing reads")
        executor = compose_default(env.get("MONEYTRAIL_EXECUTOR", ""))
        if executor and executors and executor not in executors:
            problems.append(f"service {service}: MONEYTRAIL_EXECUTOR={executor} is not one of "
                            f"{', '.join(executors)} (orchestration/definitions.py)")
        if compose_default(env.get("MONEYTRAIL_ALLOW_PRIVATE", "")) == "1":
            problems.append(f"service {service} sets MONEYTRAIL_ALLOW_PRIVATE=1: a shared "
                            "deployment must not fetch from private addresses")
    return problems


def _postgres_problems(instance, envs, roles) -> list[str]:
    """The instance's Postgres settings name the compose Postgres service and its user,
    password and database, as the services' environment gives them."""
    db = ((instance.get("storage") or {}).get("postgres") or {}).get("postgres_db")
    if not isinstance(db, Mapping):
        return []
    postgres = roles["postgres"]
    server = envs[postgres]
    user = server.get("POSTGRES_USER", "postgres")
    # field: (what it must be, what says so in the Postgres service)
    expected = {"hostname": (postgres, "the Postgres service's name"),
                "username": (user, "its POSTGRES_USER"),
                "password": (server.get("POSTGRES_PASSWORD"), "its POSTGRES_PASSWORD"),
                "db_name": (server.get("POSTGRES_DB") or user, "its POSTGRES_DB")}
    daemon = envs[roles["daemon"]]
    problems = []
    for field, (want, source) in expected.items():
        value = db.get(field)
        name = value.get("env") if isinstance(value, Mapping) else None
        got = daemon.get(name) if name else value
        if name and got is None:
            continue  # reported above as not set
        if got != want:
            what = f"{name}={got}" if name else f"{got}"
            problems.append(f"storage.postgres.postgres_db.{field} is {what}, but {source} "
                            f"(service {postgres}) is {want}")
    return problems


def _broker_problems(services, envs) -> list[str]:
    """MONEYTRAIL_CELERY_BROKER, where set, names a RabbitMQ service of the compose file."""
    rabbit = {name for name, s in services.items()
              if str(s.get("image") or "").rsplit("/", 1)[-1].startswith("rabbitmq")}
    problems = []
    for service, env in envs.items():
        broker = env.get("MONEYTRAIL_CELERY_BROKER")
        if broker and urlsplit(broker).hostname not in rabbit:
            problems.append(f"service {service}: MONEYTRAIL_CELERY_BROKER={broker} names no "
                            f"RabbitMQ service ({', '.join(sorted(rabbit))})")
    return problems


def _config_problems(compose, services, envs) -> list[str]:
    """Executor run config the compose file carries inline (`configs: x: content:`, the file a
    Celery worker is started with, `dagster-celery worker start -y`) validates against the
    Celery executor, and the variables it reads are set in the services that mount it."""
    problems = []
    for key, config in (compose.get("configs") or {}).items():
        content = (config or {}).get("content")
        if not isinstance(content, str):
            continue
        try:
            value = yaml.safe_load(content)
        except yaml.YAMLError as exc:
            problems.append(f"configs.{key} is not YAML: {exc}")
            continue
        if not (isinstance(value, Mapping) and "execution" in value):
            continue
        problems += [f"configs.{key}: {p}" for p in
                     check_run_config(value, "dagster_celery:celery_executor")]
        for service, spec in services.items():
            mounted = any((c if isinstance(c, str) else (c or {}).get("source")) == key
                          for c in spec.get("configs") or [])
            if mounted:
                problems += [f"{name}, which configs.{key} reads, is not set in service "
                             f"{service}" for name in sorted(env_names(value))
                             if name not in envs[service]]
    return problems


# -- everything ------------------------------------------------------------------------------


def check_all() -> list[str]:
    """Every shipped deployment file's problems, each led by the file's path in the repo."""
    problems = []

    def add(path: Path, found: list[str]) -> None:
        problems.extend(f"{path.relative_to(REPO)}: {p}" for p in found)

    for path in INSTANCE_FILES:
        add(path, check_instance_file(path))
    for path, executor in EXECUTOR_FILES.items():
        add(path, check_executor_file(path, executor))
    for path, instance in COMPOSE_FILES.items():
        add(path, check_compose_file(path, instance))
    return problems


def main() -> int:
    problems = check_all()
    for problem in problems:
        print(problem)
    if not problems:
        print("deployment files: no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
