"""The pure regression judgement (reports.regression)."""

from __future__ import annotations

import numpy as np
import pytest

from reports import regression as rg


def test_mann_whitney_separated_samples_are_significant() -> None:
    u, p = rg.mann_whitney_u([1, 2, 3, 4, 5, 6, 7, 8], [11, 12, 13, 14, 15, 16, 17, 18])
    assert u == 0.0 and p < 0.001


def test_mann_whitney_identical_samples_are_not() -> None:
    _, p = rg.mann_whitney_u([5.0] * 10, [5.0] * 10)
    assert p == 1.0


def test_mann_whitney_known_value() -> None:
    # Hand-computed: a=[1,2,4], b=[3,5,6] has one pair with b < a, so U_a = 1; the normal
    # approximation with continuity correction: z = (|1 - 4.5| - 0.5) / sqrt(5.25) = 1.309,
    # p = erfc(z / sqrt 2) = 0.1904 (scipy's asymptotic mannwhitneyu agrees).
    u, p = rg.mann_whitney_u([1, 2, 4], [3, 5, 6])
    assert u == 1.0
    assert p == pytest.approx(0.1904, abs=1e-3)


def test_noise_is_within_stage() -> None:
    # Two flat stages at very different levels: no noise although the overall spread is huge.
    values = [100.0] * 10 + [1000.0] * 10
    stages = ["a"] * 10 + ["b"] * 10
    assert rg.relative_noise_pct(values, stages) == 0.0
    assert rg.relative_noise_pct(values) > 40.0


def samples(level: float, spread: float, seed: int, n: int = 30) -> rg.Samples:
    rng = np.random.default_rng(seed)
    vals = (level * (1 + spread * rng.standard_normal(n))).tolist()
    return rg.Samples(values=vals, stages=["s"] * n)


def test_judge_regression_in_latency() -> None:
    j = rg.judge(10.0, 15.0, higher_is_better=False, samples_before=samples(10, 0.05, 1),
                 samples_after=samples(15, 0.05, 2))
    assert j.verdict == rg.REGRESSION and j.change_pct == pytest.approx(50.0)
    assert j.p_value is not None and j.p_value < 0.05


def test_judge_throughput_drop_is_regression_rise_is_improvement() -> None:
    down = rg.judge(1000.0, 700.0, higher_is_better=True)
    up = rg.judge(1000.0, 1300.0, higher_is_better=True)
    assert (down.verdict, up.verdict) == (rg.REGRESSION, rg.IMPROVEMENT)


def test_judge_below_threshold_is_noise() -> None:
    assert rg.judge(10.0, 10.5, higher_is_better=False).verdict == rg.WITHIN_NOISE


def test_judge_noise_raises_the_limit() -> None:
    # +30 % but the per-interval values scatter by ±50 %: within noise.
    j = rg.judge(10.0, 13.0, higher_is_better=False, samples_before=samples(10, 0.8, 3),
                 samples_after=samples(13, 0.8, 4))
    assert j.noise_pct > 30.0 and j.verdict == rg.WITHIN_NOISE


def test_judge_not_significant_is_not_a_regression() -> None:
    same = samples(10, 0.05, 5)
    j = rg.judge(10.0, 20.0, higher_is_better=False, samples_before=same, samples_after=same)
    assert j.verdict == rg.WITHIN_NOISE and "not significant" in j.note


def test_judge_missing_or_zero() -> None:
    assert rg.judge(None, 1.0, higher_is_better=False).verdict == rg.NOT_COMPARABLE
    assert rg.judge(0.0, 0.0, higher_is_better=False).verdict == rg.WITHIN_NOISE
    assert rg.judge(0.0, 5.0, higher_is_better=False).verdict == rg.NOT_COMPARABLE


def test_detect_step_finds_the_break() -> None:
    step = rg.detect_step([10, 11, 10, 9, 10, 20, 21, 19, 20])
    assert step is not None and step.index == 5
    assert (step.before, step.after) == (10.0, 20.0)


def test_detect_step_none_for_flat_or_short() -> None:
    assert rg.detect_step([5, 5, 5, 5, 5, 5]) is None
    assert rg.detect_step([1, 2, 3]) is None


def test_judge_history_latest_against_previous() -> None:
    flat = [100.0, 102.0, 98.0, 101.0, 99.0]
    assert rg.judge_history([*flat, 100.5], higher_is_better=False).verdict == rg.WITHIN_NOISE
    assert rg.judge_history([*flat, 140.0], higher_is_better=False).verdict == rg.REGRESSION
    assert rg.judge_history([*flat, 140.0], higher_is_better=True).verdict == rg.IMPROVEMENT
    assert rg.judge_history([1.0], higher_is_better=True).verdict == rg.NOT_COMPARABLE
    # Too little history to know the noise: no verdict rather than a guess.
    assert rg.judge_history([100.0, 100.0, 200.0], higher_is_better=False).verdict == (
        rg.NOT_COMPARABLE)


def test_judge_history_noisy_past_widens_the_limit() -> None:
    noisy = [100.0, 60.0, 140.0, 90.0, 120.0]
    j = rg.judge_history([*noisy, 125.0], higher_is_better=False)
    assert j.limit_pct > 25.0 and j.verdict == rg.WITHIN_NOISE
