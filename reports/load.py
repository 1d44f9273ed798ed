"""Reading a run directory (``docs/RESULTS.md``, schema_version 1) for the report and compare.

Owned by the report. Only this module touches the files; everything after it works on the
``Run`` value. Anything broken or foreign becomes one ``UsageError`` line naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import UsageError

SCHEMA_VERSION = 1

#: Columns the report reads from timeseries.csv (others are kept and ignored).
TIMESERIES_COLUMNS = (
    "target", "t_s", "stage", "offered", "completed", "errors", "dropped",
    "intended_p50_ms", "intended_p99_ms", "intended_p99_9_ms",
    "service_p50_ms", "service_p99_ms", "service_p99_9_ms",
)


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
    results = _load_results(run_dir / "results.json")
    timeseries = _load_timeseries(run_dir / "timeseries.csv")
    return Run(path=run_dir, results=results, timeseries=timeseries)


def _load_results(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"{path}: missing; is this a cartbench run directory?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not valid JSON ({_first_line(exc)})") from None
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
        if target["status"] != "failed":
            for key in ("totals", "operations"):
                _require(path, target, key, dict, where=f"targets.{name}.")
    return data


def _require(path: Path, obj: dict[str, Any], key: str, kind: type, where: str = "") -> None:
    if key not in obj:
        raise UsageError(f"{path}: missing required key {where}{key}")
    if not isinstance(obj[key], kind):
        raise UsageError(f"{path}: {where}{key} must be a {kind.__name__}")


def _load_timeseries(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UsageError(f"{path}: missing; is this a cartbench run directory?")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path}: empty file (expected a header row)") from None
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise UsageError(f"{path}: not a readable CSV ({_first_line(exc)})") from None
    missing = [c for c in TIMESERIES_COLUMNS if c not in frame.columns]
    if missing:
        raise UsageError(f"{path}: missing column(s) {', '.join(missing)}")
    numeric = [c for c in TIMESERIES_COLUMNS if c not in ("target", "stage")]
    try:
        frame[numeric] = frame[numeric].apply(pd.to_numeric)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{path}: non-numeric value ({_first_line(exc)})") from None
    frame["target"] = frame["target"].astype(str)
    return frame


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
