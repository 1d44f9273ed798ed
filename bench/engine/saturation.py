"""Is the *generator* the bottleneck?  A pure detector fed once per interval, plus a CPU probe.

Thresholds (documented in docs/RESULTS.md):

* **schedule lag** p99 > ``LAG_P99_MS`` (50 ms) — the scheduler dispatches operations late
  because its own event loop is busy.  Waiting for an in-flight slot or for a cart is the
  *target's* fault and is not part of this lag (it is reported as ``queued``/queue wait);
* **CPU** of any single generator process > ``CPU_PCT`` (90 % of one core) — a Python process
  cannot use more than one core;

either sustained for ``SUSTAIN_S`` (5) consecutive intervals flags the target's result
``generator_saturated: true`` with the evidence as strings carrying the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LAG_P99_MS = 50.0
CPU_PCT = 90.0
SUSTAIN_S = 5


@dataclass
class _Streak:
    label: str
    unit: str
    threshold: float
    start_s: float | None = None
    length: int = 0
    worst: float = 0.0
    episodes: list[str] = field(default_factory=list)

    def observe(self, t_s: float, value: float, sustain: int) -> None:
        if value > self.threshold:
            if self.start_s is None:
                self.start_s, self.length, self.worst = t_s, 0, 0.0
            self.length += 1
            self.worst = max(self.worst, value)
            return
        self.close(sustain)

    def close(self, sustain: int) -> None:
        if self.start_s is not None and self.length >= sustain:
            self.episodes.append(
                f"{self.label} up to {self.worst:.0f} {self.unit} > {self.threshold:.0f} "
                f"{self.unit} for {self.length} s (from t={self.start_s:.0f} s)"
            )
        self.start_s, self.length = None, 0


class SaturationDetector:
    def __init__(
        self,
        *,
        lag_p99_ms: float = LAG_P99_MS,
        cpu_pct: float = CPU_PCT,
        sustain_s: int = SUSTAIN_S,
    ) -> None:
        self.sustain = sustain_s
        self.lag = _Streak("schedule lag p99", "ms", lag_p99_ms)
        self.cpu = _Streak("generator process CPU", "%", cpu_pct)
        self.max_lag_ms = 0.0
        self.max_cpu_pct = 0.0

    def observe(self, t_s: float, lag_p99_ms: float, max_process_cpu_pct: float) -> None:
        self.max_lag_ms = max(self.max_lag_ms, lag_p99_ms)
        self.max_cpu_pct = max(self.max_cpu_pct, max_process_cpu_pct)
        self.lag.observe(t_s, lag_p99_ms, self.sustain)
        self.cpu.observe(t_s, max_process_cpu_pct, self.sustain)

    def evidence(self) -> list[str]:
        out = list(self.lag.episodes) + list(self.cpu.episodes)
        for streak in (self.lag, self.cpu):  # an episode still open at the end
            if streak.start_s is not None and streak.length >= self.sustain:
                out.append(
                    f"{streak.label} up to {streak.worst:.0f} {streak.unit} > "
                    f"{streak.threshold:.0f} {streak.unit} for {streak.length} s "
                    f"(from t={streak.start_s:.0f} s, until the end)"
                )
        return out

    @property
    def saturated(self) -> bool:
        return bool(self.evidence())

    def to_json(self) -> dict[str, Any]:
        return {
            "evidence": self.evidence(),
            "max_lag_ms": round(self.max_lag_ms, 3),
            "max_cpu_pct": round(self.max_cpu_pct, 1),
            "thresholds": {
                "lag_p99_ms": self.lag.threshold,
                "cpu_pct": self.cpu.threshold,
                "sustain_s": self.sustain,
            },
        }


class CpuProbe:
    """CPU percent of this process since the previous call (100 = one core)."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self._proc.cpu_percent(None)

    def sample(self) -> float:
        return float(self._proc.cpu_percent(None))
