"""The recorder: every operation's two latencies into HdrHistograms, per op, per interval.

Owned by the load engine.  For every completed operation it records, side by side:

* **intended latency** = end − *intended* start (the coordinated-omission-corrected latency a
  user of an open system sees; includes waiting for an in-flight slot and for the cart);
* **service time**     = end − actual send (what the datastore took).

Values are microseconds, 3 significant digits, 1 µs … 1 h (larger values are clamped to the
top and counted in ``clamped``).  Besides the per-op histograms, each interval carries the
target-wide **schedule lag** histogram (the generator's lateness) and **queue wait**
histogram (waiting for an in-flight slot or for the cart: the target's fault), split as
described in ``scheduler.py``, and counters.

``rotate()`` closes the current interval and returns it as an ``Interval``; ``Interval``
encodes to a plain dict (HDR histograms base64-encoded) so that worker processes can ship
intervals to the master, where ``absorb()`` merges them exactly.  ``Totals`` accumulates
closed intervals for the final summary.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from bench.engine.hdrstats import mean, percentiles, record_many
from targets.base import OpResult

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
PERCENTILES: dict[str, float] = {
    "p50": 50.0,
    "p90": 90.0,
    "p99": 99.0,
    "p99_9": 99.9,
    "p99_99": 99.99,
}
SPECTRUM: tuple[float, ...] = (
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
)  # fmt: skip


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def summarize(h: HdrHistogram) -> dict[str, float]:
    """Percentiles, max and mean in milliseconds (the ``latency_ms`` block of results.json)."""
    if h.get_total_count() == 0:
        return {**{k: 0.0 for k in PERCENTILES}, "max": 0.0, "mean": 0.0}
    values = percentiles(h, PERCENTILES.values())
    out = {k: round(values[p] / 1000.0, 3) for k, p in PERCENTILES.items()}
    out["max"] = round(h.get_max_value() / 1000.0, 3)
    out["mean"] = round(mean(h) / 1000.0, 3)
    return out


def spectrum(h: HdrHistogram) -> list[list[float]]:
    """``[[percentile, value_ms], ...]`` for the report's percentile-spectrum chart."""
    if h.get_total_count() == 0:
        return []
    values = percentiles(h, SPECTRUM)
    return [[p, round(values[p] / 1000.0, 3)] for p in SPECTRUM]


def percentile_ms(h: HdrHistogram, p: float) -> float:
    return round(percentiles(h, (p,))[p] / 1000.0, 3) if h.get_total_count() else 0.0


@dataclass
class OpInterval:
    """One operation's share of an interval."""

    intended: HdrHistogram = field(default_factory=new_histogram)
    service: HdrHistogram = field(default_factory=new_histogram)
    count: int = 0
    errors: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors_by_type: Counter[str] = field(default_factory=Counter)

    def absorb(self, other: OpInterval) -> None:
        self.intended.add(other.intended)
        self.service.add(other.service)
        self.count += other.count
        self.errors += other.errors
        self.outcomes.update(other.outcomes)
        self.errors_by_type.update(other.errors_by_type)

    def to_message(self) -> dict[str, Any]:
        return {
            "intended": self.intended.encode().decode("ascii"),
            "service": self.service.encode().decode("ascii"),
            "count": self.count,
            "errors": self.errors,
            "outcomes": dict(self.outcomes),
            "errors_by_type": dict(self.errors_by_type),
        }

    @classmethod
    def from_message(cls, m: dict[str, Any]) -> OpInterval:
        return cls(
            intended=_decode(m["intended"]),
            service=_decode(m["service"]),
            count=int(m["count"]),
            errors=int(m["errors"]),
            outcomes=Counter(m["outcomes"]),
            errors_by_type=Counter(m["errors_by_type"]),
        )


def _decode(blob: str) -> HdrHistogram:
    h = new_histogram()
    h.add(HdrHistogram.decode(blob.encode("ascii")))
    return h


COUNTERS = ("offered", "started", "completed", "errors", "dropped", "queued", "clamped")


@dataclass
class Interval:
    """Everything recorded between two rotations (one second, normally)."""

    ops: dict[str, OpInterval] = field(default_factory=dict)
    lag: HdrHistogram = field(default_factory=new_histogram)
    queue_wait: HdrHistogram = field(default_factory=new_histogram)
    counts: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    cpu_pct: float = 0.0  # sum over generator processes (100 = one core)
    max_process_cpu_pct: float = 0.0  # the busiest single generator process
    processes: int = 1

    def absorb(self, other: Interval) -> None:
        for name, op in other.ops.items():
            self.ops.setdefault(name, OpInterval()).absorb(op)
        self.lag.add(other.lag)
        self.queue_wait.add(other.queue_wait)
        self.counts.update(other.counts)
        self.in_flight += other.in_flight
        self.cpu_pct += other.cpu_pct
        self.max_process_cpu_pct = max(self.max_process_cpu_pct, other.max_process_cpu_pct)

    def to_message(self) -> dict[str, Any]:
        return {
            "ops": {k: v.to_message() for k, v in self.ops.items()},
            "lag": self.lag.encode().decode("ascii"),
            "queue_wait": self.queue_wait.encode().decode("ascii"),
            "counts": dict(self.counts),
            "in_flight": self.in_flight,
            "cpu_pct": self.cpu_pct,
            "max_process_cpu_pct": self.max_process_cpu_pct,
        }

    @classmethod
    def from_message(cls, m: dict[str, Any]) -> Interval:
        return cls(
            ops={k: OpInterval.from_message(v) for k, v in m["ops"].items()},
            lag=_decode(m["lag"]),
            queue_wait=_decode(m["queue_wait"]),
            counts=Counter(m["counts"]),
            in_flight=int(m["in_flight"]),
            cpu_pct=float(m["cpu_pct"]),
            max_process_cpu_pct=float(m["max_process_cpu_pct"]),
        )

    def all_ops(self, which: str) -> HdrHistogram:
        """``intended`` or ``service`` over every operation of the interval."""
        h = new_histogram()
        for op in self.ops.values():
            h.add(op.intended if which == "intended" else op.service)
        return h

    def errors_by_type(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for op in self.ops.values():
            out.update(op.errors_by_type)
        return out


class Recorder:
    """Records into the current ``Interval``.  Not thread-safe: all greenlets of one process
    share one OS thread, and the recorder never yields.

    The hot path only appends raw nanosecond values to flat ``array('q')`` buffers and bumps
    counters (well under a microsecond); ``rotate()`` converts each buffer to microseconds
    and records it into the interval's HdrHistograms in one vectorised step
    (``hdrstats.record_many``, bucket-for-bucket identical to ``record_value``)."""

    def __init__(self) -> None:
        self.current = Interval()
        self._ops = self.current.ops
        self._buffers: dict[str, tuple[array[int], array[int]]] = {}
        self._lag: array[int] = array("q")
        self._queue_wait: array[int] = array("q")

    def _op(self, name: str) -> OpInterval:
        op = self._ops.get(name)
        if op is None:
            op = self._ops[name] = OpInterval()
        return op

    # -- hot path ----------------------------------------------------------------------

    def offered(self, n: int = 1) -> None:
        self.current.counts["offered"] += n

    def dropped(self, n: int = 1) -> None:
        self.current.counts["dropped"] += n

    def started(self, lag_ns: int, queue_wait_ns: int) -> None:
        """An operation was sent; ``lag_ns`` of its delay was the generator's lateness,
        ``queue_wait_ns`` waiting for an in-flight slot or its cart (see scheduler.py)."""
        counts = self.current.counts
        counts["started"] += 1
        if queue_wait_ns > 1_000_000:  # waited more than 1 ms for a slot or its cart
            counts["queued"] += 1
        self._lag.append(lag_ns)
        self._queue_wait.append(queue_wait_ns)

    def completed(
        self, op_name: str, intended_ns: int, start_ns: int, end_ns: int, result: OpResult
    ) -> None:
        buf = self._buffers.get(op_name)
        if buf is None:
            buf = self._buffers[op_name] = (array("q"), array("q"))
        buf[0].append(end_ns - intended_ns)
        buf[1].append(end_ns - start_ns)
        op = self._ops.get(op_name) or self._op(op_name)
        op.count += 1
        outcome = result.outcome
        op.outcomes[outcome.value] += 1
        counts = self.current.counts
        counts["completed"] += 1
        if outcome.is_failure:
            op.errors += 1
            counts["errors"] += 1
            op.errors_by_type[result.error_type or outcome.value] += 1

    # -- interval boundary -------------------------------------------------------------

    def _flush(self, raw_ns: array[int], h: HdrHistogram) -> None:
        if not raw_ns:
            return
        us = np.frombuffer(raw_ns, dtype=np.int64) // 1000
        clamped = int(np.count_nonzero(us > HIGHEST_US))
        if clamped:
            self.current.counts["clamped"] += clamped
        record_many(h, np.clip(us, LOWEST_US, HIGHEST_US))

    def absorb(self, interval: Interval) -> None:
        """Merge an interval recorded elsewhere (a worker process) into the current one."""
        self.current.absorb(interval)

    def rotate(self) -> Interval:
        """Close the current interval (recording the buffered values) and start a new one."""
        done = self.current
        for name, (intended, service) in self._buffers.items():
            op = self._op(name)
            self._flush(intended, op.intended)
            self._flush(service, op.service)
        self._flush(self._lag, done.lag)
        self._flush(self._queue_wait, done.queue_wait)
        self._buffers = {}
        self._lag, self._queue_wait = array("q"), array("q")
        self.current = Interval()
        self._ops = self.current.ops
        return done


@dataclass
class Totals:
    """All closed intervals of a target, merged."""

    ops: dict[str, OpInterval] = field(default_factory=dict)
    lag: HdrHistogram = field(default_factory=new_histogram)
    queue_wait: HdrHistogram = field(default_factory=new_histogram)
    counts: Counter[str] = field(default_factory=Counter)
    max_cpu_pct: float = 0.0

    def add(self, interval: Interval) -> None:
        for name, op in interval.ops.items():
            self.ops.setdefault(name, OpInterval()).absorb(op)
        self.lag.add(interval.lag)
        self.queue_wait.add(interval.queue_wait)
        self.counts.update(interval.counts)
        self.max_cpu_pct = max(self.max_cpu_pct, interval.max_process_cpu_pct)

    def operations_json(self) -> dict[str, Any]:
        """The ``targets.<t>.operations`` block of results.json."""
        out: dict[str, Any] = {}
        for name in sorted(self.ops):
            op = self.ops[name]
            out[name] = {
                "count": op.count,
                "errors": op.errors,
                "outcomes": dict(sorted(op.outcomes.items())),
                "errors_by_type": dict(sorted(op.errors_by_type.items())),
                "latency_ms": {"intended": summarize(op.intended), "service": summarize(op.service)},
                "spectrum": {"intended": spectrum(op.intended), "service": spectrum(op.service)},
            }
        return out
