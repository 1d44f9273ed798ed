"""Render ``index.html`` for a run directory from its stored results.

One self-contained file: plotly.js is inlined once, figures are JSON blobs rendered by a tiny
loader, CSS is inlined, and a Content-Security-Policy forbids any network request.

The plotly.js inlined is the *basic* partial bundle (scatter, bar, pie; ~1.2 MB instead of the
full 4.8 MB bundle the Python package ships), vendored in ``reports/static/`` at the plotly.js
version the installed Python ``plotly`` targets (``setup/vendor-plotly.sh`` refreshes it;
``PLOTLY_TRACE_TYPES`` lists what the report may draw and a unit test keeps the two honest).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from reports import context_tables, findmax, plots, stats
from reports.load import Run, load_run

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
PLOTLY_BUNDLE = STATIC / "plotly-basic.min.js"
PLOTLY_TRACE_TYPES = frozenset({"scatter", "bar"})
"""Trace types the report and trend pages draw; all must be in the basic bundle."""


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(ms=fmt_ms, num=fmt_num, pct=fmt_pct, signed_pct=fmt_signed_pct,
                       chart=chart_markup)
    env.globals.update(static=static_text, is_table=lambda v: isinstance(v, context_tables.Table))
    return env


# -- formatting filters (no statistics here: values arrive computed) -----------------------

def fmt_ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.2f}"
    if value < 1000:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def fmt_num(value: float | int | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def fmt_pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f} %"


def fmt_signed_pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f} %"


def chart_markup(chart: tuple[str, dict[str, Any]]) -> Markup:
    """A chart placeholder plus its figure as JSON (``</`` escaped for the script tag)."""
    chart_id, spec = chart
    payload = json.dumps(spec, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return Markup(
        f'<div class="chart" data-fig="{chart_id}"></div>'
        f'<script type="application/json" id="{chart_id}">{payload}</script>'
    )


@cache
def static_text(name: str) -> Markup:
    if name == "plotly.min.js":
        return Markup(PLOTLY_BUNDLE.read_text(encoding="utf-8"))
    return Markup((STATIC / name).read_text(encoding="utf-8"))


# -- the page -------------------------------------------------------------------------------

class _Charts:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.count = 0

    def add(self, spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.count += 1
        return f"{self.prefix}-{self.count}", spec


def report_context(run: Run, *, slo_ms: float | None = None,
                   window_s: int = stats.DEFAULT_WINDOW_S) -> dict[str, Any]:
    summary = stats.summarize(run, slo_ms=slo_ms, window_s=window_s)
    charts = _Charts("fig")
    profile_stages = (run.run_info.get("profile") or {}).get("stages") or []
    sections = []
    overview_frames = []
    for index, name in enumerate(run.targets):
        data = run.targets[name]
        frame = stats.target_frame(run, name)
        stage_list = data.get("stages") or profile_stages
        stages = stats.bands(stage_list, "name")
        faults = stats.bands(data.get("faults"), "label")
        section: dict[str, Any] = {
            "name": name, "data": data, "colour": plots.colour(name, index),
            "summary": next(t for t in summary.targets if t.name == name),
            "operations": stats.operation_rows(data), "faults": faults,
            "context": context_tables.target_rows(run, name), "has_data": not frame.empty,
            "warmup": stats.warmup_summary(data),
            "charts": [],
        }
        if not frame.empty:
            overview_frames.append((name, index, frame))
            section["charts"] = [
                charts.add(plots.throughput_figure(name, frame, stage_list, stages, faults)),
                charts.add(plots.latency_figure(name, frame, summary.slo_ms, stages, faults)),
                charts.add(plots.errors_figure(name, frame, stages, faults)),
            ]
        sections.append(section)
    overview = []
    if overview_frames:
        stages = stats.bands(profile_stages, "name")
        overview = [
            charts.add(plots.overview_figure("throughput", overview_frames, summary.slo_ms,
                                             stages)),
            charts.add(plots.overview_figure("latency", overview_frames, summary.slo_ms,
                                             stages)),
        ]
    spectra = []
    for op in _operations(run):
        series = [(name, i, run.targets[name]["operations"][op].get("spectrum") or {})
                  for i, name in enumerate(run.targets)
                  if op in (run.targets[name].get("operations") or {})]
        if any(s for _, _, s in series):
            spectra.append((op, charts.add(plots.spectrum_figure(op, series, summary.slo_ms))))
    fm_targets = findmax.targets(run.results)
    fm: dict[str, Any] | None = None
    if fm_targets:
        names = list(run.targets)
        fm = {"headline": findmax.headline(run.results), "targets": [
            {"name": ft.name, "steps": sorted(ft.steps, key=lambda s: s["index"]), "charts": [
                charts.add(plots.findmax_latency_figure(ft, names.index(ft.name))),
                charts.add(plots.findmax_throughput_figure(ft, names.index(ft.name)))]}
            for ft in fm_targets]}
    profile = run.run_info.get("profile") or {}
    return {
        "findmax": fm,
        "run": run.run_info, "run_dir": run.path.name, "summary": summary,
        "columns": stats.SUMMARY_COLUMNS, "sections": sections, "overview": overview,
        "spectra": spectra, "run_rows": context_tables.run_rows(run),
        "profile": profile if isinstance(profile, dict) else {},
        "profile_rows": context_tables.profile_rows(run), "cpu_caveat": context_tables.cpu_caveat(run),
        "chart_count": charts.count,
    }


def _operations(run: Run) -> list[str]:
    ops: list[str] = []
    for data in run.targets.values():
        ops.extend(op for op in (data.get("operations") or {}) if op not in ops)
    return ops


def render_html(run: Run, *, slo_ms: float | None = None) -> str:
    return environment().get_template("report.html.j2").render(
        **report_context(run, slo_ms=slo_ms))


def render_report(run_dir: Path, *, slo_ms: float | None = None) -> Path:
    """Write ``run_dir/index.html`` from the stored results; return its path."""
    run = load_run(Path(run_dir))
    out = run.path / "index.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(render_html(run, slo_ms=slo_ms), encoding="utf-8")
    tmp.replace(out)
    return out
