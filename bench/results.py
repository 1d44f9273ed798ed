"""The results schema (docs/RESULTS.md) and the one way results.json is written and read.

Invariants:

* ``results.json`` has one writer, ``write_json_atomic``: a temp file in the same directory,
  then ``os.replace`` — a reader (the live report, ``bench report`` after a crash) never sees
  a partial file.  The engine's per-second rewrites and the orchestrator's updates both go
  through ``RunResults.flush`` / ``write_json_atomic``.
* Every timestamp in a run directory is ``utc_iso()``: ISO 8601 UTC with milliseconds and a
  ``Z`` (``2026-12-01T22:40:58.123Z``), which sorts as text.
* ``SCHEMA_VERSION`` and ``TIMESERIES_COLUMNS`` are defined here only; the engine writes them,
  the reports read them.
* A target block is valid in every status.  ``ok`` blocks carry ``totals`` and
  ``operations``; a target that failed, was interrupted or never started before its load keeps
  only what it got to (``status``, ``error``, maybe ``topology``) and still renders.
* The SLO default (Dynamo's 300 ms at p99.9) and the worst-operation percentile are computed
  here, so the run summary, the stored ``slo`` block and the report agree.

This module is a leaf: it imports nothing of cartbench but ``bench.errors``.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypedDict

from bench.errors import UsageError

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"
TIMESERIES_FILE = "timeseries.csv"

#: Dynamo's SLA (DeCandia et al., SOSP 2007): 300 ms at the 99.9th percentile.
DEFAULT_SLO_P99_9_MS = 300.0

#: A target block's ``status``: pending → running → ok | failed | interrupted.
Status = Literal["pending", "running", "ok", "failed", "interrupted"]
STATUSES: tuple[str, ...] = ("pending", "running", "ok", "failed", "interrupted")

#: Columns of ``timeseries.csv``, one row per target per closed interval (the engine writes
#: all of them; the report needs ``REPORT_TIMESERIES_COLUMNS``).
TIMESERIES_COLUMNS = (
    "target", "t_s", "stage", "offered_rate", "offered", "started", "completed", "errors",
    "dropped", "queued", "in_flight",
    "intended_p50_ms", "intended_p99_ms", "intended_p99_9_ms", "intended_max_ms",
    "service_p50_ms", "service_p99_ms", "service_p99_9_ms", "service_max_ms",
    "lag_p99_ms", "queue_wait_p99_ms", "generator_cpu_pct", "errors_by_type",
)  # fmt: skip
REPORT_TIMESERIES_COLUMNS = (
    "target", "t_s", "stage", "offered", "completed", "errors", "dropped",
    "intended_p50_ms", "intended_p99_ms", "intended_p99_9_ms",
    "service_p50_ms", "service_p99_ms", "service_p99_9_ms",
)  # fmt: skip


class SloBlock(TypedDict):
    p99_9_ms: float
    max_failure_pct: float
    worst_op: str | None
    worst_op_p99_9_ms: float
    failure_pct: float | None  # failed + dropped + abandoned, % of offered
    met: bool | None  # None: the generator saturated (inconclusive)
    verdict: str  # "met" | "missed" | "inconclusive"
    reasons: list[str]


class TargetBlock(TypedDict, total=False):
    """``targets.<name>``.  Always: status, error.  Written by the engine once the load
    starts: started_at, ended_at, totals, operations, stages, generator, saturation,
    generator_saturated.  Added by the orchestrator: topology, prepare, store, audit, slo."""

    status: str
    error: str | None
    started_at: str | None
    ended_at: str | None
    topology: dict[str, Any]
    prepare: dict[str, Any]
    store: dict[str, Any]
    totals: dict[str, Any]
    operations: dict[str, Any]
    stages: list[dict[str, Any]]
    generator: dict[str, Any]
    saturation: dict[str, Any]
    generator_saturated: bool
    audit: dict[str, Any]
    slo: SloBlock


def utc_iso(epoch_s: float | None = None) -> str:
    """The one timestamp format: ``2026-12-01T22:40:58.123Z``."""
    ts = time.time() if epoch_s is None else epoch_s
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def write_json_atomic(path: Path, doc: dict[str, Any], *, fsync: bool = True) -> None:
    """Write ``doc`` to ``path`` via a temp file in the same directory and ``os.replace``.

    Readers never see a partial file.  ``fsync=False`` (the per-second rewrites during a run)
    skips the flush to disk, which can block the generator's event loop for tens of ms on a
    machine whose disk is busy with the datastores; the final write is fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            # indent only when fsyncing (final write): the C encoder is used without indent
            f.write(json.dumps(doc, indent=1 if fsync else None, default=str))
            f.write("\n")
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_run_dir(parent: Path) -> tuple[str, Path]:
    """A fresh ``<parent>/<UTC stamp>-<run id>`` directory and its run id."""
    run_id = secrets.token_hex(3)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = parent / f"{stamp}-{run_id}"
    run_dir.mkdir(parents=True, exist_ok=False)
    return run_id, run_dir


def start_timeseries(run_dir: Path) -> Path:
    """``timeseries.csv`` with its header only, so a run interrupted before any load is still
    a complete run directory (the engine appends rows; it never rewrites the header)."""
    path = run_dir / TIMESERIES_FILE
    if not path.exists() or path.stat().st_size == 0:
        with open(path, "w", newline="") as f:
            csv.writer(f).writerow(TIMESERIES_COLUMNS)
    return path


@dataclass
class RunResults:
    """The in-memory ``results.json``; ``flush()`` writes it atomically."""

    run_dir: Path
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.run_dir / RESULTS_FILE

    def target(self, name: str) -> dict[str, Any]:
        """``targets.<name>``, created ``pending`` on first use."""
        targets: dict[str, Any] = self.data.setdefault("targets", {})
        block: dict[str, Any] = targets.setdefault(name, {"status": "pending", "error": None})
        return block

    def flush(self, *, fsync: bool = True) -> None:
        write_json_atomic(self.path, self.data, fsync=fsync)


def worst_op(operations: dict[str, Any], key: str = "p99_9",
             kind: str = "intended") -> tuple[str | None, float | None]:
    """The operation with the highest whole-run ``latency_ms.<kind>.<key>`` and that value
    (operations that never ran are ignored); ``(None, None)`` when there is none."""
    name, worst = None, None
    for op, data in operations.items():
        if not isinstance(data, dict) or not data.get("count", 1):
            continue
        value = ((data.get("latency_ms") or {}).get(kind) or {}).get(key)
        if not isinstance(value, int | float):
            continue
        if worst is None or value > worst:
            name, worst = op, float(value)
    return name, worst


DEFAULT_MAX_FAILURE_PCT = 1.0


def failure_pct(totals: dict[str, Any]) -> float | None:
    """Failed + dropped + abandoned as a percentage of offered operations (None: nothing
    offered).  Every offered operation that did not end in a success counts against the
    target: an operation dropped at the backlog cap or abandoned at the end of the drain is
    as lost to its user as one that failed."""
    offered = int(totals.get("offered", 0) or 0)
    if offered <= 0:
        return None
    lost = sum(int(totals.get(k, 0) or 0) for k in ("errors", "dropped", "abandoned"))
    return round(100.0 * lost / offered, 3)


def slo_block(
    block: dict[str, Any], p99_9_ms: float = DEFAULT_SLO_P99_9_MS,
    max_failure_pct: float = DEFAULT_MAX_FAILURE_PCT,
) -> SloBlock:
    """Did the target meet the SLO?  ``met`` is True only if something completed, the worst
    operation's p99.9 is within ``p99_9_ms`` and at most ``max_failure_pct`` % of the offered
    operations failed, were dropped or abandoned.  A target whose load generator saturated is
    neither: ``met`` is None and ``verdict`` ``inconclusive`` (its numbers are the
    generator's)."""
    totals = block.get("totals") or {}
    op, worst = worst_op(block.get("operations") or {})
    fpct = failure_pct(totals)
    succeeded = int(totals.get("completed", 0) or 0) - int(totals.get("errors", 0) or 0)
    reasons: list[str] = []
    if succeeded <= 0:
        reasons.append("nothing completed successfully")
    if worst is not None and worst > p99_9_ms:
        reasons.append(f"{op} p99.9 {worst:,.1f} ms > {p99_9_ms:,.0f} ms")
    if fpct is not None and fpct > max_failure_pct:
        reasons.append(f"{fpct:.2f} % of offered operations failed, were dropped or "
                       f"abandoned (> {max_failure_pct:g} %)")
    met: bool | None = not reasons
    verdict = "met" if met else "missed"
    if block.get("generator_saturated"):
        met, verdict = None, "inconclusive"
        reasons.insert(0, "the load generator saturated: the numbers are not the target's")
    return {
        "p99_9_ms": p99_9_ms,
        "max_failure_pct": max_failure_pct,
        "worst_op": op,
        "worst_op_p99_9_ms": worst if worst is not None else 0.0,
        "failure_pct": fpct,
        "met": met,
        "verdict": verdict,
        "reasons": reasons,
    }


def not_ok(data: dict[str, Any]) -> list[str]:
    """Targets whose status is not ``ok``."""
    return [t for t, b in data.get("targets", {}).items() if b.get("status") != "ok"]


def read_results(path: Path) -> dict[str, Any]:
    """Read and validate ``results.json``; one ``UsageError`` line naming the file otherwise."""
    if not path.is_file():
        raise UsageError(f"{path}: missing; is this a cartbench run directory?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not valid JSON ({first_line(exc)})") from None
    validate(path, data)
    return data  # type: ignore[no-any-return]


def validate(path: Path, data: Any) -> None:
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object at the top level")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UsageError(
            f"{path}: schema_version {version!r} is not supported (this cartbench reads "
            f"{SCHEMA_VERSION})"
        )
    _require(path, data, "run", dict)
    _require(path, data, "targets", dict)
    for key in ("id", "started_at"):
        _require(path, data["run"], key, str, where="run.")
    for name, target in data["targets"].items():
        if not isinstance(target, dict):
            raise UsageError(f"{path}: targets.{name} must be an object")
        _require(path, target, "status", str, where=f"targets.{name}.")
        for key in ("totals", "operations"):
            if target["status"] == "ok":
                _require(path, target, key, dict, where=f"targets.{name}.")
            elif key in target and not isinstance(target[key], dict):
                raise UsageError(f"{path}: targets.{name}.{key} must be a dict")


def _require(path: Path, obj: dict[str, Any], key: str, kind: type, where: str = "") -> None:
    if key not in obj:
        raise UsageError(f"{path}: missing required key {where}{key}")
    if not isinstance(obj[key], kind):
        raise UsageError(f"{path}: {where}{key} must be a {kind.__name__}")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
