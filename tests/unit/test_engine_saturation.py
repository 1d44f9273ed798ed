"""Generator saturation: the detector's arithmetic, and both sides of the distinction
(generator late = saturated; target slow = queued, not saturated)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.engine.saturation import SaturationDetector

SCENARIOS = Path(__file__).resolve().with_name("test_engine.py")


def run_scenario(name: str, tmp_path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(SCENARIOS), name, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])["result"]
    return result


def test_sustained_lag_is_flagged_with_numbers() -> None:
    d = SaturationDetector(lag_p99_ms=50, cpu_pct=90, sustain_s=5)
    for t, lag in enumerate([1, 80, 90, 300, 120, 70, 2, 1]):
        d.observe(t, lag, 40.0)
    assert d.saturated
    (evidence,) = d.to_json()["evidence"]
    assert evidence == "schedule lag p99 up to 300 ms > 50 ms for 5 s (from t=1 s)"
    assert d.to_json()["max_lag_ms"] == 300


def test_short_spikes_are_not_saturation() -> None:
    d = SaturationDetector(sustain_s=5)
    for t in range(30):
        busy = t % 5 == 0
        d.observe(t, 500.0 if busy else 3.0, 99.0 if busy else 50.0)
    assert not d.saturated and d.evidence() == []
    assert d.max_cpu_pct == 99.0


def test_cpu_episode_open_at_the_end_counts() -> None:
    d = SaturationDetector(sustain_s=5)
    for t in range(10):
        d.observe(t, 1.0, 95.0 if t >= 4 else 10.0)
    assert d.saturated
    assert "generator process CPU up to 95 % > 90 % for 6 s (from t=4 s, until the end)" in d.evidence()


def test_cpu_bound_generator_is_flagged(tmp_path: Path) -> None:
    res = run_scenario("cpu-bound-generator", tmp_path)
    assert res["generator_saturated"] is True
    assert res["saturation"]["evidence"], res["saturation"]
    assert res["saturation"]["max_lag_ms"] > 50


def test_slow_target_queues_without_flagging_the_generator(tmp_path: Path) -> None:
    res = run_scenario("slow-target", tmp_path)
    totals = res["totals"]
    assert totals["queued"] > 1000  # 300 ops/s × 0.2 s needs 60 slots; the cap is 20
    assert res["generator_saturated"] is False, res["saturation"]
    p99 = res["operations"]["browse"]["latency_ms"]
    assert p99["intended"]["p99"] > 1000 and p99["service"]["p99"] < 400
