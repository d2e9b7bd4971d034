"""A payment page in Chromium cites both the publisher's URL and the archived copy; the archived
copy downloads as the very bytes loaded, and a withheld one opens a page saying why."""

import hashlib
import time
from pathlib import Path

import requests
from selenium.webdriver.common.by import By

from tests.browser.helpers import PUBLISHER, assert_no_console_errors, save_screenshot
from warehouse.archived_copies import WITHHELD_BECAUSE

WITHHELD_FILE_OF = "fellbrook-council"  # the demo world names a foster carer in its files


def _payment(site: str, database: str, **filters) -> dict:
    [payment] = requests.get(f"{site}/{database}/payments.json", timeout=30, params={
        "_shape": "array", "_size": 1, "_sort": "source_row", **filters}).json()
    return payment


def _withheld_file_ids(site: str) -> list[int]:
    rows = requests.get(f"{site}/{WITHHELD_FILE_OF}/files.json", timeout=30, params={
        "_shape": "array", "_col": "sha256"}).json()
    return [r["id"] for r in rows
            if requests.get(f"{site}/-/archive/{r['sha256']}", timeout=30).status_code == 451]


def _downloaded(folder: Path, seconds: float = 20) -> Path:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if not p.name.endswith(".crdownload")]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"nothing downloaded into {folder}")


def test_the_citation_links_the_publishers_url_and_the_archived_copy(browser, site,
                                                                    screenshot_dirs,
                                                                    tmp_path):
    payment = _payment(site, PUBLISHER, purpose__not="(not stated)",
                       redaction_reason__isnull=1)
    file = requests.get(f"{site}/{PUBLISHER}/files/{payment['file_id']}.json", timeout=30,
                        params={"_shape": "array"}).json()[0]
    for width in (1280, 390):
        browser.set_window_size(width, 900)
        browser.get(f"{site}/{PUBLISHER}/payments/{payment['id']}")
        block = browser.find_element(By.CSS_SELECTOR, "section.citation")
        publisher_link = block.find_element(By.CSS_SELECTOR, "a.publisher-copy")
        archived_link = block.find_element(By.CSS_SELECTOR, "a.archived-copy")
        assert publisher_link.get_attribute("href") == file["url"]
        archived = archived_link.get_attribute("href")
        assert archived.startswith(f"{site}/-/archive/{file['sha256']}/")
        assert archived_link.text == "archived copy" and archived_link.is_displayed()
        text = browser.find_element(By.ID, "cite-text").get_attribute("value")
        assert f"as published at {file['url']} " in text and f"archived copy: {archived}." in text
        wide, seen = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]")
        assert wide <= seen, f"the payment page is {wide} px wide in a {seen} px window"
        assert_no_console_errors(browser, f"payment page at {width} px")
        save_screenshot(browser, f"archive-citation-{width}", screenshot_dirs)
    browser.set_window_size(1280, 2000)
    # Clicking it downloads the file as loaded, under its published name.
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.find_element(By.CSS_SELECTOR, "a.archived-copy").click()
    downloaded = _downloaded(tmp_path)
    assert downloaded.name == file["url"].rsplit("/", 1)[1]
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == file["sha256"]


def test_a_withheld_archived_copy_opens_a_page_saying_why(browser, site, screenshot_dirs):
    [file_id, *_] = _withheld_file_ids(site)
    payment = _payment(site, WITHHELD_FILE_OF, file_id=file_id)
    browser.get(f"{site}/{WITHHELD_FILE_OF}/payments/{payment['id']}")
    link = browser.find_element(By.CSS_SELECTOR, "section.citation a.archived-copy.withheld")
    assert link.text == "archived copy withheld"
    assert browser.find_element(By.CSS_SELECTOR, "section.citation a.publisher-copy")
    link.click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Archived copy withheld"
    body = browser.find_element(By.TAG_NAME, "body").text
    assert WITHHELD_BECAUSE["names_people"] in body
    assert "Ashworth" not in body
    # Chromium logs the 451 answer itself as a failed resource: that is the page's point.
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
              and "451" not in e["message"]]
    assert errors == []
    save_screenshot(browser, "archive-withheld-1280", screenshot_dirs)
    browser.get(f"{site}/")
    assert_no_console_errors(browser, "home page after the withheld copy")
