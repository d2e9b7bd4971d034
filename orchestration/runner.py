"""Run the Dagster assets in-process, publisher by publisher, for the `moneytrail` command."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from orchestration.assets import (
    FETCH_OUTCOMES,
    harvest_step,
    money_flows,
    publisher_partitions,
    raw_files,
    site,
    warehouse_files,
)
from orchestration.checks import ALL_CHECKS
from orchestration.instance import instance_home
from orchestration.progress import reported_to
from orchestration.resources import HttpClient, make_resources
from orchestration.summary import (  # noqa: F401 (the runner's results, re-exported)
    PublisherSummary,
    invalid_entry,
    publish_line,
    remember_registry,
    summaries_json,
    summarise,
    summary_table,
)
from sources.harvest import HarvestSettings
from sources.registry import load_registry
from warehouse import flows as warehouse_flows
from warehouse import site as warehouse_site
from warehouse.ingest import published_by_publisher
from warehouse.tables import files

# Publishers harvested at once: the work is waiting on their servers.
HARVEST_THREADS = 8
# The command prints its own progress and summary; Dagster's step-by-step log is for the UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_pipeline(
    registry_path: Path,
    data_dir: Path,
    publisher_ids: list[str] | None = None,
    allow_private: bool = False,
    progress: Callable[[str], None] = lambda _: None,
    http: HarvestSettings | None = None,
    tell: Callable[[str], None] = lambda _: None,
) -> list[PublisherSummary]:
    """Harvest, load and check each publisher (one Dagster run each), then build the site.

    One publisher failing never stops the others: its run's failure is reported in its line,
    as is each registry entry that could not be loaded (its reason; it is not run).
    `http` replaces the default timeouts, size cap and retries (tests use short ones);
    `allow_private` alone decides whether private addresses are fetched. `progress` hears
    how far the run has got ('load and check 2 of 5, fellbrook-council: file 3 of 6, 41,200
    rows'), `tell` what the flows and site steps redid. The runs, materialisations, check
    results and publisher partitions are recorded in the data folder's Dagster instance
    (`open_instance`), for `make dev` to show.
    The money flows and the site are brought up to date for what changed (warehouse.flows.
    update, warehouse.site.build_site); when nothing they are built from changed (no file
    loaded, superseded or withdrawn, no publisher's status changed, same registry and code),
    Dagster does not even run them: a rerun with nothing new costs only the harvest.
    """
    registry = load_registry(registry_path)
    remember_registry(data_dir, registry_path)
    chosen, invalid = registry.select(publisher_ids)
    resources = make_resources(str(registry_path), str(data_dir), allow_private)
    if http is not None:
        resources["http"] = HttpClient(
            allow_private=allow_private, connect_timeout=http.connect_timeout,
            read_timeout=http.read_timeout, max_bytes=http.max_bytes, retries=http.retries,
            backoff=http.backoff, file_deadline=http.file_deadline)
    engine = resources["warehouse"].engine()
    with open_instance(data_dir) as instance:
        archive = resources["warehouse"].archive()  # its manifest read once a run
        # An invalid entry with a usable id is a partition too, so the UI lists it.
        instance.add_dynamic_partitions(publisher_partitions.name, [
            key for key in registry.partition_ids() if key in invalid])
        checks_failed, unchanged = _materialise(instance, resources, chosen, archive,
                                                progress)
        if unchanged:
            tell(f"{len(unchanged)} of {len(chosen)} publishers had nothing new: not loaded "
                 "again, their checks not rerun")
        progress("flows and site")
        if up_to_date(engine, registry, Path(data_dir), archive):
            tell("flows and site: nothing changed")
        else:
            # Unlike one publisher's failure, a site that cannot be built stops the run, loudly.
            result = dg.materialize([money_flows, site], instance=instance,
                                    resources=resources, run_config=QUIET)
            tell(redone(result))
    return [*(summarise(engine, p.id, checks_failed.get(p.id, [])) for p in chosen),
            *(invalid_entry(key, reason) for key, reason in invalid.items())]


def redone(result) -> str:
    """What the flows and site steps of a run redid, in a line."""
    said = {}
    for node in ("money_flows", "site"):
        for event in result.asset_materializations_for_node(node):
            said[node] = {k: v.value for k, v in event.metadata.items()}
    flows, built = said.get("money_flows", {}), said.get("site", {})
    return publish_line(flows.get("mode", ""), flows.get("publishers_redone", 0),
                        flows.get("new_spellings", 0), built.get("mode", ""),
                        built.get("databases_rebuilt", 0), built.get("databases", 1) - 1)


def up_to_date(engine: sa.Engine, registry, data_dir: Path, archive) -> bool:
    """Whether the flows and the site already describe the warehouse as it is."""
    if not warehouse_flows.up_to_date(engine, registry):
        return False
    return warehouse_site.up_to_date(engine, data_dir / "site",
                                     published_by_publisher(engine, archive))


def _materialise(instance, resources, chosen, archive, progress
                 ) -> tuple[dict[str, list[str]], list[str]]:
    """Harvest every publisher at once, then load and check, one Dagster run each, those whose
    archive holds files the warehouse has not loaded. Returns the checks that failed, by
    publisher, and the publishers with nothing new (no run: their checks were not rerun)."""
    ids = [p.id for p in chosen]
    instance.add_dynamic_partitions(publisher_partitions.name, ids)
    engine = resources["warehouse"].engine()
    said = _harvest(chosen, engine, archive, resources["http"], progress)
    for publisher_id in ids:
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key=raw_files.key, partition=publisher_id, metadata=said[publisher_id]))
    behind = [p for p in ids if _behind(engine, archive, p)]
    checks_failed: dict[str, list[str]] = {}
    for number, publisher_id in enumerate(behind, 1):
        step = f"load and check {number} of {len(behind)}, "
        progress(step + publisher_id)
        with reported_to(lambda line, step=step: progress(step + line)):
            result = dg.materialize(
                [warehouse_files, *ALL_CHECKS], partition_key=publisher_id,
                instance=instance, resources=resources, raise_on_error=False,
                run_config=QUIET)
        checks_failed[publisher_id] = [
            e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    return checks_failed, [p for p in ids if p not in checks_failed]


def _harvest(chosen, engine, archive, http, progress) -> dict[str, dict]:
    """Harvest every publisher at once (harvest_step), saying how many have answered."""
    said: dict[str, dict] = {}
    progress(f"harvest: 0 of {len(chosen)} publishers")
    with ThreadPoolExecutor(max_workers=HARVEST_THREADS) as pool:
        running = {pool.submit(harvest_step, p, engine, archive, http): p.id for p in chosen}
        for done in as_completed(running):
            said[running[done]] = done.result()
            urls = sum(counts[s] for counts in said.values() for s in FETCH_OUTCOMES)
            progress(f"harvest: {len(said)} of {len(chosen)} publishers, {urls} files")
    return said


def open_instance(data_dir: Path) -> dg.DagsterInstance:
    """The data folder's Dagster instance (DATA_DIR/dagster), made on first use: what
    `moneytrail run` records there, `make dev` shows (DAGSTER_HOME=DATA_DIR/dagster)."""
    return dg.DagsterInstance.from_config(str(instance_home(data_dir)))


def _behind(engine: sa.Engine, archive, publisher_id: str) -> bool:
    """Whether the archive holds a version of one of the publisher's files that the warehouse
    has not loaded, or a withdrawal it has not marked: what a load of it would change."""
    with engine.connect() as conn:
        loaded = {(url, sha): status for url, sha, status in conn.execute(
            sa.select(files.c.url, files.c.sha256, files.c.status)
            .where(files.c.publisher_id == publisher_id))}
    for url in archive.known_urls(publisher_id):
        status = loaded.get((url, archive.latest(url).sha256))
        if status is None:
            return True
        last = archive.last(url)
        if last is not None and last.status == "withdrawn" and status == "current":
            return True
    return False
