"""Dagster sensor: a publisher added to the registry becomes a partition and is harvested."""

import dagster as dg

from orchestration.assets import publisher_partitions
from orchestration.resources import RegistryResource
from orchestration.schedules import harvest_job


@dg.sensor(job=harvest_job, minimum_interval_seconds=300)
def new_publishers(context: dg.SensorEvaluationContext, registry: RegistryResource):
    """Add every registry publisher not yet a partition, and harvest it at once (an invalid
    entry too: its run fails with why)."""
    known = set(context.instance.get_dynamic_partitions(publisher_partitions.name))
    new = [key for key in registry.load().partition_ids() if key not in known]
    if not new:
        return dg.SkipReason("no new publishers in the registry")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=key, run_key=f"added:{key}") for key in new],
        dynamic_partitions_requests=[publisher_partitions.build_add_request(new)],
    )
