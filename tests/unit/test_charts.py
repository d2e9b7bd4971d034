"""The landing pages' charts: every label whole, every figure in the table under the chart."""

import re
from html import unescape

import pytest

from warehouse.charts import (
    bar_chart,
    bar_figure,
    column_figure,
    figures_table,
    flow_figure,
    percent,
    treemap,
    treemap_figure,
    wrap,
)
from warehouse.trace import Node

LONG = "Fellbrook Metropolitan Borough Council Adult Social Care Commissioning"
SERVICES = [("Corporate Finance", 256160562), ("Adults and Communities Directorate", 173020128),
            ("Environment", 144701113), ("Children's Services", 60076115),
            ("Legal and Democratic", 14432005), ("Communications", 2121090)]


def text_of(svg: str) -> list[str]:
    """Each <text> element's words, its lines joined."""
    return [unescape(" ".join(re.findall(r"<tspan[^>]*>([^<]*)</tspan>", body)) or body)
            for body in re.findall(r"<text[^>]*>(.*?)</text>", svg)]


def table_rows(html: str) -> list[list[str]]:
    body = re.search(r"<tbody>(.*)</tbody>", html).group(1)
    return [re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", row)
            for row in re.findall(r"<tr>(.*?)</tr>", body)]


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("Adult Social Care", 40, ["Adult Social Care"]),
    ("Adults and Communities Directorate", 12, ["Adults and", "Communities", "Directorate"]),
    ("NORTHMOORBOROUGHCOUNCIL Ltd", 10, ["NORTHMOOR-", "BOROUGHCO-", "UNCIL Ltd"]),
    ("", 10, []),
])
def test_wrap_breaks_between_words_and_keeps_every_character(text, limit, expected):
    assert expected == wrap(text, limit)


@pytest.mark.parametrize(("share", "expected"), [
    (0.242, "24%"), (0.01, "1%"), (0.003, "0.3%"), (0.0, "0%"),
])
def test_percent_never_reads_a_small_share_as_none(share, expected):
    assert expected == percent(share)


def test_a_long_supplier_name_is_drawn_whole_over_two_lines():
    svg = bar_chart([(LONG, 123456789), ("Civic IT Solutions Ltd", 35808483)], "Top suppliers")
    assert "…" not in svg
    assert [LONG, "£1,234,567.89", "Civic IT Solutions Ltd", "£358,084.83"] == text_of(svg)
    assert ">Fellbrook Metropolitan Borough Council</tspan>" in svg
    assert f"<title>{LONG}: £1,234,567.89</title>" in svg
    # Shares of the width and unscaled text: it fits a phone as it fits a desktop.
    assert "viewBox" not in svg and 'width="62.0%"' in svg


def test_a_treemap_names_in_its_key_the_tiles_too_small_for_their_labels():
    svg = treemap(SERVICES, "Spend by service")
    assert "…" not in svg
    labels = text_of(svg)
    assert "39% Corporate Finance" in labels
    assert "0.3% Communications (£21.2k)" in labels  # in the key under the map
    for name, _ in SERVICES:
        assert sum(name in label for label in labels) == 1, name
        assert f"<title>{name}: £" in unescape(svg)


def test_the_figures_table_has_every_row_in_pounds_and_pence_with_shares():
    html = figures_table([(LONG, 123456789), ("Civic IT Solutions Ltd", 35808483)],
                         "Top suppliers", "Supplier", total=200000000)
    assert html.startswith('<details class="chart-figures"><summary>The figures as a table'
                           "</summary>")
    assert [[LONG, "£1,234,567.89", "61.7%"],
            ["Civic IT Solutions Ltd", "£358,084.83", "17.9%"]] == table_rows(html)
    assert "<caption>Top suppliers</caption>" in html


def test_a_treemap_figure_has_a_phone_list_and_a_table_of_every_service():
    html = treemap_figure(SERVICES, "Spend by service", "Service")
    assert 'class="chart wide"' in html and 'class="bar-list narrow"' in html
    assert len(table_rows(html)) == len(SERVICES)
    assert ('<li><span class="bar-name">Adults and Communities Directorate</span> '
            '<span class="money">£1,730,201.28</span> <span class="share">27%</span>') in html
    assert ["Communications", "£21,210.90", "0.3%"] == table_rows(html)[-1]


def test_a_bar_and_a_column_figure_have_their_tables():
    assert [["Apr 2025", "£1,920,062.18", "52.7%"], ["May 2025", "£1,720,000.00", "47.3%"]] == \
        table_rows(column_figure([("Apr 2025", 192006218), ("May 2025", 172000000)], "Months"))
    assert [["Fellbrook Council", "£1.00", "100.0%"]] == table_rows(
        bar_figure([("Fellbrook Council", 100)], "Paid by each publisher", "Publisher"))


def trail() -> Node:
    root = Node("northmoor", "Northmoor Borough Council", True, 1000000, 0)
    care = Node("brookfield-care", "Brookfield Care Services Ltd", True, 40437310, 1)
    care.children = [Node("MT-fmbc", LONG, True, 100297, 2)]
    root.children = [care, Node("MT-fpf", "Fellshire Pension Fund", False, 237660562, 1)]
    root.amount_pence = 278097872
    return root


def test_the_flow_diagram_shows_every_name_whole_with_its_amount():
    html = flow_figure(trail())
    svg = html[: html.index("</svg>")]
    assert "…" not in html
    assert ["Northmoor Borough Council £2,780,978.72",
            "Brookfield Care Services Ltd £404,373.10",
            "Fellshire Pension Fund £2,376,605.62",
            f"{LONG} £1,002.97"] == text_of(svg)
    assert ('<li><span class="publishes">Brookfield Care Services Ltd</span> '
            '<span class="money">£404,373.10</span><ul>') in html


def test_the_flow_table_lists_every_link_hop_by_hop():
    assert [["1", "Northmoor Borough Council", "Brookfield Care Services Ltd", "£404,373.10",
             "14.5%"],
            ["1", "Northmoor Borough Council", "Fellshire Pension Fund", "£2,376,605.62",
             "85.5%"],
            ["2", "Brookfield Care Services Ltd", LONG, "£1,002.97", "0.0%"]] == \
        table_rows(flow_figure(trail()))
