"""Following money hop by hop (warehouse/trace.py) counts money, not routes: what a payee
passes on is shared among its sources in proportion to what each paid it, so no route shows
more of a source's money than reached it, and a route back to where it began is cut."""

import sqlite3

import pytest

from warehouse.trace import Node, downstream, render

# Council A pays providers B and C, which both publish; B pays C too, and C pays A back.
PUBLISHERS = {"a": "Council A", "b": "Provider B", "c": "Provider C"}
FLOWS = [("a", "b", 1, 100_00), ("a", "c", 1, 50_00), ("a", "x", 0, 500_00),
         ("b", "c", 1, 60_00), ("b", "x", 0, 20_00),
         ("c", "a", 1, 30_00), ("c", "y", 0, 40_00)]


@pytest.fixture
def query():
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    db.executescript("""create table publishers (id text, name text);
        create table suppliers (id text, name text, publisher_id text);
        create table payments (publisher_id text);
        create table flow_totals (payer_id text, payee_id text, payee_is_publisher integer,
                                  amount_pence integer);""")
    db.executemany("insert into publishers values (?, ?)", PUBLISHERS.items())
    db.executemany("insert into suppliers values (?, ?, null)",
                   [("x", "Supplier X"), ("y", "Supplier Y")])
    db.executemany("insert into flow_totals values (?, ?, ?, ?)",
                   [(p, q, 1 if q in PUBLISHERS else 0, v) for p, q, *_, v in FLOWS])
    db.executemany("insert into payments values (?)", [(p,) for p in PUBLISHERS])
    return lambda sql, params: [dict(r) for r in db.execute(sql, params)]


def nodes(node: Node):
    yield node
    for child in node.children:
        yield from nodes(child)


def test_each_route_carries_the_share_of_the_money_that_took_it(query):
    root = downstream(query, "a", hops=3, top=5, edges="flow_totals")
    assert root.amount_pence == 650_00
    b, c = (next(n for n in root.children if n.id == i) for i in ("b", "c"))
    assert (b.amount_pence, c.amount_pence) == (100_00, 50_00)
    # C is paid £50 by A and £60 by B (all of which was A's money): £110, of which it paid
    # out £70; via B, A's £60 reaches C; a route back to A is cut.
    via_b = next(n for n in b.children if n.id == "c")
    assert via_b.amount_pence == 60_00
    assert all(n.id != "a" for n in nodes(root) if n is not root)
    # Y is paid £40 by C: of C's £110 income, £50 came straight from A and £60 via B, so
    # £18.18 and £21.82 of it are A's, on the two routes: £40 in all, never more.
    to_y = sorted(n.amount_pence for n in nodes(root) if n.id == "y")
    assert to_y == [18_18, 21_82] and sum(to_y) == 40_00


def test_no_node_passes_on_more_than_reached_it(query):
    root = downstream(query, "a", hops=3, top=5, edges="flow_totals")
    for node in nodes(root):
        if node is not root:
            assert sum(c.amount_pence for c in node.children) <= node.amount_pence, node.id


def test_the_tree_says_how_amounts_past_the_first_step_are_counted(query):
    said = render(downstream(query, "a", hops=2, top=5, edges="flow_totals"), [])
    assert "in proportion to what each source paid" in said
