"""The Dagster code location: `dagster dev -m orchestration.definitions` (or `make dev`)."""

import dagster as dg

from orchestration.assets import raw_files, site, warehouse_files
from orchestration.checks import ALL_CHECKS
from orchestration.resources import resources_from_env
from orchestration.schedules import harvest_job, site_job, weekly_harvest, weekly_site
from orchestration.sensors import new_publishers

defs = dg.Definitions(
    assets=[raw_files, warehouse_files, site],
    asset_checks=ALL_CHECKS,
    jobs=[harvest_job, site_job],
    schedules=[weekly_harvest, weekly_site],
    sensors=[new_publishers],
    resources=resources_from_env(),
    # One machine: runs execute their steps in subprocesses. PostgreSQL storage and the
    # Celery or Kubernetes executors are deployment configuration: see docs/dagster.md.
    executor=dg.multiprocess_executor,
)
