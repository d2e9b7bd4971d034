"""Follow money hop by hop from a publisher (or back from a supplier), with each pound's share.

A provider's onward payments are attributed to each source in proportion to what that source
paid it: if a council paid a provider £60 of the £100 it received from publishers, £0.60 of
every pound the provider paid out is that council's money. Only payments published here are
counted: a provider's other income (fees, grants) is not visible, and says so in `passed_on`.
"""

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

from schemas.money import pence_to_pounds
from warehouse.suppliers import payee_key

Query = Callable[[str, dict], list[dict]]


@dataclass
class Node:
    """One payee on the trail, with the money that reached it from the start."""

    id: str
    name: str
    is_publisher: bool
    amount_pence: int  # what reached it from the starting publisher (attributed past hop 1)
    hop: int
    passed_on: float | None = None  # share of its publisher income it paid out (publishers)
    children: list["Node"] = field(default_factory=list)
    has_data: bool = True  # a publisher none of whose spending could be read has none


class Ambiguous(LookupError):
    """A name that fits more than one publisher or supplier: `matches` are (id, name)."""

    def __init__(self, text: str, matches: list[tuple[str, str]]):
        super().__init__(text)
        self.matches = matches


def find(query: Query, name_or_id: str) -> tuple[str, str, bool] | None:
    """(id, name, is_publisher) for a publisher id, a supplier id, or a name as written."""
    for sql in ("select id, name, 1 from publishers where id = :q",
                "select id, name, publisher_id is not null from suppliers where id = :q"):
        rows = query(sql, {"q": name_or_id})
        if rows:
            return _found(query, rows[0])
    key = payee_key(name_or_id)
    rows = query("select distinct s.id, s.name, s.publisher_id is not null from suppliers s "
                 "join supplier_aliases a on a.supplier_id = s.id where a.payee_key = :k",
                 {"k": key})
    if not rows:
        rows = [r for r in query("select id, name, 1 from publishers", {})
                if payee_key(r["name"]) == key]
    if rows:
        return _found(query, rows[0])
    # Part of a name ('moorland', 'Brookfield care'): the one publisher or supplier whose
    # name or spelling holds it; several are Ambiguous, with their names to choose from.
    matches = [m for m in suggestions(query, name_or_id, limit=11) if m[2]]
    if len(matches) == 1:
        return _found(query, {"id": matches[0][0], "name": matches[0][1],
                              "publisher": matches[0][3]})
    if matches:
        raise Ambiguous(name_or_id, [(m[0], m[1]) for m in matches[:10]])
    return None


def suggestions(query: Query, text: str, limit: int = 5) -> list[tuple[str, str, bool, bool]]:
    """Publishers and suppliers a person may have meant by TEXT, best first:
    (id, name, whether TEXT is part of its name or a spelling of it, whether it publishes).
    Parts come first; then names that are spelt like it (difflib's close matches)."""
    wanted = payee_key(text)
    if not wanted:
        return []
    names: dict[str, tuple[str, bool, set[str]]] = {}
    for row in query("select id, name from publishers", {}):
        names[row["id"]] = (row["name"], True, {payee_key(row["name"]), row["id"]})
    for row in query("select s.id, s.name, s.publisher_id, a.payee_key from suppliers s "
                     "left join supplier_aliases a on a.supplier_id = s.id", {}):
        ident = row["publisher_id"] or row["id"]
        name, publishes, keys = names.setdefault(ident, (row["name"], bool(row["publisher_id"]),
                                                         set()))
        keys.update(k for k in (payee_key(row["name"]), row["payee_key"]) if k)
    parts = sorted(((ident, name, True, publishes) for ident, (name, publishes, keys)
                    in names.items() if any(wanted in key for key in keys)),
                   key=lambda m: (not m[3], len(m[1]), m[1]))
    if parts:
        return parts[:limit]
    by_key = {key: ident for ident, (_, _, keys) in names.items() for key in keys}
    close = difflib.get_close_matches(wanted, list(by_key), n=limit * 3, cutoff=0.6)
    seen: dict[str, tuple[str, str, bool, bool]] = {}
    for key in close:
        ident = by_key[key]
        seen.setdefault(ident, (ident, names[ident][0], False, names[ident][1]))
    return list(seen.values())[:limit]


def _found(query: Query, row: dict) -> tuple[str, str, bool]:
    ident, name, publisher = list(row.values())
    if publisher and not ident.startswith("MT-PUB-"):
        linked = query("select publisher_id from suppliers where id = :q", {"q": ident})
        ident = linked[0]["publisher_id"] if linked and linked[0]["publisher_id"] else ident
    return ident.removeprefix("MT-PUB-"), name, bool(publisher)


def downstream(query: Query, publisher_id: str, hops: int = 2, top: int = 5,
               edges: str = "flows") -> Node:
    """The trail from a publisher: its biggest payees, and onward through payees that publish.

    `edges` is the table of payer → payee amounts: the warehouse's `flows` (per month), or the
    site's `flow_totals` (already summed), which is what keeps landing pages fast.
    """
    [start] = query("select id, name from publishers where id = :p", {"p": publisher_id})
    total = _sum(query, f"select sum(amount_pence) as v from {edges} where payer_id = :p",
                 publisher_id)
    root = Node(publisher_id, start["name"], True, total, 0)
    _expand(query, root, 1.0, hops, top, {publisher_id}, edges)
    return root


def _edges(query: Query, payer: str, publishers: bool, top: int, edges: str) -> list[dict]:
    limit = "" if publishers else f"limit {int(top)}"
    # The site's flow_totals has one row per payer and payee, so its index gives the biggest
    # payees at once; the warehouse's monthly flows are summed first.
    amount = "amount_pence" if edges == "flow_totals" else "sum(amount_pence)"
    group = "" if edges == "flow_totals" else "group by payee_id"
    rows = query(f"""select payee_id, {amount} as amount from {edges}
                     where payer_id = :p and payee_is_publisher = :publishers {group}
                     order by amount desc {limit}""", {"p": payer, "publishers": publishers})
    for row in rows:
        row["payee_is_publisher"] = publishers
        row["name"] = query("select coalesce((select name from publishers where id = :i), "
                            "(select name from suppliers where id = :i), :i) as name",
                            {"i": row["payee_id"]})[0]["name"]
    return rows


def _expand(query: Query, node: Node, share: float, hops: int, top: int, seen: set,
            edges: str) -> None:
    if node.hop >= hops:
        return
    # Publishers first (the trail goes on through them), then the biggest other payees.
    chosen = [e for e in _edges(query, node.id, True, top, edges) if e["payee_id"] not in seen]
    chosen += _edges(query, node.id, False, top, edges)
    for edge in chosen:
        child = Node(edge["payee_id"], edge["name"], bool(edge["payee_is_publisher"]),
                     round(edge["amount"] * share), node.hop + 1)
        node.children.append(child)
        if child.is_publisher:
            income = _sum(query, f"select sum(amount_pence) as v from {edges} "
                                 "where payee_id = :p", child.id)
            spent = _sum(query, f"select sum(amount_pence) as v from {edges} "
                                "where payer_id = :p", child.id)
            child.passed_on = spent / income if income else None
            # A provider whose files could not be read passes on nothing we can see: it has
            # no data, which is not the same as passing on 0%.
            child.has_data = spent > 0 or bool(query(
                "select 1 as v from payments where publisher_id = :p limit 1", {"p": child.id}))
            # Spread what reached it over everything it paid out; where it pays out more than
            # publishers paid it, the rest came from income not published here.
            base = max(income, spent)
            onward = edge["amount"] * share / base if base else 0.0
            _expand(query, child, onward, hops, top, seen | {child.id}, edges)


def upstream(query: Query, payee_id: str) -> list[dict]:
    """Who pays this publisher or supplier, by source: [{payer_id, name, amount_pence}]."""
    return query("""select f.payer_id, p.name, sum(f.amount_pence) as amount_pence
                    from flows f join publishers p on p.id = f.payer_id
                    where f.payee_id = :p group by f.payer_id, p.name
                    order by amount_pence desc""", {"p": payee_id})


def _sum(query: Query, sql: str, ident: str) -> int:
    rows = query(sql, {"p": ident})
    return int(rows[0]["v"] or 0) if rows else 0


def render(root: Node, paid_by: list[dict]) -> str:
    """The trail as an indented tree for a terminal; past the first hop, amounts are each
    source's attributed share."""
    lines = [f"{root.name} ({root.id}) paid {pence_to_pounds(root.amount_pence)} to the payees "
             "below"]
    if paid_by:
        sources = ", ".join(f"{r['name']} {pence_to_pounds(r['amount_pence'])}" for r in paid_by)
        lines.append(f"  paid by: {sources}")
    _lines(root, "", lines)
    if any(child.children for child in root.children):
        lines.append(f"Past the first step, an amount is the part of that payment that was "
                     f"{root.name}'s money: what a provider pays out is shared among the "
                     "publishers that paid it, in proportion to what each source paid. A "
                     "provider reached by two routes shows each route's part; a route back "
                     "to a publisher already on it is cut.")
    return "\n".join(lines)


def _passed_on(share: float | None) -> str:
    if share is None:
        return "no payments to it published here"
    if share > 1:
        return "pays out more than publishers pay it: it has other income"
    return f"passes on {share:.0%} of what publishers pay it"


def _lines(node: Node, indent: str, lines: list[str]) -> None:
    for index, child in enumerate(node.children):
        last = index == len(node.children) - 1
        branch, extend = ("└─ ", "   ") if last else ("├─ ", "│  ")
        note = ""
        if child.is_publisher and not child.has_data:
            note = "  [no data: none of its own spending could be read]"
        elif child.is_publisher:
            note = f"  [publishes its spending; {_passed_on(child.passed_on)}]"
        money = pence_to_pounds(child.amount_pence)
        lines.append(f"{indent}{branch}{money} → {child.name}{note}")
        _lines(child, indent + extend, lines)
