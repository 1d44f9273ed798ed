"""The per-target interval pipeline: each closed interval → HDR logs, CSV row, results.json,
saturation detector, live-progress callback; and the final ``TargetLoadResult``.

The same pipeline serves a single process (intervals come from the
local recorder) and the master of ``--workers N`` (intervals merged from the workers).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.engine.hdrstats import warm_up
from bench.engine.ledger import Ledger
from bench.engine.recorder import Interval, Totals, percentile_ms, release
from bench.engine.saturation import SaturationDetector
from bench.engine.writers import HlogSet, TimeseriesWriter
from bench.results import RESULTS_FILE, SCHEMA_VERSION, utc_iso, write_json_atomic
from workloads import OPERATIONS, Profile


@dataclass(frozen=True)
class IntervalStats:
    """Live progress for one closed interval (what ``on_interval`` receives)."""

    target: str
    t_s: float
    stage: str
    offered_rate: float
    offered: int
    completed: int
    errors: int
    dropped: int
    in_flight: int
    intended_p99_ms: float
    service_p99_ms: float
    lag_p99_ms: float
    cpu_pct: float
    duration_s: float


@dataclass
class TargetLoadResult:
    """What ``run_load`` returns; ``to_json()`` is ``results.json`` ``targets.<t>`` minus the
    keys the orchestrator adds (topology, store, prepare, audit, slo)."""

    target: str
    status: str
    error: str | None
    started_at: str
    ended_at: str
    totals: dict[str, Any]
    operations: dict[str, Any]
    saturation: dict[str, Any]
    generator_saturated: bool
    stages: list[dict[str, Any]]
    generator: dict[str, Any]
    ledger: Ledger = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error": self.error,
            "generator_saturated": self.generator_saturated,
            "saturation": self.saturation,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "totals": self.totals,
            "operations": self.operations,
            "stages": self.stages,
            "generator": self.generator,
        }


OnInterval = Callable[[IntervalStats], None]


def next_after(planned_s: float, now_s: float, every_s: float = 1.0) -> float:
    """When to close the next interval: ``every_s`` after the planned end of this one, or,
    if this one closed late (the event loop was blocked, the process stopped), ``every_s``
    after now — no catch-up intervals of near-zero width, and a late interval is simply a
    wider one (its width is recorded and counts as stalled time)."""
    nxt = planned_s + every_s
    return nxt if nxt > now_s else now_s + every_s


class TargetPipeline:
    def __init__(
        self,
        target: str,
        profile: Profile,
        run_dir: Path,
        *,
        results_doc: dict[str, Any] | None,
        on_interval: OnInterval | None,
        generator: dict[str, Any],
        detector: SaturationDetector | None = None,
    ) -> None:
        self.target = target
        self.profile = profile
        self.run_dir = run_dir
        self.doc: dict[str, Any] = (
            results_doc if results_doc is not None else {"schema_version": SCHEMA_VERSION, "run": {}}
        )
        self.doc.setdefault("targets", {})
        self.on_interval = on_interval
        self.generator = generator
        self.detector = detector or SaturationDetector()
        self.totals = Totals()
        warm_up(self.totals.lag)
        # warm-up stages (profile ``warmup = true``): recorded, but apart from the totals
        self.warmup_totals = Totals()
        self.warmup_seconds = 0.0
        self.start_epoch = time.time()
        self.started_at = utc_iso(self.start_epoch)
        self.last_end_s = 0.0
        self.intervals = 0
        run_dir.mkdir(parents=True, exist_ok=True)
        self.hlogs = HlogSet(run_dir, target, self.start_epoch)
        self.csv = TimeseriesWriter(run_dir / "timeseries.csv")
        self.extra_totals: dict[str, Any] = {}

    def elapsed(self) -> float:
        return time.time() - self.start_epoch

    def close_interval(self, iv: Interval, end_s: float | None = None) -> IntervalStats:
        start_s = self.last_end_s
        end_s = self.elapsed() if end_s is None else end_s
        self.last_end_s = end_s
        self.intervals += 1
        if self.profile.stage_at(start_s).warmup:
            self.warmup_totals.add(iv)
            self.warmup_seconds += end_s - start_s
        else:
            self.totals.add(iv)
        for name, op in iv.ops.items():
            self.hlogs.write(name, "intended", op.intended, start_s, end_s)
            self.hlogs.write(name, "service", op.service, start_s, end_s)
        self.hlogs.flush()
        lag_p99 = percentile_ms(iv.lag, 99.0)
        c = iv.counts
        stage = self.profile.stage_at(start_s).name
        self.detector.observe(
            start_s, end_s - start_s, stage, started=c["started"], late=c["late"],
            max_lag_ms=iv.lag.get_max_value() / 1000.0,
            max_process_cpu_pct=iv.max_process_cpu_pct,
        )
        intended, service = iv.all_ops("intended"), iv.all_ops("service")
        rate = self.profile.rate_at(start_s)
        self.csv.write(
            {
                "target": self.target,
                "t_s": round(start_s, 3),
                "stage": stage,
                "offered_rate": round(rate, 1),
                "offered": c["offered"],
                "started": c["started"],
                "completed": c["completed"],
                "errors": c["errors"],
                "dropped": c["dropped"],
                "queued": c["queued"],
                "in_flight": iv.in_flight,
                "intended_p50_ms": percentile_ms(intended, 50.0),
                "intended_p99_ms": percentile_ms(intended, 99.0),
                "intended_p99_9_ms": percentile_ms(intended, 99.9),
                "intended_max_ms": round(intended.get_max_value() / 1000.0, 3),
                "service_p50_ms": percentile_ms(service, 50.0),
                "service_p99_ms": percentile_ms(service, 99.0),
                "service_p99_9_ms": percentile_ms(service, 99.9),
                "service_max_ms": round(service.get_max_value() / 1000.0, 3),
                "lag_p99_ms": lag_p99,
                "queue_wait_p99_ms": percentile_ms(iv.queue_wait, 99.0),
                "generator_cpu_pct": round(iv.cpu_pct, 1),
                "errors_by_type": json.dumps(dict(iv.errors_by_type()), sort_keys=True),
            }
        )
        stats = IntervalStats(
            target=self.target,
            t_s=round(start_s, 3),
            stage=stage,
            offered_rate=rate,
            offered=c["offered"],
            completed=c["completed"],
            errors=c["errors"],
            dropped=c["dropped"],
            in_flight=iv.in_flight,
            intended_p99_ms=percentile_ms(intended, 99.0),
            service_p99_ms=percentile_ms(service, 99.0),
            lag_p99_ms=lag_p99,
            cpu_pct=iv.cpu_pct,
            duration_s=self.profile.duration_s,
        )
        release(intended)
        release(service)
        iv.release()  # consumed: free its histograms now rather than at a full GC
        self.write_results(status="running", error=None, ended_at=None)
        if self.on_interval is not None:
            self.on_interval(stats)
        return stats

    def totals_json(self) -> dict[str, Any]:
        c = self.totals.counts
        measured_s = self.last_end_s - self.warmup_seconds
        duration = max(measured_s, 1e-9)
        return {
            "offered": c["offered"],
            "started": c["started"],
            "completed": c["completed"],
            "errors": c["errors"],
            "dropped": c["dropped"],
            "queued": c["queued"],
            "late": c["late"],
            "clamped": c["clamped"],
            # never completed: still in flight or in the backlog when the drain timed out
            "abandoned": max(0, c["offered"] - c["dropped"] - c["completed"]),
            "throughput_ops_s": round(c["completed"] / duration, 2),
            "offered_ops_s": round(c["offered"] / duration, 2),
            "duration_s": round(measured_s, 3),
            "lag_ms": {"p99": percentile_ms(self.totals.lag, 99.0),
                       "max": round(self.totals.lag.get_max_value() / 1000.0, 3)},
            "queue_wait_ms": {"p99": percentile_ms(self.totals.queue_wait, 99.0),
                              "max": round(self.totals.queue_wait.get_max_value() / 1000.0, 3)},
            **self.extra_totals,
        }  # fmt: skip

    def operations_json(self) -> dict[str, Any]:
        ops = self.totals.operations_json()
        return {k: ops[k] for k in sorted(ops, key=_op_order)}

    def _target_doc(self, status: str, error: str | None, ended_at: str | None) -> dict[str, Any]:
        self.detector.set_lag_percentile(percentile_ms(self.totals.lag, 99.9))
        sat = self.detector.to_json()
        return {
            "status": status,
            "error": error,
            "generator_saturated": self.detector.saturated,
            "saturation": sat,
            "started_at": self.started_at,
            "ended_at": ended_at,
            "totals": self.totals_json(),
            "operations": self.operations_json(),
            "stages": self.profile.stage_table(),
            "generator": self.generator,
            **({"warmup": self.warmup_json()} if self.profile.warmup_s > 0 else {}),
        }

    def warmup_json(self) -> dict[str, Any]:
        """The warm-up, reported apart: counts and per-operation latency, never in verdicts."""
        c = self.warmup_totals.counts
        ops = self.warmup_totals.operations_json()
        return {
            "duration_s": round(self.warmup_seconds, 3),
            "offered": c["offered"],
            "completed": c["completed"],
            "errors": c["errors"],
            "dropped": c["dropped"],
            "operations": {
                k: {"count": v["count"], "errors": v["errors"], "latency_ms": v["latency_ms"]}
                for k, v in sorted(ops.items(), key=lambda kv: _op_order(kv[0]))
            },
        }

    def write_results(self, *, status: str, error: str | None, ended_at: str | None) -> None:
        targets: dict[str, dict[str, Any]] = self.doc["targets"]
        entry = targets.setdefault(self.target, {})
        entry.update(self._target_doc(status, error, ended_at))
        write_json_atomic(self.run_dir / RESULTS_FILE, self.doc, fsync=status != "running")

    def finish(self, *, status: str, error: str | None, ledger: Ledger) -> TargetLoadResult:
        ended_at = utc_iso()
        self.write_results(status=status, error=error, ended_at=ended_at)
        self.hlogs.close()
        self.csv.close()
        doc = self._target_doc(status, error, ended_at)
        return TargetLoadResult(
            target=self.target,
            status=status,
            error=error,
            started_at=self.started_at,
            ended_at=ended_at,
            totals=doc["totals"],
            operations=doc["operations"],
            saturation=doc["saturation"],
            generator_saturated=doc["generator_saturated"],
            stages=doc["stages"],
            generator=self.generator,
            ledger=ledger,
        )

    def abort(self) -> None:
        self.hlogs.close()
        self.csv.close()


def _op_order(name: str) -> int:
    return OPERATIONS.index(name) if name in OPERATIONS else len(OPERATIONS)
