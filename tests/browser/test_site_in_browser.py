"""The published site in a real browser, as a resident sees it: Debian's headless Chromium,
driven by Selenium through Debian's chromedriver, against the demo site served over HTTP.

Every page must render without a browser console error; a full-page screenshot of each is kept
in the test's temporary folder and, when MONEYTRAIL_SCREENSHOTS names a folder, there too.
"""

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from orchestration.demo import run_demo

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    # Without these Chromium calls Google's services, which are refused here, and logs noise.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--window-size=1280,2000",
]
PUBLISHER = "northmoor-borough-council"
MONEY = re.compile(r"^-?£\d{1,3}(,\d{3})*\.\d{2}$")
MIN_SCREENSHOT_BYTES = 10_000
MAX_SCREENSHOT_HEIGHT = 3_200


@pytest.fixture(scope="module", autouse=True)
def browser_installed() -> None:
    """Skip the module, before the demo is built, where Debian's Chromium is not installed."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            pytest.skip(f"{path} is absent: install Debian's browser with `apt-get install -y "
                        f"chromium chromium-driver` (.ci/run does) to run the browser tests "
                        f"(missing package: {package})")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo site, built once: its publisher summaries and its data folder."""
    summaries, site_dir = run_demo(tmp_path_factory.mktemp("demo"))
    return summaries, site_dir.parent


@pytest.fixture(scope="module")
def site(demo, tmp_path_factory):
    """`moneytrail serve` on the demo site, over real HTTP; its base URL."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    command = [sys.executable, "-m", "orchestration.cli", "serve", "--data-dir", str(demo[1]),
               "--port", str(port)]
    # The server's output goes to a file, not a pipe nobody reads, which could fill and stall it.
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/.json", server, log_path)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """Headless Chromium with a fresh profile, its console captured at every level."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager is never asked to find or download anything.
    browser = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def screenshot_dirs(tmp_path_factory) -> list[Path]:
    dirs = [tmp_path_factory.mktemp("screenshots")]
    if os.environ.get("MONEYTRAIL_SCREENSHOTS"):
        wanted = Path(os.environ["MONEYTRAIL_SCREENSHOTS"])
        wanted.mkdir(parents=True, exist_ok=True)
        dirs.append(wanted)
    return dirs


@pytest.fixture
def browser(driver):
    """The shared browser, its console emptied so each test sees only its own pages' errors."""
    driver.get_log("browser")
    return driver


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


def assert_no_console_errors(browser, page: str) -> None:
    """Every SEVERE console entry is an error: a script error, a failed resource, a CSP
    refusal. None is filtered out: the flags above keep Chromium's own noise away."""
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], f"console errors on the {page}: {errors}"


def save_screenshot(browser, name: str, dirs: list[Path]) -> None:
    """A full-page PNG (the whole document, not just the window, to MAX_SCREENSHOT_HEIGHT px)
    in each folder."""
    metrics = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})
    content = metrics["cssContentSize"]
    # The first screens of a long page (search results run on): what a reader sees first.
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": content["width"],
                 "height": min(content["height"], MAX_SCREENSHOT_HEIGHT), "scale": 1}})
    first = dirs[0] / f"{name}.png"
    first.write_bytes(base64.b64decode(shot["data"]))
    for folder in dirs[1:]:
        shutil.copyfile(first, folder / first.name)
    for folder in dirs:
        path = folder / first.name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > MIN_SCREENSHOT_BYTES, f"{path} is nearly empty"


def size_of(element) -> tuple[float, float]:
    return element.size["width"], element.size["height"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, server: subprocess.Popen, log_path: Path, seconds: float = 30) -> None:
    """Until the server answers `url`; fail with its output if it exits or never answers."""
    deadline = time.monotonic() + seconds
    while True:
        if server.poll() is not None:
            pytest.fail(f"the site server exited ({server.returncode}):\n"
                        f"{log_path.read_text(errors='replace')}")
        try:
            requests.get(url, timeout=5).raise_for_status()
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                pytest.fail(f"the site server did not answer {url} in {seconds} s:\n"
                            f"{log_path.read_text(errors='replace')}")
            time.sleep(0.2)
