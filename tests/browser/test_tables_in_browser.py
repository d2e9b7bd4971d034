"""Table and query pages in a real browser: headed in words, names not ids, amounts in pounds
and dates as people write them, at desktop and phone widths."""

import re

import pytest
from selenium.webdriver.common.by import By

from tests.browser.helpers import assert_no_console_errors, save_screenshot

WIDTHS = {"desktop": 1280, "phone": 390}
SLUG = re.compile(r"\b[a-z]+(_[a-z]+)+\b")  # amount_pence, publisher_id, payee_publisher_id
MONEY = re.compile(r"^-?£\d{1,3}(,\d{3})*\.\d{2}$")


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize(("name", "path"), [
    ("payments-table", "/moneytrail/payments?_size=10"),
    ("top-suppliers-query", "/moneytrail/top_suppliers?publisher=northmoor"),
])
def test_a_table_reads_in_words_names_and_pounds(browser, site, screenshot_dirs, name, path,
                                                 width):
    browser.set_window_size(WIDTHS[width], 2000)
    try:
        browser.get(f"{site}{path}")
        table = browser.find_element(By.CSS_SELECTOR, "table.rows-and-columns")
        if width == "desktop":
            headings = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
            assert headings and not [h for h in headings if SLUG.search(h)], headings
        first = table.find_element(By.CSS_SELECTOR, "tbody tr")
        text = first.text
        assert "Northmoor Borough Council" in text or "Fellbrook Metropolitan" in text, text
        assert not re.search(r"\b(northmoor-borough-council|fellbrook-council)\b", text), text
        amount = first.find_element(By.CSS_SELECTOR, "td.col-amount_pence, td.col-total_pence")
        assert MONEY.match(amount.text.split("\n")[-1].strip()), amount.text
        assert re.search(r"\b\d{1,2} [A-Z][a-z]{2} 2025\b", text), text
        assert not re.search(r"\b2025-\d\d-\d\d\b", text), text
        width_used = browser.execute_script("return document.documentElement.scrollWidth")
        if width == "phone":
            assert width_used <= WIDTHS[width], f"{name} is {width_used}px wide on a phone"
        save_screenshot(browser, f"{name}-{width}", screenshot_dirs)
        assert_no_console_errors(browser, name)
    finally:
        browser.set_window_size(1280, 2000)
