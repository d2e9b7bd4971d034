"""Dagster asset checks on a publisher's warehouse rows, each a plain warehouse.quality finding.

The six are one step (a multi-asset check) that gives six results, each under its own name:
a run is one step per check otherwise, and at 400 publishers each step's fixed cost in the
run (its events, its plan) was a minute or two of a year's first run (docs/performance.md).
"""

from collections.abc import Callable, Iterator

import dagster as dg
import sqlalchemy as sa

from orchestration.assets import warehouse_files
from orchestration.resources import Warehouse
from warehouse import quality
from warehouse.ingest import published_dates

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN


def _timeliness(engine: sa.Engine, warehouse: Warehouse, publisher: str) -> quality.Finding:
    return quality.timeliness(engine, publisher, published_dates(warehouse.archive(), publisher))


# name: (what it checks, its severity, whether it blocks what follows, the finding).
CHECKS: dict[str, tuple[str, dg.AssetCheckSeverity, bool,
                        Callable[[sa.Engine, Warehouse, str], quality.Finding]]] = {
    "schema_conformance": (
        "Every latest file was read as a spend table with the schema's required columns.",
        ERROR, True, lambda engine, _, p: quality.conformance(engine, p)),
    "reconciliation": (
        "Rows read = rows loaded + rows quarantined, and the pence agree, for every live file.",
        ERROR, False, lambda engine, _, p: quality.reconciliation(engine, p)),
    "duplicate_transactions": (
        "Payments repeating the same payee, amount, date and transaction number.",
        WARN, False, lambda engine, _, p: quality.duplicates(engine, p)),
    "timeliness": (
        "Each file was out within a month of its quarter's end (Transparency Code 2015).",
        WARN, False, _timeliness),
    "continuity": (
        "No month without payments between the first and the last.",
        WARN, False, lambda engine, _, p: quality.missing_months(engine, p)),
    "header_drift": (
        "Columns that appeared or vanished since the publisher's previous file.",
        WARN, False, lambda engine, _, p: quality.header_drift(engine, p)),
}


@dg.multi_asset_check(specs=[
    dg.AssetCheckSpec(name, asset=warehouse_files, description=what, blocking=blocking)
    for name, (what, _, blocking, _) in CHECKS.items()])
def publisher_checks(context: dg.AssetCheckExecutionContext,
                     warehouse: Warehouse) -> Iterator[dg.AssetCheckResult]:
    """Each check of CHECKS on the partition's publisher. One that cannot be worked out fails
    with its error, and the others are still given."""
    publisher = context.op_execution_context.partition_key
    engine = warehouse.engine()
    for name, (_, severity, _, finding_of) in CHECKS.items():
        try:
            finding = finding_of(engine, warehouse, publisher)
        except Exception as failure:  # noqa: BLE001 - given as that check's result
            context.log.exception(f"{name} could not be checked for {publisher}")
            yield dg.AssetCheckResult(
                check_name=name, asset_key=warehouse_files.key, passed=False, severity=ERROR,
                description=f"could not be checked: {type(failure).__name__}: {failure}")
            continue
        yield dg.AssetCheckResult(
            check_name=name, asset_key=warehouse_files.key, passed=finding.passed,
            severity=severity, description=finding.summary,
            metadata={"details": dg.MetadataValue.json(finding.details)})


ALL_CHECKS = [publisher_checks]
# The name of every check the run gives, as each result names it.
CHECK_NAMES = tuple(CHECKS)
