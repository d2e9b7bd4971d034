"""Dagster jobs and schedules: harvest every publisher weekly, then rebuild the site."""

import dagster as dg

from orchestration.assets import (
    money_flows,
    publisher_partitions,
    raw_files,
    site,
    warehouse_files,
)

harvest_job = dg.define_asset_job(
    "harvest_job", selection=dg.AssetSelection.assets(raw_files, warehouse_files)
)
site_job = dg.define_asset_job("site_job",
                               selection=dg.AssetSelection.assets(money_flows, site))


@dg.schedule(job=harvest_job, cron_schedule="0 5 * * 1", execution_timezone="Europe/London")
def weekly_harvest(context: dg.ScheduleEvaluationContext):
    """Monday 05:00: one run per registered publisher."""
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    for key in context.instance.get_dynamic_partitions(publisher_partitions.name):
        yield dg.RunRequest(partition_key=key, run_key=f"{key}:{day}")


weekly_site = dg.ScheduleDefinition(
    name="weekly_site", job=site_job, cron_schedule="0 9 * * 1",
    execution_timezone="Europe/London",
)
