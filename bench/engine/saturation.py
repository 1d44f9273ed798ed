"""Is the *generator* the bottleneck?  A pure detector fed once per interval, plus a CPU probe.

It judges the generator on time-weighted evidence over the whole run and per stage
(thresholds documented in docs/RESULTS.md):

* **late operations**: the share of started operations whose *schedule lag* (the
  generator's own lateness; waiting for an in-flight slot or a cart is the target's and is
  not part of it, see scheduler.py) exceeded ``LATE_MS`` (200 ms: two thirds of the SLO;
  a loaded 2-core machine descheduling the process shows lags of ~100 ms).  Every operation counts,
  so a stall counts for every arrival it delayed, however the intervals fell: flagged above
  ``LATE_SHARE_PCT`` (2 %: on a loaded 2-core machine the catch-up after a *target's* 2 s
  stall made ~1 % of operations > 200 ms late) over the whole run or in any stage (with at least
  ``MIN_LATE_OPS`` late operations);
* **stalled time**: how much later than planned the intervals closed (the event loop was
  blocked or the whole process stopped: nothing ran, not even the clock of the intervals);
  an interval that closes 1.5 s late counts 1.5 s, however empty it was.  Flagged above
  ``STALL_SHARE_PCT`` (1 %) of the run, or for any single stall of ``STALL_MAX_S`` (1 s);
* **CPU** of any single generator process > ``CPU_PCT`` (90 % of one core) for
  ``SUSTAIN_S`` (5) seconds in a row (interval widths, not interval counts).

Sustained and intermittent stalls are both caught: the late share does not care whether the
late operations came in one streak or in many short ones.  The evidence carries the numbers
(late share, lag p99.9 and max, stalled seconds, per stage) as strings and as fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LATE_MS = 200.0
LATE_SHARE_PCT = 2.0
MIN_LATE_OPS = 10
STALL_GRACE_S = 0.25  # an interval closing up to this much late is the poll granularity
STALL_SHARE_PCT = 1.0
STALL_MAX_S = 1.0
CPU_PCT = 90.0
SUSTAIN_S = 5.0


@dataclass
class _Share:
    started: int = 0
    late: int = 0

    @property
    def pct(self) -> float:
        return 100.0 * self.late / self.started if self.started else 0.0


@dataclass
class _CpuStreak:
    threshold: float
    start_s: float | None = None
    length_s: float = 0.0
    worst: float = 0.0
    episodes: list[str] = field(default_factory=list)

    def observe(self, t_s: float, width_s: float, value: float, sustain: float) -> None:
        if value > self.threshold:
            if self.start_s is None:
                self.start_s, self.length_s, self.worst = t_s, 0.0, 0.0
            self.length_s += width_s
            self.worst = max(self.worst, value)
            return
        self.close(sustain)

    def text(self, until_end: bool) -> str:
        end = ", until the end" if until_end else ""
        return (f"generator process CPU up to {self.worst:.0f} % > {self.threshold:.0f} % for "
                f"{self.length_s:.0f} s (from t={self.start_s or 0.0:.0f} s{end})")

    def close(self, sustain: float) -> None:
        if self.start_s is not None and self.length_s >= sustain - 1e-9:
            self.episodes.append(self.text(False))
        self.start_s, self.length_s = None, 0.0


class SaturationDetector:
    def __init__(
        self,
        *,
        late_ms: float = LATE_MS,
        late_share_pct: float = LATE_SHARE_PCT,
        stall_share_pct: float = STALL_SHARE_PCT,
        cpu_pct: float = CPU_PCT,
        sustain_s: float = SUSTAIN_S,
        interval_s: float = 1.0,
    ) -> None:
        self.late_ms = late_ms
        self.late_share_pct = late_share_pct
        self.stall_share_pct = stall_share_pct
        self.sustain = sustain_s
        self.interval_s = interval_s
        self.cpu = _CpuStreak(cpu_pct)
        self.run = _Share()
        self.stages: dict[str, _Share] = {}
        self.stalled_s = 0.0
        self.worst_stall_s = 0.0
        self.duration_s = 0.0
        self.max_lag_ms = 0.0
        self.lag_p99_9_ms = 0.0
        self.max_cpu_pct = 0.0

    def observe(
        self, t_s: float, width_s: float, stage: str, *, started: int, late: int,
        max_lag_ms: float, max_process_cpu_pct: float, planned_width_s: float | None = None,
    ) -> None:  # fmt: skip
        """One closed interval ``[t_s, t_s + width_s)``: ``started`` operations of which
        ``late`` had a schedule lag above ``late_ms``; ``planned_width_s``: how long the
        interval should have lasted (None: ``interval_s``; the last one may be short)."""
        self.duration_s = max(self.duration_s, t_s + width_s)
        self.max_lag_ms = max(self.max_lag_ms, max_lag_ms)
        self.max_cpu_pct = max(self.max_cpu_pct, max_process_cpu_pct)
        self.run.started += started
        self.run.late += late
        share = self.stages.setdefault(stage, _Share())
        share.started += started
        share.late += late
        planned = self.interval_s if planned_width_s is None else planned_width_s
        stall = width_s - planned - STALL_GRACE_S
        if stall > 0:
            self.stalled_s += stall + STALL_GRACE_S
            self.worst_stall_s = max(self.worst_stall_s, stall + STALL_GRACE_S)
        self.cpu.observe(t_s, width_s, max_process_cpu_pct, self.sustain)

    def set_lag_percentile(self, p99_9_ms: float) -> None:
        """The whole run's schedule-lag p99.9 (from the merged histogram), for the evidence."""
        self.lag_p99_9_ms = p99_9_ms

    def _late_text(self, where: str, share: _Share) -> str:
        return (f"schedule lag > {self.late_ms:.0f} ms for {share.pct:.2f} % of operations "
                f"({share.late} of {share.started}{where}; lag p99.9 "
                f"{self.lag_p99_9_ms:,.0f} ms, max {self.max_lag_ms:,.0f} ms) > "
                f"{self.late_share_pct:g} %")

    def evidence(self) -> list[str]:
        out: list[str] = []
        if self.run.late and self.run.pct > self.late_share_pct:
            out.append(self._late_text(", whole run", self.run))
        for name, share in self.stages.items():
            if share.late >= MIN_LATE_OPS and share.pct > self.late_share_pct and (
                    len(self.stages) > 1):
                out.append(self._late_text(f", stage {name}", share))
        stall_pct = 100.0 * self.stalled_s / self.duration_s if self.duration_s else 0.0
        if stall_pct > self.stall_share_pct or self.worst_stall_s >= STALL_MAX_S:
            out.append(f"generator stalled (event loop blocked or process stopped) for "
                       f"{self.stalled_s:.1f} s = {stall_pct:.1f} % of the run (longest "
                       f"{self.worst_stall_s:.1f} s; limits {self.stall_share_pct:g} % of the "
                       f"run, {STALL_MAX_S:g} s at once)")
        out.extend(self.cpu.episodes)
        if self.cpu.start_s is not None and self.cpu.length_s >= self.sustain - 1e-9:
            out.append(self.cpu.text(True))
        return out

    @property
    def saturated(self) -> bool:
        return bool(self.evidence())

    def to_json(self) -> dict[str, Any]:
        return {
            "evidence": self.evidence(),
            "late_ops": self.run.late,
            "late_pct": round(self.run.pct, 4),
            "stages": {name: {"started": s.started, "late": s.late, "late_pct": round(s.pct, 4)}
                       for name, s in self.stages.items()},
            "lag_p99_9_ms": round(self.lag_p99_9_ms, 3),
            "max_lag_ms": round(self.max_lag_ms, 3),
            "stalled_s": round(self.stalled_s, 3),
            "max_cpu_pct": round(self.max_cpu_pct, 1),
            "thresholds": {
                "late_ms": self.late_ms,
                "late_share_pct": self.late_share_pct,
                "stall_share_pct": self.stall_share_pct,
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
