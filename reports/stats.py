"""All statistics the report shows, computed from a loaded ``Run`` (pure: no I/O, no HTML).

Templates and plots only format what this module returns. Definitions
(also in docs/REPORT.md):

* peak sustained throughput: the best ``window_s``-second rolling mean of *achieved*
  (completed) operations per second;
* p99 / p99.9 at peak: the largest per-interval intended-latency percentile inside that
  window. Percentiles do not average, but the p-th percentile of a union of intervals is never
  above the largest per-interval p-th percentile, so this is an honest upper bound;
* p99.9 overall: the worst operation's whole-run intended p99.9 (from results.json);
* failure share: (errors + dropped + abandoned) / offered — every offered operation that did
  not end in a success counts against the target;
* verdict: ``failed`` (status not ok) > ``inconclusive`` (generator saturated) > ``lost data``
  (acknowledged writes lost or stock oversold) > ``missed SLO`` (worst p99.9 above the SLO or
  failure share above ``max_failure_pct``) > ``survived``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bench.results import DEFAULT_SLO_P99_9_MS
from bench.results import worst_op as worst_operation
from reports.load import Run

DEFAULT_SLO_MS = DEFAULT_SLO_P99_9_MS  # Dynamo's SLA: 300 ms at p99.9 (bench.results)
DEFAULT_WINDOW_S = 10
DEFAULT_MAX_FAILURE_PCT = 1.0

VERDICT_ORDER = ("survived", "missed SLO", "lost data", "inconclusive", "failed")


@dataclass(frozen=True)
class TargetSummary:
    name: str
    status: str
    error: str | None
    saturated: bool
    evidence: tuple[str, ...]
    offered: int
    completed: int
    errors: int
    dropped: int
    abandoned: int  # offered, never completed (in flight or queued when the drain ended)
    clamped: int  # latencies above the histograms' 1 h ceiling, recorded as 1 h
    throughput_ops_s: float  # whole-run mean of completed ops/s (results.json)
    peak_ops_s: float | None
    peak_window: tuple[float, float] | None
    p99_at_peak_ms: float | None
    p99_9_at_peak_ms: float | None
    p99_9_worst_ms: float | None  # worst operation's whole-run intended p99.9
    p99_9_worst_op: str | None
    error_pct: float | None
    failure_pct: float | None
    writes_lost: int | None
    oversold_skus: int | None
    oversold_units: int | None
    slo_ms: float
    slo_met: bool | None
    verdict: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Column:
    """A summary-table column: which ``TargetSummary`` field, and whether higher is better."""

    key: str
    title: str
    higher_is_better: bool | None  # None: not ranked
    unit: str  # "ops" | "ms" | "pct" | "count": how the page formats it


SUMMARY_COLUMNS = (
    Column("peak_ops_s", "Peak sustained ops/s", True, "ops"),
    Column("p99_at_peak_ms", "p99 at peak (ms)", False, "ms"),
    Column("p99_9_at_peak_ms", "p99.9 at peak (ms)", False, "ms"),
    Column("p99_9_worst_ms", "Worst-op p99.9, whole run (ms)", False, "ms"),
    Column("error_pct", "Errors (% of offered)", False, "pct"),
    Column("dropped", "Dropped", False, "count"),
    Column("abandoned", "Abandoned", False, "count"),
    Column("clamped", "Clamped (> 1 h)", False, "count"),
    Column("writes_lost", "Acked writes lost", False, "count"),
    Column("oversold_skus", "Oversold SKUs", False, "count"),
)


@dataclass(frozen=True)
class RunSummary:
    targets: tuple[TargetSummary, ...]
    #: column key -> names of the targets holding the best value (ties all count)
    best: dict[str, frozenset[str]]
    slo_ms: float
    window_s: int
    survivors: tuple[str, ...]
    headline: str
    banners: tuple[Banner, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Banner:
    level: str  # "failed" | "saturated"
    target: str
    message: str
    evidence: tuple[str, ...]


def target_frame(run: Run, target: str) -> pd.DataFrame:
    """The target's intervals, sorted by time, with ``width_s`` (interval length)."""
    frame = run.timeseries[run.timeseries["target"] == target].sort_values("t_s").copy()
    frame["width_s"] = interval_width(frame)
    return frame.reset_index(drop=True)


def interval_width(frame: pd.DataFrame) -> float:
    """The interval length in seconds (the median step of ``t_s``; 1 s if unknown)."""
    steps = frame["t_s"].diff().dropna()
    steps = steps[steps > 0]
    return float(steps.median()) if len(steps) else 1.0


def peak_window(frame: pd.DataFrame, window_s: int = DEFAULT_WINDOW_S) -> tuple[
        float, float, float] | None:
    """Best ``window_s`` rolling mean of achieved ops/s: ``(start_s, end_s, ops_s)``."""
    if frame.empty:
        return None
    width = interval_width(frame)
    n = max(1, min(len(frame), round(window_s / width)))
    rate = frame["completed"].astype(float) / width
    rolling = rate.rolling(n).mean()
    end_idx = int(rolling.idxmax())
    start_idx = end_idx - n + 1
    start = float(frame["t_s"].iloc[start_idx])
    end = float(frame["t_s"].iloc[end_idx]) + width
    return start, end, float(rolling.iloc[end_idx])


def summarize_target(run: Run, name: str, *, slo_ms: float, window_s: int,
                     max_failure_pct: float) -> TargetSummary:
    t = run.targets[name]
    totals = t.get("totals") or {}
    audit = t.get("audit") or {}
    saturation = t.get("saturation") or {}
    frame = target_frame(run, name)
    peak = peak_window(frame, window_s)
    p99_peak = p999_peak = None
    if peak is not None:
        inside = frame[(frame["t_s"] >= peak[0]) & (frame["t_s"] < peak[1])]
        p99_peak = _max_or_none(inside["intended_p99_ms"])
        p999_peak = _max_or_none(inside["intended_p99_9_ms"])
    worst_op, worst = worst_operation(t.get("operations") or {}, "p99_9")
    offered = int(totals.get("offered", 0))
    errors = int(totals.get("errors", 0))
    dropped = int(totals.get("dropped", 0))
    abandoned = int(totals.get("abandoned", 0))
    error_pct = 100.0 * errors / offered if offered else None
    failure_pct = failure_share(totals)
    lost = _int_or_none(audit.get("acknowledged_writes_lost"))
    oversold = _int_or_none(audit.get("oversold_skus"))
    status = str(t.get("status", "unknown"))
    saturated = bool(t.get("generator_saturated", False))
    # a saturated generator's numbers say nothing about the SLO either way
    slo_met = None if worst is None or saturated else worst <= slo_ms
    verdict, reasons = _verdict(
        status=status, error=t.get("error"), saturated=saturated, lost=lost,
        oversold=oversold, slo_met=slo_met, worst=worst, worst_op=worst_op, slo_ms=slo_ms,
        failure_pct=failure_pct, max_failure_pct=max_failure_pct,
        other_anomalies=_other_anomalies(audit))
    return TargetSummary(
        name=name, status=status, error=t.get("error"), saturated=saturated,
        evidence=tuple(str(e) for e in saturation.get("evidence") or ()),
        offered=offered, completed=int(totals.get("completed", 0)), errors=errors,
        dropped=dropped, abandoned=abandoned, clamped=int(totals.get("clamped", 0)),
        throughput_ops_s=float(totals.get("throughput_ops_s", 0.0)),
        peak_ops_s=None if peak is None else peak[2],
        peak_window=None if peak is None else (peak[0], peak[1]),
        p99_at_peak_ms=p99_peak, p99_9_at_peak_ms=p999_peak,
        p99_9_worst_ms=worst, p99_9_worst_op=worst_op,
        error_pct=error_pct, failure_pct=failure_pct, writes_lost=lost,
        oversold_skus=oversold, oversold_units=_int_or_none(audit.get("oversold_units")),
        slo_ms=slo_ms, slo_met=slo_met, verdict=verdict, reasons=tuple(reasons))


def _other_anomalies(audit: dict[str, Any]) -> int:
    """Audit anomalies beyond lost writes and oversold SKUs (phantom/duplicate orders, stock
    not conserved, wrongful refusals, ...); 0 for results written before the full audit."""
    total = _int_or_none(audit.get("anomalies"))
    if total is None:
        return 0
    counted = (_int_or_none(audit.get("lost_adds")) or 0) + (
        _int_or_none(audit.get("lost_orders")) or 0) + (
        _int_or_none(audit.get("order_shortfalls")) or 0) + (
        _int_or_none(audit.get("oversold_skus")) or 0)
    return max(0, total - counted)


def _verdict(*, status: str, error: Any, saturated: bool, lost: int | None,
             oversold: int | None, slo_met: bool | None, worst: float | None,
             worst_op: str | None, slo_ms: float, failure_pct: float | None,
             max_failure_pct: float, other_anomalies: int = 0) -> tuple[str, list[str]]:
    if status != "ok":
        return "failed", [f"status {status}" + (f": {error}" if error else "")]
    if saturated:
        return "inconclusive", ["the load generator saturated: latencies are not the target's"]
    reasons: list[str] = []
    if lost:
        reasons.append(f"{lost} acknowledged write(s) lost")
    if oversold:
        reasons.append(f"{oversold} SKU(s) oversold")
    if other_anomalies:
        reasons.append(f"{other_anomalies} other audit anomaly(ies): see the audit findings")
    if reasons:
        return "lost data", reasons
    if slo_met is False and worst is not None:
        reasons.append(f"{worst_op} p99.9 {worst:,.0f} ms > SLO {slo_ms:,.0f} ms")
    if failure_pct is not None and failure_pct > max_failure_pct:
        reasons.append(f"{failure_pct:.2f} % of offered operations failed, were dropped or "
                       f"abandoned (> {max_failure_pct:g} %)")
    if slo_met is None:
        reasons.append("no completed operations")
    if reasons:
        return "missed SLO", reasons
    return "survived", [f"worst p99.9 {worst:,.1f} ms ≤ {slo_ms:,.0f} ms, "
                        f"{failure_pct or 0.0:.2f} % failed, dropped or abandoned, no data lost"]


def summarize(run: Run, *, slo_ms: float | None = None, window_s: int = DEFAULT_WINDOW_S,
              max_failure_pct: float = DEFAULT_MAX_FAILURE_PCT) -> RunSummary:
    """The at-a-glance numbers for every target in the run."""
    slo = slo_ms if slo_ms is not None else _stored_slo(run)
    targets = tuple(summarize_target(run, name, slo_ms=slo, window_s=window_s,
                                     max_failure_pct=max_failure_pct)
                    for name in run.targets)
    best = best_per_column(targets, SUMMARY_COLUMNS)
    survivors = tuple(t.name for t in targets if t.verdict == "survived")
    banners = tuple(_banners(targets))
    return RunSummary(targets=targets, best=best, slo_ms=slo, window_s=window_s,
                      survivors=survivors, headline=_headline(targets, survivors, slo),
                      banners=banners)


def _stored_slo(run: Run) -> float:
    for t in run.targets.values():
        value = (t.get("slo") or {}).get("p99_9_ms")
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return DEFAULT_SLO_MS


def _headline(targets: Sequence[TargetSummary], survivors: Sequence[str], slo: float) -> str:
    """Survived / did not / inconclusive, each named: a target whose generator saturated is
    never said to have survived or failed."""
    if not targets:
        return "This run has no targets."
    unsure = [t.name for t in targets if t.verdict == "inconclusive"]
    lost = [t.name for t in targets if t.name not in survivors and t.name not in unsure]
    within = f"within the {slo:,.0f} ms p99.9 SLO"
    if len(survivors) == len(targets):
        return f"Every target survived the spike {within}."
    if len(lost) == len(targets):
        return f"No target survived the spike {within}."
    parts = []
    if survivors:
        parts.append(f"{_join(survivors)} survived the spike {within}")
    if lost:
        parts.append(f"{_join(lost)} did not" if survivors else
                     f"{_join(lost)} did not survive the spike {within}")
    if unsure:
        parts.append(f"{_join(unsure)}: inconclusive (the load generator saturated)")
    return "; ".join(parts) + "."


def _join(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _banners(targets: Iterable[TargetSummary]) -> Iterable[Banner]:
    for t in targets:
        if t.status != "ok":
            yield Banner("failed", t.name, f"{t.name} {t.status}: {t.error or 'no error given'}",
                         ())
        if t.saturated:
            yield Banner("saturated", t.name,
                         f"{t.name}: the load generator saturated; its numbers measure the "
                         "generator, not the datastore", t.evidence)


def best_per_column(targets: Sequence[TargetSummary],
                    columns: Sequence[Column]) -> dict[str, frozenset[str]]:
    """Per ranked column, the targets with the best value among trustworthy targets (status
    ok, generator not saturated). With fewer than two such targets nothing is highlighted."""
    ranked = [t for t in targets if t.status == "ok" and not t.saturated]
    best: dict[str, frozenset[str]] = {}
    for col in columns:
        if col.higher_is_better is None:
            continue
        values = {t.name: getattr(t, col.key) for t in ranked}
        values = {k: float(v) for k, v in values.items() if v is not None}
        if len(values) < 2:
            best[col.key] = frozenset()
            continue
        target_value = max(values.values()) if col.higher_is_better else min(values.values())
        best[col.key] = frozenset(k for k, v in values.items()
                                  if math.isclose(v, target_value, rel_tol=1e-9))
    return best


def failure_share(totals: dict[str, Any]) -> float | None:
    """(errors + dropped + abandoned) / offered in percent; None if nothing was offered."""
    offered = int(totals.get("offered", 0) or 0)
    if offered <= 0:
        return None
    lost = sum(int(totals.get(k, 0) or 0) for k in ("errors", "dropped", "abandoned"))
    return 100.0 * lost / offered


def _max_or_none(series: pd.Series) -> float | None:
    series = series.dropna()
    return float(series.max()) if len(series) else None


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


# -- time series for the plots -------------------------------------------------------------

def throughput_series(frame: pd.DataFrame, stages: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Per interval: offered and achieved ops/s, and the profile's target rate."""
    width = interval_width(frame)
    return pd.DataFrame({
        "t_s": frame["t_s"],
        "offered_ops_s": frame["offered"] / width,
        "achieved_ops_s": frame["completed"] / width,
        "target_ops_s": [profile_rate(stages, float(t)) for t in frame["t_s"]],
    })


def profile_rate(stages: Sequence[dict[str, Any]], t: float) -> float | None:
    """The profile's intended arrival rate at ``t`` (linear within a stage)."""
    for s in stages:
        start, end = float(s["start_s"]), float(s["end_s"])
        if start <= t < end:
            r0 = float(s.get("rate_start", 0.0))
            r1 = float(s.get("rate_end", r0))
            return r0 + (t - start) / (end - start) * (r1 - r0) if end > start else r0
    return None


def error_series(frame: pd.DataFrame) -> pd.DataFrame:
    """Long format ``t_s, kind, count``: errors per type per interval, plus ``dropped``."""
    rows: list[tuple[float, str, int]] = []
    has_types = "errors_by_type" in frame.columns
    for rec in frame.itertuples(index=False):
        t = float(rec.t_s)
        typed = _parse_types(rec.errors_by_type) if has_types else {}
        untyped = int(rec.errors) - sum(typed.values())
        for kind, count in typed.items():
            rows.append((t, kind, count))
        if untyped > 0:
            rows.append((t, "error (untyped)", untyped))
        if int(rec.dropped):
            rows.append((t, "dropped", int(rec.dropped)))
    return pd.DataFrame(rows, columns=["t_s", "kind", "count"])


def _parse_types(raw: Any) -> dict[str, int]:
    if not isinstance(raw, str) or not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): int(v) for k, v in data.items() if isinstance(v, int | float) and v}


def spectrum_points(points: Sequence[Sequence[float]]) -> list[tuple[float, float, float]]:
    """``[[percentile, ms], ...]`` → ``(x = 1/(1-p), ms, percentile %)`` for a log "1 in N"
    axis. Percentiles may be given in percent (HdrHistogram) or as fractions; p = 100 % has no
    finite x and is dropped (the max is shown in the tables)."""
    pts = [(float(p), float(v)) for p, v in points]
    as_percent = any(p > 1.0 for p, _ in pts)
    out = []
    for p, v in pts:
        frac = p / 100.0 if as_percent else p
        if 0.0 <= frac < 1.0:
            out.append((1.0 / (1.0 - frac), v, frac * 100.0))
    return out


WARMUP_SUFFIX = " (excluded)"


def warmup_summary(data: dict[str, Any]) -> dict[str, Any] | None:
    """``targets.<t>.warmup`` for the page: counts and the worst operation's intended p99.9."""
    w = data.get("warmup")
    if not isinstance(w, dict):
        return None
    worst = max((float(op.get("latency_ms", {}).get("intended", {}).get("p99_9", 0.0))
                 for op in (w.get("operations") or {}).values()), default=None)
    return {"duration_s": float(w.get("duration_s", 0.0)), "completed": int(w.get("completed", 0)),
            "errors": int(w.get("errors", 0)), "worst_p99_9_ms": worst}


def bands(items: Sequence[dict[str, Any]] | None, label_key: str) -> list[
        tuple[float, float, str]]:
    """Stages or fault windows as ``(start_s, end_s, label)``, skipping malformed entries.
    A warm-up stage's label ends with ``WARMUP_SUFFIX`` (the plots shade it apart)."""
    out = []
    for item in items or ():
        try:
            label = str(item.get(label_key, "")) + (WARMUP_SUFFIX if item.get("warmup") else "")
            out.append((float(item["start_s"]), float(item["end_s"]), label))
        except (KeyError, TypeError, ValueError):
            continue
    return out


@dataclass(frozen=True)
class OperationRow:
    op: str
    count: int
    errors: int
    error_pct: float | None
    intended: dict[str, float | None]
    service: dict[str, float | None]


LATENCY_KEYS = ("p50", "p90", "p99", "p99_9", "p99_99", "max")


def operation_rows(target: dict[str, Any]) -> list[OperationRow]:
    """The per-operation table of one target (whole run, from results.json)."""
    rows = []
    for op, data in (target.get("operations") or {}).items():
        lat = data.get("latency_ms") or {}
        count = int(data.get("count", 0))
        errors = int(data.get("errors", 0))
        rows.append(OperationRow(
            op=op, count=count, errors=errors,
            error_pct=100.0 * errors / count if count else None,
            intended={k: _float_or_none((lat.get("intended") or {}).get(k)) for k in LATENCY_KEYS},
            service={k: _float_or_none((lat.get("service") or {}).get(k)) for k in LATENCY_KEYS}))
    return rows


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
