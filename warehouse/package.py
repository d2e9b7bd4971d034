"""Build a deployable package of the published site: databases, metadata, plugin, Dockerfile."""

import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from sources.archive import object_path
from warehouse.archived_copies import ARCHIVE_VARIABLE, served_files
from warehouse.generations import LOCK, STATE
from warehouse.serving import CONFIG_DIR, SETTINGS
from warehouse.site import COMBINED

REPO = CONFIG_DIR.parent
DOCKERFILE = """FROM python:3.11-slim
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir --no-deps wheels/*.whl
ENV PORT=8001
EXPOSE 8001
CMD ["sh", "serve.sh"]
"""
REQUIREMENTS = "datasette==0.65.5\npandas>=2.2\npyyaml>=6\n"


def build_package(site_dir: Path, output: Path, archive_dir: Path | None = None) -> Path:
    """Write OUTPUT with the site, the archived copies it serves (from the raw archive in
    ARCHIVE_DIR), Datasette's configuration folder, moneytrail's wheel (the plugin imports its
    chart and money code), a Dockerfile and serve.sh; returns OUTPUT.

    This is the layout `datasette package` builds, plus the plugin's code: deploy the folder to
    any container host, or run `sh serve.sh` where Python and the requirements are installed.
    """
    site_dir, output = Path(site_dir), Path(output)
    if not (site_dir / "metadata.json").exists():
        raise FileNotFoundError(f"no built site in {site_dir}")
    shutil.rmtree(output, ignore_errors=True)
    # The generation the site points to, less its lock, state and unfinished files.
    shutil.copytree(site_dir.resolve(), output / "site",
                    ignore=shutil.ignore_patterns(LOCK, STATE, "*.new"))
    _copy_archived(output / "site" / f"{COMBINED}.db", archive_dir, output / "archive")
    shutil.copytree(CONFIG_DIR, output / "datasette",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
                    str(output / "wheels"), str(REPO)], check=True, capture_output=True)
    (output / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (output / "requirements.txt").write_text(REQUIREMENTS, encoding="utf-8")
    (output / "serve.sh").write_text(_serve_script(output / "site"), encoding="utf-8")
    return output


def _copy_archived(combined: Path, archive_dir: Path | None, target: Path) -> None:
    """The archived bytes of every file the site serves, in the raw archive's layout: never
    those it withholds, so the package holds no name the site does not publish."""
    (target / "objects").mkdir(parents=True)
    if archive_dir is None:
        return
    with closing(sqlite3.connect(f"file:{combined}?immutable=1", uri=True)) as db:
        served = served_files(db)
    for found in served:
        source = object_path(archive_dir, found.sha256)
        if source.is_file():
            copy = object_path(target, found.sha256)
            copy.parent.mkdir(exist_ok=True)
            shutil.copyfile(source, copy)


def _serve_script(site: Path) -> str:
    arguments = ["--metadata site/metadata.json", "--inspect-file site/inspect.json",
                 "--template-dir datasette/templates", "--plugins-dir datasette/plugins",
                 "--static static:datasette/static"]
    arguments += [f"--setting {name} {value}" for name, value in SETTINGS.items()]
    arguments += [f"-i site/{db.name}" for db in sorted(site.glob("*.db"))]
    lines = " \\\n  ".join(arguments)
    return ("#!/bin/sh\n# Serve the packaged site read-only and immutable.\n"
            "cd \"$(dirname \"$0\")\"\n"
            f"export {ARCHIVE_VARIABLE}=\"$PWD/archive\"\n"
            f"exec python -m datasette serve --host 0.0.0.0 --port \"${{PORT:-8001}}\" \\\n"
            f"  {lines}\n")
