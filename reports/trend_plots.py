"""Plotly figures of the nightly trend page, as JSON-able dicts.

One point per run (x = the run directory name, a category axis), drawn from the metrics
already stored in index.json (``reports.history``); nothing is computed here but the choice
of which stored value to draw. Layout and validation reuse ``reports.plots``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import plotly.graph_objects as go

from reports.history import Entry, unusable_reason
from reports.plots import _base_layout, _fig, colour

Getter = Callable[[dict[str, Any]], float | int | None]
GREY = "#7b8794"
RED = "#b91c1c"


def _layout(title: str, y_title: str, names: Sequence[str], *, log_y: bool = False,
            baseline_at: str | None = None) -> dict[str, Any]:
    layout = _base_layout(title, y_title, log_y=log_y, x_title="", height=420)
    layout["xaxis"].update({"type": "category", "categoryorder": "array",
                            "categoryarray": list(names), "tickangle": -30,
                            "automargin": True})
    layout["hovermode"] = "closest"
    layout["margin"] = {"l": 64, "r": 16, "t": 40, "b": 40}
    # below the plot: a legend above would collide with the title in a half-width card
    layout["legend"] = {"orientation": "h", "y": -0.3, "yanchor": "top", "x": 0.0,
                        "xanchor": "left", "font": {"size": 11}}
    if baseline_at is not None:
        layout["shapes"] = [{"type": "line", "xref": "x", "yref": "paper", "x0": baseline_at,
                             "x1": baseline_at, "y0": 0, "y1": 1,
                             "line": {"color": "#2e7d32", "width": 1.5, "dash": "dot"}}]
        layout["annotations"] = [{"xref": "x", "yref": "paper", "x": baseline_at, "y": 1.0,
                                  "yanchor": "bottom", "xanchor": "left", "showarrow": False,
                                  "text": "new baseline", "font": {"size": 10,
                                                                   "color": "#2e7d32"}}]
    return layout


def _hover(entries: Sequence[Entry]) -> list[str]:
    out = []
    for e in entries:
        ctx = e.get("context") or {}
        out.append(f"{e['name']}<br>{e.get('started_at')}<br>commit "
                   f"{ctx.get('git_commit') or '?'} · cartbench {ctx.get('cartbench_version')}")
    return out


def _values(entries: Sequence[Entry], target: str, get: Getter, *,
            usable_only: bool) -> list[float | None]:
    out: list[float | None] = []
    for e in entries:
        t = e["targets"].get(target)
        value = get(t) if t else None
        if value is None or (usable_only and unusable_reason(e, target) is not None):
            out.append(None)
        else:
            out.append(round(float(value), 3))
    return out


def _series(name: str, entries: Sequence[Entry], target: str, get: Getter, *, color: str,
            dash: str = "solid", symbol: str = "circle",
            usable_only: bool = True) -> go.Scatter:
    """One metric over the runs; ``usable_only`` leaves out saturated/failed runs (their
    performance numbers measure something else; errors and audit findings stay real)."""
    return go.Scatter(x=[e["name"] for e in entries],
                      y=_values(entries, target, get, usable_only=usable_only), name=name,
                      mode="lines+markers", text=_hover(entries),
                      hovertemplate="%{y}<br>%{text}<extra>%{fullData.name}</extra>",
                      line={"color": color, "dash": dash, "width": 2},
                      marker={"symbol": symbol, "size": 7}, connectgaps=True)


def _unusable(entries: Sequence[Entry], target: str, get: Getter, *,
              failed_at_zero: bool = True) -> go.Scatter | None:
    """Runs shown but not used as a baseline: saturated at their value, failed at 0 (left
    out on a log axis, where 0 cannot be drawn)."""
    xs, ys, texts = [], [], []
    for e in entries:
        reason = unusable_reason(e, target)
        if reason is None or reason == "not in this run":
            continue
        t = e["targets"][target]
        if t["status"] != "ok" and not failed_at_zero:
            continue
        value = get(t) if t["status"] == "ok" else 0.0
        xs.append(e["name"])
        ys.append(round(float(value), 3) if value is not None else 0.0)
        texts.append(f"{reason}: not a baseline<br>{_hover([e])[0]}")
    if not xs:
        return None
    return go.Scatter(x=xs, y=ys, name="saturated / failed (not a baseline)", mode="markers",
                      text=texts, hovertemplate="%{y}<br>%{text}<extra></extra>",
                      marker={"symbol": "x", "size": 11, "color": GREY})


def _regression_mark(entries: Sequence[Entry], target: str, get: Getter,
                     marked: bool) -> go.Scatter | None:
    if not marked or not entries:
        return None
    newest = entries[-1]
    t = newest["targets"].get(target)
    value = get(t) if t and t["status"] == "ok" else 0.0
    return go.Scatter(x=[newest["name"]], y=[round(float(value or 0.0), 3)],
                      name="regression", mode="markers", hoverinfo="name",
                      marker={"symbol": "circle-open", "size": 20, "color": RED,
                              "line": {"width": 3, "color": RED}})


def _finish(traces: list[go.BaseTraceType], extra: Sequence[go.Scatter | None],
            layout: dict[str, Any]) -> dict[str, Any]:
    traces.extend(t for t in extra if t is not None)
    return _fig(traces, layout)


def throughput_trend(target: str, index: int, entries: Sequence[Entry], *,
                     regressed: bool, baseline: tuple[float, float] | None,
                     baseline_at: str | None) -> dict[str, Any]:
    """Mean and peak sustained ops/s per run; ``baseline`` = (median, limit %) of the
    judgement, drawn as a dashed line with the band a change must leave to count."""
    names = [e["name"] for e in entries]

    def mean(t: dict[str, Any]) -> float | None:
        value = t.get("throughput_ops_s")
        return float(value) if isinstance(value, int | float) else None

    def peak(t: dict[str, Any]) -> float | None:
        value = t.get("peak_ops_s")
        return float(value) if isinstance(value, int | float) else None

    traces: list[go.BaseTraceType] = [
        _series("mean ops/s (whole run)", entries, target, mean, color=colour(target, index)),
        _series("peak sustained ops/s (10 s)", entries, target, peak,
                color=colour(target, index), dash="dash", symbol="diamond"),
    ]
    if baseline is not None and names:
        median, limit = baseline
        low = round(median * (1 - limit / 100.0), 3)
        traces.append(go.Scatter(x=[names[0], names[-1]], y=[low, low],
                                 name=f"regression limit (−{limit:.1f} % of baseline median)",
                                 mode="lines", hoverinfo="name",
                                 line={"color": RED, "dash": "dot", "width": 1}))
        traces.append(go.Scatter(x=[names[0], names[-1]], y=[round(median, 3)] * 2,
                                 name="baseline median", mode="lines", hoverinfo="name",
                                 line={"color": GREY, "dash": "dash", "width": 1}))
    layout = _layout(f"{target}: throughput per run", "operations / s", names,
                     baseline_at=baseline_at)
    return _finish(traces, [_unusable(entries, target, mean),
                            _regression_mark(entries, target, mean, regressed)], layout)


def latency_trend(target: str, index: int, entries: Sequence[Entry], *, regressed: bool,
                  baseline_at: str | None) -> dict[str, Any]:
    """Whole-run intended p99 / p99.9 (worst operation) with service time dotted."""
    names = [e["name"] for e in entries]
    c = colour(target, index)

    def lat(kind: str, key: str) -> Getter:
        def get(t: dict[str, Any]) -> float | None:
            value = (t.get(kind) or {}).get(key)
            return float(value) if isinstance(value, int | float) else None
        return get

    p999 = lat("intended_ms", "p99_9")
    traces: list[go.BaseTraceType] = [
        _series("intended p99.9", entries, target, p999, color=c),
        _series("intended p99", entries, target, lat("intended_ms", "p99"), color=c,
                dash="dash", symbol="diamond"),
        _series("service p99.9", entries, target, lat("service_ms", "p99_9"), color=GREY,
                dash="dot"),
        _series("service p99", entries, target, lat("service_ms", "p99"), color=GREY,
                dash="dashdot", symbol="diamond"),
    ]
    layout = _layout(f"{target}: latency per run (worst op)", "ms (log)",
                     names, log_y=True, baseline_at=baseline_at)
    return _finish(traces, [_unusable(entries, target, p999, failed_at_zero=False),
                            _regression_mark(entries, target, p999, regressed)], layout)


def errors_trend(target: str, index: int, entries: Sequence[Entry], *, regressed: bool,
                 baseline_at: str | None) -> dict[str, Any]:
    names = [e["name"] for e in entries]

    def get(key: str) -> Getter:
        def value(t: dict[str, Any]) -> float | None:
            v = t.get(key)
            return float(v) if isinstance(v, int | float) else None
        return value

    traces: list[go.BaseTraceType] = [
        _series("errors (% of offered)", entries, target, get("error_pct"), color=RED,
                usable_only=False),
        _series("dropped (% of offered)", entries, target, get("dropped_pct"),
                color="#d97706", dash="dash", symbol="diamond", usable_only=False),
    ]
    layout = _layout(f"{target}: errors and dropped per run",
                     "% of offered", names, baseline_at=baseline_at)
    return _finish(traces, [_regression_mark(entries, target, get("error_pct"), regressed)],
                   layout)


def audit_trend(target: str, index: int, entries: Sequence[Entry], *, regressed: bool,
                baseline_at: str | None) -> dict[str, Any]:
    names = [e["name"] for e in entries]

    def get(key: str) -> Getter:
        def value(t: dict[str, Any]) -> float | None:
            v = (t.get("audit") or {}).get(key)
            return float(v) if isinstance(v, int | float) else None
        return value

    traces: list[go.BaseTraceType] = [
        _series("acknowledged writes lost", entries, target,
                get("acknowledged_writes_lost"), color=RED, usable_only=False),
        _series("oversold SKUs", entries, target, get("oversold_skus"), color="#6a1b9a",
                dash="dash", symbol="diamond", usable_only=False),
    ]
    layout = _layout(f"{target}: audit findings per run", "count", names,
                     baseline_at=baseline_at)
    return _finish(traces, [_regression_mark(entries, target, get("acknowledged_writes_lost"),
                                             regressed)], layout)
