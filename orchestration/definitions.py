"""The Dagster code location: `dagster dev -m orchestration.definitions` (or `make dev`)."""

import importlib
import os

import dagster as dg

from orchestration.assets import money_flows, raw_files, site, warehouse_files
from orchestration.checks import ALL_CHECKS
from orchestration.resources import resources_from_env
from orchestration.schedules import harvest_job, site_job, weekly_harvest, weekly_site
from orchestration.sensors import new_publishers

# Scale-out is configuration: MONEYTRAIL_EXECUTOR picks how a run executes its steps.
EXECUTORS = {
    "multiprocess": ("dagster", "multiprocess_executor"),
    "in_process": ("dagster", "in_process_executor"),
    "celery": ("dagster_celery", "celery_executor"),
    "k8s": ("dagster_k8s", "k8s_job_executor"),
    "docker": ("dagster_docker", "docker_executor"),
}


def executor_from_env() -> dg.ExecutorDefinition:
    """The executor named by MONEYTRAIL_EXECUTOR (default: multiprocess on one machine). The
    Celery executor takes its broker from MONEYTRAIL_CELERY_BROKER and the settings every
    worker shares (orchestration.cluster.CELERY_SETTINGS), so a run's steps and the workers
    that take them agree."""
    name = os.environ.get("MONEYTRAIL_EXECUTOR", "multiprocess")
    if name not in EXECUTORS:
        raise ValueError(f"MONEYTRAIL_EXECUTOR={name!r}: expected one of {', '.join(EXECUTORS)}")
    module, attribute = EXECUTORS[name]
    try:
        executor = getattr(importlib.import_module(module), attribute)
    except ImportError:
        package = module.replace("_", "-")
        raise ValueError(f"MONEYTRAIL_EXECUTOR={name} needs `pip install {package}`") from None
    if name == "celery":
        from orchestration.cluster import celery_executor_config

        executor = executor.configured(celery_executor_config(), name="celery")
    return executor


defs = dg.Definitions(
    assets=[raw_files, warehouse_files, money_flows, site],
    asset_checks=ALL_CHECKS,
    jobs=[harvest_job, site_job],
    schedules=[weekly_harvest, weekly_site],
    sensors=[new_publishers],
    resources=resources_from_env(),
    executor=executor_from_env(),
)
