"""Small SVG charts for the landing pages, each with its figures as a table and a phone layout.

Drawn on the server, real marks in the browser. No label is ever cut short: a name wraps onto
more lines, or moves into a key beside the chart, and its full text is in the mark's tooltip
and in the table under the chart. A chart whose marks cannot shrink to a phone (the treemap,
the months, the flow diagram) is drawn for wider screens (class "wide"), with a bar list or an
indented list for phones (class "narrow"); moneytrail.css chooses between them.
"""

from collections.abc import Sequence
from html import escape

from schemas.money import pence_to_pounds

# Each colour keeps white labels readable (contrast 4.5:1 or more).
PALETTE = ("#1d70b8", "#00703c", "#912b88", "#d4351c", "#003078", "#4c2c92", "#005a30",
           "#942514", "#505a5f", "#6f3a0f")
# Average width of a 12px character, generously (bold, regular): labels must fit their room.
CHAR_PX = 8.0
REGULAR_PX = 7.0
LINE = 15  # one line of 12px text
# The bar chart's longest bar, as a share of its width: the rest holds the amount.
BAR_ROOM = 0.62
# Characters of a bar's name per line: fits a 300 px phone column at 12px.
NAME_CHARS = 40
FLOW_BOX = 160


def _svg(width: int, height: int, label: str, body: list[str], kind: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="100%" role="img" aria-label="{escape(label)}" class="chart {kind}">'
            f"<title>{escape(label)}</title>{''.join(body)}</svg>")


def _mark(x: float, y: float, width: float, height: float, colour: str, attributes: str = "",
          unit: str = "") -> str:
    return (f'<rect x="{x:.1f}{unit}" y="{y:.1f}" width="{width:.1f}{unit}" '
            f'height="{height:.1f}" fill="{colour}"{attributes}/>')


def _group(name: str, pence: int, note: str, marks: str) -> str:
    """Marks with the full name and amount (and a note) as their hover title."""
    return (f"<g><title>{escape(name)}: {pence_to_pounds(pence)}{escape(note)}</title>"
            f"{marks}</g>")


def _lines(x: str, y: float, lines: list[str], css: str, anchor: str = "") -> str:
    """A text of one or more lines, one tspan a line, the first line's baseline at y."""
    spans = "".join(f'<tspan x="{x}" dy="{0 if i == 0 else LINE}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    anchored = f' text-anchor="{anchor}"' if anchor else ""
    return f'<text x="{x}" y="{y:.1f}"{anchored} class="{css}">{spans}</text>'


def bar_chart(items: Sequence[tuple[str, int]], label: str) -> str:
    """Horizontal bars, one per (name, pence), largest first as given: the name above its bar,
    the amount after it. Positions are shares of the width and text is not scaled, so the
    chart fills any screen from a phone up and its 12px text stays 12px."""
    top = max((value for _, value in items), default=0) or 1
    body, y = [], 0.0
    for name, value in items:
        lines = wrap(name, NAME_CHARS)
        length = max(0.2, 100 * BAR_ROOM * max(value, 0) / top)
        bar_top = y + LINE * len(lines) + 2
        body.append(_group(name, value, "", (
            _lines("0", y + 12, lines, "label")
            + _mark(0, bar_top, length, 14, PALETTE[0], unit="%")
            + f'<text x="{length:.1f}%" dx="6" y="{bar_top + 11:.1f}" class="value">'
            f"{pence_to_pounds(value)}</text>")))
        y = bar_top + 22
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="{max(y, LINE):.0f}" '
            f'role="img" aria-label="{escape(label)}" class="chart bars">'
            f"<title>{escape(label)}</title>{''.join(body)}</svg>")


def column_chart(items: Sequence[tuple[str, int]], label: str, width: int = 640,
                 height: int = 220) -> str:
    """Vertical columns in the order given (months), with the axis labelled: for wide screens."""
    bottom, gap = 30, 6
    top = max((value for _, value in items), default=0) or 1
    step = width / max(len(items), 1)
    body = [f'<line x1="0" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
            'class="axis"/>']
    for index, (name, value) in enumerate(items):
        size = max(1, round((height - bottom - 34) * max(value, 0) / top))
        x = index * step + gap / 2
        middle = x + (step - gap) / 2
        body.append(_group(name, value, "", (
            _mark(x, height - bottom - size, step - gap, size, PALETTE[0])
            + f'<text x="{middle:.1f}" y="{height - bottom - size - 6}" text-anchor="middle" '
            f'class="value">{short_pounds(value)}</text>'
            f'<text x="{middle:.1f}" y="{height - 10}" text-anchor="middle" '
            f'class="label">{escape(name)}</text>')))
    return _svg(width, height, label, body, "wide")


def treemap(items: Sequence[tuple[str, int]], label: str, width: int = 640,
            height: int = 320) -> str:
    """A slice-and-dice treemap, each service's area its share of the spend, for wide screens.
    A tile too small for its whole label is named in a key under the map instead."""
    positive = [(name, value) for name, value in items if value > 0]
    total = sum(value for _, value in positive) or 1
    body, unnamed, x, y, w, h = [], [], 0.0, 0.0, float(width), float(height)
    for index, (name, value) in enumerate(positive):
        share = value / total
        remaining = sum(v for _, v in positive[index:]) / total or 1
        part = share / remaining
        if w >= h:
            cell = (x, y, w * part, h)
            x, w = x + w * part, w * (1 - part)
        else:
            cell = (x, y, w, h * part)
            y, h = y + h * part, h * (1 - part)
        colour = PALETTE[index % len(PALETTE)]
        tile, named = _tile(cell, name, value, share, colour)
        body.append(tile)
        if not named:
            unnamed.append((name, value, share, colour))
    key, key_height = _key(unnamed, width, height + 10)
    return _svg(width, height + key_height, label, body + key, "wide")


def _tile(cell, name: str, value: int, share: float, colour: str) -> tuple[str, bool]:
    """A tile, labelled when its whole label fits inside it; whether it is."""
    x, y, w, h = cell
    room = int((w - 8) / CHAR_PX)
    label = f"{percent(share)} {name}"
    # A word broken across lines is hard to read in a tile: such a tile goes in the key.
    fits = max(map(len, label.split())) <= room
    lines = wrap(label, room) if fits else []
    fits = fits and LINE * len(lines) + 8 <= h
    text = _lines(f"{x + 4:.1f}", y + 15, lines, "tile") if fits else ""
    mark = _mark(x, y, w, h, colour, ' stroke="#fff"')
    return _group(name, value, f" ({share:.1%})", mark + text), fits


def _key(unnamed: list[tuple[str, int, float, str]], width: int, top: float
         ) -> tuple[list[str], float]:
    """The tiles too small to name, listed under the map in two columns with their colours."""
    column = width / 2
    chars = int((column - 24) / REGULAR_PX)
    body, heights = [], [top, top]
    for index, (name, value, share, colour) in enumerate(unnamed):
        side = index % 2
        lines = wrap(f"{percent(share)} {name} ({short_pounds(value)})", chars)
        y = heights[side]
        body.append(_group(name, value, f" ({share:.1%})", (
            _mark(side * column, y, 12, 12, colour)
            + _lines(f"{side * column + 18:.1f}", y + 11, lines, "label"))))
        heights[side] = y + LINE * len(lines) + 6
    return body, (max(heights) - top + 10) if unnamed else 0


def flow_chart(root, label: str = "Where the money went, hop by hop", width: int = 640) -> str:
    """A node-link diagram of a trail (warehouse.trace.Node), for wide screens: one column
    per hop, each payee named in full with the money that reached it, links as wide as it."""
    columns: list[list] = [[root]]
    while columns[-1] and any(n.children for n in columns[-1]):
        columns.append([child for node in columns[-1] for child in node.children])
    gap = (width - FLOW_BOX) / max(len(columns) - 1, 1)
    chars = int((FLOW_BOX - 8) / CHAR_PX)
    place, boxes, height = {}, [], 0.0
    for depth, nodes in enumerate(columns):
        y = 0.0
        for node in nodes:
            lines = wrap(node.name, chars) + [pence_to_pounds(node.amount_pence)]
            tall = LINE * len(lines) + 6
            place[id(node)] = (depth * gap, y, tall)
            boxes.append((node, lines))
            y += tall + 6
        height = max(height, y)
    top = max((c.amount_pence for nodes in columns[1:] for c in nodes), default=1) or 1
    body = [_link(place[id(node)], place[id(child)], child, top)
            for nodes in columns for node in nodes for child in node.children]
    for node, lines in boxes:
        x, y, tall = place[id(node)]
        colour = PALETTE[2] if node.is_publisher else PALETTE[8]
        body.append(_group(node.name, node.amount_pence, "", (
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{FLOW_BOX}" height="{tall:.0f}" rx="3" '
            f'fill="{colour}"/>' + _lines(f"{x + 4:.0f}", y + 14, lines, "tile"))))
    return _svg(width, round(height), label, body, "wide")


def _link(parent: tuple, child_place: tuple, child, top: int) -> str:
    x, y, tall = parent
    cx, cy, child_tall = child_place
    start, end, middle = y + tall / 2, cy + child_tall / 2, (x + FLOW_BOX + cx) / 2
    weight = max(1.0, 12 * child.amount_pence / top)
    return (f'<path d="M{x + FLOW_BOX:.0f},{start:.0f} C{middle:.0f},{start:.0f} '
            f'{middle:.0f},{end:.0f} {cx:.0f},{end:.0f}" fill="none" stroke="{PALETTE[0]}" '
            f'stroke-opacity="0.35" stroke-width="{weight:.1f}"><title>{escape(child.name)}: '
            f"{pence_to_pounds(child.amount_pence)}</title></path>")


def bar_figure(items: Sequence[tuple[str, int]], label: str, heading: str,
               total: int | None = None) -> str:
    """A figure's content: bars for every screen, and their table (shares of `total`)."""
    return bar_chart(items, label) + figures_table(items, label, heading, total)


def treemap_figure(items: Sequence[tuple[str, int]], label: str, heading: str) -> str:
    """A figure's content: the treemap, a bar list in the treemap's colours for phones, and
    the table."""
    return (treemap(items, label) + bar_list(items, coloured=True)
            + figures_table(items, label, heading))


def column_figure(items: Sequence[tuple[str, int]], label: str) -> str:
    """A figure's content: the months as columns, as a bar list for phones, and the table."""
    return column_chart(items, label) + bar_list(items) + figures_table(items, label, "Month")


def flow_figure(root) -> str:
    """A figure's content: the flow diagram, an indented list for phones, and the table."""
    return flow_chart(root) + flow_list(root) + flow_table(root)


def bar_list(items: Sequence[tuple[str, int]], coloured: bool = False) -> str:
    """The phone's chart for many marks: one line per (name, pence), its bar below it."""
    top = max((value for _, value in items), default=0) or 1
    total = sum(value for _, value in items) or 1
    rows = []
    for index, (name, value) in enumerate(items):
        colour = PALETTE[index % len(PALETTE)] if coloured else PALETTE[0]
        rows.append(
            f'<li><span class="bar-name">{escape(name)}</span> '
            f'<span class="money">{pence_to_pounds(value)}</span> '
            f'<span class="share">{percent(value / total)}</span>'
            f'<span class="bar" style="width: {100 * max(value, 0) / top:.1f}%; '
            f'background: {colour}"></span></li>')
    return f'<ol class="bar-list narrow" aria-hidden="true">{"".join(rows)}</ol>'


def flow_list(root) -> str:
    """The phone's flow diagram: the trail as an indented list, an amount on every payee."""
    def item(node) -> str:
        inner = "".join(item(child) for child in node.children)
        kind = ' class="publishes"' if node.is_publisher else ""
        return (f'<li><span{kind}>{escape(node.name)}</span> '
                f'<span class="money">{pence_to_pounds(node.amount_pence)}</span>'
                + (f"<ul>{inner}</ul>" if inner else "") + "</li>")

    return f'<ul class="flow-list narrow" aria-hidden="true">{item(root)}</ul>'


def figures_table(items: Sequence[tuple[str, int]], label: str, heading: str,
                  total: int | None = None) -> str:
    """A chart's figures as a table, folded under it: every name in full, every amount in
    pounds and pence, each a share of `total` (by default, of the items together)."""
    whole = total if total else sum(value for _, value in items) or 1
    rows = "".join(f'<tr><th scope="row">{escape(name)}</th>'
                   f'<td class="num money">{pence_to_pounds(value)}</td>'
                   f'<td class="num">{value / whole:.1%}</td></tr>' for name, value in items)
    head = (f'<tr><th scope="col">{escape(heading)}</th><th scope="col" class="num">Amount</th>'
            '<th scope="col" class="num">Share</th></tr>')
    return _folded(label, head, rows)


def flow_table(root) -> str:
    """The flow diagram's figures as a table: every link, hop by hop, with what it carried
    and its share of what the first publisher spent."""
    whole = root.amount_pence or 1
    rows, nodes = [], [root]
    while nodes:
        node = nodes.pop(0)
        rows += [f'<tr><td class="num">{child.hop}</td><td>{escape(node.name)}</td>'
                 f'<th scope="row">{escape(child.name)}</th>'
                 f'<td class="num money">{pence_to_pounds(child.amount_pence)}</td>'
                 f'<td class="num">{child.amount_pence / whole:.1%}</td></tr>'
                 for child in node.children]
        nodes += node.children
    head = ('<tr><th scope="col" class="num">Hop</th><th scope="col">From</th>'
            '<th scope="col">To</th><th scope="col" class="num">Amount</th>'
            '<th scope="col" class="num">Share</th></tr>')
    return _folded(f"{root.name} spent {pence_to_pounds(root.amount_pence)}", head,
                   "".join(rows))


def _folded(caption: str, head: str, rows: str) -> str:
    return ('<details class="chart-figures"><summary>The figures as a table</summary>'
            f'<table class="chart-figures"><caption>{escape(caption)}</caption>'
            f"<thead>{head}</thead><tbody>{rows}</tbody></table></details>")


def wrap(text: str, limit: int) -> list[str]:
    """The text in lines of at most `limit` characters, broken between words; a word longer
    than a line is broken with a hyphen. Nothing is left out."""
    lines, line = [], ""
    for word in text.split():
        while len(word) > limit > 1:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[: limit - 1] + "-")
            word = word[limit - 1:]
        if line and len(line) + 1 + len(word) > limit:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line] if line else lines


def percent(share: float) -> str:
    """A share as a label: '24%', and '0.3%' where a whole percent would read as none."""
    return f"{share:.0%}" if share >= 0.01 or share <= 0 else f"{share:.1%}"


def short_pounds(pence: int) -> str:
    """£1.2m, £350k, £900: a column's value in a few characters."""
    pounds = pence / 100
    for size, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(pounds) >= size:
            return f"£{pounds / size:.1f}{suffix}"
    return f"£{pounds:.0f}"
