"""Small SVG charts for the landing pages: rendered on the server, real marks in the browser."""

from collections.abc import Sequence
from html import escape

from schemas.money import pence_to_pounds

PALETTE = ("#1d70b8", "#f47738", "#00703c", "#912b88", "#d4351c", "#5694ca", "#85994b",
           "#b58840", "#6f72af", "#28a197")


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="100%" role="img" aria-label="{escape(label)}" class="chart">'
            f"<title>{escape(label)}</title>{''.join(body)}</svg>")


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
            f'<rect x="{left}" y="{y + 4}" width="{length}" height="{row - 8}" '
            f'fill="{PALETTE[0]}"><title>{escape(name)}: {pence_to_pounds(value)}</title></rect>'
            f'<text x="{left + length + 6}" y="{y + 17}" class="value">'
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
        size = max(1, round((height - bottom - 20) * max(value, 0) / top))
        x = index * step + gap / 2
        body.append(
            f'<rect x="{x:.1f}" y="{height - bottom - size}" width="{step - gap:.1f}" '
            f'height="{size}" fill="{PALETTE[0]}"><title>{escape(name)}: '
            f"{pence_to_pounds(value)}</title></rect>"
            f'<text x="{x + (step - gap) / 2:.1f}" y="{height - 10}" text-anchor="middle" '
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
    if w > 60 and h > 22:
        text = (f'<text x="{x + 4:.1f}" y="{y + 15:.1f}" class="tile">'
                f"{escape(_short(name, int(w / 7)))} {share:.0%}</text>")
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{colour}" '
            f'stroke="#fff"><title>{escape(name)}: {pence_to_pounds(value)} ({share:.1%})'
            f"</title></rect>{text}")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"
