"""Reading a run directory for the report and compare: ``results.json`` through
``bench.results.read_results`` (schema and validation live there) and ``timeseries.csv``.

Only this module touches the files; everything after it works on the ``Run`` value. Anything
broken or foreign becomes one ``UsageError`` line naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import UsageError
from bench.results import (
    REPORT_TIMESERIES_COLUMNS,
    RESULTS_FILE,
    TIMESERIES_FILE,
    first_line,
    read_results,
)

#: Columns the report reads from timeseries.csv (others are kept and ignored).
TIMESERIES_COLUMNS = REPORT_TIMESERIES_COLUMNS


@dataclass(frozen=True)
class Run:
    """One stored run: the parsed results.json and timeseries.csv."""

    path: Path
    results: dict[str, Any]
    timeseries: pd.DataFrame

    @property
    def run_info(self) -> dict[str, Any]:
        info: dict[str, Any] = self.results["run"]
        return info

    @property
    def targets(self) -> dict[str, dict[str, Any]]:
        targets: dict[str, dict[str, Any]] = self.results["targets"]
        return targets

    @property
    def label(self) -> str:
        return f"{self.path.name} (run {self.run_info.get('id', '?')})"


def load_run(run_dir: Path) -> Run:
    """Read and validate ``run_dir``; raise ``UsageError`` (one line) on anything unusable."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: not a run directory (it does not exist or is a file)")
    results = read_results(run_dir / RESULTS_FILE)
    timeseries = _load_timeseries(run_dir / TIMESERIES_FILE)
    return Run(path=run_dir, results=results, timeseries=timeseries)


def _load_timeseries(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UsageError(f"{path}: missing; is this a cartbench run directory?")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path}: empty file (expected a header row)") from None
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise UsageError(f"{path}: not a readable CSV ({first_line(exc)})") from None
    missing = [c for c in TIMESERIES_COLUMNS if c not in frame.columns]
    if missing:
        raise UsageError(f"{path}: missing column(s) {', '.join(missing)}")
    numeric = [c for c in TIMESERIES_COLUMNS if c not in ("target", "stage")]
    try:
        frame[numeric] = frame[numeric].apply(pd.to_numeric)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{path}: non-numeric value ({first_line(exc)})") from None
    frame["target"] = frame["target"].astype(str)
    return frame
