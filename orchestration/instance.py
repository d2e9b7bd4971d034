"""The data folder's own Dagster instance, DATA_DIR/dagster: where `moneytrail run` records its
runs and `make dev` (as DAGSTER_HOME) shows them. `python -m orchestration.instance DIR` makes
it and prints its path, without importing Dagster."""

import sys
from pathlib import Path

INSTANCE_DIR = "dagster"
# A new instance's dagster.yaml: every run's events in one SQLite database, not one a run.
INSTANCE_CONFIG = Path(__file__).parent / "deploy" / "local.yaml"


def instance_home(data_dir: Path) -> Path:
    """DATA_DIR/dagster (absolute), with a dagster.yaml written from deploy/local.yaml when it
    has none; one it has is left as it is."""
    home = (Path(data_dir) / INSTANCE_DIR).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_CONFIG.read_text(encoding="utf-8").replace(
            "{history}", str(home / "history")), encoding="utf-8")
    return home


if __name__ == "__main__":
    print(instance_home(Path(sys.argv[1])))
