"""Rendering index.html from the golden fixtures (no browser: see tests/browser/)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from reports import render_report
from reports.render import PLOTLY_BUNDLE, PLOTLY_TRACE_TYPES, fmt_ms

FIXTURES = Path(__file__).parents[1] / "fixtures" / "results"
MAX_BYTES = 1_500_000  # three targets; the plotly.js basic bundle is ~1.2 MB of it


def copy_run(tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copytree(FIXTURES / name, dest)
    return dest


def render(tmp_path: Path, name: str, **kwargs: float) -> str:
    out = render_report(copy_run(tmp_path, name), **kwargs)
    assert out == tmp_path / name / "index.html"
    return out.read_text(encoding="utf-8")


def figures(html: str) -> list[dict]:  # type: ignore[type-arg]
    blobs = re.findall(r'<script type="application/json" id="fig-\d+">(.*?)</script>', html)
    return [json.loads(b) for b in blobs]


def test_baseline_is_self_contained_and_small(tmp_path: Path) -> None:
    html = render(tmp_path, "baseline")
    size = len(html.encode())
    assert size < MAX_BYTES, size
    # plotly.js inlined exactly once; nothing loaded from elsewhere.
    assert html.count("plotly.js v") == 1 or html.count("* plotly.js") == 1
    assert "<script src" not in html and "<link " not in html
    assert "default-src 'none'" in html
    figs = figures(html)
    # 3 per target + 2 overview + 6 operation spectra
    assert len(figs) == 3 * 3 + 2 + 6
    assert all(f["data"] for f in figs)


def test_plotly_bundle_matches_the_python_package_and_the_traces_drawn(tmp_path: Path) -> None:
    from plotly.offline import get_plotlyjs_version

    head = PLOTLY_BUNDLE.read_text(encoding="utf-8")[:200]
    # figure JSON comes from the Python package: the renderer must be the same plotly.js
    assert f"plotly.js (basic - minified) v{get_plotlyjs_version()}" in head, head
    assert (PLOTLY_BUNDLE.parent / "plotly-basic.LICENSE").read_text().startswith("MIT")
    # the basic bundle registers scatter, bar and pie only
    assert PLOTLY_TRACE_TYPES.issubset({"scatter", "bar", "pie"})
    used = {t.get("type", "scatter") for f in figures(render(tmp_path, "baseline"))
            for t in f["data"]}
    assert used <= PLOTLY_TRACE_TYPES, used


def test_baseline_content(tmp_path: Path) -> None:
    html = render(tmp_path, "baseline")
    assert "postgres and redis-cluster survived the spike" in html
    assert 'class="banner' not in html
    for key in ("cartbench_version", "git_commit", "host.cpu_model", "generator.cpuset",
                "drivers.cassandra-driver", "synchronous_commit", "consistency",
                "time_to_ready_s", "launcher_reason"):
        assert key in html, key
    assert "kill -9 cassandra-2" in html  # fault window label from the optional key
    assert "Coordinated omission" in html


def test_new_keys_show_up_without_template_changes(tmp_path: Path) -> None:
    run_dir = copy_run(tmp_path, "baseline")
    data = json.loads((run_dir / "results.json").read_text())
    data["run"]["host"]["numa_nodes"] = 7
    data["targets"]["redis-cluster"]["store"]["client_side_caching"] = "off-by-design"
    (run_dir / "results.json").write_text(json.dumps(data))
    html = render_report(run_dir).read_text()
    assert "host.numa_nodes" in html and "store.client_side_caching" in html
    assert "off-by-design" in html


def test_saturated_banner_shows_evidence(tmp_path: Path) -> None:
    html = render(tmp_path, "saturated")
    assert 'class="banner saturated"' in html
    assert "schedule lag p99 172 ms &gt; 100 ms for 95 s" in html


def test_failed_target_banner_and_no_charts(tmp_path: Path) -> None:
    html = render(tmp_path, "failed")
    assert 'class="banner failed"' in html
    assert "did not log" in html
    assert len(figures(html)) == 3 * 2 + 2 + 6


def test_slo_override(tmp_path: Path) -> None:
    html = render(tmp_path, "baseline", slo_ms=2.0)
    assert "No target survived the spike within the 2 ms p99.9 SLO." in html


def test_html_escapes_stored_strings(tmp_path: Path) -> None:
    run_dir = copy_run(tmp_path, "failed")
    data = json.loads((run_dir / "results.json").read_text())
    data["targets"]["cassandra"]["error"] = "<script>alert(1)</script>"
    (run_dir / "results.json").write_text(json.dumps(data))
    html = render_report(run_dir).read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(("value", "text"), [(None, "—"), (1.234, "1.23"), (123.45, "123.5"),
                                             (12345.6, "12,346")])
def test_fmt_ms(value: float | None, text: str) -> None:
    assert fmt_ms(value) == text
