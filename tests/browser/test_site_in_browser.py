"""The published site in a real browser, as a resident sees it: Debian's headless Chromium,
driven by Selenium through Debian's chromedriver, against the demo site served over HTTP
(fixtures in conftest.py).

Every page must render without a browser console error; a full-page screenshot of each is kept
in the test's temporary folder and, when MONEYTRAIL_SCREENSHOTS names a folder, there too.
"""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.helpers import (
    PUBLISHER,
    assert_no_console_errors,
    save_screenshot,
    size_of,
)

MONEY = re.compile(r"^-?£\d{1,3}(,\d{3})*\.\d{2}$")


def test_the_home_page_lists_every_publisher_and_offers_search(browser, site, demo,
                                                                 screenshot_dirs):
    browser.get(f"{site}/")
    links = browser.find_elements(By.CSS_SELECTOR, "table.publishers tbody tr td:first-child a")
    assert {urlsplit(a.get_attribute("href")).path for a in links} == {
        f"/publisher/{s.publisher_id}" for s in demo[0]}
    assert all(a.text.strip() and a.is_displayed() for a in links)
    search = browser.find_element(By.CSS_SELECTOR, "form.search input[name=_search]")
    assert search.is_displayed() and size_of(search)[0] > 100
    assert_no_console_errors(browser, "home page")
    save_screenshot(browser, "home-1280", screenshot_dirs)


def test_the_home_page_says_status_and_quality_in_plain_words(browser, site, screenshot_dirs):
    browser.get(f"{site}/")
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "Quality score (out of 100)" in text and "the average of five measures" in text
    rows = {r.find_element(By.CSS_SELECTOR, "td a").text: r.text
            for r in browser.find_elements(By.CSS_SELECTOR, "table.publishers tbody tr")}
    failed = rows["Fellbrook Learning Trust"]
    assert "Problem with its files" in failed and "file FLT-expenditure" in failed
    assert "127.0.0.1" not in text and "http://" not in text
    assert all("Up to date" in row for name, row in rows.items() if name != "Fellbrook "
               "Learning Trust")
    assert re.search(r"\b\d{1,2} [A-Z][a-z]{2} 20\d\d to \d{1,2} [A-Z][a-z]{2} 20\d\d\b", text)
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text)  # no ISO dates for people to decode
    for width in (390, 1280):
        browser.set_window_size(width, 2000)
        browser.get(f"{site}/")
        # Nothing wider than the screen: on a phone each publisher is a card of labelled lines.
        wide, seen = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]")
        assert wide <= seen, f"the home page is {wide} px wide in a {seen} px window"
        if width == 390:
            save_screenshot(browser, "home-390", screenshot_dirs)
    browser.set_window_size(390, 2000)
    browser.get(f"{site}/publisher/{PUBLISHER}")
    save_screenshot(browser, "publisher-390", screenshot_dirs)
    browser.set_window_size(1280, 2000)


@pytest.mark.parametrize(("name", "path", "expected"), [
    ("provider", "/publisher/brookfield-care", "Brookfield Care Services Ltd"),
    ("supplier", "/supplier/MT-moorland-energy-supply", "Moorland Energy Supply Ltd"),
    ("money-trail", "/moneytrail/money_trail?publisher=fellbrook-council",
     "Where the money went, hop by hop"),
])
def test_the_provider_supplier_and_money_trail_pages_render(browser, site, screenshot_dirs,
                                                            name, path, expected):
    browser.get(f"{site}{path}")
    text = browser.find_element(By.TAG_NAME, "body").text
    assert expected in text, text[:500]
    assert re.search(r"£\d{1,3}(,\d{3})*\.\d\d", text), f"no amount in pounds on the {name} page"
    assert_no_console_errors(browser, f"{name} page")
    save_screenshot(browser, name, screenshot_dirs)


def test_a_payment_page_opens_with_a_citation_ready_to_paste(browser, site, screenshot_dirs):
    [payment] = requests.get(f"{site}/{PUBLISHER}/payments.json", timeout=30, params={
        "_shape": "array", "_size": 1, "_sort": "source_row", "purpose__not": "(not stated)",
        "redaction_reason__isnull": 1}).json()
    for width in (1280, 390):
        browser.set_window_size(width, 900)
        browser.get(f"{site}/{PUBLISHER}/payments/{payment['id']}")
        block = browser.find_element(By.CSS_SELECTOR, "section.citation")
        # Above the fold, before the row's thirty columns.
        assert block.is_displayed() and block.location["y"] < 600, block.location
        text = browser.find_element(By.ID, "cite-text").get_attribute("value")
        assert re.match(r"^Northmoor Borough Council paid .+ £[\d,]+\.\d\d (on|in) "
                        r"\d{0,2} ?[A-Z][a-z]{2} 20\d\d", text), text
        assert re.search(r"From spend-over-500-\d{4}-\d\d\.csv, row \d+, as published at "
                         r"http://\S+\.csv \(fetched \d{1,2} [A-Z][a-z]{2} 20\d\d", text), text
        link = block.find_element(By.CSS_SELECTOR, ".cite-source a")
        assert link.get_attribute("href").endswith(".csv")
        wide, seen = browser.execute_script(
            "return [document.querySelector('section.citation').scrollWidth, "
            "window.innerWidth]")
        assert wide <= seen
        assert_no_console_errors(browser, "payment page")
        save_screenshot(browser, f"payment-{width}", screenshot_dirs)
    browser.set_window_size(1280, 2000)


def test_the_publisher_page_draws_its_charts(browser, site, screenshot_dirs):
    browser.get(f"{site}/publisher/{PUBLISHER}")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Northmoor Borough Council"
    for chart in ("service-chart", "supplier-chart", "month-chart"):
        sizes = browser.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]), rect => {"
            " const box = rect.getBoundingClientRect(); return [box.width, box.height]; });",
            f"figure.{chart} svg rect")
        assert len(sizes) >= 3, f"{chart}: {len(sizes)} marks drawn"
        assert all(w > 0 and h > 0 for w, h in sizes), f"{chart}: empty marks {sizes}"
    assert_no_console_errors(browser, f"publisher page {PUBLISHER}")
    save_screenshot(browser, "publisher-1280", screenshot_dirs)


def test_searching_from_the_home_page_finds_payments_in_pounds(browser, site, screenshot_dirs):
    browser.get(f"{site}/")
    assert_no_console_errors(browser, "home page")
    search = browser.find_element(By.CSS_SELECTOR, "input[name=_search]")
    search.send_keys("cleaning")
    search.submit()
    WebDriverWait(browser, 20).until(expected_conditions.url_contains("_search=cleaning"))
    WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located(
        (By.CSS_SELECTOR, "table.rows-and-columns")))
    url = urlsplit(browser.current_url)
    assert (url.path, parse_qs(url.query)) == ("/moneytrail/payments",
                                               {"_search": ["cleaning"]})
    rows = browser.find_elements(By.CSS_SELECTOR, "table.rows-and-columns tbody tr")
    assert rows
    amounts = [cell.text for cell in browser.find_elements(
        By.CSS_SELECTOR, "table.rows-and-columns tbody td.col-amount_pence")]
    assert len(amounts) == len(rows)
    assert all(MONEY.match(amount) for amount in amounts), amounts
    # Results first: the column descriptions are folded away, the first result on screen.
    assert not browser.find_element(By.CSS_SELECTOR, "dl.column-descriptions").is_displayed()
    assert rows[0].location["y"] < 1000, rows[0].location
    assert_no_console_errors(browser, "search results")
    save_screenshot(browser, "search-cleaning", screenshot_dirs)
