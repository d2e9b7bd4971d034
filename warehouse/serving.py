"""How the published site is served: Datasette's arguments, settings and configuration folder."""

import os
from pathlib import Path

# Datasette's configuration directory: templates, plugins and static files (not a package).
CONFIG_DIR = Path(__file__).resolve().parents[1] / "datasette"
# Measured on 2M rows: facet suggestions cost ~1.2 s a page; at the default 200 ms facet limit
# facets silently vanish. SQL is time-limited so no query can hold the site.
SETTINGS = {
    "suggest_facets": "off",
    "facet_time_limit_ms": "3000",
    "sql_time_limit_ms": "3000",
    "default_page_size": "50",
    # Every database is served immutable and holds only what the site publishes (the SQL
    # page can read all of it anyway): people may take the file whole.
    "allow_download": "on",
}


def datasette_arguments(site_dir: Path, config_dir: Path = CONFIG_DIR) -> list[str]:
    """`datasette serve` arguments for a built site: every database immutable (-i), with the
    inspect file, the generated metadata and moneytrail's templates, plugin and static files."""
    site_dir = Path(site_dir)
    arguments = ["--metadata", str(site_dir / "metadata.json"),
                 "--template-dir", str(config_dir / "templates"),
                 "--plugins-dir", str(config_dir / "plugins"),
                 "--static", f"static:{config_dir / 'static'}"]
    if (site_dir / "inspect.json").exists():
        arguments += ["--inspect-file", str(site_dir / "inspect.json")]
    for name, value in SETTINGS.items():
        arguments += ["--setting", name, value]
    for database in sorted(site_dir.glob("*.db")):
        arguments += ["-i", str(database)]
    return arguments


def make_datasette(site_dir: Path, config_dir: Path = CONFIG_DIR):
    """The same site as `datasette serve` would give, in-process (for tests and checks)."""
    import json

    from datasette.app import Datasette

    site_dir = Path(site_dir)
    inspect = site_dir / "inspect.json"
    return Datasette(
        immutables=[str(p) for p in sorted(site_dir.glob("*.db"))],
        inspect_data=json.loads(inspect.read_text()) if inspect.exists() else None,
        metadata=json.loads((site_dir / "metadata.json").read_text(encoding="utf-8")),
        template_dir=str(config_dir / "templates"),
        plugins_dir=str(config_dir / "plugins"),
        static_mounts=[("static", str(config_dir / "static"))],
        settings={name: _setting(value) for name, value in SETTINGS.items()},
    )


def _setting(value: str):
    return {"off": False, "on": True}.get(value, int(value) if value.isdigit() else value)


def hold_site(site_dir: Path) -> Path:
    """The generation of the site to serve, held with a shared lock for as long as this
    process (and the program it execs) runs, so that updates leave it alone. Waits while an
    update is writing it; refuses one whose last update did not finish."""
    from warehouse import generations

    site_dir = Path(site_dir)
    while True:
        generation = generations.current(site_dir)
        if generation is None or not (generation / "metadata.json").exists():
            raise FileNotFoundError(f"no site in {site_dir}")
        descriptor = generations.hold_for_serving(generation)
        if generations.current(site_dir) == generation:
            break
        os.close(descriptor)  # an update finished meanwhile and moved the site on
    if site_dir.is_symlink() and generations.state(generation) is None:
        os.close(descriptor)
        raise RuntimeError(f"the site in {generation} was being updated when that stopped: run "
                           "`moneytrail run` (or `load`) again to finish it")
    return generation
