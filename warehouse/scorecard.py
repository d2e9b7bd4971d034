"""A publisher's data-quality scorecard, from the warehouse: what the landing page shows."""

import json

import sqlalchemy as sa

from schemas.privacy import WITHHELD
from warehouse import quality
from warehouse.residents import per_resident_sql
from warehouse.tables import LIVE, files

CODE_REQUIREMENTS = 7  # date, department, beneficiary, purpose, amount, irrecoverable VAT, category

# A payment whose payee is not shown: redacted by the publisher, or a private individual's name
# withheld by the site. The summary line's `redacted` columns count these (shown as withheld).
WITHHELD_PAYMENT = f"(redaction_reason is not null or beneficiary_name = '{WITHHELD}')"

# The combined summary line per publisher, computed in SQLite once the scorecard is in place.
SUMMARY_SQL = f"""
insert into publisher_summary
select p.id, p.name, p.kind, p.org_id, p.population,
       coalesce(t.payments, 0), coalesce(t.total, 0),
       {per_resident_sql("coalesce(t.total, 0)", "p.population")},
       coalesce((select sum(total_pence) from publisher_flows where payer_id = p.id), 0),
       t.date_min, t.date_max,
       (select count(*) from files f where f.publisher_id = p.id
          and f.status in ('current', 'withdrawn')),
       (select count(*) from quarantine q where q.publisher_id = p.id),
       coalesce(t.redacted, 0), coalesce(t.redacted_pence, 0),
       (select max(fetched_at) from files f where f.publisher_id = p.id),
       (select round(avg(score)) from scorecard s where s.publisher_id = p.id
          and s.score is not null),
       p.status, p.status_message, p.population_year
from publishers p left join (
    select publisher_id, count(*) as payments, sum(amount_pence) as total,
           min(payment_date) as date_min, max(payment_date) as date_max,
           sum({WITHHELD_PAYMENT}) as redacted,
           sum(case when {WITHHELD_PAYMENT} then amount_pence end) as redacted_pence
    from payments group by publisher_id) t on t.publisher_id = p.id
"""


def scorecard(engine: sa.Engine, publisher_id: str, published: dict[str, str]) -> list[tuple]:
    """Rows of (measure, score 0-100 or None, value, target, detail JSON)."""
    with engine.connect() as conn:
        live = conn.execute(sa.select(files.c.missing_fields, files.c.rows_read,
                                      files.c.rows_quarantined, files.c.redacted_rows)
                            .where(files.c.publisher_id == publisher_id,
                                   files.c.status.in_(LIVE))).all()
    if not live:
        return [("files", 0, "no file loaded", "at least one file a quarter", "{}")]
    return [
        _fields(live),
        _timeliness(quality.timeliness(engine, publisher_id, published)),
        _continuity(quality.missing_months(engine, publisher_id)),
        _quarantine(live),
        _redaction(live),
    ]


def _fields(live) -> tuple:
    missing = [json.loads(row.missing_fields or "[]") for row in live]
    mean_missing = sum(map(len, missing)) / len(missing)
    score = round(100 * (CODE_REQUIREMENTS - mean_missing) / CODE_REQUIREMENTS)
    gaps = sorted({gap for file in missing for gap in file})
    value = f"{CODE_REQUIREMENTS - round(mean_missing)} of {CODE_REQUIREMENTS} present"
    return ("mandatory fields", score, value, "all 7 Transparency Code fields",
            json.dumps({"missing": gaps}))


def _timeliness(finding: quality.Finding) -> tuple:
    total = finding.details.get("files", 0)
    late = len(finding.details.get("late", {}))
    score = round(100 * (total - late) / total) if total else None
    return ("timeliness", score, f"{late} of {total} files late",
            "within a month of the quarter's end", json.dumps(finding.details["late"]))


def _continuity(finding: quality.Finding) -> tuple:
    gaps = finding.details.get("missing", [])
    if "first" not in finding.details:
        return ("missing months", None, "no payments", "none", "{}")
    span = len(gaps) + _months_with_data(finding)
    score = round(100 * (span - len(gaps)) / span) if span else None
    return ("missing months", score, f"{len(gaps)} missing", "none", json.dumps(gaps))


def _months_with_data(finding: quality.Finding) -> int:
    first, last = finding.details["first"], finding.details["last"]
    span = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:7]) - int(first[5:7]) + 1
    return span - len(finding.details["missing"])


def _quarantine(live) -> tuple:
    read = sum(row.rows_read or 0 for row in live)
    held = sum(row.rows_quarantined or 0 for row in live)
    score = round(100 * (read - held) / read) if read else None
    return ("rows quarantined", score, f"{held} of {read}", "none", "{}")


def _redaction(live) -> tuple:
    read = sum(row.rows_read or 0 for row in live)
    redacted = sum(row.redacted_rows or 0 for row in live)
    rate = f"{100 * redacted / read:.1f}%" if read else "n/a"
    # Redaction can be right (personal data): shown, not scored.
    return ("redaction rate", None, rate, "only what the law requires", "{}")
