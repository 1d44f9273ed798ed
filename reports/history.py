"""A history directory for the nightly benchmark: stored runs plus an index (``bench history`` is its command line, docs/NIGHTLY.md its prose).

Layout::

    HISTORY_DIR/
    ├── index.json          # {"schema_version": 1, "runs": [entry, ...]} (this module)
    ├── index.html          # the trend page (reports.trend)
    └── runs/<run dir name>/  # each run directory, unchanged (+ its index.html report)

An index entry carries the run's key metrics per target (so the trend page and ``list`` need
not re-read every run), its context, and its **comparability key**: runs whose profile,
launcher, machine class, durability, generator set-up or target set differ are never
compared with each other. The hostname is recorded but is not part of the key: CI runners
get a new hostname every time, while the machine class (CPU model, CPU count, memory) is
what changes the numbers.

Only this module reads or writes index.json. Anything broken becomes one ``UsageError`` line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.results import worst_op
from reports import stats
from reports.load import Run, load_run

SCHEMA_VERSION = 1
INDEX = "index.json"
RUNS = "runs"

#: components of the comparability key, in display order
KEY_FIELDS = ("profile", "launcher", "machine", "durability", "generator", "resources",
              "targets")

Entry = dict[str, Any]
Index = dict[str, Any]


# -- what an entry records ------------------------------------------------------------------

def comparability_key(run: Run) -> dict[str, str]:
    """What must be equal for two runs' numbers to be compared (see the module docstring)."""
    info = run.run_info
    profile = _obj(info.get("profile"))
    # The seed only reshuffles arrivals; the name alone would hide an edited profile.
    definition = {k: v for k, v in profile.items() if k not in ("name", "source", "seed")}
    host = _obj(info.get("host"))
    memory = host.get("memory_bytes")
    gib = f"{round(memory / 2**30)} GiB" if isinstance(memory, int | float) else "? GiB"
    generator = _obj(info.get("generator"))
    names = sorted(run.targets)
    return {
        "profile": f"{profile.get('name', '?')} #{_digest(definition)[:8]}",
        "launcher": str(info.get("launcher") or "?"),
        "machine": f"{host.get('cpu_model') or '?'} × {host.get('cpu_count') or '?'} CPU, {gib}",
        "durability": ", ".join(f"{n}={_topology(run, n).get('durability') or '?'}"
                                for n in names),
        "generator": ", ".join(f"{k}={generator.get(k)}" for k in
                               ("workers", "in_flight_cap", "backlog_cap", "cpuset")),
        "resources": _digest({n: _topology(run, n).get("resources") for n in names})[:8],
        "targets": ", ".join(names),
    }


def key_id(key: dict[str, str]) -> str:
    return _digest(key)[:12]


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _topology(run: Run, name: str) -> dict[str, Any]:
    return _obj(run.targets[name].get("topology"))


def _obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (optional keys may be absent)."""
    return value if isinstance(value, dict) else {}


def target_metrics(run: Run, summary: stats.TargetSummary) -> dict[str, Any]:
    """Key metrics of one target. Whole-run latencies are the worst operation's (results.json
    has no all-operations histogram); ``at_peak`` as in the report (an upper bound)."""
    data = run.targets[summary.name]
    ops = _obj(data.get("operations"))
    audit = _obj(data.get("audit"))
    offered = summary.offered
    return {
        "status": summary.status,
        "generator_saturated": summary.saturated,
        "verdict": summary.verdict,
        "throughput_ops_s": summary.throughput_ops_s if summary.status == "ok" else None,
        "peak_ops_s": summary.peak_ops_s,
        "intended_ms": {k: _worst(ops, "intended", k) for k in ("p50", "p99", "p99_9")},
        "service_ms": {k: _worst(ops, "service", k) for k in ("p50", "p99", "p99_9")},
        "at_peak_ms": {"p99": summary.p99_at_peak_ms, "p99_9": summary.p99_9_at_peak_ms},
        "offered": offered,
        "errors": summary.errors,
        "dropped": summary.dropped,
        "error_pct": summary.error_pct,
        "dropped_pct": 100.0 * summary.dropped / offered if offered else None,
        "audit": {"acknowledged_writes_lost": summary.writes_lost,
                  "oversold_skus": summary.oversold_skus,
                  "oversold_units": summary.oversold_units,
                  "uncertain_carts": _int(audit.get("uncertain_carts"))},
        "durability": _topology(run, summary.name).get("durability"),
    }


def _worst(ops: dict[str, Any], kind: str, key: str) -> float | None:
    return worst_op(ops, key, kind)[1]


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _finite(obj: Any) -> Any:
    """NaN/inf become null: index.json is strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def make_entry(run: Run, name: str) -> Entry:
    info = run.run_info
    host = _obj(info.get("host"))
    summary = stats.summarize(run)
    key = comparability_key(run)
    report = run.path / "index.html"
    return {
        "name": name,
        "run_id": info.get("id"),
        "started_at": info.get("started_at"),
        "ended_at": info.get("ended_at"),
        "added_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "path": f"{RUNS}/{name}",
        "report": f"{RUNS}/{name}/index.html" if report.is_file() else None,
        "context": {
            "git_commit": info.get("git_commit"),
            "cartbench_version": info.get("cartbench_version"),
            "hostname": host.get("hostname"),
            "profile": _obj(info.get("profile")).get("name"),
            "launcher": info.get("launcher"),
            "command": info.get("command"),
        },
        "key": key,
        "key_id": key_id(key),
        "targets": {t.name: _finite(target_metrics(run, t)) for t in summary.targets},
        "baseline": None,
    }


# -- usable as a baseline? -------------------------------------------------------------------

def usable(entry: Entry, target: str) -> bool:
    """The target's numbers in this run can be judged and used as a baseline: status ok and
    a generator that kept up (a saturated generator measured itself, not the datastore)."""
    t = entry["targets"].get(target)
    return bool(t) and t["status"] == "ok" and not t["generator_saturated"]


def unusable_reason(entry: Entry, target: str) -> str | None:
    t = entry["targets"].get(target)
    if not t:
        return "not in this run"
    if t["status"] != "ok":
        return f"status {t['status']}"
    if t["generator_saturated"]:
        return "generator saturated"
    return None


# -- the index file ----------------------------------------------------------------------------

def index_path(history: Path) -> Path:
    return Path(history) / INDEX


def read_index(history: Path, *, missing_ok: bool = False) -> Index:
    """Read and validate ``HISTORY_DIR/index.json``; an absent file is an empty history when
    ``missing_ok`` (``add``), else a usage error."""
    history = Path(history)
    path = index_path(history)
    if history.exists() and not history.is_dir():
        raise UsageError(f"{history}: not a history directory (it is a file)")
    if not path.is_file():
        if missing_ok:
            return {"schema_version": SCHEMA_VERSION, "runs": []}
        raise UsageError(f"{path}: missing; is {history} a cartbench history directory? "
                         "(create one with: bench history add RUN_DIR --into "
                         f"{history})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not valid JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        version = data.get("schema_version") if isinstance(data, dict) else None
        raise UsageError(f"{path}: schema_version {version!r} is not supported (this "
                         f"cartbench reads {SCHEMA_VERSION})")
    runs = data.get("runs")
    if not isinstance(runs, list) or not all(
            isinstance(r, dict) and isinstance(r.get("name"), str)
            and isinstance(r.get("targets"), dict) and isinstance(r.get("key_id"), str)
            for r in runs):
        raise UsageError(f"{path}: 'runs' must be a list of run entries with name, key_id "
                         "and targets")
    return data


def write_index(history: Path, index: Index) -> Path:
    path = index_path(history)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(index, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def ordered(entries: Iterable[Entry]) -> list[Entry]:
    """Oldest first by ``started_at`` (ISO 8601 UTC sorts as text); ties keep index order."""
    return sorted(entries, key=lambda e: str(e.get("started_at") or ""))


def find(index: Index, name: str) -> Entry:
    """An entry by run directory name, or ``latest`` for the newest run."""
    runs = ordered(index["runs"])
    if not runs:
        raise UsageError("the history is empty")
    if name == "latest":
        return runs[-1]
    for entry in runs:
        if entry["name"] == name or entry.get("run_id") == name:
            return entry
    raise UsageError(f"{name}: no such run in the history (see: bench history list)")


# -- changing the history ----------------------------------------------------------------------

def add_run(history: Path, run_dir: Path, *, move: bool = False, render: bool = True) -> Entry:
    """Validate ``run_dir``, copy (or move) it to ``HISTORY_DIR/runs/<name>/`` and index it.
    Refuses a run still running and a run already in the history (same directory name or
    same run id and start time)."""
    history, run_dir = Path(history), Path(run_dir)
    run = load_run(run_dir)
    running = [n for n, t in run.targets.items() if t.get("status") == "running"]
    if running:
        raise UsageError(f"{run_dir}: still running ({', '.join(running)}); add it when "
                         "bench run has finished")
    index = read_index(history, missing_ok=True)
    name = run_dir.resolve().name
    for entry in index["runs"]:
        if entry["name"] == name or (entry.get("run_id") == run.run_info.get("id")
                                     and entry.get("started_at") == run.run_info.get(
                                         "started_at")):
            raise UsageError(f"{run_dir}: already in the history as {entry['name']} "
                             f"(run {entry.get('run_id')}, started {entry.get('started_at')})")
    dest = history / RUNS / name
    if dest.exists():
        raise UsageError(f"{dest}: already exists but is not in {INDEX}; remove it or "
                         "choose another history directory")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{name}.partial")
    if partial.exists():
        shutil.rmtree(partial)
    try:
        if move:
            shutil.move(str(run_dir), str(partial))
        else:
            shutil.copytree(run_dir, partial)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise UsageError(f"{run_dir}: cannot {'move' if move else 'copy'} into {history} "
                         f"({exc.strerror or exc})") from None
    partial.replace(dest)
    stored = load_run(dest)
    if render and not (dest / "index.html").is_file():
        from reports.render import render_report  # jinja/plotly only when needed

        render_report(dest)
    entry = make_entry(stored, name)
    index["runs"].append(entry)
    write_index(history, index)
    return entry


def mark_baseline(history: Path, name: str, note: str, *, clear: bool = False) -> Entry:
    """Bless ``name`` as the start of a new baseline after an intended change: ``check``
    then ignores the comparable runs before it. ``clear`` removes the mark."""
    index = read_index(history)
    entry = find(index, name)
    if clear:
        entry["baseline"] = None
    else:
        if not note.strip():
            raise UsageError("--note is required: say why the numbers changed on purpose")
        entry["baseline"] = {
            "marked_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "note": note.strip()}
    write_index(history, index)
    return entry
