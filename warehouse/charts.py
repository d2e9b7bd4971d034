"""Small SVG charts for the landing pages: rendered on the server, real marks in the browser."""

from collections.abc import Sequence
from html import escape

from schemas.money import pence_to_pounds

# Each colour keeps white labels readable (contrast 4.5:1 or more).
PALETTE = ("#1d70b8", "#00703c", "#912b88", "#d4351c", "#003078", "#4c2c92", "#005a30",
           "#942514", "#505a5f", "#6f3a0f")
# Average width of a 12px bold label character, generously: labels must fit their tiles.
CHAR_PX = 8.0


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="100%" role="img" aria-label="{escape(label)}" class="chart">'
            f"<title>{escape(label)}</title>{''.join(body)}</svg>")


def _mark(x: float, y: float, width: float, height: float, colour: str, name: str,
          pence: int, note: str = "", attributes: str = "") -> str:
    """One rectangle with its name and amount (and a note) as a hover title."""
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
            f'fill="{colour}"{attributes}><title>{escape(name)}: {pence_to_pounds(pence)}'
            f"{escape(note)}</title></rect>")


def bar_chart(items: Sequence[tuple[str, int]], label: str, width: int = 640) -> str:
    """Horizontal bars, one per (name, pence), largest first as given."""
    row, left = 26, 230
    height = max(row * len(items), row)
    top = max((value for _, value in items), default=0) or 1
    body = []
    for index, (name, value) in enumerate(items):
        y = index * row
        length = max(1, round((width - left - 110) * max(value, 0) / top))
        body.append(
            f'<text x="{left - 6}" y="{y + 17}" text-anchor="end" class="label">'
            f"{escape(_short(name, 34))}</text>"
            + _mark(left, y + 4, length, row - 8, PALETTE[0], name, value)
            +             f'<text x="{left + length + 6}" y="{y + 17}" class="value">'
            f"{pence_to_pounds(value)}</text>")
    return _svg(width, height, label, body)


def column_chart(items: Sequence[tuple[str, int]], label: str, width: int = 640,
                 height: int = 220) -> str:
    """Vertical columns in the order given (months), with the axis labelled."""
    bottom, gap = 30, 6
    top = max((value for _, value in items), default=0) or 1
    step = width / max(len(items), 1)
    body = [f'<line x1="0" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
            'class="axis"/>']
    for index, (name, value) in enumerate(items):
        size = max(1, round((height - bottom - 34) * max(value, 0) / top))
        x = index * step + gap / 2
        middle = x + (step - gap) / 2
        body.append(
            _mark(x, height - bottom - size, step - gap, size, PALETTE[0], name, value)
            + f'<text x="{middle:.1f}" y="{height - bottom - size - 6}" text-anchor="middle" '
            f'class="value">{short_pounds(value)}</text>'
            f'<text x="{middle:.1f}" y="{height - 10}" text-anchor="middle" '
            f'class="label">{escape(name)}</text>')
    return _svg(width, height, label, body)


def treemap(items: Sequence[tuple[str, int]], label: str, width: int = 640,
            height: int = 320) -> str:
    """A slice-and-dice treemap: each service's area is its share of the spend."""
    positive = [(name, value) for name, value in items if value > 0]
    total = sum(value for _, value in positive) or 1
    body, x, y, w, h = [], 0.0, 0.0, float(width), float(height)
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
        body.append(_tile(cell, name, value, share, PALETTE[index % len(PALETTE)]))
    return _svg(width, height, label, body)


def _tile(cell, name: str, value: int, share: float, colour: str) -> str:
    x, y, w, h = cell
    text = ""
    label = f"{share:.0%} {name}"
    room = int((w - 8) / CHAR_PX)
    if room >= 6 and h > 22:
        text = (f'<text x="{x + 4:.1f}" y="{y + 15:.1f}" class="tile">'
                f"{escape(_short(label, room))}</text>")
    return _mark(x, y, w, h, colour, name, value, f" ({share:.1%})", ' stroke="#fff"') + text


def flow_chart(root, label: str = "Where the money went, hop by hop", width: int = 640) -> str:
    """A node-link diagram of a trail (warehouse.trace.Node): one column per hop, links as
    wide as the money they carry."""
    columns: list[list] = [[root]]
    while columns[-1] and any(n.children for n in columns[-1]):
        columns.append([child for node in columns[-1] for child in node.children])
    row, box = 22, 150
    height = max(len(c) for c in columns) * row + 10
    gap = (width - box) / max(len(columns) - 1, 1)
    place = {}
    for depth, nodes in enumerate(columns):
        for index, node in enumerate(nodes):
            place[id(node)] = (depth * gap if len(columns) > 1 else 0, index * row + 5)
    top = max((c.amount_pence for nodes in columns[1:] for c in nodes), default=1) or 1
    body = []
    for nodes in columns:
        for node in nodes:
            x, y = place[id(node)]
            for child in node.children:
                cx, cy = place[id(child)]
                weight = max(1.0, 12 * child.amount_pence / top)
                body.append(
                    f'<path d="M{x + box:.0f},{y + 8} C{(x + box + cx) / 2:.0f},{y + 8} '
                    f'{(x + box + cx) / 2:.0f},{cy + 8} {cx:.0f},{cy + 8}" fill="none" '
                    f'stroke="{PALETTE[0]}" stroke-opacity="0.35" stroke-width="{weight:.1f}">'
                    f"<title>{escape(child.name)}: {pence_to_pounds(child.amount_pence)}"
                    "</title></path>")
    for nodes in columns:
        for node in nodes:
            x, y = place[id(node)]
            colour = PALETTE[2] if node.is_publisher else PALETTE[8]
            body.append(
                f'<rect x="{x:.0f}" y="{y}" width="{box}" height="16" rx="3" fill="{colour}">'
                f"<title>{escape(node.name)}: {pence_to_pounds(node.amount_pence)}</title></rect>"
                f'<text x="{x + 4:.0f}" y="{y + 12}" class="tile">'
                f"{escape(_short(node.name, 18))}</text>")
    return _svg(width, height, label, body)


def short_pounds(pence: int) -> str:
    """£1.2m, £350k, £900: a column's value in a few characters."""
    pounds = pence / 100
    for size, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(pounds) >= size:
            return f"£{pounds / size:.1f}{suffix}"
    return f"£{pounds:.0f}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"
