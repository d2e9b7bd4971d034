"""A real Dagster deployment on one machine: `moneytrail cluster` and `make cluster`.

What it starts, each as a process of its own and all of them stopped together:
- a RabbitMQ broker of its own (Debian's rabbitmq-server, on a free port, its files under the
  cluster folder), so that a worker killed mid-step gives its step back to the queue at once;
- Celery workers (`celery -A dagster_celery.app worker`), each one process taking one step at a
  time, named `worker-1@host` and so on;
- a Dagster instance whose runs, events and schedules are stored in PostgreSQL
  (`dagster-postgres`), with a queued run coordinator and run retries, served by the Dagster
  daemon and the webserver (the UI) over one workspace, `orchestration.definitions`.

Every publisher is one run of `harvest_job` for its partition, submitted to the webserver as
the UI or any client would; the run's steps go to the Celery workers through the broker, and
the warehouse they all write is PostgreSQL. When every publisher's run has ended, one run of
`site_job` resolves payees and builds the site. The pipeline code is the single-machine
path's: only the resources (given as run config) and the executor (MONEYTRAIL_EXECUTOR=celery)
differ. See docs/dagster.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCATION = "moneytrail"
# Every process the cluster starts carries this variable; stopping the cluster ends every
# process that has it, including those its processes started in sessions of their own.
MARKER = "MONEYTRAIL_CLUSTER"

# What every worker and every run's orchestrator agree on. A step's message is acknowledged
# only once the step has ended, so a worker that dies mid-step (killed, out of memory) leaves
# it unacknowledged and the broker gives it to another worker; each worker takes one message
# at a time, so no step waits behind a busy worker while another is idle.
CELERY_SETTINGS = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    "broker_connection_retry_on_startup": True,
}
RUNNING = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")


class ClusterError(RuntimeError):
    """A part of the cluster could not start, or a run it needed failed; says which and why."""


def celery_executor_config() -> dict:
    """The Celery executor's config: the broker from MONEYTRAIL_CELERY_BROKER, results back
    over the broker (rpc), and the shared settings above."""
    return {
        "broker": os.environ.get("MONEYTRAIL_CELERY_BROKER",
                                 "pyamqp://guest:guest@127.0.0.1:5672//"),
        "backend": "rpc://",
        "config_source": dict(CELERY_SETTINGS),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Service:
    """One started process (and its session), with its log."""

    name: str
    process: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def signal(self, number: int) -> None:
        try:
            os.killpg(self.process.pid, number)
        except ProcessLookupError:
            pass


@dataclass
class ClusterSettings:
    """Where the cluster keeps its files, which PostgreSQL it uses, and how big it is."""

    root: Path  # the cluster's own folder: broker files, DAGSTER_HOME, logs
    workers: int = 2
    postgres: str = DEFAULT_POSTGRES  # a server URL whose user may create databases
    dagster_db: str = "moneytrail_dagster"
    ui_port: int = 0  # 0: any free port
    max_concurrent_runs: int = 0  # 0: two a worker
    run_timeout: float = 6 * 3600  # how long a batch of runs may take before it is abandoned


@dataclass
class RunOutcome:
    """How one publisher's run ended (after any retries), and which checks failed."""

    publisher_id: str
    run_ids: list[str]
    status: str
    failed_checks: list[str] = field(default_factory=list)
    message: str = ""


def postgres_url(server: str, database: str) -> str:
    """The URL of `database` on the server `server` names."""
    base = server.rsplit("/", 1)[0] if server.count("/") >= 3 else server.rstrip("/")
    return f"{base}/{database}"


def ensure_database(server: str, database: str) -> str:
    """Create the PostgreSQL database when it is not there; return its URL."""
    import sqlalchemy as sa

    from warehouse.engine import connect_url

    admin = sa.create_engine(connect_url(server), isolation_level="AUTOCOMMIT",
                             connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                  {"name": database}).first()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
    finally:
        admin.dispose()
    return postgres_url(server, database)


def drop_database(server: str, database: str) -> None:
    """Drop the database, ending the sessions still on it."""
    import sqlalchemy as sa

    from warehouse.engine import connect_url

    admin = sa.create_engine(connect_url(server), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        admin.dispose()


class Cluster:
    """Broker, workers, daemon and webserver on this machine, as a context manager."""

    def __init__(self, settings: ClusterSettings, tell: Callable[[str], None] = lambda _: None):
        self.settings = settings
        self.tell = tell
        self.root = Path(settings.root).resolve()
        self.home = self.root / "dagster"
        self.logs = self.root / "logs"
        self.id = uuid.uuid4().hex[:10]
        self.broker_port = free_port()
        self.ui_port = settings.ui_port or free_port()
        self.services: list[Service] = []
        self.workers: dict[str, Service] = {}
        self._instance = None

    # -- starting and stopping ------------------------------------------------------------

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    @property
    def broker_url(self) -> str:
        return f"pyamqp://guest:guest@127.0.0.1:{self.broker_port}//"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def env(self) -> dict[str, str]:
        """The environment of every process of the cluster."""
        env = dict(os.environ)
        env.update({
            MARKER: self.id,
            "DAGSTER_HOME": str(self.home),
            "MONEYTRAIL_EXECUTOR": "celery",
            "MONEYTRAIL_CELERY_BROKER": self.broker_url,
            "PYTHONPATH": os.pathsep.join(
                [str(self.root / "celery"), str(REPO), env.get("PYTHONPATH", "")]).rstrip(
                os.pathsep),
        })
        return env

    def start(self) -> None:
        for folder in (self.home, self.logs, self.root / "celery"):
            folder.mkdir(parents=True, exist_ok=True)
        dagster_url = ensure_database(self.settings.postgres, self.settings.dagster_db)
        # dagster-postgres is written for psycopg2 (its webserver engine closes a psycopg 3
        # connection after setting the statement timeout), and SQLAlchemy 2.1 picks psycopg 3
        # for a bare postgresql:// URL: name the driver.
        self._write_instance("postgresql+psycopg2://" + dagster_url.split("://", 1)[1])
        self.tell(f"broker: RabbitMQ on port {self.broker_port}")
        self._start_broker()
        self.tell(f"workers: {self.settings.workers}; Dagster daemon; UI at {self.ui_url}")
        for number in range(1, self.settings.workers + 1):
            self.start_worker(f"worker-{number}")
        self._spawn("daemon", [str(BIN / "dagster-daemon"), "run",
                               "-w", str(self.home / "workspace.yaml")])
        self._spawn("webserver", [str(BIN / "dagster-webserver"), "-h", "127.0.0.1",
                                  "-p", str(self.ui_port), "-w",
                                  str(self.home / "workspace.yaml")])
        self._wait_for_webserver()
        self._wait_for_workers(list(self.workers))

    def stop(self) -> None:
        """End every process the cluster started: SIGTERM, then SIGKILL what is left."""
        for service in reversed(self.services):
            service.signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for service in self.services:
            try:
                service.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for service in self.services:
            service.signal(signal.SIGKILL)
            try:
                service.process.wait(5)
            except subprocess.TimeoutExpired:
                pass
        # What is left (a run's process whose parent has gone, say) is killed, and waited for.
        deadline = time.monotonic() + 10
        while (left := marked_processes(self.id)) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        self.services.clear()
        self.workers.clear()
        if self._instance is not None:
            self._instance.dispose()
            self._instance = None

    def start_worker(self, name: str) -> Service:
        """One more Celery worker, taking one step at a time from the broker's queue."""
        worker = self._spawn(name, [
            str(BIN / "celery"), "-A", "dagster_celery.app", "worker", "-n", f"{name}@%h",
            "--pool", "solo", "-Q", "dagster", "--loglevel", "INFO", "--without-gossip",
            "--without-mingle"])
        self.workers[name] = worker
        return worker

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker, as a machine that dies would: no chance to finish its step."""
        worker = self.workers.pop(name)
        worker.signal(signal.SIGKILL)
        worker.process.wait(10)

    def _spawn(self, name: str, command: list[str], env: dict | None = None,
               cwd: Path | None = None) -> Service:
        log = self.logs / f"{name}.log"
        out = log.open("ab")
        try:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=env or self.env(),
                                       cwd=str(cwd or REPO), start_new_session=True)
        finally:
            out.close()
        service = Service(name, process, log)
        self.services.append(service)
        return service

    def _write_instance(self, dagster_url: str) -> None:
        """DAGSTER_HOME: dagster.yaml (PostgreSQL storage, queued runs, retries), the workspace,
        and the Celery workers' configuration module."""
        concurrent = self.settings.max_concurrent_runs or max(2, 2 * self.settings.workers)
        template = (REPO / "orchestration" / "deploy" / "cluster.yaml").read_text("utf-8")
        (self.home / "dagster.yaml").write_text(
            template.replace("{postgres_url}", dagster_url)
            .replace("{max_concurrent_runs}", str(concurrent))
            .replace("{home}", str(self.home)), encoding="utf-8")
        (self.home / "workspace.yaml").write_text(
            "load_from:\n  - python_module:\n"
            "      module_name: orchestration.definitions\n"
            f"      location_name: {LOCATION}\n"
            f"      working_directory: {REPO}\n"
            f"      executable_path: {sys.executable}\n", encoding="utf-8")
        config = celery_executor_config() | {"broker": self.broker_url}
        lines = [f"broker_url = {config['broker']!r}", f"result_backend = {config['backend']!r}"]
        lines += [f"{key} = {value!r}" for key, value in config["config_source"].items()]
        (self.root / "celery" / "dagster_celery_config.py").write_text(
            "# Written by orchestration/cluster.py: what every worker of this cluster uses.\n"
            + "\n".join(lines) + "\n", encoding="utf-8")

    def _start_broker(self) -> None:
        broker = self.root / "broker"
        shutil.rmtree(broker, ignore_errors=True)
        (broker / "home").mkdir(parents=True)
        (broker / "enabled_plugins").write_text("[].\n", encoding="utf-8")
        # A long step holds its message unacknowledged: give it a day, not RabbitMQ's 30 min.
        (broker / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.broker_port}\n"
            "consumer_timeout = 86400000\nlog.console = true\nlog.console.level = warning\n"
            "log.file = false\n", encoding="utf-8")
        server = shutil.which("rabbitmq-server", path="/usr/lib/rabbitmq/bin")
        if server is None:
            raise ClusterError("RabbitMQ is not installed: apt-get install rabbitmq-server "
                               "(.ci/run does)")
        env = self.env() | {
            "HOME": str(broker / "home"),
            "RABBITMQ_NODENAME": f"moneytrail-{self.id}@localhost",
            "RABBITMQ_NODE_PORT": str(self.broker_port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONFIG_FILE": str(broker / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(broker / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(broker / "mnesia"),
            "RABBITMQ_LOG_BASE": str(broker / "log"),
            "RABBITMQ_PID_FILE": str(broker / "pid"),
        }
        service = self._spawn("broker", [server], env=env, cwd=broker)
        self._wait(lambda: _port_open(self.broker_port), service, 60, "the RabbitMQ broker")

    def _wait_for_webserver(self) -> None:
        import requests

        service = next(s for s in self.services if s.name == "webserver")

        def ready() -> bool:
            try:
                return requests.get(f"{self.ui_url}/server_info", timeout=2).ok
            except requests.RequestException:
                return False

        self._wait(ready, service, 180, "the Dagster webserver")

    def _wait_for_workers(self, names: list[str], timeout: float = 120) -> None:
        """Until every named worker answers a ping through the broker."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            deadline = time.monotonic() + timeout
            while True:
                answered = {name.split("@")[0] for reply in app.control.ping(timeout=1.0)
                            for name in reply}
                if set(names) <= answered:
                    return
                for name in names:
                    if not self.workers[name].alive():
                        raise ClusterError(f"{name} stopped while starting:\n"
                                           f"{self.workers[name].tail()}")
                if time.monotonic() > deadline:
                    raise ClusterError(f"workers not ready after {timeout:.0f} s: "
                                       f"{sorted(set(names) - answered)}")
        finally:
            app.close()

    def _wait(self, ready: Callable[[], bool], service: Service, timeout: float,
              what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if not service.alive():
                raise ClusterError(f"{what} stopped while starting (log {service.log}):\n"
                                   f"{service.tail()}")
            if time.monotonic() > deadline:
                raise ClusterError(f"{what} not ready after {timeout:.0f} s (log "
                                   f"{service.log}):\n{service.tail()}")
            time.sleep(0.2)

    # -- running the pipeline ---------------------------------------------------------------

    @property
    def instance(self):
        """The cluster's Dagster instance (PostgreSQL), as this process sees it."""
        if self._instance is None:
            import dagster as dg

            self._instance = dg.DagsterInstance.from_config(str(self.home))
        return self._instance

    def run_config(self, registry: Path, data_dir: Path, warehouse_url: str,
                   allow_private: bool) -> dict:
        """The resources of a run: every field given, since a resource configured at launch
        takes its fields from the run config and its class's defaults only."""
        from orchestration.resources import HttpClient

        http = HttpClient(allow_private=allow_private)
        return {"resources": {
            "registry": {"config": {"path": str(Path(registry).resolve())}},
            "warehouse": {"config": {"data_dir": str(Path(data_dir).resolve()),
                                     "url": warehouse_url}},
            "http": {"config": {name: getattr(http, name)
                                for name in HttpClient.model_fields}},
        }}

    def submit(self, job: str, run_config: dict, tags: dict[str, str]) -> str:
        """Submit a run to the webserver, as the UI does; the daemon launches it when its turn
        in the queue comes."""
        from dagster_graphql import DagsterGraphQLClient

        client = DagsterGraphQLClient("127.0.0.1", port_number=self.ui_port)
        with warnings.catch_warnings():
            # The client's own use of gql's older call style; nothing the caller can change.
            warnings.simplefilter("ignore", DeprecationWarning)
            return client.submit_job_execution(job, repository_location_name=LOCATION,
                                               run_config=run_config, tags=tags)

    def run_publishers(self, registry: Path, data_dir: Path, warehouse_url: str,
                       publisher_ids: list[str] | None = None, allow_private: bool = False,
                       progress: Callable[[str], None] = lambda _: None,
                       on_submitted: Callable[[dict[str, str]], None] = lambda _: None,
                       ) -> dict[str, RunOutcome]:
        """One `harvest_job` run per publisher partition, all submitted at once; returns how
        each ended once every one (and every retry) has. `on_submitted` hears the run ids."""
        from orchestration.assets import publisher_partitions
        from orchestration.summary import remember_registry
        from sources.registry import load_registry
        from warehouse.engine import connect

        registry_obj = load_registry(Path(registry))
        remember_registry(Path(data_dir), Path(registry))
        chosen, invalid = registry_obj.select(publisher_ids)
        # The warehouse's tables exist before any worker writes to it.
        connect(warehouse_url).dispose()
        keys = [p.id for p in chosen] + [k for k in registry_obj.partition_ids() if k in invalid]
        self.instance.add_dynamic_partitions(publisher_partitions.name, keys)
        config = self.run_config(registry, data_dir, warehouse_url, allow_private)
        batch = uuid.uuid4().hex[:12]
        runs = {key: self.submit("harvest_job", config, {"dagster/partition": key,
                                                          "moneytrail/batch": batch})
                for key in keys}
        on_submitted(runs)
        return self.wait(runs, progress)

    def run_site(self, registry: Path, data_dir: Path, warehouse_url: str,
                 allow_private: bool = False) -> RunOutcome:
        """One run of `site_job`: payees resolved, flows derived, site databases built."""
        config = self.run_config(registry, data_dir, warehouse_url, allow_private)
        run_id = self.submit("site_job", config, {"moneytrail/batch": uuid.uuid4().hex[:12]})
        outcome = self.wait({"site": run_id}, lambda _: None)["site"]
        if outcome.status != "SUCCESS":
            raise ClusterError(f"the site run {outcome.run_ids[-1]} ended {outcome.status}: "
                               f"{outcome.message}")
        return outcome

    def wait(self, runs: dict[str, str], progress: Callable[[str], None]
             ) -> dict[str, RunOutcome]:
        """Until every run, and every retry the daemon makes of one that failed, has ended."""
        timeout = self.settings.run_timeout
        deadline = time.monotonic() + timeout
        said = ""
        while True:
            outcomes = {key: self._outcome(key, run_id) for key, run_id in runs.items()}
            pending = [o for o in outcomes.values() if o.status in RUNNING]
            line = (f"runs: {len(outcomes) - len(pending)} of {len(outcomes)} ended, "
                    f"{sum(1 for o in outcomes.values() if o.status == 'FAILURE')} failed")
            if line != said:
                progress(line)
                said = line
            if not pending:
                return outcomes
            if time.monotonic() > deadline:
                raise ClusterError(f"runs still going after {timeout:.0f} s: "
                                   f"{[o.publisher_id for o in pending]}")
            dead = [s for s in self.services if not s.alive() and s.name in
                    ("broker", "daemon", "webserver")]
            if dead:
                raise ClusterError(f"{dead[0].name} stopped:\n{dead[0].tail()}")
            time.sleep(0.5)

    def _outcome(self, key: str, root_id: str) -> RunOutcome:
        """The latest run of a retry chain, and how it stands; a failed run the daemon is
        about to retry counts as still running."""
        import dagster as dg

        chain = [root_id] + [
            r.run_id for r in reversed(self.instance.get_runs(
                filters=dg.RunsFilter(tags={"dagster/root_run_id": root_id})))]
        run = self.instance.get_run_by_id(chain[-1])
        status = run.status.value
        if status == "FAILURE" and self._retry_pending(run):
            status = "STARTED"
        outcome = RunOutcome(key, chain, status)
        if status in ("SUCCESS", "FAILURE"):
            outcome.failed_checks = self.failed_checks(chain[-1])
            if status == "FAILURE":
                outcome.message = self.failure_message(chain[-1])
        return outcome

    def _retry_pending(self, run) -> bool:
        """Whether the daemon will retry this failed run: it says so in a tag once it has
        looked, which it does within seconds of the failure."""
        will_retry = run.tags.get("dagster/will_retry")
        if will_retry is not None:
            return will_retry == "true"
        record = self.instance.get_run_record_by_id(run.run_id)
        ended = record.end_time if record is not None else None
        return ended is None or time.time() - ended < 30

    def failed_checks(self, run_id: str) -> list[str]:
        import dagster as dg

        failed = []
        for entry in self.instance.all_logs(
                run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data
            if not evaluation.passed:
                failed.append(evaluation.check_name)
        return sorted(failed)

    def failure_message(self, run_id: str) -> str:
        import dagster as dg

        for entry in self.instance.all_logs(run_id, of_type={
                dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}):
            error = getattr(entry.dagster_event.event_specific_data, "error", None)
            if error is not None:
                return error.message.strip().splitlines()[0]
            if entry.dagster_event.message:
                return entry.dagster_event.message
        return ""

    def steps_by_worker(self, run_ids: list[str]) -> dict[str, list[str]]:
        """Which worker ran which steps, from the runs' event logs (the Celery task's engine
        event 'Executing steps … in celery worker', whose metadata names the worker)."""
        import dagster as dg

        ran: dict[str, list[str]] = {}
        for run_id in run_ids:
            for entry in self.instance.all_logs(run_id,
                                                of_type=dg.DagsterEventType.ENGINE_EVENT):
                metadata = entry.dagster_event.event_specific_data.metadata or {}
                worker = metadata.get("Celery worker")
                if worker is not None:
                    ran.setdefault(worker.value.split("@")[0], []).append(
                        f"{run_id[:8]}:{entry.step_key}")
        return ran


def marked_processes(cluster_id: str) -> list[int]:
    """The live processes of this cluster: those whose environment names it."""
    return processes_with(f"{MARKER}={cluster_id}")


def processes_with(variable: str) -> list[int]:
    """The live processes whose environment holds exactly NAME=value (Linux /proc); a zombie,
    dead and waiting for its parent to read its status, is not one."""
    needle = variable.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


@contextmanager
def serving(www: Path, port: int = 0) -> Iterator[str]:
    """The demo world's files over local HTTP, as `moneytrail demo` serves them: on `port`
    when it is free (the same URLs from one run to the next), else on any free port."""
    from sources.demo_server import LocalServer

    try:
        server = LocalServer(www, port).start()
    except OSError:
        server = LocalServer(www).start()
    try:
        yield server.url
    finally:
        server.stop()


def run_on_cluster(cluster: Cluster, registry: Path, data_dir: Path, warehouse_url: str,
                   publisher_ids: list[str] | None = None, allow_private: bool = False,
                   progress: Callable[[str], None] = lambda _: None,
                   tell: Callable[[str], None] = lambda _: None) -> list:
    """What `moneytrail run` does, on the cluster: every publisher's run, then the site's;
    returns the end-of-run table's lines (a run that failed says why in its line). Like
    `moneytrail run`, one publisher failing never stops the others; the site failing does."""
    outcomes = cluster.run_publishers(registry, data_dir, warehouse_url, publisher_ids,
                                      allow_private, progress)
    ran = cluster.steps_by_worker([r for o in outcomes.values() for r in o.run_ids])
    tell("steps by worker: " + ", ".join(f"{worker} {len(steps)}"
                                         for worker, steps in sorted(ran.items())))
    progress("flows and site")
    cluster.run_site(registry, data_dir, warehouse_url, allow_private)
    return summaries(outcomes, registry, warehouse_url, publisher_ids)


def summaries(outcomes: dict[str, RunOutcome], registry: Path, warehouse_url: str,
              publisher_ids: list[str] | None = None) -> list:
    """The end-of-run table's lines, as `moneytrail run` prints them, from the warehouse and
    how each publisher's run ended."""
    from orchestration.summary import invalid_entry, summarise
    from sources.registry import load_registry
    from warehouse.engine import connect

    chosen, invalid = load_registry(Path(registry)).select(publisher_ids)
    engine = connect(warehouse_url)
    try:
        lines = []
        for publisher in chosen:
            outcome = outcomes[publisher.id]
            line = summarise(engine, publisher.id, outcome.failed_checks)
            if outcome.status != "SUCCESS":
                line.status = "error"
                line.message = f"run {outcome.run_ids[-1][:8]} failed: {outcome.message}"
            lines.append(line)
    finally:
        engine.dispose()
    return [*lines, *(invalid_entry(key, reason) for key, reason in invalid.items())]
