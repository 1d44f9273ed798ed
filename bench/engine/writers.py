"""Results on disk: HdrHistogram interval logs, ``timeseries.csv``, atomic ``results.json``.

Owned by the load engine; the format is docs/RESULTS.md.  Every writer flushes at each
interval so a crash or Ctrl-C leaves everything up to the last second on disk.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogWriter

TIMESERIES_COLUMNS = (
    "target", "t_s", "stage", "offered_rate", "offered", "started", "completed", "errors",
    "dropped", "queued", "in_flight",
    "intended_p50_ms", "intended_p99_ms", "intended_p99_9_ms", "intended_max_ms",
    "service_p50_ms", "service_p99_ms", "service_p99_9_ms", "service_max_ms",
    "lag_p99_ms", "queue_wait_p99_ms", "generator_cpu_pct", "errors_by_type",
)  # fmt: skip


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
            f.write(json.dumps(doc, indent=1 if fsync else None))
            f.write("\n")
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def utc_iso(epoch_s: float | None = None) -> str:
    ts = time.time() if epoch_s is None else epoch_s
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


class HlogSet:
    """``hdr/<target>/<op>.intended.hlog`` and ``.service.hlog``, opened lazily per op."""

    def __init__(self, run_dir: Path, target: str, start_epoch_s: float) -> None:
        self.dir = run_dir / "hdr" / target
        self.dir.mkdir(parents=True, exist_ok=True)
        self.base_ms = float(int(start_epoch_s * 1000.0))  # whole ms: the stamps are ints
        self._files: dict[str, tuple[IO[str], HistogramLogWriter]] = {}

    def _writer(self, key: str) -> tuple[IO[str], HistogramLogWriter]:
        entry = self._files.get(key)
        if entry is None:
            f = open(self.dir / f"{key}.hlog", "w")  # noqa: SIM115 - closed in close()
            w = HistogramLogWriter(f)
            w.output_comment("[Logged with cartbench; values in microseconds]")
            w.output_log_format_version()
            w.output_comment(
                f"[StartTime: {self.base_ms / 1000.0:.3f} (seconds since epoch), "
                f"{utc_iso(self.base_ms / 1000.0)}]"
            )
            w.output_base_time(self.base_ms)
            w.base_time = self.base_ms
            w.output_legend()
            entry = self._files[key] = (f, w)
        return entry

    def write(self, op: str, kind: str, h: HdrHistogram, start_s: float, end_s: float) -> None:
        """One interval line; ``start_s``/``end_s`` relative to the target's start."""
        _, w = self._writer(f"{op}.{kind}")
        h.set_start_time_stamp(int(self.base_ms + round(start_s * 1000.0)))
        h.set_end_time_stamp(int(self.base_ms + round(end_s * 1000.0)))
        # Pass 0 so the writer takes the stamps set above relative to base_time (a literal
        # 0.0 start would be treated as "unset" by the writer anyway).  Max is logged in ms.
        w.output_interval_histogram(h, 0, 0, max_value_unit_ratio=1000.0)

    def flush(self) -> None:
        for f, _ in self._files.values():
            f.flush()

    def close(self) -> None:
        for f, _ in self._files.values():
            f.close()
        self._files.clear()


class TimeseriesWriter:
    """Appends rows to ``timeseries.csv`` (header written when the file is new)."""

    def __init__(self, path: Path) -> None:
        new = not path.exists() or path.stat().st_size == 0
        self._f = open(path, "a", newline="")  # noqa: SIM115 - closed in close()
        self._w = csv.DictWriter(self._f, fieldnames=TIMESERIES_COLUMNS)
        if new:
            self._w.writeheader()
            self._f.flush()

    def write(self, row: dict[str, Any]) -> None:
        self._w.writerow(row)
        self._f.flush()

    def close(self) -> None:
        self._f.close()
