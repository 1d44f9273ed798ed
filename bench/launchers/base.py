"""The launcher seam: ``TargetSpec`` in, ``Topology`` out.

A *topology* is everything a cart store needs to connect (``endpoints``) and everything a
report needs to be honest about (``version``, ``settings``, ``resources``, ``time_to_ready_s``).
Topologies are plain JSON-able dataclasses so ``bench down`` can stop them from another shell.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench import registry
from bench.errors import UsageError

#: ``report("starting node 2/3")`` — launchers narrate long work through this.
ProgressFn = Callable[[str], None]


def no_progress(message: str) -> None:
    """A ProgressFn that discards messages (tests, quiet mode)."""


@dataclass(frozen=True)
class TargetSpec:
    """What the user asked for. Validated in ``__post_init__`` with precise messages."""

    target: str
    run_id: str
    base_dir: Path
    nodes: int | None = None  # None = the target's default topology size
    durability: str = "default"
    cpuset: str | None = None  # e.g. "1" or "0-1"; None = no pinning
    cpus: float | None = None  # docker: CPU limit per target
    memory: str | None = None  # docker: memory limit per target, e.g. "6g"
    max_connections: int = 300  # postgres: sized for the load engine's pools
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.target not in registry.TARGETS:
            raise UsageError(
                f"unknown target {self.target!r}; choose one of: "
                + ", ".join(registry.BENCHMARK_TARGETS)
            )
        if self.durability not in registry.DURABILITY_PRESETS:
            raise UsageError(
                f"unknown durability {self.durability!r}; choose one of: "
                + ", ".join(registry.DURABILITY_PRESETS)
            )
        if self.nodes is not None and self.nodes < 1:
            raise UsageError(f"--nodes must be at least 1, got {self.nodes}")


@dataclass
class Node:
    name: str  # e.g. "redis-cluster-3"
    host: str
    port: int
    role: str  # "primary", "master", "replica", "node"
    pid: int | None = None  # native launcher: process (group leader) id
    container: str | None = None  # docker launcher: container id
    data_dir: str | None = None
    log_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Topology:
    target: str
    launcher: str
    run_id: str
    nodes: list[Node]
    #: Connection info for the cart store. Keys by target:
    #: postgres: {"dsn": str, "host", "port", "user", "password", "dbname"}
    #: cassandra: {"contact_points": [str], "port": int, "local_dc": str, "replication_factor": int}
    #: redis-cluster: {"startup_nodes": [[host, port], ...]}
    endpoints: dict[str, Any]
    version: str
    #: Settings that change results (durability knobs, consistency, heap, ...), as applied.
    settings: dict[str, Any]
    #: cpuset / cpus / memory as applied.
    resources: dict[str, Any]
    time_to_ready_s: float
    started_at: str
    base_dir: str
    durability: str = "default"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Topology:
        nodes = [Node(**n) for n in data["nodes"]]
        rest = {k: v for k, v in data.items() if k != "nodes"}
        return cls(nodes=nodes, **rest)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise UsageError(
            f"no node {name!r} in {self.target}; nodes: {', '.join(n.name for n in self.nodes)}"
        )


class Launcher(Protocol):
    """Brings topologies up and down; offers the fault operations the chaos work needs."""

    name: str

    def up(self, spec: TargetSpec, progress: ProgressFn = no_progress) -> Topology:
        """Start the topology and return once it is *really* ready. On any failure (including
        KeyboardInterrupt / Interrupted) everything started so far is torn down before raising."""
        ...

    def down(self, topology: Topology) -> None:
        """Stop everything of the topology; idempotent; leaves no process/container behind."""
        ...

    def kill_node(self, topology: Topology, node: str) -> None: ...

    def pause_node(self, topology: Topology, node: str) -> None: ...

    def resume_node(self, topology: Topology, node: str) -> None: ...

    def restart_node(self, topology: Topology, node: str) -> None: ...
