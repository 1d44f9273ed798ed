"""Node names a fault may name, and how symbolic names resolve on a live topology.

Concrete names are those ``bench status`` shows: ``postgres-1``; ``cassandra-1..N``;
``redis-1..N`` (native) / ``redis-cluster-1..N`` (docker) — either spelling is accepted for
either launcher.  Symbolic names resolve when the fault fires (roles change during a run):

``postgres-any``, ``postgres-primary``  the primary
``cassandra-any``                       one node, chosen with the run's seed
``redis-cluster-any``                   one node, chosen with the run's seed
``redis-cluster-master-any`` / ``-replica-any``  a node holding that role *now*
``redis-cluster-master-K`` / ``-replica-K``      the K-th master/replica by port, *now*
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from bench.launchers.base import Node, Topology

EXAMPLES = ("postgres-1", "cassandra-2", "cassandra-any", "redis-3",
            "redis-cluster-master-any", "redis-cluster-master-1")  # fmt: skip
DEFAULT_COUNTS = {"postgres": 1, "cassandra": 3, "redis-cluster": 6}

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("postgres", re.compile(r"^postgres-(?:(?P<i>[0-9]+)|any|primary)$")),
    ("cassandra", re.compile(r"^cassandra-(?:(?P<i>[0-9]+)|any)$")),
    ("redis-cluster", re.compile(r"^redis-cluster-(?:(?P<role>master|replica)-)?(?:(?P<i>[0-9]+)|any)$")),
    ("redis-cluster", re.compile(r"^redis-(?P<i>[0-9]+)$")),
)


def target_of(name: str) -> str | None:
    for target, pattern in _PATTERNS:
        if pattern.match(name):
            return target
    return None


def check(name: str, target: str, count: int | None) -> str | None:
    """Why ``name`` cannot be a node of ``target`` with ``count`` nodes (None = it can)."""
    count = count or DEFAULT_COUNTS[target]
    for t, pattern in _PATTERNS:
        m = pattern.match(name)
        if t != target or not m:
            continue
        index = m.group("i")
        if index is None:
            return None
        role = m.groupdict().get("role")
        limit = count // 2 if role else count
        if not 1 <= int(index) <= limit:
            what = f"{role}s" if role else "nodes"
            return f"no node {name!r}: {target} has {limit} {what} (1..{limit})"
        return None
    return f"unknown node {name!r} for {target}"


def resolve(
    name: str,
    topology: Topology,
    *,
    seed: int,
    roles: Callable[[Topology], dict[str, str]] | None = None,
) -> Node:
    """The topology's node that ``name`` means now. ``roles`` gives current roles by node
    name (the cluster's view); without it the roles recorded at start-up are used."""
    by_name = {n.name: n for n in topology.nodes}
    if name in by_name:
        return by_name[name]
    for _, pattern in _PATTERNS:
        m = pattern.match(name)
        if not m:
            continue
        index = m.group("i")
        role = m.groupdict().get("role")
        pool = sorted(topology.nodes, key=lambda n: (n.port, n.host))
        if role:
            current = roles(topology) if roles else {n.name: n.role for n in topology.nodes}
            pool = [n for n in pool if current.get(n.name) == role]
        if not pool:
            break
        if index is None:
            return random.Random(f"{seed}:{name}").choice(pool)
        if not role:
            # redis-3 / redis-cluster-3 / cassandra-2: the K-th node as the launcher numbers them
            numbered = {int(n.name.rsplit("-", 1)[1]): n for n in topology.nodes
                        if n.name.rsplit("-", 1)[-1].isdigit()}  # fmt: skip
            if int(index) in numbered:
                return numbered[int(index)]
            break
        if int(index) <= len(pool):
            return pool[int(index) - 1]
        break
    from bench.errors import InfraError

    raise InfraError(
        f"no node {name!r} in {topology.target} now (nodes: "
        + ", ".join(f"{n.name} {n.role}" for n in topology.nodes) + ")"
    )
