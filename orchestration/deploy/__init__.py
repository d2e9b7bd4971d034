"""Deployment configuration: DAGSTER_HOME/dagster.yaml files, executor run config and a Docker
compose file, with offline checks of them (orchestration.deploy.checks)."""
