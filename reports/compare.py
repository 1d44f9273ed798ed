"""``bench compare``: two runs (or a history of runs) judged metric by metric.
Judgements come from ``reports.regression``; this module only gathers the numbers
from stored results and renders the comparison page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeGuard

import pandas as pd

from reports import regression, stats
from reports.load import Run, load_run
from reports.regression import Judgement, Samples

#: metric -> (results.json latency key, timeseries column); throughput is special-cased
LATENCY_METRICS = {
    "p50 intended (ms)": ("p50", "intended_p50_ms"),
    "p99 intended (ms)": ("p99", "intended_p99_ms"),
    "p99.9 intended (ms)": ("p99_9", "intended_p99_9_ms"),
}
THROUGHPUT = "throughput (ops/s)"
ALL_OPS = "(all)"


@dataclass(frozen=True)
class CompareRow:
    target: str
    op: str
    metric: str
    judgement: Judgement

    @property
    def verdict(self) -> str:
        return self.judgement.verdict


@dataclass
class CompareResult:
    run_a: Path
    run_b: Path
    threshold_pct: float
    rows: list[CompareRow]
    notes: list[str] = field(default_factory=list)
    out: Path | None = None

    @property
    def regressions(self) -> list[CompareRow]:
        return [r for r in self.rows if r.verdict == regression.REGRESSION]

    @property
    def improvements(self) -> list[CompareRow]:
        return [r for r in self.rows if r.verdict == regression.IMPROVEMENT]


def _samples(frame: pd.DataFrame, column: str) -> Samples:
    if column == "completed":
        values = (frame["completed"] / stats.interval_width(frame)).tolist()
    else:
        values = frame[column].tolist()
    return Samples(values=[float(v) for v in values], stages=[str(s) for s in frame["stage"]])


def _op_throughput(target: dict[str, object], op: str | None) -> float | None:
    totals = target.get("totals")
    if not isinstance(totals, dict):
        return None
    if op is None:
        value = totals.get("throughput_ops_s")
        return float(value) if isinstance(value, int | float) else None
    duration = totals.get("duration_s")
    ops = target.get("operations")
    if not isinstance(duration, int | float) or not duration or not isinstance(ops, dict):
        return None
    count = (ops.get(op) or {}).get("count")
    return float(count) / float(duration) if isinstance(count, int | float) else None


def _op_latency(target: dict[str, object], op: str, key: str) -> float | None:
    ops = target.get("operations")
    if not isinstance(ops, dict):
        return None
    value = (((ops.get(op) or {}).get("latency_ms") or {}).get("intended") or {}).get(key)
    return float(value) if isinstance(value, int | float) else None


def compare_loaded(a: Run, b: Run, *, threshold: float = regression.DEFAULT_THRESHOLD_PCT,
                   alpha: float = regression.DEFAULT_ALPHA) -> CompareResult:
    rows: list[CompareRow] = []
    notes: list[str] = []
    for name in a.targets:
        if name not in b.targets:
            notes.append(f"{name} is only in {a.path.name}")
            continue
        ta, tb = a.targets[name], b.targets[name]
        if ta.get("status") != "ok" or tb.get("status") != "ok":
            broke = ta.get("status") == "ok"
            verdict = regression.REGRESSION if broke else regression.NOT_COMPARABLE
            note = f"status {ta.get('status')} → {tb.get('status')}"
            rows.append(CompareRow(name, ALL_OPS, "status", Judgement(
                None, None, None, 0.0, threshold, None, verdict, note)))
            continue
        fa, fb = stats.target_frame(a, name), stats.target_frame(b, name)
        tput_a, tput_b = _samples(fa, "completed"), _samples(fb, "completed")
        rows.append(CompareRow(name, ALL_OPS, THROUGHPUT, regression.judge(
            _op_throughput(ta, None), _op_throughput(tb, None), higher_is_better=True,
            samples_before=tput_a, samples_after=tput_b, threshold_pct=threshold,
            alpha=alpha)))
        ops_b = tb.get("operations") or {}
        for op in ta.get("operations") or {}:
            if op not in ops_b:
                notes.append(f"{name}/{op} is only in {a.path.name}")
                continue
            rows.append(CompareRow(name, op, THROUGHPUT, regression.judge(
                _op_throughput(ta, op), _op_throughput(tb, op), higher_is_better=True,
                samples_before=tput_a, samples_after=tput_b, threshold_pct=threshold,
                alpha=alpha)))
            for metric, (key, column) in LATENCY_METRICS.items():
                rows.append(CompareRow(name, op, metric, regression.judge(
                    _op_latency(ta, op, key), _op_latency(tb, op, key), higher_is_better=False,
                    samples_before=_samples(fa, column), samples_after=_samples(fb, column),
                    threshold_pct=threshold, alpha=alpha)))
    notes.extend(f"{name} is only in {b.path.name}" for name in b.targets
                 if name not in a.targets)
    return CompareResult(run_a=a.path, run_b=b.path, threshold_pct=threshold, rows=rows,
                         notes=notes)


def compare_runs(run_a: Path, run_b: Path, out: Path | None = None,
                 threshold: float = regression.DEFAULT_THRESHOLD_PCT,
                 alpha: float = regression.DEFAULT_ALPHA) -> CompareResult:
    """Compare run B against baseline run A and write the comparison page to ``out``
    (default: ``run_b/compare-<run_a name>.html``)."""
    from reports.render import environment  # the page only; the judgement needs no jinja

    a, b = load_run(Path(run_a)), load_run(Path(run_b))
    result = compare_loaded(a, b, threshold=threshold, alpha=alpha)
    target = Path(out) if out is not None else b.path / f"compare-{a.path.name}.html"
    html = environment().get_template("compare.html.j2").render(
        result=result, a=a, b=b, chart_count=0, regression=regression)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    result.out = target
    return result


def _usable(target: dict[str, Any] | None, skip_saturated: bool) -> TypeGuard[dict[str, Any]]:
    """A target's numbers can be judged (and serve as a baseline): status ok and, when
    ``skip_saturated``, a generator that kept up."""
    if target is None or target.get("status") != "ok":
        return False
    return not (skip_saturated and target.get("generator_saturated"))


def _confirm_with_intervals(judgement: Judgement, runs: Sequence[Run], name: str,
                            metric: str, alpha: float = regression.DEFAULT_ALPHA,
                            skip_saturated: bool = False) -> Judgement:
    """A history verdict stands only if the newest run's per-interval values also differ
    from the previous ok run's (stage-wise Mann–Whitney); short histories otherwise turn
    run-to-run scatter into false alarms."""
    if judgement.verdict not in (regression.REGRESSION, regression.IMPROVEMENT):
        return judgement
    ok = [r for r in runs if _usable(r.targets.get(name), skip_saturated)]
    if len(ok) < 2:
        return judgement
    column = "completed" if metric == THROUGHPUT else LATENCY_METRICS[metric][1]
    before = _samples(stats.target_frame(ok[-2], name), column)
    after = _samples(stats.target_frame(ok[-1], name), column)
    p = regression.stagewise_p_value(before.values, before.stages, after.values, after.stages)
    if p is None or p < alpha:
        return replace(judgement, p_value=p)
    return replace(judgement, p_value=p, verdict=regression.WITHIN_NOISE,
                   note=f"{judgement.note}; per-interval values unchanged (p = {p:.3g})")


@dataclass(frozen=True)
class HistoryRow:
    target: str
    op: str
    metric: str
    values: tuple[float | None, ...]
    judgement: Judgement
    step: regression.Step | None


@dataclass
class HistoryResult:
    runs: list[Path]
    rows: list[HistoryRow]

    @property
    def regressions(self) -> list[HistoryRow]:
        return [r for r in self.rows if r.judgement.verdict == regression.REGRESSION]


def compare_history(run_dirs: Sequence[Path], *,
                    threshold: float = regression.DEFAULT_THRESHOLD_PCT,
                    window: int = 10, skip_saturated: bool = False) -> HistoryResult:
    """For the nightly CI: the newest run (last) against the previous ones, per target,
    operation and metric, plus the most likely step in the whole history. A verdict needs
    the history gate (``regression.judge_history``) *and* a significant stage-wise
    Mann–Whitney test against the previous ok run's per-interval values. With
    ``skip_saturated``, a target whose generator saturated counts like a failed one: its
    numbers are neither judged nor used as a baseline."""
    runs = [load_run(Path(p)) for p in run_dirs]
    keys: list[tuple[str, str, str]] = []
    for run in runs:
        for name, t in run.targets.items():
            for op in [None, *(t.get("operations") or {})]:
                metrics = [THROUGHPUT] + ([*LATENCY_METRICS] if op else [])
                for metric in metrics:
                    key = (name, op or ALL_OPS, metric)
                    if key not in keys:
                        keys.append(key)
    rows = []
    for name, op, metric in keys:
        values: list[float | None] = []
        for run in runs:
            found = run.targets.get(name)
            if not _usable(found, skip_saturated):
                values.append(None)
            elif metric == THROUGHPUT:
                values.append(_op_throughput(found, None if op == ALL_OPS else op))
            else:
                values.append(_op_latency(found, op, LATENCY_METRICS[metric][0]))
        present = [v for v in values if v is not None]
        higher = metric == THROUGHPUT
        if values and values[-1] is None:
            judgement = Judgement(None, None, None, 0.0, threshold, None,
                                  regression.NOT_COMPARABLE, "missing in the newest run")
        else:
            judgement = regression.judge_history(present, higher_is_better=higher,
                                                 threshold_pct=threshold, window=window)
            judgement = _confirm_with_intervals(judgement, runs, name, metric,
                                                skip_saturated=skip_saturated)
        rows.append(HistoryRow(name, op, metric, tuple(values), judgement,
                               regression.detect_step(present)))
    return HistoryResult(runs=[r.path for r in runs], rows=rows)
