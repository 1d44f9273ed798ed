"""Running topologies on disk, so ``bench status`` / ``bench down`` work from any shell.

Layout: ``<state_dir>/topologies/<target>.json`` (one running topology per target) and
``<state_dir>/runs/<run_id>/`` (the run's data directories).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from bench.errors import UsageError
from bench.launchers.base import Topology
from bench.paths import state_dir


def new_run_id() -> str:
    return secrets.token_hex(3)


def runs_dir() -> Path:
    return state_dir() / "runs"


def _topologies_dir() -> Path:
    return state_dir() / "topologies"


def save(topology: Topology) -> Path:
    d = _topologies_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{topology.target}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(topology.to_json())
    os.chmod(tmp, 0o600)  # holds the generated postgres password
    tmp.replace(path)
    return path


def load_all() -> list[Topology]:
    d = _topologies_dir()
    if not d.is_dir():
        return []
    out = []
    for path in sorted(d.glob("*.json")):
        try:
            out.append(Topology.from_dict(json.loads(path.read_text())))
        except (ValueError, TypeError, KeyError) as exc:
            raise UsageError(
                f"corrupt state file {path}: {exc}; remove it after checking for leftovers"
            ) from None
    return out


def load(target: str) -> Topology | None:
    path = _topologies_dir() / f"{target}.json"
    if not path.exists():
        return None
    return Topology.from_dict(json.loads(path.read_text()))


def forget(target: str) -> None:
    (_topologies_dir() / f"{target}.json").unlink(missing_ok=True)
