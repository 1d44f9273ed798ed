"""Headless Chromium through selenium + the system chromedriver (owned by the report tests).

Networking is switched off through the DevTools protocol before the page loads, so a report
that tried to fetch anything would fail to render and log console errors.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")


def available() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


@contextmanager
def offline_chromium(width: int = 1300, height: int = 1000) -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="cartbench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def full_page_png(driver: webdriver.Chrome, path: Path, *, y: int = 0,
                  height: int | None = None) -> Path:
    """Screenshot the whole page (or the band ``y .. y+height``) at its layout width."""
    metrics: dict[str, Any] = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    clip = {"x": 0, "y": y, "width": size["width"],
            "height": height if height is not None else size["height"] - y, "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": clip})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


CHART_STATE_JS = """
return Array.from(document.querySelectorAll('div.chart')).map(function (div) {
  var traces = (div.data || []).filter(function (t) {
    return (t.x && t.x.length) && t.visible !== 'legendonly'; }).length;
  return {
    id: div.getAttribute('data-fig'),
    plotly: div.classList.contains('js-plotly-plot'),
    svg: div.querySelectorAll('.main-svg').length,
    traces: traces,
    drawn: div.querySelectorAll('.scatterlayer .trace path.js-line, .barlayer .trace .point').length
  };
});
"""
