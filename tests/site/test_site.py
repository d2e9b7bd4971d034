"""The published site through Datasette's own client: every page, canned query and metadata."""

import asyncio
import json
import re
import sqlite3
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from orchestration.cli import main
from schemas.money import pence_to_pounds
from warehouse.serving import make_datasette
from warehouse.site_metadata import QUERIES


@pytest.fixture(scope="module")
def site(demo):
    summaries, site_dir, data = demo
    truth = json.loads((data / "demo-world" / "truth.json").read_text())
    return make_datasette(site_dir), site_dir, truth, {s.publisher_id: s for s in summaries}


def get(site, path: str):
    return asyncio.run(site[0].client.get(path))


def rows(site, path: str) -> list[dict]:
    separator = "&" if "?" in path else "?"
    response = get(site, f"{path}{separator}_shape=array")
    assert response.status_code == 200, response.text
    return response.json()


def test_home_page_lists_every_publisher_with_total_period_score_and_update(site):
    page = get(site, "/")
    assert page.status_code == 200
    for publisher_id, summary in site[3].items():
        assert f'href="/publisher/{publisher_id}"' in page.text
        assert summary.name in page.text
    assert "£10,572,626.58" in page.text  # Northmoor's total, as in the run summary
    assert "1 Apr 2025 to 30 Sep 2025" in page.text
    assert 'name="_search"' in page.text and 'action="/moneytrail/payments"' in page.text
    assert "an HTML page was served where a spreadsheet was expected" in page.text


@pytest.mark.parametrize("publisher_id", [
    "northmoor-borough-council", "fellbrook-council", "northmoor-leisure-trust",
    "fellside-homes", "brookfield-care"])
def test_every_publisher_has_a_landing_page_with_charts(site, publisher_id):
    page = get(site, f"/publisher/{publisher_id}")
    assert page.status_code == 200
    for chart in ("service-chart", "supplier-chart", "month-chart"):
        figure = re.search(rf'<figure class="chart {chart}">(.*?)</figure>', page.text, re.S)
        assert figure and figure.group(1).count("<rect") >= 3, chart
    assert "How good is this publisher" in page.text and "mandatory fields" in page.text


def test_landing_page_figures_follow_the_money(site):
    page = get(site, "/publisher/northmoor-borough-council").text
    assert "£10,572,626.58" in page
    assert "£89.30</span> per resident" in page  # 1,057,262,658p / 118,400 = 8,929.58p
    assert "passed on to providers that publish their own spending" in page
    for provider in ("northmoor-leisure-trust", "brookfield-care", "fellside-homes"):
        assert f'href="/publisher/{provider}"' in page
    assert "Paid by:" in page


def test_a_broken_publisher_page_says_what_went_wrong(site):
    page = get(site, "/publisher/fellbrook-learning-trust")
    assert page.status_code == 200
    assert "HTML page was served" in page.text


def test_an_unknown_publisher_is_404(site):
    assert get(site, "/publisher/nobody").status_code == 404


@pytest.mark.parametrize("path", ["/a/b/c/d", "/nobody", "/moneytrail/nothing",
                                  "/moneytrail/nothing.json", "/publisher/nobody"])
def test_an_address_nothing_answers_is_a_quiet_404(site, path, capfd):
    assert get(site, path).status_code == 404
    assert "Traceback" not in capfd.readouterr().err  # a reader's typo is not a fault


def test_who_pays_a_supplier_however_it_is_spelled(site):
    found = rows(site, "/moneytrail/who_pays_supplier.json?supplier=MOORLAND+ENERGY+SUPPLY+LIMITED")
    expected = site[2]["shared_suppliers"]["Moorland Energy Supply Ltd"]
    assert sorted(r["publisher_id"] for r in found) == sorted(expected)


def test_money_trail_goes_hop_by_hop(site):
    trail = rows(site, "/moneytrail/money_trail.json?publisher=fellbrook-council")
    hops = {(r["hop"], r["payer_id"], r["payee_id"]) for r in trail}
    assert (1, "fellbrook-council", "brookfield-care") in hops
    assert (1, "fellbrook-council", "northmoor-borough-council") in hops
    assert (2, "northmoor-borough-council", "northmoor-leisure-trust") in hops
    # brookfield-care pays fellbrook-council back: the trail never loops to where it began
    assert all(r["payee_id"] != "fellbrook-council" for r in trail)
    # Money, not paths: each payment between two publishers is counted once, at its first hop.
    edges = [(r["payer_id"], r["payee_id"]) for r in trail]
    assert len(edges) == len(set(edges))
    hop_of = {(r["payer_id"], r["payee_id"]): r["hop"] for r in trail}
    assert hop_of[("northmoor-borough-council", "brookfield-care")] == 2
    with sqlite3.connect(site[1] / "moneytrail.db") as db:
        flows = dict(((p, q), t) for p, q, t in db.execute(
            "select payer_id, payee_id, total_pence from publisher_flows"))
        spent = dict(db.execute("select publisher_id, total_pence from publisher_summary"))
    for r in trail:
        assert r["total_pence"] == flows[(r["payer_id"], r["payee_id"])]
        assert r["share_of_payer_spending"] == \
            f"{100 * r['total_pence'] / spent[r['payer_id']]:.1f}%"
    first = next(r for r in trail if r["payee_id"] == "brookfield-care")
    assert first["payer"] == "Fellbrook Metropolitan Borough Council"
    assert first["payee"] == "Brookfield Care Services Ltd" and " to " in first["payer_period"]


@pytest.mark.parametrize("query", ["top_suppliers", "money_trail", "payments_over"])
def test_canned_queries_take_a_publisher_by_name_as_well_as_by_id(site, query):
    by_id = rows(site, f"/moneytrail/{query}.json?publisher=northmoor-borough-council"
                       "&pounds=1000")
    assert by_id
    for named in ("Northmoor Borough Council", "northmoor borough", "  NORTHMOOR BOROUGH "):
        assert rows(site, f"/moneytrail/{query}.json?publisher={quote(named)}"
                          "&pounds=1000") == by_id, named


def test_payments_over_an_amount(site):
    found = rows(site, "/moneytrail/payments_over.json?pounds=100000&publisher=")
    assert found and all(r["amount_pence"] >= 10_000_000 for r in found)
    assert all(r["source_url"].startswith("http://127.0.0.1") for r in found)


def test_redacted_payments_by_service_add_up(site):
    found = rows(site, "/moneytrail/redacted_by_service.json?publisher=brookfield-care")
    truth = next(f for f in site[2]["files"] if f["publisher"] == "brookfield-care")
    redacted = [r for r in found if not r["reason"].startswith("private individual")]
    assert sum(r["payments"] for r in redacted) == truth["redacted_rows"]


def test_withheld_payees_are_never_suppliers_and_every_penny_is_accounted(site):
    for database in ("moneytrail", "northmoor-borough-council"):
        listed = rows(site, f"/{database}.json?sql=" + quote(
            "select supplier from spend_by_supplier where upper(supplier) like '%REDACTED%' "
            "or supplier like 'Private individual%'"))
        assert listed == [], database
    summaries = rows(site, "/moneytrail/publisher_summary.json?_size=max")
    assert any(s["redacted"] for s in summaries)
    for summary in summaries:
        named = rows(site, "/moneytrail.json?sql=" + quote(
            "select coalesce(sum(total_pence), 0) as pence from spend_by_supplier "
            "where publisher_id = :p") + f"&p={summary['publisher_id']}")
        assert named[0]["pence"] + summary["redacted_pence"] == summary["total_pence"]
        if summary["redacted"]:
            page = asyncio.run(site[0].client.get(f"/publisher/{summary['publisher_id']}"))
            pounds = pence_to_pounds(summary["redacted_pence"])
            assert f"Withheld: {summary['redacted']:,} payment" in page.text
            assert pounds in page.text


@pytest.mark.parametrize("query", sorted(QUERIES))
def test_every_canned_query_answers_in_every_database_that_has_it(site, query):
    params = {"publisher": "northmoor-borough-council", "pounds": "1000",
              "supplier": "Moorland Energy Supply Ltd"}
    for database in ("moneytrail", "northmoor-borough-council"):
        if query == "who_pays_supplier" and database != "moneytrail":
            continue
        response = get(site, f"/{database}/{query}.json?" + "&".join(
            f"{k}={v}" for k, v in params.items()))
        assert response.status_code == 200, (database, query, response.text)
        assert "rows" in response.json()


def test_top_suppliers_combine_spellings(site):
    found = rows(site, "/moneytrail/top_suppliers.json?publisher=northmoor-borough-council")
    leisure = next(r for r in found if r["payee_publisher_id"] == "northmoor-leisure-trust")
    assert leisure["spellings"] >= 2


def test_full_text_search_by_payee_and_purpose(site):
    found = rows(site, "/moneytrail/payments.json?_search=cleaning&_size=max")
    assert found
    assert all("clean" in (f"{r['beneficiary_name']} {r['purpose']}").lower() for r in found)


def test_facets_are_computed_not_dropped(site):
    data = get(site, "/moneytrail/payments.json?_facet=service&_facet=month&_size=0").json()
    assert set(data["facet_results"]) >= {"service", "month"}
    assert not data.get("facets_timed_out")


def test_payments_show_pounds_and_link_to_their_file_and_row(site):
    page = get(site, "/brookfield-care/payments?_size=5").text
    assert '<span class="money">£' in page
    assert re.search(r'<a href="http://127\.0\.0\.1:\d+/brookfield-care/[^"]+\.xlsx" '
                     r'rel="nofollow">', page)
    with sqlite3.connect(site[1] / "brookfield-care.db") as db:
        assert db.execute("select count(*) from payments where source_url is null "
                          "or source_row is null").fetchone() == (0,)


def test_metadata_describes_every_table_and_column(site):
    meta = get(site, "/-/metadata.json").json()
    assert meta["license"] == "Open Government Licence v3.0"
    with sqlite3.connect(site[1] / "moneytrail.db") as db:
        columns = [r[1] for r in db.execute("pragma table_info(payments)")]
    for name, database in meta["databases"].items():
        assert database["title"] and database["description"], name
        described = database["tables"]["payments"]["columns"]
        assert [c for c in columns if c not in described and c != "id"] == [], name
        if name != "moneytrail":
            assert database["license"] == "Open Government Licence v3.0"
            assert "Last harvested" in database["description"] or name == (
                "fellbrook-learning-trust")


def test_served_immutable_with_facet_suggestions_off(site):
    settings = get(site, "/-/settings.json").json()
    assert settings["suggest_facets"] is False and settings["facet_time_limit_ms"] == 3000
    databases = get(site, "/-/databases.json").json()
    assert databases and all(not d["is_mutable"] for d in databases)


@pytest.mark.parametrize("path", [
    "/moneytrail", "/moneytrail/payments", "/moneytrail/files", "/moneytrail/quarantine",
    "/moneytrail/publishers", "/moneytrail/spend_by_month", "/moneytrail/spend_by_service",
    "/moneytrail/spend_by_supplier", "/moneytrail/spend_by_expense_type",
    "/moneytrail/flows", "/moneytrail/scorecard", "/moneytrail/publisher_summary",
    "/brookfield-care", "/brookfield-care/files", "/static/moneytrail.css"])
def test_every_page_answers(site, path):
    assert get(site, path).status_code == 200


def test_publish_writes_a_package_that_serves_the_same_site(site, tmp_path):
    result = CliRunner().invoke(main, ["publish", "--data-dir", str(site[1].parent),
                                       "--output", str(tmp_path / "package")])
    assert result.exit_code == 0, result.output
    package = tmp_path / "package"
    assert sorted(p.name for p in package.iterdir()) == [
        "Dockerfile", "archive", "datasette", "requirements.txt", "serve.sh", "site", "wheels"]
    assert [p.name for p in (package / "wheels").iterdir()] == [
        "moneytrail-0.1.0-py3-none-any.whl"]
    served = make_datasette(package / "site", package / "datasette")
    page = asyncio.run(served.client.get("/publisher/fellside-homes"))
    assert page.status_code == 200 and page.text.count("<rect") >= 3
    script = (package / "serve.sh").read_text()
    assert "-i site/moneytrail.db" in script and "--inspect-file site/inspect.json" in script


def test_publish_without_a_site_says_what_to_do(tmp_path):
    result = CliRunner().invoke(main, ["publish", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "moneytrail demo" in result.output


FILTERS = {
    "": ("", ()),
    "&publisher_id=fellbrook-council": ("and publisher_id = ?", ("fellbrook-council",)),
    "&_search=cleaning": ("and id in (select rowid from payments_fts where payments_fts "
                          "match ?)", ("cleaning",)),
    "&service=Adults+and+Health": ("and service = ?", ("Adults and Health",)),
}


@pytest.mark.parametrize("query", sorted(FILTERS))
@pytest.mark.parametrize("facet", ["_facet", "_facet_summary"])
@pytest.mark.parametrize("column", ["service", "month", "expense_type"])
def test_summary_facets_count_exactly_what_sqlite_counts(site, query, facet, column):
    """Fast facets from the summary tables (also what ?_facet= asks for on payments) must
    agree with counting the payments themselves, filtered or not."""
    # 30 values each, where the page shows its first few (facet_size): more to check.
    data = get(site, f"/moneytrail/payments.json?_size=0&_facet_size=30&{facet}={column}"
                     f"{query}").json()
    results = [f for f in data["facet_results"].values() if f["name"] == column]
    where, params = FILTERS[query]
    with sqlite3.connect(site[1] / "moneytrail.db") as db:
        expected = dict(db.execute(f"select {column}, count(*) from payments where {column} "
                                   f"is not null {where} group by {column}", params).fetchall())
    for result in results:  # the table's default facet, and the one asked for
        assert result["type"] == "summary"
        shown = {r["value"]: r["count"] for r in result["results"]}
        assert shown and all(expected[value] == count for value, count in shown.items())
        assert len(shown) == min(len(expected), 30)
    assert results


def test_charts_escape_what_publishers_write():
    from warehouse.charts import bar_chart, treemap

    svg = bar_chart([("A {x} & <script>", 100)], "t") + treemap([("<b>", 50)], "t")
    assert "<script>" not in svg and "<b>" not in svg
    assert "A {x} &amp; &lt;script&gt;" in svg
