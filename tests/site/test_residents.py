"""Spend per resident by financial year and service, and its trends (warehouse/residents.py):
literal figures on a small fixture, the words for incomplete periods, the demo's figures, and
the combined database updated in place.

Per resident is pence divided by the population, to the nearest penny, halves away from zero.
"""

import datetime as dt
import sqlite3
from contextlib import closing

import pytest

from sources.archive import Archive
from warehouse import flows, residents
from warehouse.ingest import published_by_publisher
from warehouse.load import load_file
from warehouse.site import build_site
from warehouse.site_schema import TABLES

COUNCIL = "test-council"
# Each month: social care on the 5th, highways on the 25th; 2025-26 stops part-way through
# September (payments on the 2nd and 12th only).
MONTHLY = {"2023-24": (100_000, 33_333), "2024-25": (110_000, 33_333),
           "2025-26": (120_000, 33_333)}


def _payments() -> list[tuple]:
    rows = []
    for year, (care, roads) in MONTHLY.items():
        for month in residents.year_months(year):
            if month > "2025-09":
                continue
            if month == "2025-09":
                rows += [(f"{month}-02", month, 100_000, "Adult Social Care"),
                         (f"{month}-12", month, 50_000, "Highways")]
                continue
            rows += [(f"{month}-05", month, care, "Adult Social Care"),
                     (f"{month}-25", month, roads, "Highways")]
    return rows


@pytest.fixture()
def summaries():
    """The three tables, derived from the fixture's payments by the site's own SQL."""
    with closing(sqlite3.connect(":memory:")) as db:
        for name in ("publishers", "payments", *residents.TABLES):
            db.execute(TABLES[name])
        db.execute("insert into publishers (id, name, population, population_year) "
                   "values (?, 'Test Council', 1000, 2020)", (COUNCIL,))
        db.executemany("insert into payments (publisher_id, payment_date, month, amount_pence, "
                       "service, date_precision) values (?, ?, ?, ?, ?, 'day')",
                       [(COUNCIL, *row) for row in _payments()])
        for sql in residents.SUMMARIES:
            db.execute(sql)
        db.row_factory = sqlite3.Row
        yield {table: [dict(r) for r in db.execute(f"select * from {table} order by 1, 2, 3")]
               for table in residents.TABLES}


def test_spend_per_resident_by_year(summaries):
    columns = ("financial_year", "first_month", "last_month", "months_covered",
               "whole_months", "complete", "total_pence", "population_year",
               "per_resident_pence", "change_pence")
    assert [tuple(r[c] for c in columns) for r in summaries["spend_by_year"]] == [
        # 12 x (1,000.00 + 333.33) = £15,999.96; / 1,000 residents = 1,599.996p → £16.00
        ("2023-24", "2023-04", "2024-03", 12, 12, 1, 1_599_996, 2020, 1600, None),
        # 12 x 100.00 more on social care: +£1,200.00 on a complete year before
        ("2024-25", "2024-04", "2025-03", 12, 12, 1, 1_719_996, 2020, 1720, 120_000),
        # 5 x (1,200.00 + 333.33) + 1,000.00 + 500.00 = £9,166.65 → 916.665p → £9.17; not
        # compared, being incomplete: 6 months, September only partly
        ("2025-26", "2025-04", "2025-09", 6, 5, 0, 916_665, 2020, 917, None),
    ]


def test_spend_per_resident_by_year_and_service(summaries):
    assert [(r["financial_year"], r["service"], r["total_pence"], r["per_resident_pence"],
             r["complete"]) for r in summaries["spend_by_year_service"]] == [
        ("2023-24", "Adult Social Care", 1_200_000, 1200, 1),  # £12.00 a resident
        ("2023-24", "Highways", 399_996, 400, 1),  # 399.996p → £4.00
        ("2024-25", "Adult Social Care", 1_320_000, 1320, 1),
        ("2024-25", "Highways", 399_996, 400, 1),
        ("2025-26", "Adult Social Care", 700_000, 700, 0),
        ("2025-26", "Highways", 216_665, 217, 0),  # 216.665p → £2.17
    ]


def test_months_are_marked_partly_covered_and_compared_only_when_whole(summaries):
    months = {r["month"]: r for r in summaries["spend_by_month_trend"]}
    assert len(months) == 30
    assert [(m, months[m]["total_pence"], months[m]["per_resident_pence"], months[m]["partial"],
             months[m]["change_pence"]) for m in ("2023-04", "2025-03", "2025-04", "2025-08",
                                                  "2025-09")] == [
        ("2023-04", 133_333, 133, 0, None),  # the first month: nothing before it
        ("2025-03", 143_333, 143, 0, 0),
        ("2025-04", 153_333, 153, 0, 10_000),  # +£100.00 across the year's turn
        ("2025-08", 153_333, 153, 0, 0),
        ("2025-09", 150_000, 150, 1, None),  # payments stop on the 12th of 30 days
    ]
    assert {m for m, r in months.items() if r["financial_year"] == "2025-26"} == {
        "2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09"}


@pytest.mark.parametrize(("pence", "population", "expected"), [
    (1_599_996, 1000, 1600),  # 1,599.996p rounds up to £16.00
    (150, 100, 2),  # a half rounds away from zero: 1.5p → 2p
    (149, 100, 1),
    (-150, 100, -2),  # credits too: -1.5p → -2p
    (1_057_262_658, 118_400, 8930),  # Northmoor's demo year: 8,929.58p → £89.30
    (100, 0, None),  # no population, no figure
    (100, None, None),
])
def test_per_resident_rounds_to_the_nearest_penny(pence, population, expected):
    with closing(sqlite3.connect(":memory:")) as db:
        sql = residents.per_resident_sql(":pence", ":population")
        found = db.execute(f"select {sql}", {"pence": pence, "population": population})
        assert found.fetchone()[0] == expected


def test_the_page_says_which_periods_are_incomplete(summaries):
    view = residents.residents_view(summaries["spend_by_year"],
                                    summaries["spend_by_year_service"],
                                    summaries["spend_by_month_trend"], dt.date(2026, 12, 7))
    assert (view["population"], view["population_year"]) == (1000, 2020)
    assert [(y["label"], y["coverage"], y["change"]) for y in view["years"]] == [
        ("2023-24", "", "–"),
        ("2024-25", "", "+£1,200.00 (+7.5%)"),
        ("2025-26", "Apr–Sep 2025 only: 6 of 12 months; Sep 2025 only partly covered "
                    "(payments 2–12 Sep only)", "not compared: 2025-26 is incomplete"),
    ]
    assert [(s["service"], s["total_pence"]) for s in view["years"][2]["services"]] == [
        ("Adult Social Care", 700_000), ("Highways", 216_665)]
    september = view["months"][-1]
    assert (september["name"], september["partly"], september["change"]) == (
        "Sep 2025", "payments 2–12 Sep only", "not compared: Sep 2025 is partly covered")
    assert view["months"][24]["change"] == "+£100.00 (+7.0%)"
    assert view["year_trend"] and view["month_trend"] and view["left_out"] == []


@pytest.mark.parametrize(("months", "today", "expected"), [
    (["2025-04", "2025-05"], dt.date(2025, 6, 3),
     "Apr–May 2025 only: 2 of 12 months; the year is still in progress"),
    (["2025-11", "2025-12", "2026-02"], dt.date(2026, 12, 1),
     "Nov 2025–Feb 2026 only: 3 of 12 months; no payments in Jan 2026"),
    (["2025-06"], dt.date(2026, 12, 1), "Jun 2025 only: 1 of 12 months"),
    (residents.year_months("2025-26"), dt.date(2026, 12, 1), ""),
    (residents.year_months("2025-26"), dt.date(2026, 3, 31), "the year is still in progress"),
])
def test_coverage_in_words(months, today, expected):
    rows = [{"month": m, "financial_year": "2025-26", "partial": 0} for m in months]
    year = {"financial_year": "2025-26", "first_month": months[0], "last_month": months[-1],
            "months_covered": len(months), "whole_months": len(months)}
    assert residents.coverage_words(year, rows, today) == expected


def test_a_year_without_a_whole_month_is_left_out_and_one_year_is_no_trend():
    year = {"financial_year": "2025-26", "first_month": "2025-04", "last_month": "2025-04",
            "months_covered": 1, "whole_months": 0, "total_pence": 500, "change_pence": None,
            "population": None, "population_year": None}
    month = {"month": "2025-04", "financial_year": "2025-26", "partial": 1, "total_pence": 500,
             "change_pence": None, "first_day": "2025-04-20", "last_day": "2025-04-22"}
    view = residents.residents_view([year], [], [month], dt.date(2026, 12, 1))
    assert (view["years"], view["left_out"], view["year_trend"], view["month_trend"]) == (
        [], ["2025-26"], False, False)
    assert view["months"][0]["partly"] == "payments 20–22 Apr only"


# --- the demo, built and updated --------------------------------------------------------------

NORTHMOOR = "northmoor-borough-council"
OCTOBER = """Body Name,Payment Date,Transaction Number,Amount,Supplier Name,Expense Type,Service
Northmoor Borough Council,13/10/2025,OCT1,"1,000.00",Moorland Energy Supply Ltd,Energy,Environment
Northmoor Borough Council,14/10/2025,OCT2,234.56,Moorland Energy Supply Ltd,Energy,Environment
"""


def _rows(path, sql: str, *params) -> list[tuple]:
    with closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as db:
        return db.execute(sql, params).fetchall()


YEAR = ("select financial_year, months_covered, whole_months, complete, total_pence, "
        "population, population_year, per_resident_pence from spend_by_year "
        "where publisher_id = ?")


def test_the_demo_council_per_resident_in_2025_26(demo):
    _, site_dir, _ = demo
    assert _rows(site_dir / "moneytrail.db", YEAR, NORTHMOOR) == [
        # £10,572,626.58 / 118,400 residents = 8,929.58p → £89.30
        ("2025-26", 6, 6, 0, 1_057_262_658, 118_400, 2020, 8930)]
    by_service = _rows(site_dir / "moneytrail.db", "select sum(total_pence), count(*) from "
                       "spend_by_year_service where publisher_id = ?", NORTHMOOR)
    assert by_service == [(1_057_262_658, 14)]
    # Its own database holds the same rows as the combined one.
    assert _rows(site_dir / f"{NORTHMOOR}.db", YEAR, NORTHMOOR) == _rows(
        site_dir / "moneytrail.db", YEAR, NORTHMOOR)
    # A provider has no population: no per-resident figure, the totals still.
    assert _rows(site_dir / "moneytrail.db", YEAR, "brookfield-care") == [
        ("2025-26", 6, 6, 0, 45_302_444, None, None, None)]


TABLE_ROWS = "select * from {} order by 1, 2, 3"


def test_a_new_month_updates_the_combined_database_in_place_as_a_full_build_would(copied,
                                                                                   tmp_path):
    target, registry, engine = copied
    path = tmp_path / "october.csv"
    path.write_text(OCTOBER, encoding="utf-8")
    assert load_file(engine, registry[NORTHMOOR], "local:october.csv", path).rows_loaded == 2
    flows.update(engine, registry)
    published = published_by_publisher(engine, Archive(target / "raw"))
    updated = build_site(engine, target / "site", published)
    full = build_site(engine, tmp_path / "full", published, full=True)
    assert updated.mode == "incremental" and NORTHMOOR in updated.rebuilt
    combined = updated.site_dir / "moneytrail.db"
    assert _rows(combined, YEAR, NORTHMOOR) == [
        # + £1,234.56 in October, which stops on the 14th: 7 months, 6 of them whole;
        # £10,573,861.14 / 118,400 = 8,930.63p → £89.31
        ("2025-26", 7, 6, 0, 1_057_386_114, 118_400, 2020, 8931)]
    assert _rows(combined, "select month, total_pence, per_resident_pence, partial, "
                           "change_pence from spend_by_month_trend where publisher_id = ? "
                           "and month >= '2025-09'", NORTHMOOR) == [
        ("2025-09", 176_122_796, 1488, 0, 8_412_837), ("2025-10", 123_456, 1, 1, None)]
    for table in residents.TABLES:
        assert _rows(combined, TABLE_ROWS.format(table)) == _rows(
            full.site_dir / "moneytrail.db", TABLE_ROWS.format(table)), table
