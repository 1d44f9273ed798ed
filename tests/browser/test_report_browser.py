"""The rendered report in a real headless Chromium, offline (``@pytest.mark.browser``).

For each golden run: load index.html from a file:// URL with networking disabled, require no
console errors, every chart drawn by plotly with data, and write a full-page screenshot to
tests/artifacts/ for a human to look at.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from reports import compare_runs, render_report

from .chromium import CHART_STATE_JS, available, full_page_png, offline_chromium

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not available(), reason="needs /usr/bin/chromium and "
                                 "/usr/bin/chromedriver (apt: chromium chromium-driver)")]

FIXTURES = Path(__file__).parents[1] / "fixtures" / "results"
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
EXPECTED_CHARTS = {"baseline": 17, "saturated": 17, "failed": 14}


def wait_rendered(driver: object, timeout_s: float = 60.0) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = driver.execute_script(  # type: ignore[attr-defined]
            "return document.documentElement.getAttribute('data-charts-rendered')")
        if value is not None:
            return int(value)
        time.sleep(0.1)
    raise AssertionError(f"charts not rendered within {timeout_s} s")


@pytest.mark.parametrize("run", sorted(EXPECTED_CHARTS))
def test_report_renders_offline_without_errors(tmp_path: Path, run: str) -> None:
    run_dir = tmp_path / run
    shutil.copytree(FIXTURES / run, run_dir)
    page = render_report(run_dir)
    with offline_chromium() as driver:
        driver.get(page.resolve().as_uri())
        assert wait_rendered(driver) == EXPECTED_CHARTS[run]
        charts = driver.execute_script(CHART_STATE_JS)
        logs = driver.get_log("browser")
        full_page_png(driver, ARTIFACTS / f"report-{run}.png")
    errors = [entry for entry in logs if entry.get("level") == "SEVERE"]
    assert errors == [], errors
    assert len(charts) == EXPECTED_CHARTS[run]
    for chart in charts:
        assert chart["plotly"] and chart["svg"] >= 1, chart
        assert chart["traces"] >= 1 and chart["drawn"] >= 1, chart
    assert (ARTIFACTS / f"report-{run}.png").stat().st_size > 50_000


def test_network_is_really_off(tmp_path: Path) -> None:
    """The harness must be able to fail: a page that fetches something logs an error."""
    page = tmp_path / "fetch.html"
    page.write_text("<!doctype html><img src='http://127.0.0.1:9/x.png'>"
                    "<script>fetch('http://127.0.0.1:9/').catch(function (e) {"
                    "console.error('fetch failed', String(e)); });</script>")
    with offline_chromium() as driver:
        driver.get(page.resolve().as_uri())
        deadline = time.monotonic() + 20
        logs: list[dict[str, object]] = []
        while time.monotonic() < deadline and not logs:
            logs = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
            time.sleep(0.1)
    assert logs, "a page fetching from the network must log console errors"


def test_compare_page_renders(tmp_path: Path) -> None:
    result = compare_runs(FIXTURES / "baseline", FIXTURES / "regressed",
                          out=tmp_path / "compare.html")
    assert result.out is not None
    with offline_chromium() as driver:
        driver.get(result.out.resolve().as_uri())
        banner = driver.find_element("css selector", ".banner.failed").text
        logs = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        full_page_png(driver, ARTIFACTS / "compare-baseline-regressed.png")
    assert "regression" in banner and logs == []


def _findmax_block(best: float, steps: list[tuple[float, bool]]) -> dict[str, object]:
    def step(i: int, rate: float, passed: bool) -> dict[str, object]:
        p999 = 4.0 if passed else 850.0
        return {"index": i + 1, "phase": "grow", "rate_ops_s": rate, "passed": passed,
                "generator_limited": False, "reasons": [] if passed else ["SLO missed"],
                "offered_ops_s": rate, "achieved_ops_s": rate if passed else rate * 0.8,
                "completed": int(rate * 10), "errors": 0, "dropped": 0, "error_share": 0.0,
                "latency_ms": {k: {"p50": 0.5, "p99": 2.0, "p99_9": p999}
                               for k in ("intended", "service")},
                "dir": f"findmax/x/step-{i + 1:02d}"}
    return {"verdict": "held", "max_rate_ops_s": best, "repeat_held": True,
            "lowest_failing_rate_ops_s": None, "criteria": {"slo": ["p99.9<=300ms"]},
            "steps": [step(i, r, ok) for i, (r, ok) in enumerate(steps)]}


def test_findmax_section_renders_offline(tmp_path: Path) -> None:
    import json

    run_dir = tmp_path / "findmax"
    shutil.copytree(FIXTURES / "baseline", run_dir)
    data = json.loads((run_dir / "results.json").read_text())
    data["targets"]["postgres"]["findmax"] = _findmax_block(
        800, [(200, True), (400, True), (800, True), (1600, False), (800, True)])
    data["targets"]["redis-cluster"]["findmax"] = _findmax_block(
        3200, [(800, True), (1600, True), (3200, True), (6400, False)])
    (run_dir / "results.json").write_text(json.dumps(data))
    page = render_report(run_dir)
    html = page.read_text()
    assert "postgres holds 800 ops/s, redis-cluster 3,200 ops/s within p99.9&lt;=300ms" in html
    with offline_chromium() as driver:
        driver.get(page.resolve().as_uri())
        assert wait_rendered(driver) == EXPECTED_CHARTS["baseline"] + 4
        charts = driver.execute_script(CHART_STATE_JS)
        logs = driver.get_log("browser")
        full_page_png(driver, ARTIFACTS / "report-findmax.png")
    assert [e for e in logs if e.get("level") == "SEVERE"] == []
    for chart in charts:
        assert chart["plotly"] and chart["svg"] >= 1 and chart["drawn"] >= 1, chart
