"""The offline demo: serve the generated demo world over local HTTP and run the pipeline on it."""

from collections.abc import Callable
from pathlib import Path

from orchestration.runner import PublisherSummary, run_pipeline
from sources.demo_server import LocalServer
from sources.demo_world import build_demo_world

DEMO_PORT = 8750


def run_demo(
    data_dir: Path, tell: Callable[[str], None] = lambda _: None,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[list[PublisherSummary], Path]:
    """Build the world, harvest it through the real harvest code, republish one file, harvest
    again (its new version supersedes the old), and return the summaries and the site folder.
    `tell` hears each stage and what it redid, `progress` how far a run has got (run_pipeline).
    Both runs are recorded in DATA_DIR/dagster, the instance `make dev` opens."""
    world_dir = Path(data_dir) / "demo-world"
    (world_dir / "www").mkdir(parents=True, exist_ok=True)
    with _server(world_dir / "www") as server:
        world = build_demo_world(world_dir, server.url)
        tell(f"demo world served at {server.url}; first harvest")
        run_pipeline(world.registry_path, data_dir, allow_private=True, progress=progress,
                     tell=tell)
        url = world.republish()
        tell(f"republished {url}; second harvest")
        summaries = run_pipeline(world.registry_path, data_dir, allow_private=True,
                                 progress=progress, tell=tell)
    return summaries, Path(data_dir) / "site"


def _server(www: Path) -> LocalServer:
    # A fixed port keeps the demo's URLs the same from one run to the next, so a second
    # `make demo` finds the files it harvested before; any free port if that one is taken.
    try:
        return LocalServer(www, DEMO_PORT).start()
    except OSError:
        return LocalServer(www).start()
