"""Statistics behind the report, on the golden fixtures and on small hand-made frames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reports import stats
from reports.load import load_run

FIXTURES = Path(__file__).parents[1] / "fixtures" / "results"


def frame(completed: list[int], p99: list[float] | None = None) -> pd.DataFrame:
    n = len(completed)
    return pd.DataFrame({
        "t_s": list(range(n)), "completed": completed, "offered": completed,
        "errors": [0] * n, "dropped": [0] * n,
        "intended_p99_ms": p99 or [1.0] * n,
    })


def test_peak_window_picks_best_rolling_mean() -> None:
    f = frame([10] * 20 + [100] * 10 + [10] * 20)
    start, end, rate = stats.peak_window(f, window_s=10) or (0, 0, 0)
    assert (start, end, rate) == (20.0, 30.0, 100.0)


def test_peak_window_shorter_run_than_window_uses_all() -> None:
    start, end, rate = stats.peak_window(frame([4, 6]), window_s=10) or (0, 0, 0)
    assert (start, end, rate) == (0.0, 2.0, 5.0)


def test_peak_window_respects_interval_width() -> None:
    f = frame([20] * 10)
    f["t_s"] = [2 * i for i in range(10)]
    result = stats.peak_window(f, window_s=10)
    assert result is not None and result[2] == 10.0 and result[1] - result[0] == 10.0


def test_spectrum_points_percent_and_fraction() -> None:
    pct = stats.spectrum_points([[0.0, 1.0], [50.0, 2.0], [99.9, 9.0], [100.0, 12.0]])
    frac = stats.spectrum_points([[0.0, 1.0], [0.5, 2.0], [0.999, 9.0], [1.0, 12.0]])
    assert [round(x, 6) for x, _, _ in pct] == [1.0, 2.0, 1000.0]
    assert [round(x, 6) for x, _, _ in frac] == [1.0, 2.0, 1000.0]


def test_error_series_types_untyped_and_dropped() -> None:
    f = frame([5, 5])
    f["errors"] = [3, 0]
    f["dropped"] = [0, 7]
    f["errors_by_type"] = ['{"Timeout": 2}', "{}"]
    series = stats.error_series(f)
    assert sorted(map(tuple, series.values.tolist())) == [
        (0.0, "Timeout", 2), (0.0, "error (untyped)", 1), (1.0, "dropped", 7)]


def test_profile_rate_interpolates() -> None:
    stages = [{"name": "ramp", "start_s": 0, "end_s": 10, "rate_start": 0, "rate_end": 100}]
    assert stats.profile_rate(stages, 5.0) == 50.0
    assert stats.profile_rate(stages, 11.0) is None


def test_baseline_verdicts_and_best_columns() -> None:
    summary = stats.summarize(load_run(FIXTURES / "baseline"))
    by = {t.name: t for t in summary.targets}
    assert by["postgres"].verdict == "survived"
    assert by["redis-cluster"].verdict == "survived"
    assert by["cassandra"].verdict == "missed SLO"
    assert summary.survivors == ("postgres", "redis-cluster")
    assert "cassandra" in summary.headline and "did not" in summary.headline
    assert summary.best["p99_9_worst_ms"] == frozenset({"redis-cluster"})
    assert summary.best["writes_lost"] == frozenset({"postgres", "cassandra", "redis-cluster"})
    # p99.9 at peak is an upper bound of the whole-window percentile: never below p99 at peak.
    for t in summary.targets:
        assert t.p99_9_at_peak_ms is not None and t.p99_at_peak_ms is not None
        assert t.p99_9_at_peak_ms >= t.p99_at_peak_ms
    assert summary.banners == ()


def test_slo_is_configurable() -> None:
    summary = stats.summarize(load_run(FIXTURES / "baseline"), slo_ms=2.0)
    assert summary.survivors == ()
    assert summary.slo_ms == 2.0


def test_saturated_target_is_inconclusive_and_not_ranked() -> None:
    summary = stats.summarize(load_run(FIXTURES / "saturated"))
    redis = next(t for t in summary.targets if t.name == "redis-cluster")
    assert redis.verdict == "inconclusive"
    assert [b.level for b in summary.banners] == ["saturated"]
    assert summary.banners[0].evidence and "schedule lag" in summary.banners[0].evidence[0]
    assert all("redis-cluster" not in names for names in summary.best.values())


def test_failed_target() -> None:
    summary = stats.summarize(load_run(FIXTURES / "failed"))
    cas = next(t for t in summary.targets if t.name == "cassandra")
    assert cas.verdict == "failed" and cas.peak_ops_s is None
    assert summary.banners[0].level == "failed" and "CQL" in summary.banners[0].message


def test_lost_writes_beat_slo(tmp_path: Path) -> None:
    run = load_run(FIXTURES / "baseline")
    run.targets["postgres"]["audit"]["acknowledged_writes_lost"] = 3
    summary = stats.summarize(run)
    pg = next(t for t in summary.targets if t.name == "postgres")
    assert pg.verdict == "lost data" and "3 acknowledged" in pg.reasons[0]


@pytest.mark.parametrize("run", ["baseline", "noisy", "regressed", "saturated", "failed"])
def test_every_fixture_summarizes(run: str) -> None:
    summary = stats.summarize(load_run(FIXTURES / run))
    assert len(summary.targets) == 3
