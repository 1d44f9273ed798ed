"""Arrivals follow the profile's integrated rate, for every stage kind, Poisson and uniform,
across stage boundaries (issue 11, item 2).  The counts are checked against their
expectation ``Λ(b) − Λ(a)``: exactly (±1) for uniform arrivals, within 4 standard deviations
for Poisson ones (a Poisson count's variance is its mean)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from bench.engine.ledger import Ledger
from bench.engine.recorder import Recorder
from bench.engine.scheduler import OpenLoopScheduler
from targets.reference import ReferenceStore
from workloads import Profile, Stage
from workloads.arrivals import cumulative


def profile(*stages: tuple[str, float, float, float], arrival: str = "uniform") -> Profile:
    """``(kind, duration_s, rate_start, rate_end)`` per stage."""
    return Profile(
        name="t", description="", arrival=arrival, mix={"browse": 1.0}, carts=10,
        stages=tuple(Stage(f"s{i}", k, d, r0, r1) for i, (k, d, r0, r1) in enumerate(stages)),
    )


def times(p: Profile, seed: int = 1) -> list[float]:
    """The intended start times the scheduler would offer, in order."""
    sched = OpenLoopScheduler(ReferenceStore(), p, ["sku-1"], ["c1"], Recorder(), Ledger(),
                              seed=seed)
    out = []
    while (t := sched.arrivals.next()) is not None:
        out.append(t)
    return out


def window_counts(ts: list[float], edges: list[float]) -> list[int]:
    return np.histogram(ts, bins=edges)[0].tolist()  # type: ignore[no-any-return]


CASES = {
    "hold": [("hold", 10, 100, 100)],
    "step": [("hold", 5, 10, 10), ("step", 5, 200, 200)],
    "slow ramp 0→10/s over 60 s": [("ramp", 60, 0, 10)],
    "fast ramp 0→100/s over 10 s": [("ramp", 10, 0, 100)],
    "ramp down to 0, then hold": [("ramp", 10, 100, 0), ("hold", 10, 50, 50)],
    "zero-rate hold between": [("hold", 4, 50, 50), ("hold", 5, 0, 0), ("ramp", 6, 0, 80)],
    "ramp up then down": [("ramp", 7, 20, 300), ("ramp", 3, 300, 20)],
}


@pytest.mark.parametrize("name", list(CASES))
def test_uniform_counts_follow_the_integral_per_stage_and_per_second(name: str) -> None:
    p = profile(*CASES[name])
    ts = times(p)
    assert ts == sorted(ts)
    assert len(ts) == round(p.expected_ops)
    edges = [0.0]
    for s in p.stages:
        edges.append(edges[-1] + s.duration_s)
    for got, a, b in zip(window_counts(ts, edges), edges, edges[1:], strict=False):
        assert abs(got - (cumulative(p, b) - cumulative(p, a))) <= 1, (name, a, b, got)
    seconds = [float(t) for t in range(int(p.duration_s) + 1)]
    for got, a, b in zip(window_counts(ts, seconds), seconds, seconds[1:], strict=False):
        assert abs(got - (cumulative(p, b) - cumulative(p, a))) <= 1, (name, a, b, got)


@pytest.mark.parametrize("name", list(CASES))
def test_poisson_counts_follow_the_integral_per_stage(name: str) -> None:
    p = replace(profile(*CASES[name]), arrival="poisson")
    edges = [0.0]
    for s in p.stages:
        edges.append(edges[-1] + s.duration_s)
    totals = []
    for seed in range(20):
        ts = times(p, seed)
        totals.append(len(ts))
        for got, a, b in zip(window_counts(ts, edges), edges, edges[1:], strict=False):
            want = cumulative(p, b) - cumulative(p, a)
            assert abs(got - want) <= 4 * math.sqrt(want) + 1, (name, seed, a, b, got, want)
    # the mean over 20 runs: within 4 standard errors of the expectation
    want = p.expected_ops
    assert abs(sum(totals) / len(totals) - want) <= 4 * math.sqrt(want / len(totals)) + 0.5


def test_nothing_arrives_in_a_zero_rate_stage_or_after_a_ramp_to_zero() -> None:
    for arrival in ("uniform", "poisson"):
        ts = times(profile(("ramp", 10, 100, 0), ("hold", 5, 0, 0), ("hold", 5, 20, 20),
                           arrival=arrival))
        assert not [t for t in ts if 10.0 <= t < 15.0], arrival
        assert max(t for t in ts if t < 15.0) < 10.0


def test_uniform_arrivals_are_evenly_spaced_on_a_hold() -> None:
    ts = times(profile(("hold", 2, 500, 500)))
    gaps = np.diff(ts)
    assert len(ts) == 1000
    assert np.allclose(gaps, 1 / 500) and ts[0] == pytest.approx(1 / 1000)
