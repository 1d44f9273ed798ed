"""Is a change a regression or noise? Pure functions, no I/O.

In the spirit of asv's ``step_detect``: the judgement is separate from how results are stored
or shown. Method (docs/REPORT.md has the prose):

* ``change_pct`` = (after − before) / before of the run-level statistic;
* ``noise_pct``: run-to-run noise estimated from the per-interval values of each run — within
  each profile stage, the half inter-quartile range relative to the median; the stages' median,
  the larger of the two runs. Stages remove the profile's own ramps from the spread;
* the per-interval values of the two runs are compared stage by stage with a two-sided
  Mann–Whitney U test (normal approximation, tie-corrected); the smallest stage p-value is
  Bonferroni-corrected for the number of stages;
* a change is a **regression** when it goes the bad way, ``|change_pct|`` exceeds
  ``max(threshold_pct, noise_pct)``, and the test rejects "same distribution" at ``alpha``
  (when either run has fewer than ``MIN_SAMPLES`` intervals in every stage, the test is
  skipped and the threshold/noise gate alone decides). An **improvement** is the mirror image.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

MIN_SAMPLES = 5
DEFAULT_THRESHOLD_PCT = 10.0
DEFAULT_ALPHA = 0.05

REGRESSION = "regression"
IMPROVEMENT = "improvement"
WITHIN_NOISE = "within noise"
NOT_COMPARABLE = "n/a"


@dataclass(frozen=True)
class Judgement:
    before: float | None
    after: float | None
    change_pct: float | None
    noise_pct: float
    limit_pct: float  # max(threshold, noise)
    p_value: float | None
    verdict: str  # REGRESSION | IMPROVEMENT | WITHIN_NOISE | NOT_COMPARABLE
    note: str = ""


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided Mann–Whitney U test: ``(U of a, p)`` with the tie-corrected normal
    approximation (fine for the ≥ 5 samples per side we require)."""
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples must be non-empty")
    pooled = np.concatenate([x, y])
    order = np.argsort(pooled, kind="mergesort")
    ranks = np.empty(len(pooled))
    sorted_vals = pooled[order]
    i = 0
    tie_term = 0.0
    while i < len(sorted_vals):  # average ranks over ties
        j = i
        while j + 1 < len(sorted_vals) and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        t = j - i + 1
        tie_term += t**3 - t
        i = j + 1
    u1 = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2.0)
    n = n1 + n2
    mean = n1 * n2 / 2.0
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0:
        return u1, 1.0
    z = (abs(u1 - mean) - 0.5) / math.sqrt(var)  # continuity correction
    p = math.erfc(max(z, 0.0) / math.sqrt(2.0))
    return u1, min(1.0, p)


def relative_noise_pct(values: Sequence[float], groups: Sequence[str] | None = None) -> float:
    """Half the inter-quartile range relative to the median, per group (stage); the median
    over groups with at least ``MIN_SAMPLES`` values. 0.0 when nothing can be estimated."""
    data = np.asarray(values, dtype=float)
    keys = list(groups) if groups is not None else ["all"] * len(data)
    spreads = []
    for key in dict.fromkeys(keys):
        part = data[[k == key for k in keys]]
        part = part[np.isfinite(part)]
        if len(part) < MIN_SAMPLES:
            continue
        median = float(np.median(part))
        if median <= 0:
            continue
        q1, q3 = np.percentile(part, [25, 75])
        spreads.append(100.0 * (q3 - q1) / 2.0 / median)
    return float(np.median(spreads)) if spreads else 0.0


def stagewise_p_value(a: Sequence[float], a_groups: Sequence[str], b: Sequence[float],
                      b_groups: Sequence[str]) -> float | None:
    """Smallest per-stage Mann–Whitney p-value, Bonferroni-corrected; None if no stage has
    ``MIN_SAMPLES`` values on both sides."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    pvalues = []
    for key in dict.fromkeys([*a_groups, *b_groups]):
        pa = xa[[g == key for g in a_groups]]
        pb = xb[[g == key for g in b_groups]]
        pa, pb = pa[np.isfinite(pa)], pb[np.isfinite(pb)]
        if len(pa) >= MIN_SAMPLES and len(pb) >= MIN_SAMPLES:
            pvalues.append(mann_whitney_u(pa, pb)[1])
    if not pvalues:
        return None
    return min(1.0, min(pvalues) * len(pvalues))


@dataclass(frozen=True)
class Samples:
    """Per-interval values of one metric in one run, with the stage of each interval."""

    values: Sequence[float]
    stages: Sequence[str]


def judge(before: float | None, after: float | None, *, higher_is_better: bool,
          samples_before: Samples | None = None, samples_after: Samples | None = None,
          threshold_pct: float = DEFAULT_THRESHOLD_PCT,
          alpha: float = DEFAULT_ALPHA) -> Judgement:
    """Judge one metric between two runs (see the module docstring)."""
    if before is None or after is None or not math.isfinite(before) or not math.isfinite(after):
        return Judgement(before, after, None, 0.0, threshold_pct, None, NOT_COMPARABLE,
                         "missing in one run")
    if before == 0:
        verdict = WITHIN_NOISE if after == 0 else NOT_COMPARABLE
        return Judgement(before, after, None, 0.0, threshold_pct, None, verdict,
                         "" if after == 0 else "before is 0: no relative change")
    change = 100.0 * (after - before) / abs(before)
    noise = 0.0
    p_value = None
    if samples_before is not None and samples_after is not None:
        noise = max(relative_noise_pct(samples_before.values, samples_before.stages),
                    relative_noise_pct(samples_after.values, samples_after.stages))
        p_value = stagewise_p_value(samples_before.values, samples_before.stages,
                                    samples_after.values, samples_after.stages)
    limit = max(threshold_pct, noise)
    worse = change < 0 if higher_is_better else change > 0
    significant = p_value is None or p_value < alpha
    if abs(change) > limit and significant:
        verdict = REGRESSION if worse else IMPROVEMENT
    else:
        verdict = WITHIN_NOISE
    note = ""
    if abs(change) > limit and not significant:
        note = f"not significant (p = {p_value:.3g} ≥ {alpha:g})"
    return Judgement(before, after, change, noise, limit, p_value, verdict, note)


# -- history (nightly CI) -------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    index: int  # first value of the new level
    before: float  # median before the step
    after: float  # median from the step on
    change_pct: float


def detect_step(values: Sequence[float], min_size: int = 2) -> Step | None:
    """The single split into two constant levels (medians) that minimises the total absolute
    deviation (an L1 piecewise-constant fit with one break, as asv's step detection does with
    many). None when there are fewer than ``2 * min_size`` values or no split improves the
    one-level fit."""
    x = np.asarray(values, dtype=float)
    if len(x) < 2 * min_size:
        return None
    base_cost = float(np.abs(x - np.median(x)).sum())
    best: tuple[float, int] | None = None
    for k in range(min_size, len(x) - min_size + 1):
        left, right = x[:k], x[k:]
        cost = float(np.abs(left - np.median(left)).sum() + np.abs(right - np.median(right)).sum())
        if best is None or cost < best[0]:
            best = (cost, k)
    if best is None or best[0] >= base_cost:
        return None
    k = best[1]
    lo, hi = float(np.median(x[:k])), float(np.median(x[k:]))
    change = 100.0 * (hi - lo) / abs(lo) if lo else math.inf
    return Step(index=k, before=lo, after=hi, change_pct=change)


MIN_HISTORY = 3


def judge_history(values: Sequence[float], *, higher_is_better: bool,
                  threshold_pct: float = DEFAULT_THRESHOLD_PCT, window: int = 10) -> Judgement:
    """The newest value against the median of up to ``window`` previous ones (at least
    ``MIN_HISTORY``, else no verdict). Noise is the previous values' scaled median absolute
    deviation (1.4826 × MAD ≈ σ), 3σ relative to the median; a regression must exceed
    ``max(threshold, noise)``."""
    if len(values) < MIN_HISTORY + 1:
        return Judgement(None, values[-1] if values else None, None, 0.0, threshold_pct, None,
                         NOT_COMPARABLE, f"needs at least {MIN_HISTORY} previous runs")
    previous = np.asarray(values[-1 - window:-1], dtype=float)
    baseline = float(np.median(previous))
    latest = float(values[-1])
    noise = 0.0
    if baseline:
        mad = float(np.median(np.abs(previous - baseline)))
        noise = 100.0 * 3.0 * 1.4826 * mad / abs(baseline)
    base = judge(baseline, latest, higher_is_better=higher_is_better, threshold_pct=threshold_pct)
    if base.change_pct is None:
        return base
    limit = max(threshold_pct, noise)
    worse = base.change_pct < 0 if higher_is_better else base.change_pct > 0
    verdict = WITHIN_NOISE
    if abs(base.change_pct) > limit:
        verdict = REGRESSION if worse else IMPROVEMENT
    return Judgement(baseline, latest, base.change_pct, noise, limit, None, verdict,
                     f"vs median of {len(previous)} previous run(s)")


def metric_direction(metric: str) -> bool:
    """True when higher is better (throughput); latency metrics are lower-is-better."""
    return metric.startswith("throughput")


def worst(judgements: Mapping[str, Judgement]) -> str:
    verdicts = {j.verdict for j in judgements.values()}
    for v in (REGRESSION, IMPROVEMENT, WITHIN_NOISE):
        if v in verdicts:
            return v
    return NOT_COMPARABLE


# -- failure shares and audit findings over a history (nightly CI) --------------------------

DEFAULT_FLOOR_PP = 0.1


def judge_share_history(values: Sequence[float], *,
                        threshold_pct: float = DEFAULT_THRESHOLD_PCT, window: int = 10,
                        floor_pp: float = DEFAULT_FLOOR_PP) -> Judgement:
    """A failure share in percent (errors or dropped of offered; higher is worse): as
    ``judge_history``, and the absolute change must also exceed ``floor_pp`` percentage
    points — near zero, relative changes are huge and meaningless (0.01 % → 0.03 % is +200 %).
    From a baseline of 0, a rise beyond the floor is a regression."""
    j = judge_history(values, higher_is_better=False, threshold_pct=threshold_pct,
                      window=window)
    if j.before is None or j.after is None:
        return j
    delta = j.after - j.before
    if j.before == 0:
        if delta > floor_pp:
            return replace(j, verdict=REGRESSION,
                           note=f"from 0 to {j.after:.3g} % (floor {floor_pp:g} pp)")
        return replace(j, verdict=WITHIN_NOISE,
                       note=f"from 0 by {delta:.3g} pp ≤ {floor_pp:g} pp" if delta else "")
    if j.verdict in (REGRESSION, IMPROVEMENT) and abs(delta) <= floor_pp:
        return replace(j, verdict=WITHIN_NOISE,
                       note=f"{j.note}; absolute change {delta:+.3g} pp ≤ {floor_pp:g} pp")
    return j


def judge_findings_history(values: Sequence[float], window: int = 10) -> Judgement:
    """Audit findings (acknowledged writes lost, oversold SKUs): counts that should be 0, so
    no noise model. A regression when the newest run has findings and none of the up to
    ``window`` previous runs (at least one) had any; otherwise no verdict."""
    if len(values) < 2:
        return Judgement(None, values[-1] if values else None, None, 0.0, 0.0, None,
                         NOT_COMPARABLE, "needs at least 1 previous run")
    previous = [float(v) for v in values[-1 - window:-1]]
    latest = float(values[-1])
    worst_before = max(previous)
    if latest > 0 and worst_before == 0:
        return Judgement(0.0, latest, None, 0.0, 0.0, None, REGRESSION,
                         f"{latest:g} finding(s); none in {len(previous)} previous run(s)")
    if latest == 0 and worst_before > 0:
        return Judgement(worst_before, 0.0, None, 0.0, 0.0, None, IMPROVEMENT,
                         "no findings any more")
    note = "already present before" if latest > 0 else ""
    return Judgement(worst_before, latest, None, 0.0, 0.0, None, WITHIN_NOISE, note)
