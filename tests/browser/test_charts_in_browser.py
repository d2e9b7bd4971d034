"""The landing pages' charts in a real browser, on a phone (390 px) and a desktop (1280 px):
each fits the screen, no label leaves its chart or is cut short, and the figures are in a table
under every chart (fixtures in conftest.py)."""

import re

import pytest

from tests.browser.helpers import assert_no_console_errors, save_screenshot

MONEY = re.compile(r"^-?£\d{1,3}(,\d{3})*\.\d{2}$")
SHARE = re.compile(r"^-?\d+\.\d%$")
PAGES = [("publisher", "/publisher/northmoor-borough-council", 4),
         ("fellbrook", "/publisher/fellbrook-council", 4),
         ("provider", "/publisher/brookfield-care", 4),
         ("supplier", "/supplier/MT-moorland-energy-supply", 1)]
WIDTHS = [("phone", 390), ("desktop", 1280)]

# What the page shows of its charts, measured by the browser, every table unfolded.
MEASURE = """
document.querySelectorAll('figure.chart details').forEach(d => { d.open = true; });
const shown = e => e.getClientRects().length > 0;
const right = e => e.getBoundingClientRect().right;
const figures = Array.from(document.querySelectorAll('figure.chart'));
const inside = (box, outer) => box.left >= outer.left - 1 && box.right <= outer.right + 1
  && box.top >= outer.top - 1 && box.bottom <= outer.bottom + 1;
const svgs = figures.flatMap(f => Array.from(f.querySelectorAll('svg.chart'))).filter(shown);
return {
  page: [document.documentElement.scrollWidth, window.innerWidth],
  widest: Math.max(0, ...figures.flatMap(f => Array.from(f.querySelectorAll('*')))
    .filter(shown).map(right)),
  charts: figures.map(f => Array.from(f.querySelectorAll('svg.chart, .narrow'))
    .filter(shown).map(e => e.tagName.toLowerCase() + '.' + e.getAttribute('class'))),
  outside: svgs.flatMap(svg => Array.from(svg.querySelectorAll('text'))
    .filter(t => !inside(t.getBoundingClientRect(), svg.getBoundingClientRect()))
    .map(t => t.textContent)),
  labels: figures.flatMap(f => Array.from(f.querySelectorAll('svg text, .narrow li > span')))
    .filter(shown).map(t => t.textContent),
  tables: figures.map(f => Array.from(f.querySelectorAll('table.chart-figures tbody tr'),
    row => Array.from(row.cells, c => c.textContent))),
  flow: Array.from(document.querySelectorAll('figure.flow-chart svg g, .flow-list li'))
    .filter(shown).map(e => e.tagName.toLowerCase() === 'g'
      ? Array.from(e.querySelectorAll('tspan'), s => s.textContent).join(' ')
      : e.querySelector(':scope > .money')?.textContent || ''),
};
"""


@pytest.mark.parametrize(("device", "width"), WIDTHS)
@pytest.mark.parametrize(("name", "path", "charts"), PAGES)
def test_every_chart_fits_the_screen_with_every_label_whole(browser, site, screenshot_dirs,
                                                            name, path, charts, device,
                                                            width):
    browser.set_window_size(width, 2000)
    try:
        browser.get(f"{site}{path}")
        assert_no_console_errors(browser, f"{name} page at {width} px")
        save_screenshot(browser, f"{name}-{device}-charts", screenshot_dirs)
        seen = browser.execute_script(MEASURE)
    finally:
        browser.set_window_size(1280, 2000)
    wide, window = seen["page"]
    assert wide <= window, f"the {name} page is {wide} px wide in a {window} px window"
    assert seen["widest"] <= window, f"a chart reaches {seen['widest']} px of {window}"
    # One rendering of each chart: the wide one on a desktop, on a phone the one that fits.
    assert len(seen["charts"]) == charts and all(len(c) == 1 for c in seen["charts"]), seen
    if device == "phone":
        assert all("wide" not in c[0] for c in seen["charts"]), seen["charts"]
    assert seen["outside"] == [], f"labels outside their chart: {seen['outside']}"
    assert seen["labels"] and not [t for t in seen["labels"] if t.strip().endswith("…")]
    assert len(seen["tables"]) == charts and all(seen["tables"]), "a chart has no table"
    for row in (r for table in seen["tables"] for r in table):
        assert MONEY.match(row[-2]) and SHARE.match(row[-1]) and row[-3].strip(), row
    # The flow diagram gives an amount in pounds on every payee, at either width.
    if charts == 4:
        assert seen["flow"] and all(re.search(r"£[\d,]+\.\d\d$", f) for f in seen["flow"]), \
            seen["flow"]
