"""The site databases' tables, summary queries and indexed facet columns."""

import re

from schemas.privacy import WITHHELD
from warehouse import residents

TABLES = {
    "publishers": """create table publishers (
        id text primary key, org_id text, name text, kind text, gss_code text,
        population integer, licence text, website text, commissioners text, status text,
        status_message text, population_year integer)""",
    "files": """create table files (
        id integer primary key, publisher_id text references publishers(id), url text,
        sha256 text, version integer, fetched_at text, status text, status_message text,
        superseded_by integer, schema_name text, kind text, format text, encoding text,
        rows_read integer, rows_valid integer, rows_quarantined integer, rows_skipped integer,
        amount_total_pence integer, amount_valid_pence integer, date_min text, date_max text,
        redacted_rows integer, score integer, missing_fields text, columns text, report text)""",
    # In the order people read a payment: when, who paid whom, how much, for what; then where
    # it was published, then the detail.
    "payments": """create table payments (
        id integer primary key, payment_date text,
        publisher_id text references publishers(id), beneficiary_name text,
        amount_pence integer, purpose text, service text, expense_type text,
        supplier_id text references suppliers(id),
        payee_publisher_id text references publishers(id), redaction_reason text,
        source_url text, source_row integer, sheet text, file_id integer references files(id),
        month text, date_precision text, department text, service_category text,
        narrative text, transaction_number text, beneficiary_id text, company_number text,
        charity_number text, contract_reference text, card_transaction text,
        capital_or_revenue text, payee_key text, personal_data text, extra text)""",
    "quarantine": """create table quarantine (
        id integer primary key, file_id integer references files(id),
        publisher_id text references publishers(id), sheet text, source_row integer,
        reasons text, amount_pence integer, mapped text, extra text, personal_data text)""",
    "withdrawn_payments": """create table withdrawn_payments (
        id integer primary key, publisher_id text references publishers(id), source_url text,
        payment_date text, amount_pence integer, beneficiary_name text, purpose text,
        transaction_number text, withdrawn_on text)""",
    "spend_by_month": """create table spend_by_month (
        publisher_id text references publishers(id), month text, payments integer,
        total_pence integer, primary key (publisher_id, month))""",
    "spend_by_service": """create table spend_by_service (
        publisher_id text references publishers(id), service text, payments integer,
        total_pence integer, primary key (publisher_id, service))""",
    "spend_by_expense_type": """create table spend_by_expense_type (
        publisher_id text references publishers(id), expense_type text, payments integer,
        total_pence integer, primary key (publisher_id, expense_type))""",
    "spend_by_supplier": """create table spend_by_supplier (
        publisher_id text references publishers(id), supplier_key text, supplier text,
        spellings integer, payee_publisher_id text references publishers(id),
        payments integer, total_pence integer, first_date text, last_date text,
        primary key (publisher_id, supplier_key))""",
    "suppliers": """create table suppliers (
        id text primary key, name text, org_id text,
        publisher_id text references publishers(id), method text, confidence real,
        spellings integer, payers integer, payments integer, total_pence integer)""",
    "supplier_aliases": """create table supplier_aliases (
        id integer primary key, publisher_id text references publishers(id), spelling text,
        company_number text, charity_number text, supplier_id text references suppliers(id),
        payee_key text, method text, confidence real, payments integer, total_pence integer)""",
    "flows": """create table flows (
        payer_id text references publishers(id), payee_id text, period text,
        payee_is_publisher integer, hop integer, payments integer, amount_pence integer,
        primary key (payer_id, payee_id, period))""",
    "flow_totals": """create table flow_totals (
        payer_id text references publishers(id), payee_id text, payee_is_publisher integer,
        payments integer, amount_pence integer, primary key (payer_id, payee_id))""",
    "publisher_flows": """create table publisher_flows (
        payer_id text references publishers(id), payee_id text references publishers(id),
        payments integer, total_pence integer, primary key (payer_id, payee_id))""",
    "scorecard": """create table scorecard (
        publisher_id text references publishers(id), measure text, score integer,
        value text, target text, detail text, primary key (publisher_id, measure))""",
    "publisher_summary": """create table publisher_summary (
        publisher_id text primary key references publishers(id), name text, kind text,
        org_id text, population integer, payments integer, total_pence integer,
        per_resident_pence integer, passed_on_pence integer, date_min text, date_max text,
        files integer, quarantined integer, redacted integer, redacted_pence integer,
        last_updated text,
        score integer, status text, status_message text, population_year integer)""",
    "payments_fts": """create virtual table payments_fts using fts5(
        beneficiary_name, purpose, content='payments', content_rowid='id')""",
    **residents.TABLES,
}

PENCE = re.compile(r"\b(\w+)_pence integer\b")
TABLE_CONSTRAINT = re.compile(r",\s*(primary key|foreign key|unique|check)\s*\(")


def with_pounds(ddl: str) -> str:
    """A table's DDL with, for each amount in pence, its amount in pounds beside it
    (`amount_pence` 145833 → `amount_pounds` 1458.33): what a person downloading the CSV or JSON
    reads, while the pence stay exact. Generated and virtual: computed when read, stored
    nowhere, and never written by an insert, which names the stored columns only."""
    if " using fts5" in ddl:
        return ddl
    pounds = [f"{name}_pounds real generated always as ({name}_pence / 100.0) virtual"
              for name in PENCE.findall(ddl)]
    if not pounds:
        return ddl
    # Columns come before the table's constraints ("primary key (a, b)"), or the table's end.
    constraint = TABLE_CONSTRAINT.search(ddl)
    at = constraint.start() if constraint else ddl.rstrip().rindex(")")
    return f"{ddl[:at]}, {', '.join(pounds)}{ddl[at:]}"


# Columns people facet and filter on: each gets an index.
FACETS = ("publisher_id", "month", "payment_date", "service", "expense_type", "payee_key",
          "supplier_id", "payee_publisher_id", "redaction_reason", "amount_pence", "file_id")

SUMMARIES = (
    """insert into spend_by_month select publisher_id, month, count(*), sum(amount_pence)
       from payments group by publisher_id, month""",
    """insert into spend_by_service select publisher_id, service, count(*), sum(amount_pence)
       from payments group by publisher_id, service""",
    """insert into spend_by_expense_type select publisher_id, expense_type, count(*),
       sum(amount_pence) from payments group by publisher_id, expense_type""",
    # Suppliers only: a redaction marker ('REDACTED PERSONAL DATA') or a private individual's
    # withheld name is nobody, and is summarised as withheld (publisher_summary), not listed.
    f"""insert into spend_by_supplier
       select p.publisher_id, coalesce(p.supplier_id, '~' || p.beneficiary_name),
              coalesce(max(s.name), max(p.beneficiary_name)), count(distinct p.beneficiary_name),
              max(p.payee_publisher_id), count(*), sum(p.amount_pence),
              min(p.payment_date), max(p.payment_date)
       from payments p left join suppliers s on s.id = p.supplier_id
       where p.beneficiary_name is not null and p.redaction_reason is null
         and p.beneficiary_name != '{WITHHELD}'
       group by p.publisher_id, coalesce(p.supplier_id, '~' || p.beneficiary_name)""",
    """insert into flow_totals select payer_id, payee_id, max(payee_is_publisher), sum(payments),
       sum(amount_pence) from flows group by payer_id, payee_id""",
    *residents.SUMMARIES,
)
# publisher_flows comes from the warehouse (warehouse.site): a publisher's own database holds
# the flows it was paid as well as those it paid.
