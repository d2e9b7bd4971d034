"""The browser tests' shared fixtures: the demo site built once a session, served over real
HTTP by `moneytrail serve`, and one headless Chromium (Debian's, driven through its
chromedriver). Tests must not change the served demo: one that needs to builds its own."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from orchestration.demo import run_demo
from tests.browser.helpers import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS, free_port, wait_for


@pytest.fixture(scope="session", autouse=True)
def browser_installed() -> None:
    """Skip the module, before the demo is built, where Debian's Chromium is not installed."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            pytest.skip(f"{path} is absent: install Debian's browser with `apt-get install -y "
                        f"chromium chromium-driver` (.ci/run does) to run the browser tests "
                        f"(missing package: {package})")


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The demo site, built once: its publisher summaries and its data folder."""
    summaries, site_dir = run_demo(tmp_path_factory.mktemp("demo"))
    return summaries, site_dir.parent


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
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
