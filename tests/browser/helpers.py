"""What the browser tests share: where Chromium is, the amounts they expect, and helpers to
screenshot a page, check its console and wait for the site server."""

import base64
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    # Without these Chromium calls Google's services, which are refused here, and logs noise.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--window-size=1280,2000",
]
PUBLISHER = "northmoor-borough-council"
MIN_SCREENSHOT_BYTES = 10_000
MAX_SCREENSHOT_HEIGHT = 3_200


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
