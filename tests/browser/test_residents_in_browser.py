"""A council's spending per resident by year and service, and its trends, in a real browser:
the demo's Northmoor, whose 2025-26 has six months (fixtures in conftest.py)."""

import re

from selenium.webdriver.common.by import By

from tests.browser.helpers import PUBLISHER, assert_no_console_errors, save_screenshot

MONEY = r"£\d{1,3}(,\d{3})*\.\d{2}"


def _section(browser, site: str, width: int):
    browser.set_window_size(width, 2000)
    browser.get(f"{site}/publisher/{PUBLISHER}")
    return browser.find_element(By.CSS_SELECTOR, "section.residents")


def test_per_resident_by_service_states_the_population_year_and_the_incomplete_year(
        browser, site, screenshot_dirs):
    section = _section(browser, site, 1280)
    text = section.text
    assert "Per resident by year and service" in text
    assert "2020 population of 118,400" in text
    assert "Incomplete year: Apr–Sep 2025 only: 6 of 12 months" in text
    rows = {row.find_element(By.TAG_NAME, "th").text: [
        cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in section.find_elements(By.CSS_SELECTOR, "table.by-service tbody tr")}
    # £1,136,129.84 / 118,400 residents = 959.56p: £9.60 a resident.
    assert rows["Adult Social Care"] == ["£1,136,129.84", "£9.60"]
    assert all(re.fullmatch(MONEY, cell) for cells in rows.values() for cell in cells)
    header = section.find_element(By.CSS_SELECTOR, "table.by-service thead").text
    assert "Per resident\n2020 population" in header
    figures = browser.find_element(By.CSS_SELECTOR, ".figures").text
    assert "£89.30\nper resident in the period (2020 population of 118,400" in figures
    assert_no_console_errors(browser, "landing page")
    save_screenshot(browser, "residents-1280", screenshot_dirs)
    for folder in screenshot_dirs:
        assert section.screenshot(str(folder / "residents-1280-section.png"))


def test_trends_say_what_they_cannot_compare(browser, site):
    text = _section(browser, site, 1280).text
    assert "One financial year so far (2025-26): a year-on-year trend needs two." in text
    months = [r.text for r in browser.find_elements(By.CSS_SELECTOR,
                                                    "table.month-trend tbody tr")]
    assert len(months) == 6 and months[0].startswith("Apr 2025")
    assert months[1].startswith("May 2025") and "-£208,390.58 (-10.9%)" in months[1]


def test_on_a_phone_the_tables_fit_or_scroll_in_their_own_box(browser, site, screenshot_dirs):
    section = _section(browser, site, 390)
    wide, seen = browser.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]")
    assert wide <= seen, f"the landing page is {wide} px wide in a {seen} px window"
    for box in section.find_elements(By.CSS_SELECTOR, ".table-box"):
        assert box.size["width"] <= seen
    for table in section.find_elements(By.CSS_SELECTOR, "table.by-service, table.month-trend"):
        assert table.size["width"] <= seen, "a table wider than the phone"
    assert "6 of 12 months" in section.text
    assert_no_console_errors(browser, "landing page on a phone")
    save_screenshot(browser, "residents-390", screenshot_dirs)
    # The page's first screens are its charts: the section itself, as the phone shows it.
    for folder in screenshot_dirs:
        assert section.screenshot(str(folder / "residents-390-section.png"))
