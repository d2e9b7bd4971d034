"""The demo pipeline, run once for every site test: its summaries, site folder and warehouse."""

import shutil

import pytest

from orchestration.demo import run_demo
from sources.registry import load_registry
from warehouse import generations
from warehouse.engine import connect


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    data = tmp_path_factory.mktemp("site")
    summaries, site_dir = run_demo(data)
    return summaries, site_dir, data


@pytest.fixture()
def copied(demo, tmp_path):
    """A copy of the demo's data folder (warehouse, archive and site) to change: its folder,
    the demo's registry and an engine on the copied warehouse."""
    _, _, data = demo
    target = tmp_path / "data"
    shutil.copytree(data, target, symlinks=True,
                    ignore=shutil.ignore_patterns("demo-world", generations.LOCK))
    registry = load_registry(data / "demo-world" / "registry.yaml")
    engine = connect(f"sqlite:///{target / 'warehouse.db'}")
    yield target, registry, engine
    engine.dispose()
