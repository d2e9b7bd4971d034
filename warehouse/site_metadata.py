"""Datasette metadata for the site, generated from the registry, the schemas and the warehouse."""

import pandas as pd

from schemas.descriptors import load_descriptor
from warehouse import residents
from warehouse.scorecard import WITHHELD_PAYMENT
from warehouse.site_schema import TABLES

LICENCES = {"OGL-UK-3.0": ("Open Government Licence v3.0",
                           "https://www.nationalarchives.gov.uk/doc/open-government-licence/"
                           "version/3/")}
SITE_COLUMNS = {
    "month": "The payment's month, yyyy-mm: facet on it to see spend month by month.",
    "service": "The service that spent the money: the service category where the publisher "
               "gives one, else its directorate or department.",
    "payee_key": "The payee's name normalised (case, punctuation, Ltd/Limited, 'The', trading "
                 "names) so spellings of one organisation meet. Empty for redacted payees.",
    "payee_publisher_id": "Set when the payee itself publishes its spending here: follow the "
                          "money to its own payments.",
    "supplier_id": "The organisation the payee resolved to (an org-id such as GB-COH-… where "
                   "the file gave a company or charity number, else MT-…); see suppliers.",
    "source_url": "The published file this payment was read from.",
    "source_row": "The row (line of a CSV, row of a sheet) of the published file.",
    "file_id": "The version of the published file this row came from (see the files table).",
}
# A publisher as a person gives it: empty for all, its id, or its name or part of it, in any
# case ('northmoor borough' finds Northmoor Borough Council).
PUBLISHER_NAMED = ("(select id from publishers where id = :publisher or "
                   "instr(lower(name), lower(trim(:publisher))) > 0)")
ONE_PUBLISHER = f"(:publisher = '' or publisher_id in {PUBLISHER_NAMED})"
QUERIES = {
    "top_suppliers": {
        "title": "Top suppliers",
        "description": "Who a publisher paid most (spellings of one supplier combined).",
        "sql": f"""select supplier, spellings, payments, total_pence, total_pounds, first_date,
  last_date, payee_publisher_id, publisher_id from spend_by_supplier where {ONE_PUBLISHER}
order by total_pence desc limit 100""",
    },
    "who_pays_supplier": {
        "title": "Who pays this supplier?",
        "description": "Every publisher that paid a supplier, however they spelled its name.",
        "sql": """select payments.publisher_id, publishers.name as publisher, count(*) as payments,
  sum(amount_pence) as total_pence, sum(amount_pence) / 100.0 as total_pounds,
  min(payment_date) as first_date,
  max(payment_date) as last_date, group_concat(distinct beneficiary_name) as spellings
from payments join publishers on publishers.id = payments.publisher_id
where supplier_id in (select supplier_id from supplier_aliases
  where payee_key = moneytrail_payee_key(:supplier) or supplier_id = :supplier)
group by payments.publisher_id order by total_pence desc""",
    },
    "money_trail": {
        "title": "Where the money went, hop by hop",
        "description": "From a publisher to the publishers it pays, and on to theirs. Each "
                       "payment between two publishers is counted once, at the first hop "
                       "that reaches it, however many routes lead there; a route that comes "
                       "back to a publisher already on it is cut (A → B → A). The share is "
                       "of everything the paying publisher spent in its period, as published "
                       "here.",
        "sql": f"""with recursive trail(hop, payer_id, payee_id, path) as (
  select 1, payer_id, payee_id, ',' || payer_id || ',' || payee_id || ','
  from publisher_flows where payer_id in {PUBLISHER_NAMED}
  union all
  select trail.hop + 1, f.payer_id, f.payee_id, trail.path || f.payee_id || ','
  from publisher_flows f join trail on f.payer_id = trail.payee_id
  where trail.hop < 4 and instr(trail.path, ',' || f.payee_id || ',') = 0),
hops as (select payer_id, payee_id, min(hop) as hop from trail group by payer_id, payee_id)
select h.hop, coalesce(a.name, h.payer_id) as payer, coalesce(b.name, h.payee_id) as payee,
  f.total_pence, f.total_pounds,
  case when a.total_pence > 0
       then printf('%.1f%%', 100.0 * f.total_pence / a.total_pence) end
    as share_of_payer_spending,
  a.date_min || ' to ' || a.date_max as payer_period, h.payer_id, h.payee_id
from hops h
join publisher_flows f on f.payer_id = h.payer_id and f.payee_id = h.payee_id
left join publisher_summary a on a.publisher_id = h.payer_id
left join publisher_summary b on b.publisher_id = h.payee_id
order by h.hop, f.total_pence desc""",
    },
    "payments_over": {
        "title": "Payments over an amount",
        "description": "Every payment of at least the amount given, in pounds.",
        "sql": f"""select publisher_id, payment_date, beneficiary_name, amount_pence, amount_pounds,
  service, purpose, source_url, source_row from payments
where amount_pence >= cast(:pounds as real) * 100 and {ONE_PUBLISHER}
order by amount_pence desc limit 1000""",
    },
    "redacted_by_service": {
        "title": "Withheld payments by service",
        "description": "Payments whose payee is not shown, where, and why: redacted by the "
                       "publisher (personal data, commercial confidentiality), or a private "
                       "individual's name withheld by moneytrail. They are not suppliers.",
        "sql": f"""select publisher_id, service,
  coalesce(redaction_reason, 'private individual (withheld by moneytrail)') as reason,
  count(*) as payments, sum(amount_pence) as total_pence,
  sum(amount_pence) / 100.0 as total_pounds from payments
where {WITHHELD_PAYMENT} and {ONE_PUBLISHER}
group by publisher_id, service, reason order by total_pence desc""",
    },
    "likely_duplicates": {
        "title": "Likely duplicate payments",
        "description": "The same payee, amount and date more than once.",
        "sql": f"""select publisher_id, max(beneficiary_name) as payee, amount_pence,
  amount_pence / 100.0 as amount_pounds, payment_date,
  count(*) as times, group_concat(source_row) as source_rows from payments
where redaction_reason is null and payee_key is not null and {ONE_PUBLISHER}
group by publisher_id, payee_key, amount_pence, payment_date having count(*) > 1
order by times desc, amount_pence desc limit 500""",
    },
}
# People read a query's answer, not its SQL: the SQL stays one click away ("show").
for _query in QUERIES.values():
    _query["hide_sql"] = True


def site_metadata(summary: pd.DataFrame) -> dict:
    """Titles, descriptions for every column, licences, sources, facets and canned queries."""
    tables = _tables()
    databases = {"moneytrail": {
        "title": "All publishers",
        "description": "Every publisher's payments in one place: search them together and "
                       "follow money from one publisher to another.",
        "tables": tables, "queries": QUERIES,
    }}
    for row in summary.itertuples():
        databases[row.publisher_id] = _publisher(row, tables)
    licence, url = LICENCES["OGL-UK-3.0"]
    return {
        "extra_css_urls": ["/static/moneytrail.css"],
        "title": "moneytrail: follow local public money",
        "description": "Spending published by councils and the providers they commission, "
                       "every figure linked to the published file and row it came from.",
        "license": licence, "license_url": url,
        "source": "Publishers' own spending files (see each database)",
        "databases": databases,
    }


def _publisher(row, tables: dict) -> dict:
    """From the publisher's summary line joined to its registry entry (website, licence)."""
    licence, url = LICENCES.get(row.licence or "OGL-UK-3.0", (row.licence, None))
    updated = row.last_updated if isinstance(row.last_updated, str) else None
    harvested = f" Last harvested {updated[:10]}." if updated else ""
    meta = {
        "title": row.name,
        "description": f"Payments published by {row.name} ({row.org_id}), a {row.kind}."
                       f"{harvested}",
        "tables": tables,
        "queries": {k: v for k, v in QUERIES.items() if k != "who_pays_supplier"},
    }
    if licence:
        meta |= {"license": licence, **({"license_url": url} if url else {})}
    if isinstance(row.website, str) and row.website:
        meta |= {"source": f"{row.name} website", "source_url": row.website}
    return meta


def _site_columns() -> set[str]:
    ddl = TABLES["payments"]
    return {line.split()[0] for line in ddl.split("(", 1)[1].replace(",", "\n").splitlines()
            if line.strip()}


# What each table is called where people read it.
TITLES = {"payments": "Payments", "publishers": "Publishers", "files": "Files harvested",
          "quarantine": "Rows that failed validation", "spend_by_month": "Spend by month",
          "spend_by_service": "Spend by service", "spend_by_supplier": "Spend by supplier",
          "spend_by_expense_type": "Spend by expense type",
          "flows": "Money flows, month by month", "flow_totals": "Money flows in all",
          "publisher_flows": "Money between publishers", "suppliers": "Suppliers",
          "supplier_aliases": "Supplier spellings", "scorecard": "Data quality scorecard",
          "publisher_summary": "Publishers at a glance",
          "withdrawn_payments": "Payments withdrawn by a republished file"}


def _tables() -> dict:
    tables = _described_tables()
    for name, title in TITLES.items():
        tables.setdefault(name, {})["title"] = title
    return tables


def _described_tables() -> dict:
    payment_fields = load_descriptor("payment")["fields"]
    shown = _site_columns()
    columns = {f["name"]: f["description"] for f in payment_fields if f["name"] in shown}
    columns |= SITE_COLUMNS | {
        "publisher_id": "The publisher that made the payment (its registry id).",
        "amount_pence": "The net amount in pence, shown in pounds; negative for credits.",
        "amount_pounds": "The same amount in pounds, as a spreadsheet reads it; in CSV and "
                         "JSON only (amount_pence is the exact figure)."}
    return {
        "payments": {
            "description": "One row per payment line; every row links to the published file "
                           "(source_url) and its row (source_row).",
            "columns": columns,
            # Counted from the summary tables unless other filters apply (see the plugin).
            "facets": [{"summary": "service"}, {"summary": "month"},
                       {"summary": "expense_type"}, "redaction_reason"],
            # A few values each, so the payments themselves are on the first screen.
            "facet_size": 6,
            "sort_desc": "amount_pence",
            "fts_table": "payments_fts", "fts_pk": "id",
            "label_column": "beneficiary_name",
        },
        "publishers": {"description": "The publishers, from the registry.",
                       "label_column": "name"},
        "files": {"description": "Every version of every published file: where it was, when "
                                 "it was harvested (fetched_at) and how it validated.",
                  "label_column": "url",
                  "columns": {"fetched_at": "When moneytrail first harvested these bytes.",
                              "status": "current, superseded, withdrawn, duplicate or "
                                        "rejected."}},
        "quarantine": {"description": "Rows that failed validation, with every reason: "
                                      "nothing published is lost."},
        "spend_by_month": {"description": "Total spend per publisher per month."},
        "spend_by_service": {"description": "Total spend per publisher per service."},
        "spend_by_supplier": {"description": "Total spend per publisher per supplier."},
        "spend_by_expense_type": {"description": "Total spend per publisher per expense type."},
        "flows": {"description": "Money from each publisher to each payee (a publisher or a "
                           "resolved supplier), month by month, with its hop from the source."},
        "publisher_flows": {"description": "Money from one publisher to another that "
                                           "publishes too."},
        "suppliers": {"description": "Resolved organisations: how each was matched "
                                     "(id, curated, exact, fuzzy) and how sure.",
                      "label_column": "name"},
        "supplier_aliases": {"description": "Every spelling of every payee, per publisher, "
                                            "and the organisation it resolved to."},
        "scorecard": {"description": "Data-quality measures per publisher."},
        "publisher_summary": {"description": "One line per publisher for the home page."},
        "payments_fts": {"hidden": True},
        **residents.METADATA,
    }
