"""The engine's per-interval files: HdrHistogram interval logs and ``timeseries.csv``.

Every writer flushes at each interval, so a crash or Ctrl-C leaves everything up to the last
second on disk.  The schema (columns, timestamps, ``results.json`` and its atomic writer) is
``bench.results``; docs/RESULTS.md describes it.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, Any

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogWriter

from bench.results import TIMESERIES_COLUMNS, utc_iso


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
        h.set_start_time_stamp(int(self.base_ms + round(start_s * 1000.0)))
        h.set_end_time_stamp(int(self.base_ms + round(end_s * 1000.0)))
        # The line HistogramLogWriter.output_interval_histogram writes, except Interval_Max:
        # hdrh floors it to whole units of the ratio (ms); here it keeps the µs (3 decimals).
        f, _ = self._writer(f"{op}.{kind}")
        start = (h.get_start_time_stamp() - self.base_ms) / 1000.0
        end = (h.get_end_time_stamp() - self.base_ms) / 1000.0
        f.write(f"{start:f},{end - start:f},{h.get_max_value() / 1000.0:.3f},"
                f"{h.encode().decode('ascii')}\n")

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

