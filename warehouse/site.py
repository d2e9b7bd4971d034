"""Build the published site from the warehouse: one SQLite database per publisher, one combined."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from schemas.descriptors import load_descriptor
from warehouse.tables import files, metadata, payments, publishers, quarantine

COMBINED = "moneytrail"
COPY_CHUNK_ROWS = 100_000
LIVE = ("current", "withdrawn")
LICENCES = {"OGL-UK-3.0": ("Open Government Licence v3.0",
                           "https://www.nationalarchives.gov.uk/doc/open-government-licence/"
                           "version/3/")}


@dataclass
class SiteSummary:
    site_dir: Path
    databases: list[str] = field(default_factory=list)
    payments: int = 0


def build_site(engine: sa.Engine, site_dir: Path) -> SiteSummary:
    """Write DIR/<publisher>.db, DIR/moneytrail.db and DIR/metadata.json, replacing the old site
    only once the new one is complete, so a site being served is never half-built."""
    site_dir = Path(site_dir)
    building = site_dir.with_name(site_dir.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    summary = SiteSummary(site_dir)
    with engine.connect() as conn:
        everyone = pd.read_sql(sa.select(publishers).order_by(publishers.c.id), conn)
    summary.payments = _copy(engine, building / f"{COMBINED}.db", None)
    summary.databases.append(COMBINED)
    for publisher_id in everyone["id"]:
        _copy(engine, building / f"{publisher_id}.db", publisher_id)
        summary.databases.append(publisher_id)
    (building / "metadata.json").write_text(
        json.dumps(site_metadata(everyone), indent=2, ensure_ascii=False), encoding="utf-8")
    old = site_dir.with_name(site_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if site_dir.exists():
        site_dir.rename(old)
    building.rename(site_dir)
    shutil.rmtree(old, ignore_errors=True)
    return summary


def _copy(engine: sa.Engine, target: Path, publisher_id: str | None) -> int:
    """Copy publishers, files, live payments and quarantine (of one publisher, or all)."""
    out = sa.create_engine(f"sqlite:///{target}")
    metadata.create_all(out)
    copied = 0
    for table in (publishers, files, payments, quarantine):
        query = sa.select(table)
        if publisher_id is not None:
            column = table.c.id if table is publishers else table.c.publisher_id
            query = query.where(column == publisher_id)
        if table is payments:
            live = sa.select(files.c.id).where(files.c.status.in_(LIVE))
            query = query.where(payments.c.file_id.in_(live))
        with engine.connect() as conn, out.begin() as write:
            for chunk in pd.read_sql(query, conn, chunksize=COPY_CHUNK_ROWS):
                chunk.to_sql(table.name, write, if_exists="append", index=False)
                copied += len(chunk) if table is payments else 0
    out.dispose()
    return copied


def site_metadata(everyone: pd.DataFrame) -> dict:
    """Datasette metadata generated from the registry (publishers) and the payment schema."""
    columns = {f["name"]: f["description"] for f in load_descriptor("payment")["fields"]}
    tables = {"payments": {"description": "One row per payment line, amounts in pence.",
                           "columns": columns}}
    databases = {COMBINED: {"title": "All publishers",
                            "description": "Every publisher's payments, searchable together.",
                            "tables": tables}}
    for row in everyone.itertuples():
        name, url = LICENCES.get(row.licence, (row.licence, None))
        databases[row.id] = {
            "title": row.name,
            "description": f"Payments published by {row.name} ({row.org_id}).",
            "license": name, **({"license_url": url} if url else {}),
            **({"source": row.name, "source_url": row.website} if row.website else {}),
            "tables": tables,
        }
    return {
        "title": "moneytrail: follow local public money",
        "description": "Spending published by councils and the providers they commission.",
        "license": LICENCES["OGL-UK-3.0"][0], "license_url": LICENCES["OGL-UK-3.0"][1],
        "databases": databases,
    }
