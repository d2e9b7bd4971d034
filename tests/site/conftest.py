"""The demo pipeline, run once for every site test: its summaries, site folder and warehouse."""

import pytest

from orchestration.demo import run_demo


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    data = tmp_path_factory.mktemp("site")
    summaries, site_dir = run_demo(data)
    return summaries, site_dir, data
