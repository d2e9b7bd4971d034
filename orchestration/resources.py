"""Dagster resources: the registry, the HTTP client and the warehouse (with its data folder)."""

import os
from functools import cache
from pathlib import Path

import dagster as dg
import requests
import sqlalchemy as sa

from orchestration.summary import registry_used
from sources.archive import Archive
from sources.harvest import HarvestSettings, make_session
from sources.registry import UK_REGISTRY, Registry, load_registry
from warehouse.engine import connect, warehouse_url


class RegistryResource(dg.ConfigurableResource):
    """The publisher registry file."""

    path: str = str(UK_REGISTRY)

    def load(self) -> Registry:
        return load_registry(Path(self.path))


class HttpClient(dg.ConfigurableResource):
    """How files are fetched: timeouts, size cap, retries; private addresses only in demo/tests."""

    allow_private: bool = False
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_bytes: int = 512 << 20
    retries: int = 3
    backoff: float = 0.5
    file_deadline: float = 900.0

    def settings(self) -> HarvestSettings:
        return HarvestSettings(self.connect_timeout, self.read_timeout, self.max_bytes,
                               self.retries, self.backoff, self.allow_private,
                               file_deadline=self.file_deadline)

    def session(self) -> requests.Session:
        return make_session(self.settings())


class Warehouse(dg.ConfigurableResource):
    """The data folder (raw archive, site) and the warehouse database URL."""

    data_dir: str = "data"
    url: str = ""

    def engine(self) -> sa.Engine:
        return _engine(self.url or warehouse_url(Path(self.data_dir)))

    def archive(self) -> Archive:
        return Archive(Path(self.data_dir) / "raw")

    def site_dir(self) -> Path:
        return Path(self.data_dir) / "site"


@cache
def _engine(url: str) -> sa.Engine:
    return connect(url)


def resources_from_env() -> dict[str, dg.ConfigurableResource]:
    """Resources for `dagster dev` and the daemon, configured by environment variables; the
    registry is by default the one the data folder was last run with (`make demo`'s, say)."""
    data_dir = os.environ.get("MONEYTRAIL_DATA_DIR", "data")
    return make_resources(
        registry=os.environ.get("MONEYTRAIL_REGISTRY") or str(registry_used(Path(data_dir))),
        data_dir=data_dir,
        allow_private=os.environ.get("MONEYTRAIL_ALLOW_PRIVATE", "") == "1",
    )


def make_resources(registry: str, data_dir: str, allow_private: bool = False) -> dict:
    return {
        "registry": RegistryResource(path=str(registry)),
        "http": HttpClient(allow_private=allow_private),
        "warehouse": Warehouse(data_dir=str(data_dir),
                               url=os.environ.get("MONEYTRAIL_WAREHOUSE_URL", "")),
    }
