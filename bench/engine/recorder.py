"""The recorder: every operation's two latencies into HdrHistograms, per op, per interval.

For every completed operation it records, side by side:

* **intended latency** = end − *intended* start (the coordinated-omission-corrected latency a
  user of an open system sees; includes waiting for an in-flight slot and for the cart);
* **service time**     = end − actual send (what the datastore took).

Only operations that did not fail go into these two: a failed operation (``conflict``,
``unavailable``, ``timeout``, ``error``) is recorded in a histogram of its own per outcome
(``failed[outcome]``, intended latency), so that fast failures during a fault never pull the
success percentiles down, and slow failures (timeouts) are visible as such.

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
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from hdrh.histogram import HdrHistogram

from bench.engine.hdrstats import mean, percentiles, record_many
from bench.engine.saturation import LATE_MS
from targets.base import OpResult, Outcome
from workloads import OPERATIONS

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


def release(h: HdrHistogram) -> None:
    """Break the histogram ↔ encoder reference cycle of an ``hdrh`` histogram nobody will
    encode or add any more, so that it is freed as soon as it is unreferenced.  Left to the
    cyclic GC, per-interval histograms (~180 KB each) survive into the oldest generation and
    pile up: ~1 MB/s of RSS in a soak.  Reading counts and percentiles still works."""
    h.encoder.histogram = None


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
    #: failed outcome -> intended latency of the operations that failed that way
    failed: dict[str, HdrHistogram] = field(default_factory=dict)

    def failed_histogram(self, outcome: str) -> HdrHistogram:
        h = self.failed.get(outcome)
        if h is None:
            h = self.failed[outcome] = new_histogram()
        return h

    def absorb(self, other: OpInterval) -> None:
        self.intended.add(other.intended)
        self.service.add(other.service)
        for outcome, h in other.failed.items():
            self.failed_histogram(outcome).add(h)
        self.count += other.count
        self.errors += other.errors
        self.outcomes.update(other.outcomes)
        self.errors_by_type.update(other.errors_by_type)

    def release(self) -> None:
        release(self.intended)
        release(self.service)
        for h in self.failed.values():
            release(h)

    def to_message(self) -> dict[str, Any]:
        return {
            "intended": self.intended.encode().decode("ascii"),
            "service": self.service.encode().decode("ascii"),
            "failed": {k: h.encode().decode("ascii") for k, h in self.failed.items()},
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
            failed={k: _decode(v) for k, v in m.get("failed", {}).items()},
        )


def _decode(blob: str) -> HdrHistogram:
    h = new_histogram()
    decoded = HdrHistogram.decode(blob.encode("ascii"))
    h.add(decoded)
    release(decoded)
    return h


COUNTERS = ("offered", "started", "completed", "errors", "dropped", "queued", "late", "clamped")


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

    def release(self) -> None:
        """Free the histograms now (``release``); the interval is not used afterwards."""
        for op in self.ops.values():
            op.release()
        release(self.lag)
        release(self.queue_wait)

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

    def all_ops(self, which: str) -> HdrHistogram:  # the caller releases it
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


class StatsSink(Protocol):
    """Where a recorder also reports (Locust's own stats, see ``locust_stats.py``)."""

    def flush(self, name: str, intended_ns: npt.NDArray[np.int64]) -> None: ...

    def failure(self, name: str, result: OpResult) -> None: ...


OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
OUTCOME_INDEX: dict[Outcome, int] = {o: i for i, o in enumerate(OUTCOMES)}
_FAILED = np.array([o.is_failure for o in OUTCOMES])
QUEUED_NS = 1_000_000  # waited more than 1 ms for a slot or its cart: counted "queued"
LATE_NS = int(LATE_MS * 1_000_000)  # schedule lag beyond this: counted "late" (saturation)


class Recorder:
    """Records into the current ``Interval``.  Not thread-safe: all greenlets of one process
    share one OS thread, and the recorder never yields.

    The hot path (``n_started += 1`` at the send, ``done`` at the completion: ~0.3 µs per
    operation) only bumps an int and appends raw nanosecond values to a flat ``array('q')``
    buffer: ``(op, outcome, intended latency, service time, lag, queue wait)`` per
    completed operation (``started``/``completed`` are the two-call form of the same).  ``rotate()`` turns the buffers into counters and HdrHistograms in vectorised steps
    (``hdrstats.record_many``, bucket-for-bucket identical to ``record_value``) and hands
    each op's intended latencies to the ``sink`` (Locust's stats) in one call.  Only a
    failed outcome does per-operation work beyond the append (errors by type, the sink)."""

    def __init__(self, sink: StatsSink | None = None) -> None:
        self.sink = sink
        self.current = Interval()
        self.n_offered = 0
        self.n_dropped = 0
        self.n_started = 0
        self._sent: array[int] = array("q")
        self._done: array[int] = array("q")
        self._errors: Counter[tuple[int, str]] = Counter()
        self.names: list[str] = list(OPERATIONS)
        self._index: dict[str, int] = {n: i for i, n in enumerate(self.names)}

    def op_index(self, name: str) -> int:
        i = self._index.get(name)
        if i is None:
            i = self._index[name] = len(self.names)
            self.names.append(name)
        return i

    # -- hot path ----------------------------------------------------------------------

    def offered(self, n: int = 1) -> None:
        self.n_offered += n

    def dropped(self, n: int = 1) -> None:
        self.n_dropped += n

    def started(self, lag_ns: int, queue_wait_ns: int) -> None:
        """An operation was sent; ``lag_ns`` of its delay was the generator's lateness,
        ``queue_wait_ns`` waiting for an in-flight slot or its cart (see scheduler.py)."""
        self.n_started += 1
        self._sent.append(lag_ns)
        self._sent.append(queue_wait_ns)

    def done(
        self, op: int, intended_ns: int, start_ns: int, end_ns: int, result: OpResult,
        lag_ns: int, queue_wait_ns: int,
    ) -> None:  # fmt: skip
        """Operation number ``op`` (``names[op]``) completed.  Its schedule lag and queue
        wait are recorded here, in the interval in which it completed (the scheduler counts
        the send itself in ``n_started`` before calling the store)."""
        outcome = result.outcome
        self._done.extend(
            (op, OUTCOME_INDEX[outcome], end_ns - intended_ns, end_ns - start_ns, lag_ns, queue_wait_ns)
        )
        if outcome.is_failure:
            self._errors[op, result.error_type or outcome.value] += 1
            if self.sink is not None:
                self.sink.failure(self.names[op], result)

    def completed(
        self, op_name: str, intended_ns: int, start_ns: int, end_ns: int, result: OpResult
    ) -> None:
        """One completed operation whose send was reported with ``started`` (tests, tools)."""
        outcome = result.outcome
        self._done.extend(
            (self.op_index(op_name), OUTCOME_INDEX[outcome], end_ns - intended_ns, end_ns - start_ns, -1, -1)
        )
        if outcome.is_failure:
            self._errors[self.op_index(op_name), result.error_type or outcome.value] += 1
            if self.sink is not None:
                self.sink.failure(op_name, result)

    # -- interval boundary -------------------------------------------------------------

    def _flush(self, raw_ns: npt.NDArray[np.int64], h: HdrHistogram) -> None:
        if not raw_ns.size:
            return
        us = raw_ns // 1000
        clamped = int(np.count_nonzero(us > HIGHEST_US))
        if clamped:
            self.current.counts["clamped"] += clamped
        record_many(h, np.clip(us, LOWEST_US, HIGHEST_US))

    def absorb(self, interval: Interval) -> None:
        """Merge an interval recorded elsewhere (a worker process) into the current one."""
        self.current.absorb(interval)

    def rotate(self) -> Interval:
        """Close the current interval (recording the buffered values) and start a new one."""
        iv = self.current
        counts = iv.counts
        sent = np.frombuffer(self._sent, dtype=np.int64).reshape(-1, 2)
        done = np.frombuffer(self._done, dtype=np.int64).reshape(-1, 6)
        mine = done[done[:, 4] >= 0]  # lag/queue wait given with the completion
        sent = np.concatenate([sent, mine[:, 4:6]]) if mine.size else sent
        for key, n in (("offered", self.n_offered), ("dropped", self.n_dropped),
                       ("started", self.n_started), ("completed", len(done))):  # fmt: skip
            if n:
                counts[key] += n
        self._flush(sent[:, 0], iv.lag)
        self._flush(sent[:, 1], iv.queue_wait)
        queued = int(np.count_nonzero(sent[:, 1] > QUEUED_NS))
        if queued:
            counts["queued"] += queued
        late = int(np.count_nonzero(sent[:, 0] > LATE_NS))
        if late:
            counts["late"] += late
        errors = 0
        for i in np.unique(done[:, 0]).tolist():
            rows = done[done[:, 0] == i]
            name = self.names[i]
            op = iv.ops.get(name)
            if op is None:
                op = iv.ops[name] = OpInterval()
            op.count += len(rows)
            by_outcome = np.bincount(rows[:, 1], minlength=len(OUTCOMES))
            for k in np.flatnonzero(by_outcome).tolist():
                op.outcomes[OUTCOMES[k].value] += int(by_outcome[k])
            failed = int(by_outcome[_FAILED].sum())
            op.errors += failed
            errors += failed
            if self.sink is not None:
                self.sink.flush(name, rows[:, 2])  # Locust counts failures as requests too
            if failed:
                bad = _FAILED[rows[:, 1]]
                for k in np.flatnonzero(by_outcome * _FAILED).tolist():
                    self._flush(rows[rows[:, 1] == k][:, 2], op.failed_histogram(OUTCOMES[k].value))
                rows = rows[~bad]
            self._flush(rows[:, 2], op.intended)
            self._flush(rows[:, 3], op.service)
        if errors:
            counts["errors"] += errors
        for (i, kind), n in self._errors.items():
            iv.ops[self.names[i]].errors_by_type[kind] += n
        self.n_offered = self.n_dropped = self.n_started = 0
        self._sent, self._done = array("q"), array("q")
        self._errors = Counter()
        self.current = Interval()
        return iv


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
                "failed": {
                    outcome: {"count": int(h.get_total_count()), "latency_ms": summarize(h)}
                    for outcome, h in sorted(op.failed.items())
                },
            }
        return out
