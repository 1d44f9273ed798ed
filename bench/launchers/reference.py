"""A launcher for the in-memory reference store: nothing to start.

Lets ``bench run --target reference`` exercise the whole pipeline (engine, results, audit,
report) without a datastore — for tests of the harness itself, like YCSB's ``BasicDB``. Never
used where a real datastore is the point.
"""

from __future__ import annotations

from bench.errors import UsageError
from bench.launchers.base import ProgressFn, TargetSpec, Topology, no_progress
from bench.results import utc_iso


class ReferenceLauncher:
    name = "reference"

    def up(self, spec: TargetSpec, progress: ProgressFn = no_progress) -> Topology:
        return Topology(
            target=spec.target,
            launcher=self.name,
            run_id=spec.run_id,
            nodes=[],
            endpoints={},
            version="in-memory",
            settings={"durability": "none (process memory)"},
            resources={},
            time_to_ready_s=0.0,
            started_at=utc_iso(),
            base_dir=str(spec.base_dir),
        )

    def down(self, topology: Topology) -> None:
        return None

    def _unsupported(self, *_: object) -> None:
        raise UsageError("fault operations are not supported by the reference store")

    kill_node = pause_node = resume_node = restart_node = _unsupported
