"""The moneytrail command line."""

import json
import os
import sys
import time
from pathlib import Path

import click

# Each command imports what it needs itself: `validate` never loads the warehouse, Dagster or
# Datasette (tests/unit/test_startup.py). The registry's path is a default of `run`'s.
from orchestration.progress import FilesProgress, StatusLine
from schemas.descriptors import SCHEMA_NAMES
from sources.registry import UK_REGISTRY

DATA_DIR = click.option("--data-dir", default="data", show_default=True,
                        type=click.Path(file_okay=False, path_type=Path),
                        help="Holds the raw archive, the warehouse and the published site.")


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Follow local public money: validate, harvest, load and publish spending data."""
    ctx.call_on_close(_end_processes)


def _end_processes() -> None:
    """Stop the processes a command started to read large files, so that none outlives it
    (warehouse.preparing.stop_processes); a command that read none never imported it."""
    preparing = sys.modules.get("warehouse.preparing")
    if preparing is not None:
        preparing.stop_processes()


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--schema", default="spend", show_default=True, type=click.Choice(SCHEMA_NAMES),
              help="The schema to validate against.")
@click.option("--publisher", default=None, help="Publisher id, to apply its recorded quirks.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per file.")
def validate(files: tuple[str, ...], schema: str, publisher: str | None, as_json: bool) -> None:
    """Check spending files before publishing them.

    Exits 1 when any file lacks a mandatory Transparency Code field, has invalid rows, or is
    not a spending table at all.
    """
    from schemas.render import render_text
    from schemas.validate import report_file

    reports = []
    with FilesProgress(files, "validating") as progress:
        for path in files:
            progress.start(path)
            reports.append(report_file(Path(path), schema, publisher, on_rows=progress.add_rows))
            progress.done(reports[-1].rows_read)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in reports], indent=2, default=str))
    else:
        click.echo("\n\n".join(render_text(r) for r in reports))
    if summary := progress.summary("validated"):
        click.echo(summary, err=True)
    sys.exit(0 if all(r.passed for r in reports) else 1)


@main.command()
@click.option("--registry", "registry_path", default=str(UK_REGISTRY), show_default=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publisher", "publisher_ids", multiple=True,
              help="Only this publisher (repeatable); all of them by default.")
@DATA_DIR
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run(registry_path: Path, publisher_ids: tuple[str, ...], data_dir: Path,
        as_json: bool) -> None:
    """Harvest, validate and load every registered publisher, then build the site.

    Private and loopback addresses are refused unless MONEYTRAIL_ALLOW_PRIVATE=1 (tests).
    """
    allow_private = os.environ.get("MONEYTRAIL_ALLOW_PRIVATE") == "1"
    summaries = _run(registry_path, data_dir, list(publisher_ids), allow_private)
    _report(summaries, as_json)


def _run(registry_path: Path, data_dir: Path, ids: list[str], allow_private: bool):
    from orchestration.runner import run_pipeline

    with StatusLine() as status:
        return run_pipeline(registry_path, data_dir, ids, allow_private, status.show,
                            tell=lambda line: status.echo(line, err=True))


def _report(summaries, as_json: bool) -> None:
    from orchestration.runner import summaries_json, summary_table

    click.echo(summaries_json(summaries) if as_json else summary_table(summaries))


@main.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publisher", "publisher_id", required=True,
              help="Publisher id (from the registry, or a new one to preview).")
@click.option("--name", default=None, help="Display name for a publisher not in the registry.")
@click.option("--registry", "registry_path", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The registry payees are resolved with: by default the one the data folder's "
                   "last `moneytrail run` used, else the UK registry.")
@click.option("--schema", default="spend", show_default=True,
              type=click.Choice(["spend", "purchase-card"]))
@DATA_DIR
def load(files: tuple[Path, ...], publisher_id: str, name: str | None, registry_path: Path,
         schema: str, data_dir: Path) -> None:
    """Load local files through the same read, validate and load path, then build the site,
    so a publisher can preview its own site before publishing."""
    from orchestration.summary import registry_used, summarise, summary_table
    from sources.registry import Publisher, load_registry, slug_problem
    from warehouse.engine import connect, warehouse_url
    from warehouse.load import load_file, upsert_publisher

    registry = load_registry(registry_path or registry_used(data_dir))
    if publisher_id in registry.invalid:
        raise click.ClickException(f"{publisher_id}: invalid registry entry: "
                                   f"{registry.invalid[publisher_id]}")
    if publisher_id not in registry.publishers and (problem := slug_problem(publisher_id)):
        # The id names the publisher's pages and database: one the site cannot route is
        # refused here, before anything is loaded under it.
        raise click.BadParameter(problem, param_hint="--publisher")
    engine = connect(warehouse_url(data_dir))
    publisher = registry.publishers.get(publisher_id) or Publisher(
        id=publisher_id, org_id=f"XX-LOCAL-{publisher_id}",
        name=name or _loaded_name(engine, publisher_id) or publisher_id, kind="other")
    upsert_publisher(engine, publisher)
    with FilesProgress(files, "loading") as progress:
        for path in files:
            progress.start(path)
            outcome = load_file(engine, publisher, f"local:{path.name}", path, schema=schema,
                                on_rows=progress.add_rows)
            detail = f": {outcome.message}" if outcome.message else ""
            progress.echo(f"{path.name}: {outcome.status}, {outcome.rows_loaded} rows loaded, "
                          f"{outcome.rows_quarantined} quarantined{detail}")
            progress.done(outcome.rows_loaded + outcome.rows_quarantined)
    if summary := progress.summary("loaded"):
        click.echo(summary, err=True)
    _publish(engine, registry, data_dir)
    click.echo(summary_table([summarise(engine, publisher.id, [])]))
    click.echo(f"site built in {data_dir / 'site'}: moneytrail serve --data-dir {data_dir}")


def _loaded_name(engine, publisher_id: str) -> str | None:
    """The name a publisher outside the registry was loaded under before: a later load that
    gives no --name keeps it, rather than renaming the publisher to its id."""
    import sqlalchemy as sa

    from warehouse.tables import publishers

    with engine.connect() as conn:
        return conn.execute(sa.select(publishers.c.name)
                            .where(publishers.c.id == publisher_id)).scalar_one_or_none()


def _publish(engine, registry, data_dir: Path):
    """Resolve the payees and update the site for what a load changed, and say what was
    redone (warehouse.flows.update, warehouse.site.build_site)."""
    from orchestration.summary import publish_line
    from sources.archive import Archive
    from warehouse.flows import update
    from warehouse.ingest import published_by_publisher
    from warehouse.site import build_site

    flows = update(engine, registry)
    site = build_site(engine, data_dir / "site",
                      published_by_publisher(engine, Archive(data_dir / "raw")))
    click.echo(publish_line(flows.mode, len(flows.redone), flows.new_spellings, site.mode,
                            len(site.rebuilt), len(site.databases) - 1), err=True)
    return site


@main.command()
@DATA_DIR
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
def serve(data_dir: Path, host: str, port: int) -> None:
    """Serve the published site with Datasette (read-only, immutable)."""
    site_dir = data_dir / "site"
    if not (site_dir / "metadata.json").exists():
        raise click.ClickException(f"no site in {site_dir}: run `moneytrail run` or "
                                   "`moneytrail demo` first")
    _serve(site_dir, data_dir / "raw", host, port)


def _serve(site_dir: Path, archive_dir: Path, host: str, port: int) -> None:
    from warehouse.archived_copies import ARCHIVE_VARIABLE
    from warehouse.serving import datasette_arguments, hold_site

    try:
        # Held until Datasette exits: updates write a spare generation meanwhile.
        generation = hold_site(site_dir)
    except (FileNotFoundError, RuntimeError) as problem:
        raise click.ClickException(str(problem)) from None
    command = [sys.executable, "-m", "datasette", "serve", "--host", host, "--port", str(port),
               *datasette_arguments(generation)]
    # The plugin serves the archived copies from here (docs/site.md#archived-copies).
    os.environ[ARCHIVE_VARIABLE] = str(archive_dir.resolve())
    click.echo(f"serving the site at http://{host}:{port}/ (Ctrl-C to stop)")
    sys.stdout.flush()
    os.execv(sys.executable, command)


@main.command()
@click.argument("name_or_id")
@DATA_DIR
@click.option("--hops", default=2, show_default=True, type=click.IntRange(1, 5),
              help="How far to follow money through payees that publish.")
@click.option("--top", default=5, show_default=True, type=int,
              help="Other payees shown at each step.")
def trace(name_or_id: str, data_dir: Path, hops: int, top: int) -> None:
    """Follow the money from a publisher (id or name), or see who pays a supplier."""
    import sqlalchemy as sa

    from schemas.money import pence_to_pounds
    from warehouse.engine import connect, warehouse_url
    from warehouse.suppliers import payee_key
    from warehouse.trace import Ambiguous, downstream, find, render, suggestions, upstream

    engine = connect(warehouse_url(data_dir))
    with engine.connect() as conn:
        def query(sql: str, params: dict) -> list[dict]:
            return [dict(row) for row in conn.execute(sa.text(sql), params).mappings()]

        try:
            found = find(query, name_or_id)
        except Ambiguous as several:
            choices = "\n".join(f"  {name} ({ident})" for ident, name in several.matches)
            raise click.ClickException(f"{name_or_id!r} fits {len(several.matches)} publishers "
                                       f"or suppliers; say which:\n{choices}") from None
        if found is None:
            close = suggestions(query, name_or_id)
            hint = ("; did you mean:\n" + "\n".join(f"  {m[1]} ({m[0]})" for m in close)
                    if close else "")
            raise click.ClickException(f"no publisher or supplier called {name_or_id!r}{hint}")
        ident, name, is_publisher = found
        if ident != name_or_id and payee_key(name) != payee_key(name_or_id):
            click.echo(f"{name_or_id!r} taken as {name} ({ident})", err=True)
        if is_publisher:
            click.echo(render(downstream(query, ident, hops, top), upstream(query, ident)))
            return
        payers = upstream(query, ident)
        click.echo(f"{name} ({ident}) is paid by {len(payers)} publisher(s):")
        for payer in payers:
            click.echo(f"  {payer['name']} ({payer['payer_id']}): "
                       f"{pence_to_pounds(int(payer['amount_pence']))}")


@main.command()
@DATA_DIR
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the package (default DATA_DIR/package).")
def publish(data_dir: Path, output: Path | None) -> None:
    """Build a deployable package of the site, with the archived copies it serves (see
    docs/site.md for deploying it)."""
    from warehouse.package import build_package

    try:
        folder = build_package(data_dir / "site", output or data_dir / "package",
                               data_dir / "raw")
    except FileNotFoundError as missing:
        raise click.ClickException(
            f"{missing}: run `moneytrail run` or `moneytrail demo` first") from None
    click.echo(f"package written to {folder}: `sh {folder}/serve.sh` serves it; its Dockerfile "
               "builds an image for any container host")


@main.command()
@DATA_DIR
@click.option("--no-serve", is_flag=True, help="Stop once the site is built.")
@click.option("--port", default=8001, show_default=True, type=int, help="Port for the site.")
def demo(data_dir: Path, no_serve: bool, port: int) -> None:
    """Generate the demo world, serve it over local HTTP, and run the whole pipeline on it:
    harvest, validate, load, republish one file and harvest again, then build and serve the
    site."""
    from orchestration.demo import run_demo

    with StatusLine() as status:
        summaries, site_dir = run_demo(data_dir, tell=lambda m: status.echo(m, err=True),
                                       progress=status.show)
    _report(summaries, as_json=False)
    if no_serve:
        click.echo(f"site built in {site_dir}")
        return
    _serve(site_dir, Path(data_dir) / "raw", "127.0.0.1", port)


@main.command()
@click.option("--data-dir", default="data-cluster", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Raw archive and site; the warehouse is in PostgreSQL.")
@click.option("--registry", "registry_path", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Registry to run; by default the built-in demo world, served locally.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 32),
              help="Celery workers to start.")
@click.option("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres",
              show_default=True, envvar="MONEYTRAIL_CLUSTER_POSTGRES",
              help="PostgreSQL server (a user that may create databases).")
@click.option("--warehouse-db", default="moneytrail_cluster", show_default=True)
@click.option("--dagster-db", default="moneytrail_dagster", show_default=True)
@click.option("--ui-port", default=3000, show_default=True, type=int)
@click.option("--exit", "exit_after", is_flag=True,
              help="Stop the cluster once the site is built, instead of keeping the UI up.")
def cluster(data_dir: Path, registry_path: Path | None, workers: int, postgres: str,
            warehouse_db: str, dagster_db: str, ui_port: int, exit_after: bool) -> None:
    """Run the pipeline on a Dagster deployment on this machine: a RabbitMQ broker, Celery
    workers, the Dagster daemon and UI with PostgreSQL storage, and the warehouse in
    PostgreSQL (docs/dagster.md). Ctrl-C stops every process it started."""
    import signal
    from contextlib import nullcontext

    from orchestration.cluster import (
        Cluster,
        ClusterError,
        ClusterSettings,
        ensure_database,
        run_on_cluster,
        serving,
    )
    from orchestration.demo import DEMO_PORT
    from orchestration.runner import summary_table
    from sources.demo_world import build_demo_world

    def interrupted(*_) -> None:
        raise KeyboardInterrupt

    # `kill` (SIGTERM) stops the cluster as Ctrl-C does: through the context managers below.
    signal.signal(signal.SIGTERM, interrupted)
    data_dir = Path(data_dir).resolve()
    demo = registry_path is None
    www = data_dir / "demo-world" / "www"
    if demo:
        www.mkdir(parents=True, exist_ok=True)
    try:
        warehouse_url = ensure_database(postgres, warehouse_db)
        with StatusLine() as status, (serving(www, DEMO_PORT) if demo else nullcontext()) as url:
            def tell(line: str) -> None:
                status.echo(line, err=True)

            if demo:
                registry_path = build_demo_world(data_dir / "demo-world", url).registry_path
                tell(f"demo world served at {url}")
            settings = ClusterSettings(data_dir / "cluster", workers=workers,
                                       postgres=postgres, dagster_db=dagster_db,
                                       ui_port=ui_port)
            with Cluster(settings, tell=tell) as running:
                summaries = run_on_cluster(running, registry_path, data_dir, warehouse_url,
                                           allow_private=demo or os.environ.get(
                                               "MONEYTRAIL_ALLOW_PRIVATE") == "1",
                                           progress=status.show, tell=tell)
                status.clear()
                click.echo(summary_table(summaries))
                click.echo(f"site built in {data_dir / 'site'}: moneytrail serve --data-dir "
                           f"{data_dir}")
                if exit_after:
                    return
                click.echo(f"Dagster UI at {running.ui_url}; Ctrl-C stops the cluster")
                try:
                    while True:
                        time.sleep(1)
                except KeyboardInterrupt:
                    click.echo("stopping the cluster", err=True)
    except ClusterError as problem:
        raise click.ClickException(str(problem)) from None


if __name__ == "__main__":
    main()
