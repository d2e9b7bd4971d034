"""The warehouse tables (SQLAlchemy Core); payment columns come from schemas/payment.json."""

from __future__ import annotations

import sqlalchemy as sa

from schemas.descriptors import load_descriptor

metadata = sa.MetaData()
# File versions whose rows count: withdrawn files keep their data.
LIVE = ("current", "withdrawn")
_TYPES = {"integer": sa.BigInteger, "date": sa.Date, "boolean": sa.Boolean, "number": sa.Numeric}

publishers = sa.Table(
    "publishers", metadata,
    sa.Column("id", sa.String(120), primary_key=True),
    sa.Column("org_id", sa.String(80), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("gss_code", sa.String(12)),
    sa.Column("population", sa.BigInteger),
    sa.Column("population_year", sa.Integer),  # the year the population is of, such as 2020
    sa.Column("licence", sa.String(40)),
    sa.Column("website", sa.Text),
    sa.Column("commissioners", sa.Text),  # JSON list of publisher ids
    sa.Column("status", sa.String(20)),  # ok, error, no_feeds
    sa.Column("status_message", sa.Text),
)

files = sa.Table(
    "files", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("publisher_id", sa.String(120), sa.ForeignKey("publishers.id"), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("fetched_at", sa.String(32)),
    # current, superseded, withdrawn, duplicate (same bytes as another URL), rejected
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("status_message", sa.Text),
    sa.Column("superseded_by", sa.Integer, sa.ForeignKey("files.id")),
    sa.Column("schema_name", sa.String(40)),
    sa.Column("kind", sa.String(40)),
    sa.Column("format", sa.String(10)),
    sa.Column("encoding", sa.String(20)),
    sa.Column("rows_read", sa.BigInteger),
    sa.Column("rows_valid", sa.BigInteger),
    sa.Column("rows_quarantined", sa.BigInteger),
    sa.Column("rows_skipped", sa.BigInteger),
    sa.Column("amount_total_pence", sa.BigInteger),
    sa.Column("amount_valid_pence", sa.BigInteger),
    sa.Column("date_min", sa.String(10)),
    sa.Column("date_max", sa.String(10)),
    sa.Column("redacted_rows", sa.BigInteger),
    sa.Column("score", sa.Integer),
    sa.Column("missing_fields", sa.Text),  # JSON list
    sa.Column("columns", sa.Text),  # JSON: header -> field, for header-drift checks
    sa.Column("report", sa.Text),  # the full validate report, JSON
    sa.UniqueConstraint("publisher_id", "url", "sha256", name="files_version"),
)
sa.Index("files_publisher_status", files.c.publisher_id, files.c.status)


def _payment_columns() -> list[sa.Column]:
    columns = []
    for spec in load_descriptor("payment")["fields"]:
        kind = _TYPES.get(spec["type"], sa.Text)
        required = spec.get("constraints", {}).get("required", False)
        columns.append(sa.Column(spec["name"], kind, nullable=not required))
    return columns


payments = sa.Table(
    "payments", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id"), nullable=False),
    *_payment_columns(),
    # The payment's lasting id (warehouse.load.payment_keys): the same for the same payment
    # in every version of its file, so the site's links to it survive a republish.
    sa.Column("payment_key", sa.BigInteger),
)
sa.Index("payments_file", payments.c.file_id)
# By publisher alone, not (publisher, date): a file's rows then go in at the end of their
# publisher's entries, where a date in the key scattered them over the whole index, which cost
# a third of a large load's inserting (docs/performance.md). warehouse.engine drops the old one.
sa.Index("payments_publisher", payments.c.publisher_id)
# Indexes of earlier versions that opening a warehouse drops.
RETIRED_INDEXES = ("payments_publisher_date",)

quarantine = sa.Table(
    "quarantine", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id"), nullable=False),
    sa.Column("publisher_id", sa.String(120), nullable=False),
    sa.Column("sheet", sa.Text),
    sa.Column("source_row", sa.Integer, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("amount_pence", sa.BigInteger),
    sa.Column("mapped", sa.Text),  # JSON: the row's mapped cells as published
    sa.Column("extra", sa.Text),  # JSON: its unmapped cells
    sa.Column("personal_data", sa.String(20)),  # schemas/privacy.py: a private individual
)
sa.Index("quarantine_file", quarantine.c.file_id)

# Payments a republished file no longer holds, by their lasting key (payments.payment_key):
# their links then answer with what the payment was, when it went and what replaced it. The
# name of a private individual is never kept (beneficiary_name empty).
withdrawn_payments = sa.Table(
    "withdrawn_payments", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),  # the payment_key
    sa.Column("publisher_id", sa.String(120), nullable=False),
    sa.Column("source_url", sa.Text, nullable=False),
    sa.Column("payment_date", sa.String(10)),
    sa.Column("amount_pence", sa.BigInteger),
    sa.Column("beneficiary_name", sa.Text),
    sa.Column("purpose", sa.Text),
    sa.Column("transaction_number", sa.Text),
    sa.Column("withdrawn_on", sa.String(40)),  # when the version without it was fetched
)
sa.Index("withdrawn_payments_publisher", withdrawn_payments.c.publisher_id)

# Derived by warehouse/flows.py after every load: who each payee is, and money between them.
suppliers = sa.Table(
    "suppliers", metadata,
    sa.Column("id", sa.String(200), primary_key=True),  # an org-id, or MT-… when none is known
    sa.Column("name", sa.Text, nullable=False),  # the most used spelling
    sa.Column("org_id", sa.String(80)),
    sa.Column("publisher_id", sa.String(120)),  # set when the supplier is itself a publisher
    sa.Column("method", sa.String(20), nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("spellings", sa.Integer, nullable=False),
    sa.Column("payers", sa.Integer, nullable=False),
    sa.Column("payments", sa.BigInteger, nullable=False),
    sa.Column("total_pence", sa.BigInteger, nullable=False),
)

supplier_aliases = sa.Table(
    "supplier_aliases", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("publisher_id", sa.String(120), nullable=False),
    sa.Column("spelling", sa.Text, nullable=False),
    sa.Column("company_number", sa.Text),
    sa.Column("charity_number", sa.Text),
    sa.Column("supplier_id", sa.String(200)),  # null for redacted payees: never matched
    sa.Column("payee_key", sa.Text),
    sa.Column("method", sa.String(20), nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("payments", sa.BigInteger, nullable=False),
    sa.Column("total_pence", sa.BigInteger, nullable=False),
)
sa.Index("supplier_aliases_lookup", supplier_aliases.c.publisher_id, supplier_aliases.c.spelling)

flows = sa.Table(
    "flows", metadata,
    sa.Column("payer_id", sa.String(120), primary_key=True),
    sa.Column("payee_id", sa.String(200), primary_key=True),  # a publisher id or a supplier id
    sa.Column("period", sa.String(7), primary_key=True),  # yyyy-mm
    sa.Column("payee_is_publisher", sa.Boolean, nullable=False),
    sa.Column("hop", sa.Integer, nullable=False),
    sa.Column("payments", sa.BigInteger, nullable=False),
    sa.Column("amount_pence", sa.BigInteger, nullable=False),
)
sa.Index("flows_payee", flows.c.payee_id)

# What warehouse/flows.py last resolved each publisher's payments from, so that a load redoes
# only the publishers it changed. The row '*' holds what every decision depends on (the
# registry, the curated suppliers and the resolution code); when that changes, all are redone.
resolution_state = sa.Table(
    "resolution_state", metadata,
    sa.Column("publisher_id", sa.String(120), primary_key=True),
    sa.Column("files_digest", sa.String(64), nullable=False),  # its file versions, resolved
    sa.Column("site_token", sa.String(32), nullable=False),  # new whenever its site data changed
    sa.Column("personal_spellings", sa.Text, nullable=False),  # JSON: names flagged as people
)
