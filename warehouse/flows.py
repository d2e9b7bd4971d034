"""Resolve every payee in the warehouse and derive the money flows between publishers.

Runs after loading: the suppliers, supplier_aliases and flows tables are rebuilt from the
payments in one transaction, so they always describe the warehouse as it is.
"""

from collections import deque
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from sources.registry import Registry
from warehouse.resolution import PayeeRecord, Resolver
from warehouse.tables import flows, payments, supplier_aliases, suppliers

METHOD_RANK = {"id": 0, "curated": 1, "exact": 2, "fuzzy": 3}


@dataclass
class FlowSummary:
    spellings: int
    suppliers: int
    flows: int
    linked_to_publishers: int


def rebuild(engine: sa.Engine, registry: Registry) -> FlowSummary:
    """Resolve each distinct payee spelling, then write suppliers, aliases and flows."""
    with engine.connect() as conn:
        payees = pd.read_sql(_payees_query(), conn)
    aliases = _resolve(payees, Resolver(registry))
    table = _suppliers(aliases)
    with engine.connect() as conn:
        edges = pd.read_sql(_edges_query(), conn)
    edges = _flows(edges, aliases, registry)
    with engine.begin() as conn:
        for target in (flows, supplier_aliases, suppliers):
            conn.execute(target.delete())
        for target, frame in ((supplier_aliases, aliases), (suppliers, table), (flows, edges)):
            if not frame.empty:
                conn.execute(target.insert(), _records(frame, target))
    return FlowSummary(len(aliases), len(table), len(edges),
                       int(aliases["payee_publisher_id"].notna().sum()) if len(aliases) else 0)


# Spellings the privacy guard flagged on any payment. It decides some by the row (a category
# that pays people, a supplier type), so the same name can be flagged on one payment only.
PERSONAL_SPELLINGS = (sa.select(payments.c.beneficiary_name).distinct()
                      .where(payments.c.personal_data.is_not(None),
                             payments.c.beneficiary_name.is_not(None)))
# Payees with a published name that is not a private individual's: a person flagged by the
# privacy guard, on this payment or another, is, like a redacted payee, no supplier and no edge.
_NAMED = (payments.c.beneficiary_name.is_not(None), payments.c.personal_data.is_(None),
          payments.c.beneficiary_name.not_in(PERSONAL_SPELLINGS))


def _payees_query():
    key = (payments.c.publisher_id, payments.c.beneficiary_name, payments.c.company_number,
           payments.c.charity_number)
    return (sa.select(*key, sa.func.count().label("payments"),
                      sa.func.sum(payments.c.amount_pence).label("total_pence"))
            .where(*_NAMED).group_by(*key)
            # Most used spellings first, so they anchor the fuzzy matches of rarer ones.
            .order_by(sa.func.count().desc(), payments.c.beneficiary_name,
                      payments.c.publisher_id))


def _resolve(payees: pd.DataFrame, resolver: Resolver) -> pd.DataFrame:
    # Spellings that carry a company or charity number go first: their org-id then anchors
    # the same name written without a number.
    numbered = payees["company_number"].notna() | payees["charity_number"].notna()
    payees = pd.concat([payees[numbered], payees[~numbered]])
    resolver.learn(PayeeRecord(name) for name in payees["beneficiary_name"])
    rows = []
    for row in payees.itertuples():
        result = resolver.resolve(PayeeRecord(row.beneficiary_name, _text(row.company_number),
                                              _text(row.charity_number)))
        rows.append({
            "publisher_id": row.publisher_id, "spelling": row.beneficiary_name,
            "company_number": _text(row.company_number),
            "charity_number": _text(row.charity_number),
            "supplier_id": result.supplier_id, "payee_publisher_id": result.publisher_id,
            "payee_key": result.key, "method": result.method, "confidence": result.confidence,
            "payments": int(row.payments), "total_pence": int(row.total_pence or 0),
        })
    return pd.DataFrame(rows, columns=[
        "publisher_id", "spelling", "company_number", "charity_number", "supplier_id",
        "payee_publisher_id", "payee_key", "method", "confidence", "payments", "total_pence"])


def _text(value) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _suppliers(aliases: pd.DataFrame) -> pd.DataFrame:
    """One row per supplier: named by its most used spelling (the first in alphabetical order
    on a tie), with its surest method, the publisher it is (if any) and its totals."""
    matched = aliases[aliases["supplier_id"].notna()]
    if matched.empty:
        return pd.DataFrame()
    group = matched.groupby("supplier_id", sort=True)
    used = (matched.groupby(["supplier_id", "spelling"], as_index=False)["payments"].sum()
            .sort_values(["supplier_id", "payments", "spelling"], ascending=[True, False, True],
                         kind="stable"))
    ranked = matched.assign(rank=matched["method"].map(METHOD_RANK).fillna(9))
    best = ranked.sort_values(["supplier_id", "rank"], kind="stable")
    table = pd.DataFrame({
        "name": used.drop_duplicates("supplier_id").set_index("supplier_id")["spelling"],
        "publisher_id": group["payee_publisher_id"].first(),  # the first one given
        "method": best.drop_duplicates("supplier_id").set_index("supplier_id")["method"],
        "confidence": group["confidence"].min().astype(float),
        "spellings": group["spelling"].nunique(), "payers": group["publisher_id"].nunique(),
        "payments": group["payments"].sum(), "total_pence": group["total_pence"].sum(),
    }).rename_axis("id").reset_index()
    table.insert(2, "org_id", table["id"].where(table["id"].str.startswith(("GB-", "XI-"))))
    return table


def _edges_query():
    month = sa.func.substr(sa.cast(payments.c.payment_date, sa.String), 1, 7)
    key = (payments.c.publisher_id, payments.c.beneficiary_name, payments.c.company_number,
           payments.c.charity_number, month.label("period"))
    return (sa.select(*key, sa.func.count().label("payments"),
                      sa.func.sum(payments.c.amount_pence).label("amount_pence"))
            .where(*_NAMED).group_by(*key))


def _flows(edges: pd.DataFrame, aliases: pd.DataFrame, registry: Registry) -> pd.DataFrame:
    """Payer → payee totals per month: the payee is a publisher where it is one, else the
    resolved supplier; redacted payees carry no edge. Each edge's hop counts from the
    publishers nobody commissions (hop 1) down the registry's commissioner links."""
    columns = ["publisher_id", "beneficiary_name", "company_number", "charity_number"]
    merged = edges.merge(
        aliases.rename(columns={"spelling": "beneficiary_name"}), how="inner",
        on=columns, suffixes=("", "_alias"))
    merged = merged[merged["supplier_id"].notna()]
    payee = merged["payee_publisher_id"].fillna(merged["supplier_id"])
    merged = merged.assign(payer_id=merged["publisher_id"], payee_id=payee,
                           payee_is_publisher=merged["payee_publisher_id"].notna())
    merged = merged[merged["payer_id"] != merged["payee_id"]]
    totals = (merged.groupby(["payer_id", "payee_id", "period", "payee_is_publisher"],
                             as_index=False)
              .agg(payments=("payments", "sum"),
                   amount_pence=("amount_pence", "sum")))
    depth = hops(registry)
    totals["hop"] = totals["payer_id"].map(depth).fillna(1).astype(int)
    return totals


def hops(registry: Registry) -> dict[str, int]:
    """How far each publisher is from the money's source: 1 for one nobody commissions."""
    commissioned = {p.id: set(p.commissioners) for p in registry}
    depth = {p.id: 1 for p in registry if not p.commissioners}
    queue = deque(depth)
    while queue:
        payer = queue.popleft()
        for provider, payers in commissioned.items():
            if payer in payers and provider not in depth:
                depth[provider] = depth[payer] + 1
                queue.append(provider)
    return depth


def _records(frame: pd.DataFrame, table: sa.Table) -> list[dict]:
    names = [c.name for c in table.columns if c.name in frame.columns]
    clean = frame[names].astype(object).where(frame[names].notna(), None)
    return clean.to_dict("records")
