"""The native launcher: datastores as local processes (the embedded default, no Docker).

Each target module (``postgres``, ``redis_cluster``, ``cassandra``) exposes
``up(spec, progress) -> Topology`` and ``wait_node_ready(topology, node)``.  Every node records
the argv/user/env it was started with in ``Node.extra`` so stop/kill/pause/restart are generic.
"""

from __future__ import annotations

import importlib
import shutil
import signal
from pathlib import Path
from types import ModuleType

from bench import osutil, registry
from bench.launchers.base import Node, ProgressFn, TargetSpec, Topology, no_progress


def _module(target: str) -> ModuleType:
    """The module of ``target`` for this launcher (``bench.registry``)."""
    return importlib.import_module(registry.launcher_module(target, "native"))


def stop_nodes(nodes: list[Node], sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
    """Stop every node's process group, all at once (a Cassandra node alone takes seconds to
    announce its shutdown and drain), escalating to SIGKILL after ``timeout``."""
    import time

    groups = [(n.name, n.pid, int(n.extra.get("stop_signal", sig))) for n in nodes if n.pid]
    for _, pgid, node_sig in groups:
        osutil.signal_group(pgid, signal.SIGCONT)  # a paused node cannot shut down
        osutil.signal_group(pgid, node_sig)
    deadline = time.monotonic() + timeout
    pending = [(name, pgid) for name, pgid, _ in groups]
    while pending and time.monotonic() < deadline:
        for _, pgid in pending:
            osutil.reap(pgid)
        pending = [(name, pgid) for name, pgid in pending if osutil.group_members(pgid)]
        if pending:
            time.sleep(0.05)
    errors = []
    for name, pgid in pending:
        try:
            osutil.stop_group(pgid, signal.SIGKILL, timeout=10)
        except Exception as exc:
            errors.append(f"{name}: {exc}")
    if errors:
        from bench.errors import InfraError

        raise InfraError("could not stop " + "; ".join(errors))


class NativeLauncher:
    name = "native"

    def __init__(self, keep_data: bool = False) -> None:
        self.keep_data = keep_data

    def up(self, spec: TargetSpec, progress: ProgressFn = no_progress) -> Topology:
        osutil.validate_cpuset(spec.cpuset)
        try:
            topo: Topology = _module(spec.target).up(spec, progress)
        except BaseException:
            # The target module stopped the nodes it knew of; an interrupt between fork and
            # bookkeeping can hide one, so sweep the run's directory as a backstop.
            osutil.kill_under(spec.base_dir)
            raise
        return topo

    def down(self, topology: Topology) -> None:
        stop_nodes(topology.nodes)
        osutil.kill_under(topology.base_dir)
        for extra_dir in topology.extra.get("cleanup_dirs", []):
            osutil.kill_under(extra_dir)
        if not self.keep_data:
            shutil.rmtree(topology.base_dir, ignore_errors=True)
            for extra_dir in topology.extra.get("cleanup_dirs", []):
                shutil.rmtree(extra_dir, ignore_errors=True)

    def kill_node(self, topology: Topology, node: str) -> None:
        osutil.stop_group(topology.node(node).pid, signal.SIGKILL, timeout=10)

    def pause_node(self, topology: Topology, node: str) -> None:
        """SIGSTOP the node's whole group; returns once every process is really stopped
        (signal delivery is asynchronous), so a fault window starts when it says it does."""
        pid = topology.node(node).pid
        if pid:
            osutil.signal_group(pid, signal.SIGSTOP)
            osutil.wait_until(
                lambda: all(osutil.proc_state(p) == "T" for p in osutil.group_members(pid)),
                timeout=10, what=f"{node} to stop", interval=0.005,
            )

    def resume_node(self, topology: Topology, node: str) -> None:
        pid = topology.node(node).pid
        if pid:
            osutil.signal_group(pid, signal.SIGCONT)
            osutil.wait_until(
                lambda: all(osutil.proc_state(p) != "T" for p in osutil.group_members(pid)),
                timeout=10, what=f"{node} to resume", interval=0.005,
            )

    def restart_node(self, topology: Topology, node: str) -> None:
        n = topology.node(node)
        sig = int(n.extra.get("stop_signal", signal.SIGTERM))
        osutil.stop_group(n.pid, sig)
        proc = osutil.spawn(
            n.extra["argv"],
            Path(n.log_path or Path(topology.base_dir) / f"{n.name}.log"),
            user=n.extra.get("user"),
            cpuset=topology.resources.get("cpuset"),
            env=n.extra.get("env"),
            cwd=Path(n.extra["cwd"]) if n.extra.get("cwd") else None,
        )
        n.pid = proc.pid
        _module(topology.target).wait_node_ready(topology, n)
