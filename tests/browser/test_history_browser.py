"""The nightly trend page in a real headless Chromium, offline (``@pytest.mark.browser``).

A history of the golden runs ending in a regressed one: load HISTORY_DIR/index.html from a
file:// URL with networking disabled, require no console errors, every chart drawn by plotly
with data, the regression marked, every run linked to its own report; a screenshot goes to
tests/artifacts/ for a human to look at.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .chromium import CHART_STATE_JS, available, full_page_png, offline_chromium
from .test_report_browser import wait_rendered

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not available(), reason="needs /usr/bin/chromium and "
                                 "/usr/bin/chromedriver (apt: chromium chromium-driver)")]

FIXTURES = Path(__file__).parents[1] / "fixtures" / "results"
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
RUNS = ("baseline", "noisy", "saturated", "failed", "regressed")


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def regressed_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("history")
    for hour, name in enumerate(RUNS, start=1):
        run = root / name
        shutil.copytree(FIXTURES / name, run)
        results = json.loads((run / "results.json").read_text())
        results["run"]["started_at"] = f"2026-12-01T{hour:02d}:00:00Z"
        (run / "results.json").write_text(json.dumps(results))
        proc = bench("history", "add", str(run), "--into", str(root / "H"), "--move")
        assert proc.returncode == 0, proc.stderr
    proc = bench("history", "check", str(root / "H"))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    return root / "H"


def test_history_page_renders_offline_and_marks_the_regression(
        regressed_history: Path) -> None:
    page = regressed_history / "index.html"
    with offline_chromium(height=1200) as driver:
        driver.get(page.resolve().as_uri())
        rendered = wait_rendered(driver)
        charts = driver.execute_script(CHART_STATE_JS)
        logs = driver.get_log("browser")
        banner = driver.find_element("css selector", "#verdict").text
        links = [a.get_attribute("href") for a in
                 driver.find_elements("css selector", "#runs a")]
        marks = driver.execute_script(
            "return Array.from(document.querySelectorAll('div.chart')).map(function (d) {"
            " return (d.data || []).filter(function (t) { return t.name === 'regression'; })"
            ".map(function (t) { return d.getAttribute('data-fig') + ':' + t.x[0]; }); })"
            ".flat();")
        full_page_png(driver, ARTIFACTS / "history-regressed.png")
    errors = [entry for entry in logs if entry.get("level") == "SEVERE"]
    assert errors == [], errors
    assert rendered == len(charts) == 12  # 3 targets × throughput, latency, errors, audit
    for chart in charts:
        assert chart["plotly"] and chart["svg"] >= 1, chart
        assert chart["traces"] >= 1 and chart["drawn"] >= 1, chart
    assert "regression" in banner and "postgres" in banner
    # the regression marker sits on the newest run, in postgres's charts only (the first
    # four: throughput, latency, errors, audit); its latency and error share regressed
    assert marks and all(m.endswith(":regressed") for m in marks)
    assert {"trend-2", "trend-3"} <= {m.split(":")[0] for m in marks} <= {
        "trend-1", "trend-2", "trend-3", "trend-4"}
    assert len(links) == len(RUNS)
    for link in links:
        assert link.endswith("/index.html")
        assert Path(link.removeprefix("file://")).is_file(), link
