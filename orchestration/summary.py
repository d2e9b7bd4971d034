"""The end-of-run table: one line per publisher, as the warehouse holds it now. Kept apart from
the runner so that commands which only load or report need not import Dagster."""

import json
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from schemas.money import pence_to_pounds
from sources.registry import UK_REGISTRY
from warehouse.tables import LIVE, files, payments, publishers, quarantine

# In the data folder: the registry its last `moneytrail run` used, for `moneytrail load`.
REGISTRY_USED = "registry-used.txt"


def remember_registry(data_dir: Path, registry_path: Path) -> None:
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    (Path(data_dir) / REGISTRY_USED).write_text(str(Path(registry_path).resolve()),
                                                encoding="utf-8")


def registry_used(data_dir: Path) -> Path:
    """The registry the data folder was last run with, when it still exists; else the UK's."""
    try:
        path = Path((Path(data_dir) / REGISTRY_USED).read_text(encoding="utf-8").strip())
    except OSError:
        return UK_REGISTRY
    return path if path.is_file() else UK_REGISTRY


@dataclass
class PublisherSummary:
    """One line of the end-of-run table."""

    publisher_id: str
    name: str
    files: int = 0
    rows: int = 0
    quarantined: int = 0
    total_pence: int = 0
    status: str = ""
    message: str = ""
    failed_checks: list[str] = field(default_factory=list)


def summarise(engine: sa.Engine, publisher_id: str, failed: list[str]) -> PublisherSummary:
    """Files, rows, quarantine and total for one publisher, as the warehouse holds them now."""
    live = files.c.status.in_(LIVE)
    with engine.connect() as conn:
        who = conn.execute(sa.select(publishers).where(publishers.c.id == publisher_id)).first()
        count = conn.execute(sa.select(sa.func.count()).where(
            files.c.publisher_id == publisher_id, live)).scalar()
        rows, total = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(
            sa.func.sum(payments.c.amount_pence), 0)).where(
            payments.c.publisher_id == publisher_id)).one()
        held = conn.execute(sa.select(sa.func.count()).where(
            quarantine.c.publisher_id == publisher_id)).scalar()
    return PublisherSummary(
        publisher_id, who.name if who else publisher_id, count, rows, held, int(total),
        (who.status or "") if who else "not run", (who.status_message or "") if who else "",
        failed,
    )


def invalid_entry(key: str, reason: str) -> PublisherSummary:
    """The line of a registry entry that could not be loaded: a failed publisher, with why."""
    return PublisherSummary(key, key, status="error", message=f"invalid registry entry: {reason}")


def summary_table(rows: list[PublisherSummary]) -> str:
    """The per-publisher table printed at the end of a run."""
    lines = [f"{'publisher':34} {'files':>5} {'rows':>8} {'quarant.':>8} {'total':>18}  status"]
    for row in rows:
        pounds = pence_to_pounds(row.total_pence)
        status = row.status + (f" (checks: {', '.join(row.failed_checks)})"
                               if row.failed_checks else "")
        lines.append(f"{row.publisher_id[:34]:34} {row.files:>5} {row.rows:>8} "
                     f"{row.quarantined:>8} {pounds:>18}  {status}")
        if row.message:
            lines.append(f"{'':34}   {row.message[:200]}")
    return "\n".join(lines)


def summaries_json(rows: list[PublisherSummary]) -> str:
    return json.dumps([row.__dict__ for row in rows], indent=2)


def publish_line(flows_mode: str, redone: int, new_spellings: int, site_mode: str,
                 rebuilt: int, publishers: int) -> str:
    """What the flows and site steps redid, in a line: says so when they redid everything."""
    flows = {"full": "every publisher's payees resolved",
             "unchanged": "no payees to resolve"}.get(
        flows_mode, f"payees resolved again for {redone} publisher(s) "
                    f"({new_spellings} new spellings)")
    site = {"full": f"site built whole ({publishers} publishers' databases)",
            "unchanged": "site unchanged"}.get(
        site_mode, f"site updated: {rebuilt} of {publishers} publishers' databases rebuilt, "
                   "the combined one updated in place")
    return f"{flows}; {site}"
