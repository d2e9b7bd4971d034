"""Data-quality findings for one publisher, computed from the warehouse (used by asset checks)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import pandas as pd
import sqlalchemy as sa

from schemas.descriptors import load_descriptor
from warehouse.tables import LIVE, files, payments, quarantine

# Transparency Code 2015: quarterly data, published within one month of the quarter's end.
GRACE_MONTHS = 1
# The columns a spend file cannot do without: the schema's own required fields.
REQUIRED = tuple(f["name"] for f in load_descriptor("spend")["fields"]
                 if f["constraints"].get("required"))


@dataclass
class Finding:
    """One check's outcome: passed or not, with what a person needs to see why."""

    passed: bool
    summary: str
    details: dict = field(default_factory=dict)


def _current_files(conn, publisher_id: str) -> pd.DataFrame:
    query = sa.select(files).where(files.c.publisher_id == publisher_id,
                                   files.c.status.in_(LIVE))
    return pd.read_sql(query, conn)


def conformance(engine: sa.Engine, publisher_id: str) -> Finding:
    """Every latest file version was read as a spend table with the schema's required columns."""
    with engine.connect() as conn:
        latest = pd.read_sql(sa.select(files.c.url, files.c.status, files.c.status_message,
                                       files.c.columns, files.c.version)
                             .where(files.c.publisher_id == publisher_id), conn)
    latest = latest.sort_values("version").groupby("url").tail(1)
    rejected = latest[latest["status"] == "rejected"]
    missing = {}
    for row in latest[latest["status"].isin(LIVE)].itertuples():
        mapped = set(json.loads(row.columns or "{}").values())
        gaps = [name for name in REQUIRED if name not in mapped]
        if gaps:
            missing[row.url] = gaps
    problems = {url: msg for url, msg in zip(rejected["url"], rejected["status_message"],
                                             strict=True)}
    passed = not problems and not missing
    summary = "every file conforms" if passed else (
        f"{len(problems)} file(s) rejected, {len(missing)} missing required columns")
    return Finding(passed, summary, {"rejected": problems, "missing_required": missing,
                                     "files": len(latest)})


def reconciliation(engine: sa.Engine, publisher_id: str) -> Finding:
    """For each live file, rows and pence in the warehouse equal what was read from it."""
    with engine.connect() as conn:
        live = _current_files(conn, publisher_id)
        loaded = _sums(conn, payments, publisher_id)
        held = _sums(conn, quarantine, publisher_id)
    off = {}
    for row in live.itertuples():
        rows = loaded.get(row.id, (0, 0))[0] + held.get(row.id, (0, 0))[0]
        pence = loaded.get(row.id, (0, 0))[1] + held.get(row.id, (0, 0))[1]
        if row.kind == "transactions" and (rows != row.rows_read
                                           or pence != row.amount_total_pence):
            off[row.url] = {"rows_read": row.rows_read, "rows_held": rows,
                            "pence_read": row.amount_total_pence, "pence_held": pence}
    summary = "rows and totals reconcile" if not off else f"{len(off)} file(s) do not reconcile"
    return Finding(not off, summary, {"files": len(live), "mismatches": off})


def _sums(conn, table: sa.Table, publisher_id: str) -> dict[int, tuple[int, int]]:
    query = (sa.select(table.c.file_id, sa.func.count(), sa.func.coalesce(
        sa.func.sum(table.c.amount_pence), 0)).where(table.c.publisher_id == publisher_id)
        .group_by(table.c.file_id))
    return {file_id: (int(n), int(total)) for file_id, n, total in conn.execute(query)}


def duplicates(engine: sa.Engine, publisher_id: str, examples: int = 5) -> Finding:
    """Payments that repeat the same payee, amount, date and transaction number."""
    key = [payments.c.beneficiary_name, payments.c.amount_pence, payments.c.payment_date,
           payments.c.transaction_number]
    query = (sa.select(*key, sa.func.count().label("times"))
             .where(payments.c.publisher_id == publisher_id).group_by(*key)
             .having(sa.func.count() > 1).order_by(sa.func.count().desc()))
    with engine.connect() as conn:
        repeated = conn.execute(query).all()
    extra = sum(r.times - 1 for r in repeated)
    shown = [{"payee": r.beneficiary_name, "amount_pence": r.amount_pence,
              "date": str(r.payment_date), "transaction": r.transaction_number, "times": r.times}
             for r in repeated[:examples]]
    summary = "no repeated payments" if not extra else f"{extra} payment(s) repeat another"
    return Finding(not extra, summary, {"repeated_rows": extra, "examples": shown})


def missing_months(engine: sa.Engine, publisher_id: str) -> Finding:
    """Calendar months between the first and last payment that have no payments at all."""
    month = sa.func.substr(sa.cast(payments.c.payment_date, sa.String), 1, 7)
    with engine.connect() as conn:
        months = sorted(m for (m,) in conn.execute(
            sa.select(month).where(payments.c.publisher_id == publisher_id).distinct()) if m)
    if not months:
        return Finding(True, "no payments yet", {"months": 0})
    span = pd.period_range(months[0], months[-1], freq="M").strftime("%Y-%m").tolist()
    gaps = [m for m in span if m not in set(months)]
    summary = "every month is covered" if not gaps else f"{len(gaps)} month(s) missing"
    return Finding(not gaps, summary, {"first": months[0], "last": months[-1], "missing": gaps})


def timeliness(engine: sa.Engine, publisher_id: str, published: dict[str, str]) -> Finding:
    """Each quarter's data was out within a month of the quarter's end (Transparency Code).

    `published` maps a file URL to when it appeared: its Last-Modified header when the server
    gave one, else when moneytrail first fetched it.
    """
    with engine.connect() as conn:
        live = _current_files(conn, publisher_id)
    late = {}
    for row in live.itertuples():
        if not row.date_max or row.url not in published:
            continue
        due = _deadline(row.date_max)
        out = _when(published[row.url])
        if out is not None and out > due:
            late[row.url] = {"data_to": row.date_max, "due": due.isoformat(),
                             "published": out.isoformat(), "days_late": (out - due).days}
    summary = "published on time" if not late else f"{len(late)} file(s) published late"
    return Finding(not late, summary, {"late": late, "files": len(live)})


def _deadline(date_max: str) -> dt.date:
    quarter = pd.Period(date_max[:7], freq="M").asfreq("Q")
    # The end of the month after the quarter's last month: 30 June's data is due by 31 July.
    return (quarter.asfreq("M", how="end") + GRACE_MONTHS).end_time.date()


def _when(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        try:
            return parsedate_to_datetime(text).date()
        except (TypeError, ValueError):
            return None


def header_drift(engine: sa.Engine, publisher_id: str) -> Finding:
    """Columns that appeared or vanished between a publisher's two most recent files."""
    with engine.connect() as conn:
        recent = conn.execute(
            sa.select(files.c.url, files.c.columns).where(
                files.c.publisher_id == publisher_id, files.c.columns.is_not(None),
                files.c.status.in_(("current", "withdrawn", "superseded")))
            .order_by(files.c.date_max.desc(), files.c.id.desc()).limit(2)).all()
    if len(recent) < 2:
        return Finding(True, "nothing to compare yet", {})
    newer, older = (set(json.loads(r.columns)) for r in recent)
    added, removed = sorted(newer - older), sorted(older - newer)
    passed = not added and not removed
    summary = "headers unchanged" if passed else f"{len(added)} added, {len(removed)} removed"
    return Finding(passed, summary, {"newer": recent[0].url, "older": recent[1].url,
                                     "added": added, "removed": removed})
