"""Run the Dagster assets in-process, publisher by publisher, for the `moneytrail` command."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from orchestration.assets import (
    money_flows,
    published_by_publisher,
    publisher_partitions,
    raw_files,
    site,
    warehouse_files,
)
from orchestration.checks import ALL_CHECKS
from orchestration.resources import HttpClient, make_resources
from schemas.money import pence_to_pounds
from sources.harvest import HarvestSettings
from sources.registry import load_registry
from warehouse import flows as warehouse_flows
from warehouse import site as warehouse_site
from warehouse.tables import LIVE, files, payments, publishers, quarantine

# The command prints its own progress and summary; Dagster's step-by-step log is for the UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class PublisherSummary:
    """One line of the end-of-run table."""

    publisher_id: str
    name: str
    files: int = 0
    rows: int = 0
    quarantined: int = 0
    total_pence: int = 0
    status: str = ""
    message: str = ""
    failed_checks: list[str] = field(default_factory=list)


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

    One publisher failing never stops the others: its run's failure is reported in its line.
    `http` replaces the default timeouts, size cap and retries (tests use short ones);
    `allow_private` alone decides whether private addresses are fetched. `tell` hears what
    the flows and site steps redid.
    The money flows and the site are brought up to date for what changed (warehouse.flows.
    update, warehouse.site.build_site); when nothing they are built from changed (no file
    loaded, superseded or withdrawn, no publisher's status changed, same registry and code),
    Dagster does not even run them: a rerun with nothing new costs only the harvest.
    """
    registry = load_registry(registry_path)
    chosen = registry.select(publisher_ids)
    resources = make_resources(str(registry_path), str(data_dir), allow_private)
    if http is not None:
        resources["http"] = HttpClient(
            allow_private=allow_private, connect_timeout=http.connect_timeout,
            read_timeout=http.read_timeout, max_bytes=http.max_bytes, retries=http.retries,
            backoff=http.backoff, file_deadline=http.file_deadline)
    engine = resources["warehouse"].engine()
    with dg.DagsterInstance.ephemeral() as instance:
        checks_failed = _materialise(instance, resources, [p.id for p in chosen], progress)
        progress("site")
        if up_to_date(engine, registry, Path(data_dir)):
            tell("flows and site: nothing changed")
        else:
            # Unlike one publisher's failure, a site that cannot be built stops the run, loudly.
            result = dg.materialize([money_flows, site], instance=instance,
                                    resources=resources, run_config=QUIET)
            tell(redone(result))
    return [summarise(engine, p.id, checks_failed.get(p.id, [])) for p in chosen]


def redone(result) -> str:
    """What the flows and site steps of a run redid, in a line."""
    said = {}
    for node in ("money_flows", "site"):
        for event in result.asset_materializations_for_node(node):
            said[node] = {k: v.value for k, v in event.metadata.items()}
    flows, built = said.get("money_flows", {}), said.get("site", {})
    flows_line = {"full": "every publisher's payees resolved",
                  "unchanged": "no payees to resolve"}.get(
        flows.get("mode"), f"payees resolved again for {flows.get('publishers_redone', 0)} "
                           f"publisher(s) ({flows.get('new_spellings', 0)} new spellings)")
    site_line = {"full": f"site built whole ({built.get('databases', 0)} databases)",
                 "unchanged": "site unchanged"}.get(
        built.get("mode"), f"site updated: {built.get('databases_rebuilt', 0)} of "
                           f"{built.get('databases', 1) - 1} publishers' databases rebuilt, "
                           "the combined one updated in place")
    return f"{flows_line}; {site_line}"


def up_to_date(engine: sa.Engine, registry, data_dir: Path) -> bool:
    """Whether the flows and the site already describe the warehouse as it is."""
    if not warehouse_flows.up_to_date(engine, registry):
        return False
    archive = make_resources("", str(data_dir))["warehouse"].archive()
    return warehouse_site.up_to_date(engine, data_dir / "site",
                                     published_by_publisher(registry, archive))


def _materialise(instance, resources, ids, progress) -> dict[str, list[str]]:
    instance.add_dynamic_partitions(publisher_partitions.name, ids)
    checks_failed: dict[str, list[str]] = {}
    for publisher_id in ids:
        progress(publisher_id)
        result = dg.materialize(
            [raw_files, warehouse_files, *ALL_CHECKS], partition_key=publisher_id,
            instance=instance, resources=resources, raise_on_error=False, run_config=QUIET,
        )
        checks_failed[publisher_id] = [
            e.check_name for e in result.get_asset_check_evaluations() if not e.passed
        ]
    return checks_failed


def summarise(engine: sa.Engine, publisher_id: str, failed: list[str]) -> PublisherSummary:
    """Files, rows, quarantine and total for one publisher, as the warehouse holds them now."""
    live = files.c.status.in_(LIVE)
    with engine.connect() as conn:
        who = conn.execute(sa.select(publishers).where(publishers.c.id == publisher_id)).first()
        count = conn.execute(sa.select(sa.func.count()).where(
            files.c.publisher_id == publisher_id, live)).scalar()
        rows, total = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(
            sa.func.sum(payments.c.amount_pence), 0)).where(
            payments.c.publisher_id == publisher_id)).one()
        held = conn.execute(sa.select(sa.func.count()).where(
            quarantine.c.publisher_id == publisher_id)).scalar()
    return PublisherSummary(
        publisher_id, who.name if who else publisher_id, count, rows, held, int(total),
        (who.status or "") if who else "not run", (who.status_message or "") if who else "",
        failed,
    )


def summary_table(rows: list[PublisherSummary]) -> str:
    """The per-publisher table printed at the end of a run."""
    lines = [f"{'publisher':34} {'files':>5} {'rows':>8} {'quarant.':>8} {'total':>18}  status"]
    for row in rows:
        pounds = pence_to_pounds(row.total_pence)
        status = row.status + (f" (checks: {', '.join(row.failed_checks)})"
                               if row.failed_checks else "")
        lines.append(f"{row.publisher_id[:34]:34} {row.files:>5} {row.rows:>8} "
                     f"{row.quarantined:>8} {pounds:>18}  {status}")
        if row.message:
            lines.append(f"{'':34}   {row.message[:200]}")
    return "\n".join(lines)


def summaries_json(rows: list[PublisherSummary]) -> str:
    return json.dumps([row.__dict__ for row in rows], indent=2)
