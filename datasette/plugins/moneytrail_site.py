"""Datasette plugin for the moneytrail site: landing pages, home page, money, provenance links."""

from html import escape
from pathlib import PurePosixPath

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

from schemas.money import pence_to_pounds
from warehouse.charts import bar_chart, column_chart, treemap
from warehouse.suppliers import payee_key

COMBINED = "moneytrail"
NOT_STATED = "(not stated)"


@hookimpl
def prepare_connection(conn):
    # Canned queries match a supplier however it is spelled, with the site's own normaliser.
    conn.create_function("moneytrail_payee_key", 1, payee_key, deterministic=True)


@hookimpl
def render_cell(value, column):
    if column.endswith("_pence") and isinstance(value, int):
        return Markup(f'<span class="money">{escape(pence_to_pounds(value))}</span>')
    if column == "source_url" and isinstance(value, str) and value.startswith("http"):
        name = PurePosixPath(value.split("?")[0]).name or value
        return Markup(f'<a href="{escape(value)}" rel="nofollow">{escape(name)}</a>')
    return None


@hookimpl
def register_routes():
    return [(r"^/publisher/(?P<publisher_id>[a-z0-9][a-z0-9-]*)$", publisher_page)]


@hookimpl
def extra_template_vars(template, datasette):
    if template != "index.html":
        return {}

    async def publishers():
        return {"publisher_rows": await _rows(datasette, "select * from publisher_summary "
                                                          "order by total_pence desc")}

    return publishers


async def _rows(datasette, sql: str, params: dict | None = None) -> list[dict]:
    if COMBINED not in datasette.databases:
        return []
    result = await datasette.get_database(COMBINED).execute(sql, params or {})
    return [dict(row) for row in result.rows]


async def publisher_page(datasette, request):
    """The Where-Does-My-Money-Go landing page of one publisher."""
    publisher_id = request.url_vars["publisher_id"]
    [summary] = await _rows(datasette, "select * from publisher_summary where publisher_id = "
                                       ":p", {"p": publisher_id}) or [None]
    if summary is None:
        raise NotFound(f"No publisher {publisher_id}")
    p = {"p": publisher_id}
    services = await _rows(datasette, "select service, total_pence from spend_by_service where "
                                      "publisher_id = :p order by total_pence desc", p)
    by = "service"
    if [r["service"] for r in services] == [NOT_STATED]:
        # A publisher that names no service still says what the money was for.
        by = "expense type"
        services = await _rows(datasette, "select expense_type as service, total_pence from "
                                          "spend_by_expense_type where publisher_id = :p "
                                          "order by total_pence desc", p)
    suppliers = await _rows(datasette, "select supplier, total_pence, payee_publisher_id from "
                                       "spend_by_supplier where publisher_id = :p "
                                       "order by total_pence desc limit 15", p)
    months = await _rows(datasette, "select month, total_pence from spend_by_month where "
                                    "publisher_id = :p order by month", p)
    flows = await _rows(datasette, "select f.payee_id, s.name, f.total_pence from flows f join "
                                   "publisher_summary s on s.publisher_id = f.payee_id where "
                                   "f.payer_id = :p order by f.total_pence desc", p)
    paid_by = await _rows(datasette, "select f.payer_id, s.name, f.total_pence from flows f "
                                     "join publisher_summary s on s.publisher_id = f.payer_id "
                                     "where f.payee_id = :p order by f.total_pence desc", p)
    cards = await _rows(datasette, "select * from scorecard where publisher_id = :p", p)
    context = {
        "summary": summary, "cards": cards, "flows": flows, "paid_by": paid_by,
        "money": pence_to_pounds, "has_own_database": publisher_id in datasette.databases,
        "service_chart": Markup(treemap([(r["service"], r["total_pence"]) for r in services],
                                        f"Spend by {by}")),
        "service_dimension": by,
        "supplier_chart": Markup(bar_chart([(r["supplier"], r["total_pence"])
                                            for r in suppliers], "Top suppliers")),
        "month_chart": Markup(column_chart([(r["month"], r["total_pence"]) for r in months],
                                           "Spend month by month")),
        "flow_chart": Markup(bar_chart([(r["name"], r["total_pence"]) for r in flows],
                                       "Passed on to publishers")) if flows else "",
        "suppliers": suppliers, "services": services,
    }
    return Response.html(await datasette.render_template("publisher.html", context,
                                                         request=request))
