"""Plotly figures for the report, as JSON-able dicts.

Figures only *draw* series computed by ``reports.stats``; the page embeds plotly.js once and
renders each figure from its JSON (see ``reports.render``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from reports import stats

PALETTE = {"postgres": "#336791", "cassandra": "#d97706", "redis-cluster": "#c0392b"}
EXTRA_COLOURS = ("#2e7d32", "#6a1b9a", "#00838f", "#5d4037", "#455a64")
STAGE_FILLS = ("rgba(99,110,130,0.07)", "rgba(99,110,130,0.14)")
FAULT_FILL = "rgba(220,38,38,0.16)"
WARMUP_FILL = "rgba(37,99,235,0.12)"
ERROR_COLOURS = ("#b91c1c", "#d97706", "#7c3aed", "#0e7490", "#be185d", "#4d7c0f")
SPECTRUM_TICKS = ((2, "50%"), (10, "90%"), (100, "99%"), (1000, "99.9%"),
                  (10000, "99.99%"), (100000, "99.999%"))
Bands = Sequence[tuple[float, float, str]]


def colour(target: str, index: int) -> str:
    return PALETTE.get(target, EXTRA_COLOURS[index % len(EXTRA_COLOURS)])


def _r(values: Any) -> list[float | None]:
    """Round for a compact page (3 significant decimals are beyond measurement precision)."""
    return [None if pd.isna(v) else round(float(v), 3) for v in values]


def _base_layout(title: str, y_title: str, *, height: int = 340, log_y: bool = False,
                 x_title: str = "seconds since load start") -> dict[str, Any]:
    return {
        "template": "none",
        "title": {"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 15}},
        "height": height,
        "margin": {"l": 64, "r": 16, "t": 64, "b": 48},
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
                 "size": 12, "color": "#1f2933"},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1.0,
                   "xanchor": "right", "font": {"size": 11}},
        "xaxis": {"title": {"text": x_title}, "gridcolor": "#e5e7eb", "zeroline": False},
        "yaxis": {"title": {"text": y_title}, "gridcolor": "#e5e7eb", "zeroline": False,
                  "type": "log" if log_y else "linear", "rangemode": "tozero"},
        "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
    }


def _shade(layout: dict[str, Any], stages: Bands, faults: Bands) -> None:
    """Stages as alternating grey bands labelled at the top; fault windows in red."""
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for i, (start, end, name) in enumerate(stages):
        warm = name.endswith(stats.WARMUP_SUFFIX)
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": start, "x1": end,
                       "y0": 0, "y1": 1, "fillcolor": WARMUP_FILL if warm else STAGE_FILLS[i % 2],
                       "line": {"width": 0}, "layer": "below"})
        notes.append({"xref": "x", "yref": "paper", "x": (start + end) / 2, "y": 1.0,
                      "yanchor": "top", "text": name, "showarrow": False,
                      "font": {"size": 10, "color": "#52606d"}})
    for start, end, label in faults:
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": start, "x1": end,
                       "y0": 0, "y1": 1, "fillcolor": FAULT_FILL,
                       "line": {"width": 1, "color": "rgba(220,38,38,0.6)", "dash": "dot"},
                       "layer": "below"})
        notes.append({"xref": "x", "yref": "paper", "x": start, "y": 0.93, "xanchor": "left",
                      "text": f"⚡ {label}", "showarrow": False,
                      "font": {"size": 10, "color": "#b91c1c"}})
    layout["shapes"] = layout.get("shapes", []) + shapes
    layout["annotations"] = layout.get("annotations", []) + notes


def _fig(traces: list[go.BaseTraceType], layout: dict[str, Any]) -> dict[str, Any]:
    """Validate through plotly's graph objects, return the plain JSON-able dict."""
    spec: dict[str, Any] = go.Figure(data=traces, layout=layout).to_plotly_json()
    return spec


def slo_trace(slo_ms: float, x: Sequence[float | None]) -> go.Scatter:
    """The SLO as a dashed line trace (a trace, unlike a shape, is inside the autorange)."""
    xs = [v for v in x if v is not None]
    return go.Scatter(x=[min(xs), max(xs)] if xs else [], y=[slo_ms, slo_ms],
                      name=f"SLO p99.9 {slo_ms:g} ms", mode="lines", hoverinfo="skip",
                      line={"color": "#b91c1c", "width": 1, "dash": "dash"})


def throughput_figure(target: str, frame: pd.DataFrame, stage_list: Sequence[dict[str, Any]],
                      stages: Bands, faults: Bands) -> dict[str, Any]:
    series = stats.throughput_series(frame, stage_list)
    traces = [
        go.Scatter(x=_r(series["t_s"]), y=_r(series["target_ops_s"]), name="profile rate",
                   mode="lines", line={"color": "#9aa5b1", "dash": "dash", "width": 1.5}),
        go.Scatter(x=_r(series["t_s"]), y=_r(series["offered_ops_s"]), name="offered",
                   mode="lines", line={"color": "#7b8794", "width": 1.5}),
        go.Scatter(x=_r(series["t_s"]), y=_r(series["achieved_ops_s"]), name="achieved",
                   mode="lines", line={"color": colour(target, 0), "width": 2.5}),
    ]
    layout = _base_layout(f"{target}: offered vs achieved throughput", "operations / s")
    _shade(layout, stages, faults)
    return _fig(traces, layout)


def latency_figure(target: str, frame: pd.DataFrame, slo_ms: float, stages: Bands,
                   faults: Bands) -> dict[str, Any]:
    x = _r(frame["t_s"])
    traces: list[go.BaseTraceType] = []
    styles = (("p50", "#3e9b4f"), ("p99", "#d97706"), ("p99_9", "#b91c1c"))
    for key, col in styles:
        label = key.replace("_", ".")
        traces.append(go.Scatter(x=x, y=_r(frame[f"intended_{key}_ms"]),
                                 name=f"intended {label}", mode="lines",
                                 line={"color": col, "width": 2}))
    for key, col in styles:
        label = key.replace("_", ".")
        traces.append(go.Scatter(x=x, y=_r(frame[f"service_{key}_ms"]),
                                 name=f"service {label}", mode="lines",
                                 line={"color": col, "width": 1.2, "dash": "dot"}))
    traces.append(slo_trace(slo_ms, x))
    layout = _base_layout(f"{target}: latency per interval (intended solid, service dotted)",
                          "ms (log)", log_y=True)
    _shade(layout, stages, faults)
    return _fig(traces, layout)


def errors_figure(target: str, frame: pd.DataFrame, stages: Bands,
                  faults: Bands) -> dict[str, Any]:
    series = stats.error_series(frame)
    traces: list[go.BaseTraceType] = []
    for i, (kind, part) in enumerate(series.groupby("kind", sort=True)):
        col = "#52606d" if kind == "dropped" else ERROR_COLOURS[i % len(ERROR_COLOURS)]
        traces.append(go.Bar(x=_r(part["t_s"]), y=[int(c) for c in part["count"]],
                             name=str(kind), marker={"color": col}, showlegend=True))
    if not traces:  # keep an (empty, honest) axis so the chart still renders
        traces.append(go.Bar(x=_r(frame["t_s"]), y=[0] * len(frame), name="no errors",
                             marker={"color": "#3e9b4f"}))
    layout = _base_layout(f"{target}: errors and dropped operations by type",
                          "operations per interval", height=280)
    layout["barmode"] = "stack"
    _shade(layout, stages, faults)
    return _fig(traces, layout)


def spectrum_figure(op: str, series: Sequence[tuple[str, int, dict[str, Any]]],
                    slo_ms: float) -> dict[str, Any]:
    """All targets' percentile spectra for one operation. ``series``: (target, index,
    spectrum dict with ``intended``/``service`` point lists)."""
    traces: list[go.BaseTraceType] = []
    for target, index, spectrum in series:
        for kind, dash, visible in (("intended", "solid", True), ("service", "dot",
                                                                  "legendonly")):
            pts = stats.spectrum_points(spectrum.get(kind) or [])
            if not pts:
                continue
            traces.append(go.Scatter(
                x=[round(x, 4) for x, _, _ in pts], y=[round(v, 3) for _, v, _ in pts],
                customdata=[round(p, 4) for _, _, p in pts], name=f"{target} {kind}",
                mode="lines", visible=visible,
                line={"color": colour(target, index), "dash": dash, "width": 2},
                hovertemplate="%{customdata}th percentile: %{y} ms<extra>%{fullData.name}"
                              "</extra>"))
    layout = _base_layout(f"{op}: latency by percentile", "ms (log)", log_y=True,
                          x_title="percentile (log scale of 1 / (1 − p))")
    layout["hovermode"] = "closest"
    layout["height"] = 380
    layout["margin"] = {"l": 64, "r": 16, "t": 40, "b": 110}
    layout["legend"] = {"orientation": "h", "y": -0.28, "yanchor": "top", "x": 0.0,
                        "xanchor": "left", "font": {"size": 11}}
    layout["xaxis"].update({"type": "log", "tickvals": [t for t, _ in SPECTRUM_TICKS],
                            "ticktext": [s for _, s in SPECTRUM_TICKS]})
    if traces:
        traces.append(slo_trace(slo_ms, [1.0, SPECTRUM_TICKS[-1][0]]))
    return _fig(traces, layout)


def overview_figure(kind: str, frames: Sequence[tuple[str, int, pd.DataFrame]],
                    slo_ms: float, stages: Bands) -> dict[str, Any]:
    """All targets overlaid: achieved ops/s (``kind="throughput"``) or intended p99.9."""
    traces: list[go.BaseTraceType] = []
    for target, index, frame in frames:
        width = stats.interval_width(frame)
        y = frame["completed"] / width if kind == "throughput" else frame["intended_p99_9_ms"]
        traces.append(go.Scatter(x=_r(frame["t_s"]), y=_r(y), name=target, mode="lines",
                                 line={"color": colour(target, index), "width": 2}))
    if kind == "throughput":
        layout = _base_layout("Achieved throughput, all targets", "operations / s")
    else:
        layout = _base_layout("Intended p99.9 per interval, all targets", "ms (log)",
                              log_y=True)
        traces.append(slo_trace(slo_ms, [x for _, _, f in frames for x in _r(f["t_s"])]))
    _shade(layout, stages, ())
    return _fig(traces, layout)


def findmax_latency_figure(ft: Any, index: int) -> dict[str, Any]:
    """``bench findmax``: worst-operation latency against offered rate, one point per step;
    intended solid, service dotted; the SLO line(s) and the knee (highest passing rate).
    The repeat of the knee is a separate marker, so the lines follow the offered rate."""
    steps, repeats = _search_steps(ft)
    x = [round(float(s["offered_ops_s"]), 1) for s in steps]
    traces: list[go.BaseTraceType] = []
    styles = (("p50", "#3e9b4f"), ("p99", "#d97706"), ("p99_9", "#b91c1c"))
    for kind, dash, width in (("intended", "solid", 2.0), ("service", "dot", 1.2)):
        for key, col in styles:
            traces.append(go.Scatter(
                x=x, y=[s["latency_ms"][kind][key] for s in steps],
                name=f"{kind} {key.replace('_', '.')}", mode="lines+markers",
                line={"color": col, "dash": dash, "width": width},
                marker={"symbol": ["circle" if s["passed"] else "x" for s in steps],
                        "size": 8 if kind == "intended" else 5}))
    if repeats:
        traces.append(go.Scatter(
            x=[round(float(s["offered_ops_s"]), 1) for s in repeats],
            y=[s["latency_ms"]["intended"]["p99_9"] for s in repeats], name="repeat p99.9",
            mode="markers", marker={"symbol": ["diamond" if s["passed"] else "x"
                                               for s in repeats], "size": 11,
                                    "color": "#1f2933"}))
    for term, ms in ft.slo_lines:
        traces.append(go.Scatter(x=[min(x, default=0), max(x, default=1)], y=[ms, ms],
                                 name=f"SLO {term}", mode="lines", hoverinfo="skip",
                                 line={"color": "#b91c1c", "width": 1, "dash": "dash"}))
    layout = _base_layout(f"{ft.name}: latency against offered rate (× = failed step)",
                          "ms (log)", log_y=True, x_title="offered operations / s")
    layout["hovermode"] = "closest"
    _knee(layout, ft)
    return _fig(traces, layout)


def findmax_throughput_figure(ft: Any, index: int) -> dict[str, Any]:
    """``bench findmax``: achieved against offered rate per step, with the ideal diagonal."""
    steps, repeats = _search_steps(ft)
    x = [round(float(s["offered_ops_s"]), 1) for s in steps + repeats]
    top = max(x, default=1.0)
    traces: list[go.BaseTraceType] = [
        go.Scatter(x=[0, top], y=[0, top], name="achieved = offered", mode="lines",
                   hoverinfo="skip", line={"color": "#9aa5b1", "dash": "dash", "width": 1}),
        go.Scatter(x=x[:len(steps)],
                   y=[round(float(s["achieved_ops_s"]), 1) for s in steps],
                   name="achieved", mode="lines+markers",
                   line={"color": colour(ft.name, index), "width": 2.5},
                   marker={"symbol": ["circle" if s["passed"] else "x" for s in steps],
                           "size": 9}),
    ]
    if repeats:
        traces.append(go.Scatter(
            x=x[len(steps):], y=[round(float(s["achieved_ops_s"]), 1) for s in repeats],
            name="repeat", mode="markers",
            marker={"symbol": ["diamond" if s["passed"] else "x" for s in repeats],
                    "size": 11, "color": "#1f2933"}))
    layout = _base_layout(f"{ft.name}: achieved against offered rate", "operations / s",
                          x_title="offered operations / s")
    layout["hovermode"] = "closest"
    _knee(layout, ft)
    return _fig(traces, layout)


def _search_steps(ft: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Search steps by measured offered rate, and the repeat(s) apart."""
    steps = sorted((s for s in ft.steps if s.get("phase") != "repeat"),
                   key=lambda s: float(s["offered_ops_s"]))
    return steps, [s for s in ft.steps if s.get("phase") == "repeat"]


def _knee(layout: dict[str, Any], ft: Any) -> None:
    if ft.max_rate is None:
        return
    layout["shapes"] = [*layout.get("shapes", []), {
        "type": "line", "xref": "x", "yref": "paper", "x0": ft.max_rate, "x1": ft.max_rate,
        "y0": 0, "y1": 1, "line": {"color": "#1f2933", "width": 1.5, "dash": "dot"}}]
    layout["annotations"] = [*layout.get("annotations", []), {
        "xref": "x", "yref": "paper", "x": ft.max_rate, "y": 1.0, "yanchor": "bottom",
        "text": f"knee: {ft.max_rate:,.0f}/s", "showarrow": False,
        "font": {"size": 11, "color": "#1f2933"}}]
