"""Feed Locust's own request statistics in bulk, once per op type per interval.

Locust's ``events.request.fire`` → ``RequestStats.log_request``
cost ~5 µs per operation in the generator (more than everything else we do per operation
together), so the engine does not fire ``events.request`` per operation.  Instead, when the
recorder closes an interval (once a second), ``LocustStatsSink.flush`` applies each op
type's values to Locust's ``StatsEntry`` for that request and to the ``Aggregated`` total,
with the same arithmetic as ``StatsEntry.log`` (``num_requests``, ``total_response_time``,
``min``/``max``, ``response_times`` keyed by ``locust.stats.bucket_response_time``'s rounding,
``num_reqs_per_sec``), vectorised.  ``response_time`` is the *intended* latency in ms (as
before: Locust's numbers are corrected for coordinated omission too).  Failed outcomes go
through ``RequestStats.log_error`` as they happen (they are rare): failure counts, per-second
failures and Locust's error table are exact.

Consequences (documented in docs/RESULTS.md): Locust's request counts equal ours exactly
(``totals.locust.requests == totals.completed``), but they lag ours by up to one interval,
and Locust's per-second request counts are attributed to the second in which the interval
closed rather than the second each operation ended.  Listeners other than Locust's own
stats that hook ``events.request`` do not see cartbench operations.

Imports locust (monkey-patching): import only after ``prepare_runtime()``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import numpy.typing as npt
from locust.stats import RequestStats

from targets.base import OpResult

NS_PER_MS = 1_000_000


class FailedOutcome(Exception):
    """Stands in for a failed outcome without a driver exception in Locust's stats."""


def _round_half_even(ns: npt.NDArray[np.int64], unit_ns: int) -> npt.NDArray[np.int64]:
    """``round(ns / unit_ns)`` with Python's round-half-to-even, in exact integer arithmetic."""
    q = ns // unit_ns
    twice_r = 2 * (ns - q * unit_ns)
    up = (twice_r > unit_ns) | ((twice_r == unit_ns) & ((q & 1) == 1))
    out: npt.NDArray[np.int64] = q + up
    return out


def bucket_keys(ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``locust.stats.bucket_response_time(ns / 1e6)`` for every value (milliseconds keys):
    whole ms below 100 ms, tens below 1 s, hundreds below 10 s, thousands above."""
    out = np.empty_like(ns)
    for lo, hi, unit_ms in ((None, 100, 1), (100, 1000, 10), (1000, 10_000, 100), (10_000, None, 1000)):
        mask = np.ones(ns.shape, dtype=bool)
        if lo is not None:
            mask &= ns >= lo * NS_PER_MS
        if hi is not None:
            mask &= ns < hi * NS_PER_MS
        if mask.any():
            out[mask] = _round_half_even(ns[mask], unit_ms * NS_PER_MS) * unit_ms
    return out


def _log_bulk(entry: Any, count: int, total_ms: float, min_ms: float, max_ms: float,
              keys: list[int], key_counts: list[int], t: float) -> None:  # fmt: skip
    """What ``count`` calls of ``entry.log(rt, 0)`` would leave behind (response-time cache
    aside: the engine's ``Environment`` runs without it)."""
    entry.num_requests += count
    entry.num_reqs_per_sec[int(t)] += count
    entry.last_request_timestamp = t
    entry.total_response_time += total_ms
    entry.min_response_time = (
        min_ms if entry.min_response_time is None else min(entry.min_response_time, min_ms)
    )
    entry.max_response_time = max(entry.max_response_time, max_ms)
    rts = entry.response_times
    for k, c in zip(keys, key_counts, strict=True):
        rts[k] += c


class LocustStatsSink:
    """The recorder's sink: Locust's ``RequestStats`` of one generator process."""

    def __init__(self, stats: RequestStats, request_type: str) -> None:
        self.stats = stats
        self.request_type = request_type

    def flush(self, name: str, intended_ns: npt.NDArray[np.int64], now: float | None = None) -> None:
        """Log ``len(intended_ns)`` requests named ``name`` (intended latencies in ns)."""
        n = int(intended_ns.size)
        if n == 0:
            return
        t = time.time() if now is None else now
        ns = intended_ns.astype(np.int64, copy=False)
        keys, key_counts = np.unique(bucket_keys(ns), return_counts=True)
        args: tuple[Any, ...] = (
            n,
            float(ns.sum()) / NS_PER_MS,
            int(ns.min()) / NS_PER_MS,
            int(ns.max()) / NS_PER_MS,
            keys.tolist(),
            key_counts.tolist(),
            t,
        )
        _log_bulk(self.stats.get(name, self.request_type), *args)
        _log_bulk(self.stats.total, *args)

    def failure(self, name: str, result: OpResult) -> None:
        error = result.error
        if not isinstance(error, Exception):
            error = FailedOutcome(result.outcome.value)
        self.stats.log_error(self.request_type, name, error)
