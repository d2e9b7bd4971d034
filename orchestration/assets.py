"""Dagster assets: a publisher's raw files, its rows in the warehouse, and the published site."""

import dagster as dg
import sqlalchemy as sa

from orchestration.progress import load_counter
from orchestration.resources import HttpClient, RegistryResource, Warehouse
from sources.archive import Archive
from sources.harvest import harvest_publisher
from sources.registry import Publisher, RegistryError
from warehouse.flows import update
from warehouse.ingest import load_archived, published_by_publisher
from warehouse.load import set_publisher_status, upsert_publisher
from warehouse.site import build_site

publisher_partitions = dg.DynamicPartitionsDefinition(name="publisher")
# What harvest_step counts, file by file.
FETCH_OUTCOMES = ("new", "updated", "unchanged", "withdrawn", "error")


@dg.asset(partitions_def=publisher_partitions, group_name="harvest")
def raw_files(
    context: dg.AssetExecutionContext, registry: RegistryResource, http: HttpClient,
    warehouse: Warehouse,
) -> dg.MaterializeResult:
    """Every file the publisher's feeds list, fetched conditionally into the raw archive."""
    publisher = partition_publisher(registry, context.partition_key)
    said = harvest_step(publisher, warehouse.engine(), warehouse.archive(), http)
    if said["problem"]:
        context.log.warning(f"{publisher.id}: {said['problem']}")
    return dg.MaterializeResult(metadata=said)


def partition_publisher(registry: RegistryResource, publisher_id: str) -> Publisher:
    """The partition's publisher; a registry entry that could not be loaded fails the run with
    why, which the UI shows on the partition."""
    try:
        return registry.load()[publisher_id]
    except RegistryError as problem:
        raise dg.Failure(description=str(problem)) from None


def harvest_step(publisher: Publisher, engine: sa.Engine, archive: Archive,
                 http: HttpClient) -> dict:
    """Harvest one publisher into the archive and record its status: what `raw_files` does,
    and what `moneytrail run` does for every publisher at once. Returns the counts of files
    new, updated, unchanged, withdrawn and failed, the status and the problem."""
    upsert_publisher(engine, publisher)
    result = harvest_publisher(publisher, archive, http.session(), http.settings())
    status = "error" if result.error else ("ok" if publisher.feeds else "no_feeds")
    set_publisher_status(engine, publisher.id, status, result.error or result.notice)
    counts = {s: result.count(s) for s in FETCH_OUTCOMES}
    return {**counts, "status": status, "problem": result.error or ""}


@dg.asset(partitions_def=publisher_partitions, deps=[raw_files], group_name="warehouse")
def warehouse_files(
    context: dg.AssetExecutionContext, registry: RegistryResource, warehouse: Warehouse,
) -> dg.MaterializeResult:
    """The publisher's payments and quarantined rows, loaded file version by file version."""
    publisher = partition_publisher(registry, context.partition_key)
    engine = warehouse.engine()
    # Heard by the `moneytrail` command's progress line; nobody hears it under `dagster dev`.
    outcomes = load_archived(engine, publisher, warehouse.archive(), load_counter(publisher.id))
    rejected = [f"{o.url}: {o.message}" for o in outcomes if o.status == "rejected"]
    if rejected:
        set_publisher_status(engine, publisher.id, "error", "; ".join(rejected))
    counts = {s: sum(1 for o in outcomes if o.status == s)
              for s in ("loaded", "unchanged", "duplicate", "rejected", "withdrawn")}
    return dg.MaterializeResult(metadata={
        **counts,
        "rows_loaded": sum(o.rows_loaded for o in outcomes),
        "rows_quarantined": sum(o.rows_quarantined for o in outcomes),
        "superseded": sum(len(o.superseded) for o in outcomes),
    })


@dg.asset(deps=[warehouse_files], group_name="warehouse")
def money_flows(registry: RegistryResource, warehouse: Warehouse) -> dg.MaterializeResult:
    """Every payee resolved to an organisation, and the money between publishers and payees:
    redone for the publishers whose files changed (or, when the registry or the resolution
    code changed, for all)."""
    summary = update(warehouse.engine(), registry.load())
    return dg.MaterializeResult(metadata={
        "mode": summary.mode, "publishers_redone": len(summary.redone),
        "new_spellings": summary.new_spellings,
        "spellings": summary.spellings, "suppliers": summary.suppliers,
        "flows": summary.flows, "payees_that_publish": summary.linked_to_publishers})


@dg.asset(deps=[money_flows], group_name="site")
def site(warehouse: Warehouse) -> dg.MaterializeResult:
    """The Datasette databases: one per publisher and one combined, rebuilt for the publishers
    whose data changed."""
    published = published_by_publisher(warehouse.engine(), warehouse.archive())
    summary = build_site(warehouse.engine(), warehouse.site_dir(), published)
    return dg.MaterializeResult(metadata={"mode": summary.mode,
                                          "databases_rebuilt": len(summary.rebuilt),
                                          "databases": len(summary.databases),
                                          "payments": summary.payments,
                                          "path": str(summary.site_dir)})

