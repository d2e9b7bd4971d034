"""The moneytrail command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from schemas.descriptors import SCHEMA_NAMES
from schemas.render import render_text
from schemas.validate import report_file


@click.group()
def main() -> None:
    """Follow local public money: validate, harvest, load and publish spending data."""


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
    reports = [report_file(Path(f), schema, publisher) for f in files]
    if as_json:
        click.echo(json.dumps([r.to_json() for r in reports], indent=2, default=str))
    else:
        click.echo("\n\n".join(render_text(r) for r in reports))
    sys.exit(0 if all(r.passed for r in reports) else 1)
