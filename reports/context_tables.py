"""The run's context as generic key/value tables.

Whatever keys exist under ``run`` and ``targets.<t>.topology/store/...`` are shown, so a new
key in results.json appears in the report without a template change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from reports.load import Run

SKIP_RUN_KEYS = frozenset({"profile"})  # shown in its own section


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Row = tuple[str, "str | Table"]


def fmt(value: Any, key: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and key.endswith("_bytes"):
        return f"{value:,} ({value / 2**30:.1f} GiB)"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(fmt(v) for v in value) if value else "[]"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    text = str(value)
    return text if text else '""'


def kv_rows(obj: dict[str, Any], prefix: str = "", skip: frozenset[str] = frozenset()) -> list[
        Row]:
    """Flatten nested dicts into dotted keys; lists of dicts become small tables."""
    rows: list[Row] = []
    for key, value in obj.items():
        if key in skip:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(kv_rows(value, prefix=f"{name}."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            rows.append((name, records_table(value)))
        else:
            rows.append((name, fmt(value, key)))
    return rows


def records_table(records: list[dict[str, Any]]) -> Table:
    headers: list[str] = []
    for rec in records:
        headers.extend(k for k in rec if k not in headers)
    return Table(tuple(headers), tuple(tuple(fmt(rec.get(h), h) for h in headers)
                                       for rec in records))


def run_rows(run: Run) -> list[Row]:
    return kv_rows(run.run_info, skip=SKIP_RUN_KEYS)


def profile_rows(run: Run) -> list[Row]:
    profile = run.run_info.get("profile")
    return kv_rows(profile) if isinstance(profile, dict) else []


def target_rows(run: Run, target: str) -> list[Row]:
    """Everything about a target except the measurements themselves."""
    data = run.targets[target]
    skip = frozenset({"operations", "stages", "totals", "slo", "faults"})
    return kv_rows(data, skip=skip)


def cpu_caveat(run: Run) -> str:
    """Where the generator and each target ran: they share this machine's CPUs."""
    info = run.run_info
    host = info.get("host") or {}
    gen = info.get("generator") or {}
    cpus = host.get("cpu_count")
    parts = [f"This host has {cpus if cpus is not None else 'an unknown number of'} CPU(s)."]
    gen_cpuset = gen.get("cpuset")
    parts.append(f"The load generator ran on CPU set {gen_cpuset}." if gen_cpuset
                 else "The load generator was not pinned (it could use every CPU).")
    pinned = []
    for name, t in run.targets.items():
        res = ((t.get("topology") or {}).get("resources") or {})
        where = res.get("cpuset") or (f"{res['cpus']} CPUs" if res.get("cpus") else None)
        pinned.append(f"{name}: {where or 'not pinned'}")
    if pinned:
        parts.append("Targets: " + "; ".join(pinned) + ".")
    return " ".join(parts)
