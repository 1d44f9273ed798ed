"""``--workers auto`` (bench/sizing.py)."""

from __future__ import annotations

import pytest

from bench.errors import UsageError
from bench.sizing import BUDGET, US_PER_OP, parse_workers, size


def test_cheap_target_at_the_peak_needs_one_process() -> None:
    s = size("reference", 2000, 2)
    assert s.workers == 0 and not s.short and s.warning() is None


def test_processes_follow_cost_times_peak_and_are_capped_by_generator_cpus() -> None:
    us = US_PER_OP["cassandra"]
    peak = 3 * BUDGET * 1e6 / us  # exactly three processes' worth
    assert size("cassandra", peak, 8).workers == 3
    capped = size("cassandra", peak, 2)
    assert capped.workers == 2 and capped.short
    line = capped.warning()
    assert line is not None and "needs ~" in line and "has 2" in line and "--scale" in line
    assert capped.to_json()["short"] is True


def test_one_generator_cpu_means_in_process_and_says_so_when_short() -> None:
    s = size("cassandra", 2000, 1)
    assert s.workers == 0 and s.short


def test_parse_workers() -> None:
    assert parse_workers("auto") is None and parse_workers("AUTO") is None
    assert parse_workers("3") == 3
    with pytest.raises(UsageError):
        parse_workers("-1")
    with pytest.raises(UsageError):
        parse_workers("many")
