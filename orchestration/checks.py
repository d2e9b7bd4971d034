"""Dagster asset checks on a publisher's warehouse rows, each a plain warehouse.quality finding."""

import dagster as dg

from orchestration.assets import warehouse_files
from orchestration.resources import Warehouse
from warehouse import quality
from warehouse.ingest import published_dates

WARN = dg.AssetCheckSeverity.WARN


def _result(finding: quality.Finding, severity=dg.AssetCheckSeverity.ERROR):
    return dg.AssetCheckResult(passed=finding.passed, severity=severity,
                               description=finding.summary,
                               metadata={"details": dg.MetadataValue.json(finding.details)})


def _publisher(context: dg.AssetCheckExecutionContext) -> str:
    return context.op_execution_context.partition_key


@dg.asset_check(asset=warehouse_files, blocking=True)
def schema_conformance(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """Every latest file was read as a spend table with the schema's required columns."""
    return _result(quality.conformance(warehouse.engine(), _publisher(context)))


@dg.asset_check(asset=warehouse_files)
def reconciliation(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """Rows read = rows loaded + rows quarantined, and the pence agree, for every live file."""
    return _result(quality.reconciliation(warehouse.engine(), _publisher(context)))


@dg.asset_check(asset=warehouse_files)
def duplicate_transactions(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """Payments repeating the same payee, amount, date and transaction number."""
    return _result(quality.duplicates(warehouse.engine(), _publisher(context)), WARN)


@dg.asset_check(asset=warehouse_files)
def timeliness(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """Each file was out within a month of its quarter's end (Transparency Code 2015)."""
    publisher = _publisher(context)
    dates = published_dates(warehouse.archive(), publisher)
    return _result(quality.timeliness(warehouse.engine(), publisher, dates), WARN)


@dg.asset_check(asset=warehouse_files)
def continuity(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """No month without payments between the first and the last."""
    return _result(quality.missing_months(warehouse.engine(), _publisher(context)), WARN)


@dg.asset_check(asset=warehouse_files)
def header_drift(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """Columns that appeared or vanished since the publisher's previous file."""
    return _result(quality.header_drift(warehouse.engine(), _publisher(context)), WARN)


ALL_CHECKS = [schema_conformance, reconciliation, duplicate_transactions, timeliness,
              continuity, header_drift]
