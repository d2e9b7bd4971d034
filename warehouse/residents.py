"""Spend per resident by financial year and service, and its trends: the site's tables and SQL,
and the words that say how much of a period the data covers.

A financial year runs April to March ("2025-26"). A month is *partly covered* when it is the
first or last month of a publisher's payments and those dated to the day start more than
`SLACK_DAYS` after its first day or stop more than `SLACK_DAYS` before its last (payments are
not made every day, so a few days' gap is normal); a *whole* month is any other month with
payments. A year is complete with 12 whole months. Per resident is pence divided by the
population, rounded to the nearest penny, halves away from zero (SQLite's `round`). Changes
are between two complete years in a row, or two whole months in a row; anything else is not
compared, since part of a period against a whole one says nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from schemas.money import pence_to_pounds

SLACK_DAYS = 10
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NOT_STATED = "(not stated)"

TABLES = {
    "spend_by_month_trend": """create table spend_by_month_trend (
        publisher_id text references publishers(id), month text, financial_year text,
        payments integer, total_pence integer, per_resident_pence integer, first_day text,
        last_day text, partial integer, change_pence integer, primary key (publisher_id, month))""",
    "spend_by_year": """create table spend_by_year (
        publisher_id text references publishers(id), financial_year text, first_month text,
        last_month text, months_covered integer, whole_months integer, complete integer,
        payments integer, total_pence integer, population integer, population_year integer,
        per_resident_pence integer, change_pence integer,
        primary key (publisher_id, financial_year))""",
    "spend_by_year_service": """create table spend_by_year_service (
        publisher_id text references publishers(id), financial_year text, service text,
        payments integer, total_pence integer, per_resident_pence integer,
        months_covered integer, complete integer,
        primary key (publisher_id, financial_year, service))""",
}


def _financial_year(month: str) -> str:
    """SQL for the financial year ('2025-26') of a yyyy-mm column."""
    start = (f"(cast(substr({month}, 1, 4) as integer)"
             f" - (cast(substr({month}, 6, 2) as integer) < 4))")
    return f"({start} || '-' || substr({start} + 1, 3, 2))"


def per_resident_sql(pence: str, population: str) -> str:
    """SQL for pence per resident: to the nearest penny, halves away from zero."""
    return (f"case when {population} > 0 then "
            f"cast(round(1.0 * {pence} / {population}) as integer) end")


DAYS_IN_MONTH = "cast(strftime('%d', date(k.month || '-01', '+1 month', '-1 day')) as integer)"
FIRST_DAY = "coalesce(cast(substr(k.first_day, 9, 2) as integer), 1)"
LAST_DAY = f"coalesce(cast(substr(k.last_day, 9, 2) as integer), {DAYS_IN_MONTH})"

# In order: each reads the one before (warehouse.site runs them in a publisher's database).
SUMMARIES = (
    f"""insert into spend_by_month_trend
    with months as (
        select publisher_id, month, count(*) as payments, sum(amount_pence) as total_pence,
               min(case when date_precision = 'day' then payment_date end) as first_day,
               max(case when date_precision = 'day' then payment_date end) as last_day
        from payments where month is not null group by publisher_id, month),
    marked as (
        select k.*, {_financial_year('k.month')} as financial_year,
               (k.month = min(k.month) over whole and {FIRST_DAY} > 1 + {SLACK_DAYS})
               or (k.month = max(k.month) over whole
                   and {LAST_DAY} < {DAYS_IN_MONTH} - {SLACK_DAYS}) as partial
        from months k window whole as (partition by k.publisher_id))
    select k.publisher_id, k.month, k.financial_year, k.payments, k.total_pence,
           {per_resident_sql('k.total_pence', 'p.population')}, k.first_day, k.last_day,
           k.partial,
           case when not k.partial and not lag(k.partial) over run
                 and lag(k.month) over run = substr(date(k.month || '-01', '-1 month'), 1, 7)
                then k.total_pence - lag(k.total_pence) over run end
    from marked k left join publishers p on p.id = k.publisher_id
    window run as (partition by k.publisher_id order by k.month)""",
    f"""insert into spend_by_year
    with years as (
        select publisher_id, financial_year, min(month) as first_month,
               max(month) as last_month, count(*) as months_covered,
               sum(not partial) as whole_months, sum(payments) as payments,
               sum(total_pence) as total_pence
        from spend_by_month_trend group by publisher_id, financial_year)
    select y.publisher_id, y.financial_year, y.first_month, y.last_month, y.months_covered,
           y.whole_months, y.whole_months = 12, y.payments, y.total_pence, p.population,
           p.population_year, {per_resident_sql('y.total_pence', 'p.population')},
           case when y.whole_months = 12 and lag(y.whole_months) over run = 12
                 and cast(lag(substr(y.financial_year, 1, 4)) over run as integer)
                     = cast(substr(y.financial_year, 1, 4) as integer) - 1
                then y.total_pence - lag(y.total_pence) over run end
    from years y left join publishers p on p.id = y.publisher_id
    window run as (partition by y.publisher_id order by y.financial_year)""",
    f"""insert into spend_by_year_service
    with services as (
        select publisher_id, {_financial_year('month')} as financial_year, service,
               count(*) as payments, sum(amount_pence) as total_pence
        from payments where month is not null group by 1, 2, 3)
    select s.publisher_id, s.financial_year, s.service, s.payments, s.total_pence,
           {per_resident_sql('s.total_pence', 'y.population')}, y.months_covered, y.complete
    from services s join spend_by_year y
      on y.publisher_id = s.publisher_id and y.financial_year = s.financial_year""",
)


def month_name(month: str) -> str:
    """'2025-09' as 'Sep 2025'."""
    year, number = month.split("-")[:2]
    return f"{MONTHS[int(number) - 1]} {year}"


def month_span(first: str, last: str) -> str:
    """'Apr–Sep 2025', 'Nov 2024–Feb 2025', or 'Apr 2025' for one month."""
    if first == last:
        return month_name(first)
    if first[:4] == last[:4]:
        return f"{MONTHS[int(first[5:7]) - 1]}–{month_name(last)}"
    return f"{month_name(first)}–{month_name(last)}"


def year_months(financial_year: str) -> list[str]:
    """The twelve months of '2025-26', April 2025 to March 2026."""
    start = int(financial_year[:4])
    return [f"{start + (m < 4)}-{m:02d}" for m in (*range(4, 13), 1, 2, 3)]


def year_ended(financial_year: str) -> dt.date:
    return dt.date(int(financial_year[:4]) + 1, 3, 31)


def partial_words(month: dict) -> str:
    """What part of a partly covered month the payments cover: 'payments 1–15 Sep only'."""
    first, last = (int((month[k] or "")[8:10] or 0) for k in ("first_day", "last_day"))
    return f"payments {first}–{last} {MONTHS[int(month['month'][5:7]) - 1]} only"


def coverage_words(year: dict, months: Iterable[dict], today: dt.date) -> str:
    """How much of a financial year the data covers, in words; '' for a complete year that is
    over. 'Apr–Sep 2025 only: 6 of 12 months; the year is still in progress'."""
    label = year["financial_year"]
    have = {m["month"]: m for m in months if m["financial_year"] == label}
    words = []
    if year["months_covered"] < 12:
        missing = [m for m in year_months(label) if m not in have]
        inside = [m for m in missing if year["first_month"] < m < year["last_month"]]
        words.append(f"{month_span(year['first_month'], year['last_month'])} only: "
                     f"{year['months_covered']} of 12 months")
        if inside:
            words.append(f"no payments in {', '.join(month_name(m) for m in inside)}")
    for month in sorted(have):
        if have[month]["partial"]:
            words.append(f"{month_name(month)} only partly covered "
                         f"({partial_words(have[month])})")
    if year_ended(label) >= today:
        words.append("the year is still in progress")
    return "; ".join(words)


def change_words(now: int, before: int) -> str:
    """'+£1,200.00 (+7.5%)': a change in pounds and as a share of what it was."""
    pounds = pence_to_pounds(now - before)
    share = f" ({(now - before) / before:+.1%})" if before else ""
    return f"{'' if now < before else '+'}{pounds}{share}"


def _not_compared(label: str, before: dict | None, incomplete: bool, previous: str,
                  before_incomplete: bool, words: str = "incomplete") -> str:
    """Why a period is not compared with the one before."""
    if before is None:
        return "–"
    if incomplete:
        return f"not compared: {label} is {words}"
    if before["label"] != previous:
        return f"not compared: no data for {previous}"
    return f"not compared: {previous} is {words}" if before_incomplete else "not compared"


def residents_view(years: list[dict], services: list[dict], months: list[dict],
                   today: dt.date) -> dict:
    """What the landing page shows of one publisher per resident and over time, from its rows
    of spend_by_year, spend_by_year_service and spend_by_month_trend.

    Enough data: a year is shown when it has at least one whole month; year-on-year trends
    need two such years, month-by-month trends two whole months."""
    shown = [y for y in sorted(years, key=lambda y: y["financial_year"]) if y["whole_months"]]
    by_year: dict[str, list[dict]] = {}
    for row in sorted(services, key=lambda r: (-r["total_pence"], r["service"] or "")):
        by_year.setdefault(row["financial_year"], []).append(
            {**row, "service": _service_name(row["service"])})
    rows: list[dict] = []
    for year in shown:
        label = year["financial_year"]
        coverage = coverage_words(year, months, today)
        before = rows[-1] if rows else None
        start = int(label[:4]) - 1
        rows.append({
            "year": year, "label": label, "coverage": coverage,
            "services": by_year.get(label, []),
            "change": change_words(year["total_pence"], before["year"]["total_pence"])
            if year["change_pence"] is not None and before else
            _not_compared(label, before, bool(coverage), f"{start}-{str(start + 1)[2:]}",
                          bool(before and before["coverage"])),
        })
    ordered = sorted(months, key=lambda m: m["month"])
    trend: list[dict] = []
    for month in ordered:
        name = month_name(month["month"])
        before = trend[-1] if trend else None
        previous = month_name(_month_before(month["month"]))
        trend.append({
            **month, "name": name, "label": name,
            "partly": partial_words(month) if month["partial"] else "",
            "change": change_words(month["total_pence"], before["total_pence"])
            if month["change_pence"] is not None and before else
            _not_compared(name, before, bool(month["partial"]), previous,
                          bool(before and before["partial"]), "partly covered"),
        })
    first = years[0] if years else {}
    return {
        "population": first.get("population"), "population_year": first.get("population_year"),
        "years": rows,
        "left_out": [y["financial_year"] for y in years if not y["whole_months"]],
        "months": trend,
        "year_trend": len(rows) >= 2,
        "month_trend": sum(not m["partial"] for m in months) >= 2,
    }


def _month_before(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - (number == 1)}-{(number - 2) % 12 + 1:02d}"


def _service_name(service: str | None) -> str:
    return "Service not stated" if service in (None, NOT_STATED) else service


PER_RESIDENT = ("The total divided by the population (of population_year), to the nearest penny "
                "(halves away from zero); empty where the publisher has no population.")
COVERAGE = {
    "financial_year": "The financial year, April to March: 2025-26 is Apr 2025 to Mar 2026.",
    "per_resident_pence": PER_RESIDENT,
    "months_covered": "How many of the year's 12 months have payments.",
    "complete": "1 when all 12 months of the year are covered whole.",
}
METADATA = {
    "spend_by_month_trend": {
        "title": "Spend month by month, per resident",
        "description": "Each month's spend and spend per resident, whether the month is only "
                       "partly covered, and the change on the month before.",
        "columns": {**COVERAGE,
                    "first_day": "The first payment dated to the day in the month.",
                    "last_day": "The last payment dated to the day in the month.",
                    "partial": f"1 when the month is the first or last of the publisher's "
                               f"data and its payments start or stop more than {SLACK_DAYS} "
                               f"days inside it.",
                    "change_pence": "The change on the month before, when both are whole "
                                    "months in a row; else empty."},
    },
    "spend_by_year": {
        "title": "Spend by financial year, per resident",
        "description": "Each financial year's spend and spend per resident, how many months "
                       "it covers, and the change on the year before.",
        "columns": {**COVERAGE,
                    "whole_months": "Months with payments that are not partly covered.",
                    "population_year": "The year the population is of (mySociety's "
                                       "pop-2020 for councils: 2020).",
                    "change_pence": "The change on the year before, when both are complete "
                                    "years in a row; else empty."},
    },
    "spend_by_year_service": {
        "title": "Spend by financial year and service, per resident",
        "description": "Each service's spend and spend per resident in each financial year.",
        "columns": COVERAGE,
    },
}
