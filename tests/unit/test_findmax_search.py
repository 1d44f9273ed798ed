"""The findmax search (pure) against a fake target with a known capacity."""

from __future__ import annotations

from typing import Any

import pytest

from bench import findmax as fm
from bench.errors import UsageError
from bench.slo import parse_slos
from reports import findmax as report_fm


def block(rate: float, *, capacity: float, generator_max: float = 1e12,
          errors: int = 0) -> dict[str, Any]:
    """A results block as the engine writes it: latency explodes past ``capacity``."""
    p999 = 5.0 if rate <= capacity else 900.0
    completed = int(rate * 10)
    lat = {"p50": 1.0, "p90": 2.0, "p99": 3.0, "p99_9": p999, "p99_99": p999, "max": p999}
    return {
        "status": "ok",
        "generator_saturated": rate > generator_max,
        "saturation": {"evidence": ["schedule lag p99 172 ms > 100 ms for 9 s"]},
        "totals": {"offered": completed, "completed": completed, "errors": errors,
                   "dropped": 0, "throughput_ops_s": rate, "offered_ops_s": rate,
                   "lag_ms": {"p99": 0.5, "max": 1.0}},
        "operations": {"browse": {"count": completed, "errors": errors,
                                  "latency_ms": {"intended": lat, "service": lat}}},
    }


def search(capacity: float, **kw: Any) -> fm.Search:
    bounds = fm.Bounds(**{"start_rate": 100, "max_rate": 100_000, "step_s": 10,
                          "warmup_s": 2, **kw})
    crit = fm.Criteria(parse_slos([]))
    s = fm.Search(bounds)
    while (nxt := s.next_rate()) is not None:
        rate, phase = nxt
        b = block(rate, capacity=capacity)
        s.record(rate, phase, fm.judge(b, crit), fm.step_summary(b), 12.0)
    return s


def test_grows_then_bisects_to_the_knee_and_repeats_it() -> None:
    s = search(capacity=1000)
    rates = [(st.phase, st.rate) for st in s.steps]
    assert rates[:5] == [("grow", 100), ("grow", 200), ("grow", 400), ("grow", 800),
                         ("grow", 1600)]
    assert all(p == "bisect" for p, _ in rates[5:-1]) and rates[-1][0] == "repeat"
    assert s.verdict == fm.HELD
    assert s.best is not None and s.failed is not None
    assert s.best <= 1000 < s.failed and (s.failed - s.best) <= 0.1 * s.best
    assert rates[-1][1] == s.best and s.to_json()["repeat_held"] is True


def test_a_generator_limited_step_ends_the_search_as_the_generators_limit() -> None:
    bounds = fm.Bounds(start_rate=100, max_rate=100_000)
    crit = fm.Criteria(parse_slos([]))
    s = fm.Search(bounds)
    while (nxt := s.next_rate()) is not None:
        rate, phase = nxt
        b = block(rate, capacity=1e9, generator_max=500)
        s.record(rate, phase, fm.judge(b, crit), fm.step_summary(b), 13.0)
    assert s.verdict == fm.GENERATOR_LIMIT
    assert s.best == 400 and [st.phase for st in s.steps][-1] == "repeat"
    assert any("generator saturated" in r for r in s.steps[3].verdict.reasons)


def test_lag_dominated_latency_miss_is_the_generator_not_the_store() -> None:
    b = block(2000, capacity=1000)
    b["totals"]["lag_ms"]["p99"] = 400.0  # late sends explain the miss
    v = fm.judge(b, fm.Criteria(parse_slos(["p99.9<=300ms"])))
    assert not v.passed and v.generator_limited
    b["totals"]["lag_ms"]["p99"] = 2.0
    v = fm.judge(b, fm.Criteria(parse_slos(["p99.9<=300ms"])))
    assert not v.passed and not v.generator_limited


def test_first_step_failing_is_a_clear_no_passing_step_verdict() -> None:
    s = search(capacity=50)
    assert s.verdict == fm.NO_PASSING_STEP and s.best is None and len(s.steps) == 1
    data = {"run": {"host": {"cpus_usable": 2}}, "targets": {"postgres": {
        "findmax": {**s.to_json(), "criteria": {"slo": ["p99.9<=300ms"]}}}}}
    assert "postgres: no passing step (lowest rate tried 100 ops/s)" in report_fm.headline(data)


def test_every_step_passing_up_to_max_rate_is_a_lower_bound() -> None:
    s = search(capacity=1e9, max_rate=500)
    assert [st.rate for st in s.steps] == [100, 200, 400, 500, 500]
    assert s.verdict == fm.AT_MAX_RATE


def test_caps_bound_steps_and_time() -> None:
    s = search(capacity=1e9, max_steps=4)
    assert len(s.steps) == 4 and s.steps[-1].phase == "repeat" and s.verdict == fm.CAPPED
    s = search(capacity=1e9, max_time_s=40)  # 12 s per step: 3 steps fit
    assert len(s.steps) == 3 and s.elapsed_s <= 40 and s.steps[-1].phase == "repeat"


def test_error_share_drops_and_shortfall_fail_a_step() -> None:
    crit = fm.Criteria(parse_slos([]), max_error_share=0.01)
    b = block(100, capacity=1000, errors=50)  # 5 %
    assert any("error share 5.00%" in r for r in fm.judge(b, crit).reasons)
    b = block(100, capacity=1000)
    b["totals"]["dropped"] = 3
    b["totals"]["throughput_ops_s"] = 80.0
    reasons = fm.judge(b, crit).reasons
    assert any("3 operations dropped" in r for r in reasons)
    assert any("achieved 80/s < 95% of offered 100/s" in r for r in reasons)


@pytest.mark.parametrize(("kw", "msg"), [
    ({"start_rate": 0}, "--start-rate must be a number > 0"),
    ({"start_rate": 500, "max_rate": 100}, "the search range is empty"),
    ({"growth": 1.0}, "--growth must be > 1"),
    ({"resolution": 1.5}, "--resolution must be between 0 and 1"),
    ({"max_steps": 1}, "--max-steps must be >= 2"),
    ({"max_time_s": 5, "step_s": 10}, "shorter than one step"),
])
def test_senseless_ranges_are_one_line_usage_errors(kw: dict[str, Any], msg: str) -> None:
    with pytest.raises(UsageError, match=msg):
        fm.Bounds(**kw)


def test_headline_side_by_side() -> None:
    def fmblock(verdict: str, best: float | None) -> dict[str, Any]:
        return {"findmax": {"verdict": verdict, "max_rate_ops_s": best, "repeat_held": True,
                            "steps": [{"rate_ops_s": 100, "index": 1}],
                            "criteria": {"slo": ["p99.9<=300ms"]}}}
    data = {"run": {"launcher": "native", "host": {"cpus_usable": 2, "memory_bytes": 8 * 2**30}},
            "targets": {"postgres": fmblock(fm.HELD, 4100),
                        "redis-cluster": fmblock(fm.GENERATOR_LIMIT, 12800),
                        "cassandra": fmblock(fm.HELD, 900)}}
    assert report_fm.headline(data) == (
        "postgres holds 4,100 ops/s, redis-cluster ≥ 12,800 ops/s (limit of this generator, "
        "not of redis-cluster), cassandra 900 ops/s within p99.9<=300ms on 2 cores, 8.0 GiB, "
        "native processes, generator on the same host.")
