"""Datasette plugin for the moneytrail site: landing pages, home page, money, provenance links."""

import datetime as dt
import re
import sqlite3
from html import escape
from pathlib import PurePosixPath
from urllib.parse import parse_qsl, quote, unquote, urlencode

from datasette import hookimpl
from datasette.facets import ColumnFacet
from datasette.utils import format_bytes, path_with_added_args, path_with_removed_args, tilde_decode
from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

from schemas.money import pence_to_pounds
from warehouse.archived_copies import find as find_archived
from warehouse.archived_copies import stored_copy
from warehouse.charts import bar_figure, column_figure, flow_figure, treemap_figure
from warehouse.residents import residents_view
from warehouse.suppliers import payee_key
from warehouse.trace import downstream

COMBINED = "moneytrail"
NOT_STATED = "(not stated)"
# Payment facets the summary tables already count: column -> summary table.
SUMMARY_TABLES = {"service": "spend_by_service", "month": "spend_by_month",
                  "expense_type": "spend_by_expense_type"}
PAYMENTS_PATH = re.compile(r"^/[^/]+/payments(\.json)?$")
# Query-string keys that do not change which payments are counted.
NEUTRAL_ARGS = ("_facet", "_size", "_sort", "_next", "_labels", "_nocount", "_trace", "_col",
                "_nocol", "_nofacet", "_shape", "_json", "_nl")


class SummaryFacet(ColumnFacet):
    """A facet on payments answered from the summary tables when nothing but the publisher
    filters the rows, so it stays fast at millions of payments; any other filter or search
    falls back to counting, exactly as Datasette's column facet does."""

    type = "summary"

    async def facet_results(self):
        where = self._publisher_only()
        configs = self.get_configs()
        columns = [c["config"].get("column") or c["config"]["simple"] for c in configs]
        if self.table != "payments" or where is None or not set(columns) <= set(SUMMARY_TABLES):
            return await super().facet_results()
        results = []
        for source_and_config, column in zip(configs, columns, strict=True):
            results.append(await self._from_summary(column, where, source_and_config["source"]))
        return results, []

    def _publisher_only(self) -> tuple[str, dict] | None:
        clauses, params = [], {}
        for key, value in self.get_querystring_pairs():
            if key.startswith(NEUTRAL_ARGS):
                continue
            if key in ("publisher_id", "publisher_id__exact"):
                clauses.append("publisher_id = :publisher_id")
                params["publisher_id"] = value
                continue
            return None
        return (" where " + " and ".join(clauses) if clauses else ""), params

    async def _from_summary(self, column: str, where: tuple[str, dict], source: str) -> dict:
        size = self.get_facet_size()
        sql = (f"select {column} as value, sum(payments) as count from {SUMMARY_TABLES[column]}"
               f"{where[0]} group by {column} order by count desc, value limit {size + 1}")
        rows = (await self.ds.execute(self.database, sql, where[1])).rows
        pairs = self.get_querystring_pairs()
        values = []
        for row in rows[:size]:
            selected = (column, str(row["value"])) in pairs
            toggle = (path_with_removed_args(self.request, {column: str(row["value"])})
                      if selected else path_with_added_args(self.request,
                                                            {column: row["value"]}))
            values.append({"value": row["value"], "label": row["value"], "count": row["count"],
                           "toggle_url": self.ds.absolute_url(self.request,
                                                              self.ds.urls.path(toggle)),
                           "selected": selected})
        return {"name": column, "type": self.type, "hideable": source != "metadata",
                "toggle_url": self.ds.urls.path(path_with_removed_args(
                    self.request, {"_facet_summary": column})),
                "results": values, "truncated": len(rows) > size}


STATUS_WORDS = {"ok": "Up to date", "error": "Problem with its files",
                "no_feeds": "No files listed yet"}
URL = re.compile(r"\b(?:https?|file)://[^\s;]+?(?=[:;,]?(?:\s|$))")


def plain_status(status: str | None) -> str:
    """A publisher's harvest status in words: 'Problem with its files', not 'error'."""
    return STATUS_WORDS.get(status or "", (status or "").replace("_", " ").capitalize())


def file_name(url: str) -> str:
    """A published file's name from its address ('spend-2025-04.csv'), or '' for a page."""
    return PurePosixPath(url.split("?")[0]).name


def plain_message(message: str | None) -> str:
    """A status message with each address given as its file name ('file FLT-2025.xlsx: an
    HTML page was served …'), not a raw URL that may be a local test server's."""
    def named(match: re.Match) -> str:
        name = file_name(match.group(0))
        return f"file {name}" if name else "its page"

    return URL.sub(named, message or "")


def human_date(value: str | None) -> str:
    """'2025-04-01' as people write it, '1 Apr 2025'; a month '2025-04' as 'Apr 2025'."""
    if not value:
        return ""
    parts = str(value)[:10].split("-")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        return str(value)
    if len(numbers) not in (2, 3) or not 1 <= numbers[1] <= 12:
        return str(value)
    month = MONTHS[numbers[1] - 1]
    return f"{numbers[2]} {month} {numbers[0]}" if len(numbers) == 3 else f"{month} {numbers[0]}"


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Headings people read for the columns whose names say least; every other column is read from
# its name ('payment_date' → 'Payment date', 'total_pence' → 'Total').
COLUMN_LABELS = {
    "id": "Payment", "Link": "Row", "publisher_id": "Publisher", "payer_id": "Paid by",
    "payee_id": "Paid to", "payee_publisher_id": "Payee publishes here",
    "supplier_id": "Supplier", "supplier_key": "Supplier id", "file_id": "File",
    "beneficiary_name": "Payee", "payee_key": "Payee (normalised)",
    "source_url": "Published file", "source_row": "Row in file", "url": "Address",
    "sha256": "SHA-256", "org_id": "Org id", "gss_code": "GSS code",
    "fetched_at": "First fetched", "payee_is_publisher": "Payee publishes here",
}


def column_label(name: str) -> str:
    """A column's heading as people read it: 'Publisher', not 'publisher_id'; an amount in
    pence is shown in pounds, so 'amount_pence' is headed 'Amount'."""
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    words = name.removesuffix("_pence").removesuffix("_id").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


SORTED = re.compile(r"sorted by (\w+)( descending)?")
WHERE_COLUMN = re.compile(r"(?<=where )(\w+)|(?<=and )(\w+)")


def plain_description(text: str) -> str:
    """Datasette's line about a table's rows in the words of its headings: 'sorted by
    amount_pence descending' reads 'sorted by amount, largest first'."""
    def sorted_by(match: re.Match) -> str:
        first = ORDER_WORDS[_kind_of(match[1])][bool(match[2])]
        return f"sorted by {column_label(match[1]).lower()}, {first}"

    def named(match: re.Match) -> str:
        word = match[0]
        return column_label(word).lower() if "_" in word or word in COLUMN_LABELS else word

    return WHERE_COLUMN.sub(named, SORTED.sub(sorted_by, text))


ORDER_WORDS = {"date": ("earliest first", "latest first"),
               "number": ("smallest first", "largest first"), "text": ("A to Z", "Z to A")}


def _kind_of(column: str) -> str:
    if "date" in column or column in ("month", "fetched_at", "withdrawn_on"):
        return "date"
    if column.endswith(("_pence", "_pounds", "_row")) or column in ("payments", "score", "id"):
        return "number"
    return "text"


LINK_TEXT = re.compile(r"(<a [^>]*>)[^<]*(</a>)")


def link_text(link: str, text: str) -> Markup:
    """A row's link ('brookfield-care,MT-brightwater-cleaning-services', a compound key) as
    a word people read."""
    return Markup(LINK_TEXT.sub(lambda m: f"{m[1]}{escape(text)}{m[2]}", str(link), count=1))


def pounds_twins(columns) -> set[str]:
    """The pounds columns (`amount_pounds`) of those given whose pence column is there too:
    a page shows the pence in pounds already, so it shows one of them; exports keep both."""
    names = {c if isinstance(c, str) else c["name"] for c in columns}
    return {n for n in names if n.endswith("_pounds") and n.removesuffix("_pounds") + "_pence"
            in names}


@hookimpl
def prepare_jinja2_environment(env):
    env.filters.update(plain_status=plain_status, plain_message=plain_message,
                       human_date=human_date, column_label=column_label,
                       pounds_twins=pounds_twins, plain_description=plain_description,
                       link_text=link_text)


@hookimpl
def startup():
    """Datasette 0.65's own error handler logs every error, a reader's 404 included, with rich
    when rich is installed (Dagster brings it); rich refuses outside an except block, which a
    404 for an address no route matches is, so that 404 became a 500. Without rich the handler
    logs only real faults (500s), with their traceback, and answers 404s quietly. (Imported
    here, once Datasette is loaded: imported with the plugin it can come before Datasette's
    own plugins are registered, and its handler would never be.)"""
    import datasette.handle_exception

    datasette.handle_exception.rich = None


@hookimpl
def register_facet_classes():
    return [SummaryFacet]


@hookimpl
def asgi_wrapper():
    """Datasette's own 'facet by this' links ask for ?_facet=service; on payments, facets the
    summaries can count are served by the summary facet, which counts exactly the same."""

    def wrap(app):
        async def rewritten(scope, receive, send):
            if scope.get("type") == "http" and PAYMENTS_PATH.match(scope.get("path", "")):
                scope = dict(scope, query_string=_summary_facets(scope["query_string"]))
            await app(scope, receive, send)

        return rewritten

    return wrap


def _summary_facets(query_string: bytes) -> bytes:
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    pairs = [("_facet_summary", v) if k == "_facet" and v in SUMMARY_TABLES else (k, v)
             for k, v in pairs]
    return urlencode(pairs).encode("latin-1")


@hookimpl
def prepare_connection(conn):
    # Canned queries match a supplier however it is spelled, with the site's own normaliser.
    conn.create_function("moneytrail_payee_key", 1, payee_key, deterministic=True)


# Where a link to a publisher or a supplier goes: its landing page, not its registry row.
LANDING = {"publisher_id": "/publisher/", "payee_publisher_id": "/publisher/",
           "payer_id": "/publisher/", "supplier_id": "/supplier/"}


# Dates shown as people write them ('21 Jul 2025'); the page's sort and filters, the CSV and
# the JSON keep them as stored (2025-07-21), which sorts.
DATE_COLUMNS = {"payment_date", "month", "date_min", "date_max", "first_date", "last_date",
                "fetched_at", "withdrawn_on", "last_updated"}
# The table that names what each of those columns holds, and its name column.
NAMED_IN = {"/publisher/": ("publishers", "name"), "/supplier/": ("suppliers", "name")}


@hookimpl
def render_cell(value, column, database, datasette):
    if column.endswith("_pence") and isinstance(value, int):
        return Markup(f'<span class="money">{escape(pence_to_pounds(value))}</span>')
    if column.endswith("_pounds") and isinstance(value, (int, float)):
        return Markup(f'<span class="money">{escape(pence_to_pounds(round(value * 100)))}'
                      '</span>')
    if column in DATE_COLUMNS and isinstance(value, str) and value:
        return Markup(f'<time datetime="{escape(value)}">{escape(human_date(value))}</time>')
    if isinstance(value, dict) and {"value", "label"} <= set(value):
        return _labelled(value, column, database)
    if column in LANDING and isinstance(value, str) and value:
        return _named(datasette, database, column, value)
    if column == "source_url" and isinstance(value, str) and value.startswith("http"):
        name = file_name(value) or value
        return Markup(f'<a href="{escape(value)}" rel="nofollow">{escape(name)}</a>')
    return None


def _labelled(value: dict, column: str, database: str) -> Markup | None:
    """A reference to another row as its name alone ('Fellbrook Council', not the name and its
    id in grey), linked to the publisher's or supplier's page where there is one; a file is
    named by its file name."""
    key, label = value["value"], value["label"]
    if key is None:
        return None
    if column in LANDING:
        href = LANDING[column] + quote(str(key), safe="")
    elif column == "file_id":
        href, label = f"/{quote(database)}/files/{key}", file_name(str(label)) or label
    else:
        return None
    return Markup(f'<a href="{href}">{escape(str(label or key))}</a>')


def _named(datasette, database: str, column: str, key: str):
    """A publisher's or supplier's id in a query's answer as its name, linked to its page
    (the table pages name them from their references; a query gives the bare id)."""
    base = LANDING[column]
    table, name = NAMED_IN[base]

    async def named() -> Markup:
        label = key
        if database in datasette.databases:
            found = await datasette.get_database(database).execute(
                f"select {name} from {table} where id = :k", {"k": key})
            label = (found.rows[0][0] if found.rows else None) or key
        return Markup(f'<a href="{base}{quote(key, safe="")}">{escape(label)}</a>')

    return named


PAYMENT_PAGE = re.compile(r"^/(?P<database>[^/.]+)/payments/(?P<id>\d+)$")


@hookimpl
def handle_exception(datasette, request, exception):
    """A payment link that no longer finds its payment: when the publisher's republished file
    dropped it, say so (410), with what it was, and link the payments that may have replaced
    it. Every other error is Datasette's to answer."""
    match = PAYMENT_PAGE.match(request.path) if request is not None else None
    if not isinstance(exception, NotFound) or match is None \
            or match["database"] not in datasette.databases:
        return None
    return lambda: _withdrawn(datasette, request, match)


async def _withdrawn(datasette, request, match: re.Match) -> Response | None:
    db = datasette.get_database(match["database"])
    if "withdrawn_payments" not in await db.table_names():
        return None
    found = await db.execute("select w.*, u.name as publisher from withdrawn_payments w "
                             "left join publishers u on u.id = w.publisher_id "
                             "where w.id = :id", {"id": int(match["id"])})
    if not found.rows:
        return None
    gone = dict(found.rows[0])
    same = ("transaction_number = :t" if gone["transaction_number"] else
            "payment_date = :d and beneficiary_name = :b")
    replacements = [dict(r) for r in (await db.execute(
        f"select id, payment_date, amount_pence, beneficiary_name from payments where "
        f"publisher_id = :p and source_url = :u and {same} order by id limit 5",
        {"p": gone["publisher_id"], "u": gone["source_url"],
         "t": gone["transaction_number"], "d": gone["payment_date"],
         "b": gone["beneficiary_name"]})).rows]
    context = {"gone": gone, "replacements": replacements, "database": match["database"],
               "money": pence_to_pounds,
               "file_name": file_name(gone["source_url"]) or gone["source_url"]}
    html = await datasette.render_template("withdrawn_payment.html", context, request=request)
    return Response.html(html, status=410)


@hookimpl
def register_routes():
    return [(r"^/publisher/(?P<publisher_id>[a-z0-9][a-z0-9-]*)$", publisher_page),
            (r"^/supplier/(?P<supplier_id>[^/]+)$", supplier_page)]


async def supplier_page(datasette, request):
    """Everything paid to one supplier, by every publisher, by publisher and year."""
    supplier_id = unquote(request.url_vars["supplier_id"])
    [supplier] = await _rows(datasette, "select * from suppliers where id = :s",
                             {"s": supplier_id}) or [None]
    if supplier is None:
        raise NotFound(f"No supplier {supplier_id}")
    s = {"s": supplier_id}
    by_publisher = await _rows(datasette, "select p.publisher_id, u.name, count(*) as payments, "
                                          "sum(p.amount_pence) as total_pence from payments p "
                                          "join publisher_summary u on u.publisher_id = "
                                          "p.publisher_id where p.supplier_id = :s group by "
                                          "p.publisher_id order by total_pence desc", s)
    by_year = await _rows(datasette, "select p.publisher_id, substr(p.payment_date, 1, 4) as "
                                     "year, count(*) as payments, sum(p.amount_pence) as "
                                     "total_pence from payments p where p.supplier_id = :s "
                                     "group by 1, 2 order by 1, 2", s)
    spellings = await _rows(datasette, "select spelling, publisher_id, method, confidence, "
                                       "payments from supplier_aliases where supplier_id = :s "
                                       "order by payments desc", s)
    context = {
        "supplier": supplier, "by_publisher": by_publisher, "by_year": by_year,
        "spellings": spellings, "money": pence_to_pounds, "metadata": datasette.metadata(),
        "payments_url": "/moneytrail/payments?" + urlencode({"supplier_id": supplier_id}),
        "chart": Markup(bar_figure([(r["name"], r["total_pence"]) for r in by_publisher],
                                   "Paid by each publisher", "Publisher")),
    }
    return Response.html(await datasette.render_template("supplier.html", context,
                                                         request=request))


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    if view_name == "row" and table == "payments":
        return _citation_vars(datasette, database, request)
    if template != "index.html":
        return {}

    async def publishers():
        return {"publisher_rows": await _rows(datasette, "select * from publisher_summary "
                                                          "order by total_pence desc")}

    return publishers


CITED = """select p.payment_date, p.date_precision, p.amount_pence, p.beneficiary_name,
    p.supplier_id, p.service, p.purpose, p.expense_type, p.redaction_reason, p.source_url,
    p.source_row, p.sheet, f.fetched_at, f.sha256, f.status,
    u.name as publisher, p.publisher_id
  from payments p join files f on f.id = p.file_id
  left join publishers u on u.id = p.publisher_id where p.id = :id"""


def _citation_vars(datasette, database: str, request):
    """A payment page's citation: who paid whom, how much, when, for what, and from which
    published file and row, fetched when, with its archived copy: ready to paste, above the
    row's thirty columns."""

    async def citation():
        if request is None or database not in datasette.databases:
            return {}
        key = (request.url_vars or {}).get("pks", "")
        result = await datasette.get_database(database).execute(CITED, {"id": tilde_decode(key)})
        if not result.rows:
            return {}
        row = dict(result.rows[0])
        found = await find_archived(datasette.databases.get(COMBINED), row["sha256"])
        archived = None
        if found is not None and (found.withheld or stored_copy(found)):
            archived = {"url": datasette.absolute_url(request, found.path),
                        "withheld": found.withheld}
        return {"citation": _citation(row, archived)}

    return citation


def _citation(row: dict, archived: dict | None = None) -> dict:
    when = (row["payment_date"] or "")[: 7 if row["date_precision"] == "month" else 10]
    what = row["purpose"] or row["expense_type"]
    service = row["service"] if row["service"] and row["service"] != NOT_STATED else None
    url = row["source_url"] or ""
    name = file_name(url) or url
    where = f"row {row['source_row']}" + (f" of sheet {row['sheet']}" if row["sheet"] else "")
    sentence = (f"{row['publisher'] or row['publisher_id']} paid {row['beneficiary_name']} "
                f"{pence_to_pounds(row['amount_pence'])} {'on' if len(when) == 10 else 'in'} "
                f"{human_date(when)}"
                + (f" for {what}" if what and what != NOT_STATED else "")
                + (f" ({service})" if service else "") + ".")
    source = (f"From {name}, {where}, as published at {url} "
              f"(fetched {human_date(row['fetched_at'])}; SHA-256 {row['sha256'][:12]}…)")
    if archived and archived["withheld"]:
        source += f"; moneytrail's archived copy is withheld: {archived['withheld']}"
    elif archived:
        source += f"; archived copy: {archived['url']}"
    return {"sentence": sentence, "url": url, "file_name": name,
            "where": where, "fetched": human_date(row["fetched_at"]),
            "sha256": row["sha256"], "archived": archived,
            "withdrawn": row["status"] != "current", "text": f"{sentence} {source}."}


async def _rows(datasette, sql: str, params: dict | None = None) -> list[dict]:
    if COMBINED not in datasette.databases:
        return []
    result = await datasette.get_database(COMBINED).execute(sql, params or {})
    return [dict(row) for row in result.rows]


async def _trail(datasette, publisher_id: str):
    def follow(conn):
        conn.row_factory = sqlite3.Row

        def query(sql: str, params: dict) -> list[dict]:
            return [dict(row) for row in conn.execute(sql, params)]

        return downstream(query, publisher_id, hops=2, top=3, edges="flow_totals")

    return await datasette.get_database(COMBINED).execute_fn(follow)


def _download_size(datasette, name: str) -> str | None:
    """The size of the database NAME as a person reads it ('4.2 MB'), when it can be
    downloaded: served immutable, with downloads allowed."""
    database = datasette.databases.get(name)
    if database is None or database.is_mutable or not datasette.setting("allow_download"):
        return None
    return format_bytes(database.size)


async def _per_resident(datasette, publisher_id: str) -> dict:
    """Spend per resident by year and service, and the trends (warehouse/residents.py)."""
    p = {"p": publisher_id}
    years, services, months = [await _rows(datasette, f"select * from {table} where "
                                                      f"publisher_id = :p", p)
                               for table in ("spend_by_year", "spend_by_year_service",
                                             "spend_by_month_trend")]
    return residents_view(years, services, months, dt.date.today())


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
    # Withheld payees are not suppliers (spend_by_supplier holds none): the chart shows who was
    # named, the withheld line says the rest.
    suppliers = await _rows(datasette, "select supplier, supplier_key, total_pence, "
                                       "payee_publisher_id from spend_by_supplier where "
                                       "publisher_id = :p order by total_pence desc limit 15", p)
    redacted = {"total_pence": summary["redacted_pence"] or 0,
                "payments": summary["redacted"] or 0}
    months = await _rows(datasette, "select month, total_pence from spend_by_month where "
                                    "publisher_id = :p order by month", p)
    flows = await _rows(datasette, "select f.payee_id, s.name, f.total_pence from "
                                   "publisher_flows f join publisher_summary s on "
                                   "s.publisher_id = f.payee_id where f.payer_id = :p "
                                   "order by f.total_pence desc", p)
    paid_by = await _rows(datasette, "select f.payer_id, s.name, f.total_pence from "
                                     "publisher_flows f join publisher_summary s on "
                                     "s.publisher_id = f.payer_id where f.payee_id = :p "
                                     "order by f.total_pence desc", p)
    cards = await _rows(datasette, "select * from scorecard where publisher_id = :p", p)
    context = {
        "summary": summary, "cards": cards, "flows": flows, "paid_by": paid_by,
        "money": pence_to_pounds, "has_own_database": publisher_id in datasette.databases,
        "database_size": _download_size(datasette, publisher_id),
        "service_chart": Markup(treemap_figure([(r["service"], r["total_pence"])
                                                for r in services], f"Spend by {by}",
                                               by.capitalize())),
        "service_dimension": by,
        "supplier_chart": Markup(bar_figure([(r["supplier"], r["total_pence"])
                                             for r in suppliers], "Top suppliers", "Supplier",
                                            summary["total_pence"])),
        "month_chart": Markup(column_figure([(human_date(r["month"]), r["total_pence"])
                                             for r in months], "Spend month by month")),
        "flow_chart": Markup(flow_figure(await _trail(datasette, publisher_id))) if flows
        else "",
        "suppliers": suppliers, "services": services, "redacted": redacted,
        "metadata": datasette.metadata(),
        "residents": await _per_resident(datasette, publisher_id),
    }
    return Response.html(await datasette.render_template("publisher.html", context,
                                                         request=request))
