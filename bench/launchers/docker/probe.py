"""What a Docker target module's readiness rules may ask of its containers.

``Probe`` reads container state and logs; ``Readiness`` bundles it with the polling deadline
for one ``wait_ready`` call.  Nothing here knows a datastore: each target module's
``wait_ready(ready)`` (``postgres``, ``redis_cluster``, ``cassandra``) owns its rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import osutil
from bench.launchers.base import Node, ProgressFn, Topology


class Probe:
    """What readiness checks may ask of the containers of one topology."""

    def __init__(self, client: Any, topo: Topology, since: float | None = None) -> None:
        self.client = client
        self.topo = topo
        self.since = since  # only log lines after this (epoch seconds): a restart's old log

    def container(self, node: Node) -> Any:
        return self.client.containers.get(node.container)

    def status(self, node: Node) -> str:
        from docker.errors import NotFound

        try:
            return str(self.container(node).status)
        except NotFound:
            return "removed"

    def alive(self) -> bool:
        return all(self.status(n) in ("running", "created", "paused") for n in self.topo.nodes)

    def log(self, node: Node, tail: int | str = "all") -> str:
        kwargs: dict[str, Any] = {"since": self.since} if self.since is not None else {}
        out = self.container(node).logs(tail=tail, **kwargs)
        return out.decode(errors="replace") if isinstance(out, bytes) else str(out)

    def dead_report(self) -> str:
        from docker.errors import APIError

        parts = []
        for n in self.topo.nodes:
            status = self.status(n)
            if status in ("running", "created", "paused"):
                continue
            try:
                c = self.container(n)
                tail = " | ".join(self.log(n, tail=5).strip().splitlines()[-5:])
                code = c.attrs.get("State", {}).get("ExitCode")
                oom = c.attrs.get("State", {}).get("OOMKilled")
                parts.append(f"{n.name} exited (code {code}{', OOM-killed' if oom else ''}): {tail}")
            except APIError:
                parts.append(f"{n.name} is {status} (removed by someone else?)")
        return "docker: " + "; ".join(parts)


@dataclass
class Readiness:
    """One readiness check of ``topo``: ``until(predicate, what)`` polls with the deadline and
    fails fast (with the containers' exit codes and log tails) when a container died."""

    client: Any
    topo: Topology
    timeout: float
    first_start: bool
    progress: ProgressFn
    #: ``(node name, epoch seconds)``: that node was restarted; its log counts from then on.
    restarted: tuple[str, float] | None = None

    def __post_init__(self) -> None:
        self.probe = Probe(self.client, self.topo)
        self._restarted_probe = (
            Probe(self.client, self.topo, since=self.restarted[1]) if self.restarted else self.probe
        )

    def until(self, predicate: Callable[[], bool], description: str) -> None:
        osutil.wait_until(predicate, timeout=self.timeout,
                          what=f"{self.topo.target}: {description}", interval=0.25,
                          alive=self.probe.alive, on_dead=self.probe.dead_report)

    def log(self, node: Node) -> str:
        """The node's log since its last (re)start."""
        restarted = self.restarted is not None and node.name == self.restarted[0]
        return (self._restarted_probe if restarted else self.probe).log(node)
