"""``bench findmax``: the highest offered rate a target sustains within its SLO.

Pure: the search (which rate next, when to stop) and the judgement of one step from its
``results.json`` target block.  Running a step is the caller's (``bench/commands/findmax.py``
through the orchestrator), so the search is unit-tested with a fake target.

The search, bounded in steps and time::

    grow    start_rate, start_rate·growth, …   until a step fails or max_rate is reached
    bisect  between the last passing and the first failing rate, until the gap is within
            ``resolution`` of the passing rate (default 10 %) or a cap is hit
    repeat  the highest passing rate once more, to show it holds

A step *passes* when every SLO term holds (``bench/slo.py``: intended latency, i.e.
coordinated-omission corrected), the error share is within ``max_error_share``, nothing was
dropped by the generator's backlog, achieved throughput is at least ``min_achieved`` of offered,
and the step is valid.  A step on which the *generator* was the limit (``generator_saturated``,
the engine's validity flag, or — on a step that missed a latency term — a generator schedule
lag p99 of at least half that term's threshold and 10 ms) ends the search: the verdict is "limit of this generator", never
the datastore's capacity.  Caps: ``max_steps`` steps (repeat included) and ``max_time_s`` of
load per target; hitting one ends the search with the best rate so far, and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.errors import UsageError
from bench.slo import SloTerm, evaluate

# verdicts of a whole search (``findmax.verdict`` in results.json)
HELD = "held"  # bisected to the resolution: max_rate_ops_s is the capacity at this SLO
AT_MAX_RATE = "max-rate reached"  # every step passed up to --max-rate: a lower bound
GENERATOR_LIMIT = "limit of this generator"  # the generator, not the datastore, ran out
NO_PASSING_STEP = "no passing step"  # the first (lowest) rate already failed
CAPPED = "step or time cap reached"  # stopped by --max-steps / --max-time: a lower bound


@dataclass(frozen=True)
class Bounds:
    start_rate: float = 200.0
    max_rate: float = 50_000.0
    growth: float = 2.0
    resolution: float = 0.10
    max_steps: int = 12
    max_time_s: float = 600.0
    step_s: float = 10.0
    warmup_s: float = 3.0

    def __post_init__(self) -> None:
        def bad(what: str) -> UsageError:
            return UsageError(f"findmax: {what}")

        for name in ("start_rate", "max_rate", "step_s", "max_time_s"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise bad(f"--{name.replace('_', '-')} must be a number > 0, got {v!r}")
        if self.max_rate < self.start_rate:
            raise bad(
                f"--max-rate {self.max_rate:g} is below --start-rate {self.start_rate:g}: "
                "the search range is empty"
            )
        if not (math.isfinite(self.growth) and self.growth > 1.0):
            raise bad(f"--growth must be > 1, got {self.growth!r}")
        if not (0.0 < self.resolution < 1.0):
            raise bad(f"--resolution must be between 0 and 1 (e.g. 0.1), got {self.resolution!r}")
        if self.max_steps < 2:
            raise bad(f"--max-steps must be >= 2 (one step and its repeat), got {self.max_steps}")
        if not (math.isfinite(self.warmup_s) and self.warmup_s >= 0):
            raise bad(f"--warmup must be a number of seconds >= 0, got {self.warmup_s!r}")
        if self.step_s + self.warmup_s > self.max_time_s:
            raise bad(
                f"--max-time {self.max_time_s:g} s is shorter than one step "
                f"({self.warmup_s:g} s warm-up + {self.step_s:g} s)"
            )

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Criteria:
    terms: list[SloTerm]
    max_error_share: float = 0.01
    min_achieved: float = 0.95
    max_lag_share: float = 0.5
    min_lag_ms: float = 10.0

    def to_json(self) -> dict[str, Any]:
        return {
            "slo": [t.text for t in self.terms],
            "max_error_share": self.max_error_share,
            "min_achieved_share": self.min_achieved,
            "generator_limited_if_lag_p99_share_of_slo": self.max_lag_share,
            "no_drops": True,
        }


@dataclass
class StepVerdict:
    passed: bool
    generator_limited: bool
    reasons: list[str]
    slo: dict[str, Any]


def judge(block: dict[str, Any], criteria: Criteria) -> StepVerdict:
    """One step's verdict from its ``targets.<t>`` block (as written by the engine)."""
    reasons: list[str] = []
    slo = evaluate(criteria.terms, block)
    for t in slo["terms"]:
        if not t["met"]:
            reasons.append(f"SLO {t['term']} missed ({t['detail']})")
    totals = block.get("totals", {})
    completed = int(totals.get("completed", 0))
    offered = int(totals.get("offered", 0))
    errors = int(totals.get("errors", 0))
    dropped = int(totals.get("dropped", 0))
    if completed == 0:
        reasons.append("no operation completed")
    elif errors / completed > criteria.max_error_share:
        reasons.append(
            f"error share {errors / completed:.2%} > {criteria.max_error_share:.2%}"
        )
    if dropped:
        reasons.append(f"{dropped} operations dropped (backlog full)")
    achieved, offered_rate = (float(totals.get("throughput_ops_s", 0.0)),
                              float(totals.get("offered_ops_s", 0.0)))  # fmt: skip
    if offered and achieved < criteria.min_achieved * offered_rate:
        reasons.append(
            f"achieved {achieved:.0f}/s < {criteria.min_achieved:.0%} of offered "
            f"{offered_rate:.0f}/s"
        )
    if block.get("status") not in ("ok", None):
        reasons.append(f"step status {block.get('status')}: {block.get('error')}")
    generator = bool(block.get("generator_saturated"))
    if generator:
        evidence = (block.get("saturation") or {}).get("evidence") or []
        reasons.append("generator saturated" + (f" ({evidence[0]})" if evidence else ""))
    lag_p99 = float((totals.get("lag_ms") or {}).get("p99", 0.0))
    latency_missed = [t for t in slo["terms"]
                      if t["metric"] == "latency" and not t["met"] and t["value"] is not None]
    limits = [float(t["threshold"]) for t in latency_missed]
    if limits and lag_p99 >= max(criteria.max_lag_share * min(limits), criteria.min_lag_ms):
        # the schedule lag is the generator being late to send: a short step can miss its
        # latency SLO on the generator's lateness before the saturation detector (which
        # wants sustained evidence) has fired — that is not the datastore's capacity
        generator = True
        reasons.append(
            f"generator schedule lag p99 {lag_p99:.0f} ms >= {criteria.max_lag_share:.0%} of "
            f"the latency SLO {min(limits):g} ms"
        )
    return StepVerdict(not reasons, generator, reasons, slo)


@dataclass
class Step:
    index: int
    rate: float
    phase: str  # grow | bisect | repeat
    verdict: StepVerdict
    summary: dict[str, Any]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "phase": self.phase,
            "rate_ops_s": round(self.rate, 1),
            "passed": self.verdict.passed,
            "generator_limited": self.verdict.generator_limited,
            "reasons": self.verdict.reasons,
            "slo": self.verdict.slo,
            "seconds": round(self.seconds, 2),
            **self.summary,
        }


@dataclass
class Search:
    """The state machine: ``next_rate()`` → run a step → ``record(...)`` until ``None``."""

    bounds: Bounds
    steps: list[Step] = field(default_factory=list)
    elapsed_s: float = 0.0
    best: float | None = None  # highest passing rate
    failed: float | None = None  # lowest failing rate above best
    verdict: str | None = None
    _phase: str = "grow"

    def next_rate(self) -> tuple[float, str] | None:
        """The next (rate, phase) to run, or ``None`` when the search is over."""
        b = self.bounds
        if self._phase == "done":
            return None
        step_cost = b.step_s + b.warmup_s
        budget_left = (len(self.steps) < b.max_steps
                       and self.elapsed_s + step_cost <= b.max_time_s)  # fmt: skip
        if self._phase == "repeat":
            if self.best is None or not budget_left:
                self._phase = "done"
                return None
            return self.best, "repeat"
        # keep one step of the budget for the repeat
        room = (len(self.steps) + 1 < b.max_steps
                and self.elapsed_s + 2 * step_cost <= b.max_time_s)  # fmt: skip
        if not self.steps:
            return b.start_rate, "grow"
        if not room:
            self.verdict = self.verdict or CAPPED
            return self._to_repeat()
        if self._phase == "grow":
            assert self.best is not None
            return min(self.best * b.growth, b.max_rate), "grow"
        assert self.best is not None and self.failed is not None
        return (self.best + self.failed) / 2.0, "bisect"

    def _to_repeat(self) -> tuple[float, str] | None:
        self._phase = "repeat"
        return self.next_rate()

    def record(self, rate: float, phase: str, verdict: StepVerdict, summary: dict[str, Any],
               seconds: float) -> None:  # fmt: skip
        self.steps.append(Step(len(self.steps) + 1, rate, phase, verdict, summary, seconds))
        self.elapsed_s += seconds
        if phase == "repeat":
            self._phase = "done"
            return
        if verdict.generator_limited:
            # not the datastore's capacity: stop, keep the best passing rate as a lower bound
            self.verdict = GENERATOR_LIMIT
            self._phase = "repeat" if self.best is not None else "done"
            return
        if verdict.passed:
            self.best = rate
            if self._phase == "grow" and rate >= self.bounds.max_rate:
                self.verdict = AT_MAX_RATE
                self._phase = "repeat"
                return
        else:
            if self.best is None:
                self.verdict = NO_PASSING_STEP
                self._phase = "done"
                return
            self.failed = rate if self.failed is None else min(self.failed, rate)
            self._phase = "bisect"
        if (self._phase == "bisect" and self.best is not None and self.failed is not None
                and (self.failed - self.best) <= self.bounds.resolution * self.best):
            self.verdict = HELD
            self._phase = "repeat"

    @property
    def repeat(self) -> Step | None:
        return next((s for s in self.steps if s.phase == "repeat"), None)

    def to_json(self) -> dict[str, Any]:
        rep = self.repeat
        return {
            "verdict": self.verdict or CAPPED,
            "max_rate_ops_s": None if self.best is None else round(self.best, 1),
            "lowest_failing_rate_ops_s": None if self.failed is None else round(self.failed, 1),
            "repeat_held": None if rep is None else rep.verdict.passed,
            "steps": [s.to_json() for s in self.steps],
            "load_seconds": round(self.elapsed_s, 1),
        }


def step_summary(block: dict[str, Any]) -> dict[str, Any]:
    """What a step's plot and table need, from its ``targets.<t>`` block: rates and the
    worst operation's intended and service percentiles (the SLO's own view)."""
    totals = block.get("totals", {})
    ops = (block.get("operations") or {}).values()

    def worst(kind: str, key: str) -> float | None:
        vals = [float(op["latency_ms"][kind][key]) for op in ops if int(op.get("count", 0)) > 0]
        return max(vals) if vals else None

    completed = int(totals.get("completed", 0))
    return {
        "offered_ops_s": float(totals.get("offered_ops_s", 0.0)),
        "achieved_ops_s": float(totals.get("throughput_ops_s", 0.0)),
        "completed": completed,
        "errors": int(totals.get("errors", 0)),
        "dropped": int(totals.get("dropped", 0)),
        "error_share": (int(totals.get("errors", 0)) / completed) if completed else None,
        "latency_ms": {
            kind: {k: worst(kind, k) for k in ("p50", "p99", "p99_9")}
            for kind in ("intended", "service")
        },
        "generator_saturated": bool(block.get("generator_saturated")),
    }
