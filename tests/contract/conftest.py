"""Fixtures for the cart-contract suite: one store per target, each datastore started once per
test session by the native launcher and stopped at the end.

``store`` is parametrised over the reference store and the three real stores; the real ones
carry ``@pytest.mark.integration`` so ``-m "not integration"`` runs the reference only.
Every test calls ``store.prepare(...)`` itself, so tests do not depend on each other.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.launchers.base import TargetSpec, Topology
from bench.launchers.native import NativeLauncher
from targets import open_store
from targets.base import CartStore

REAL_TARGETS = ("postgres", "redis-cluster", "cassandra")

#: Store options for the tests: small pools are plenty, and they keep 50 threads honest
#: (they queue for connections rather than each getting one).
TEST_OPTIONS: dict[str, dict[str, object]] = {
    "reference": {},
    "postgres": {"pool_size": 8},
    "redis-cluster": {"max_connections": 16},
    "cassandra": {},
}


@pytest.fixture(scope="session")
def topologies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Topology]]:
    """Lazily started topologies, stopped at session end (even on failure/Ctrl-C)."""
    started: dict[str, Topology] = {}
    yield started
    launcher = NativeLauncher()
    for topo in started.values():
        launcher.down(topo)


def _topology(target: str, topologies: dict[str, Topology], base: Path) -> Topology:
    """The session's topology for ``target``.  ``CARTBENCH_TEST_TOPOLOGY_<TARGET>`` (e.g.
    ``..._REDIS_CLUSTER``) may name a topology JSON file of an already running cluster to use
    instead (it is not stopped): handy for Cassandra's ~20 s start during development."""
    env = "CARTBENCH_TEST_TOPOLOGY_" + target.upper().replace("-", "_")
    if os.environ.get(env):
        return Topology.from_dict(json.loads(Path(os.environ[env]).read_text()))
    if target not in topologies:
        os.environ.setdefault("CARTBENCH_STATE", str(base / "state"))
        spec = TargetSpec(target=target, run_id=f"contract-{uuid.uuid4().hex[:8]}",
                          base_dir=base / target)
        topologies[target] = NativeLauncher().up(spec)
    return topologies[target]


@pytest.fixture(
    params=[
        "reference",
        *(pytest.param(t, marks=pytest.mark.integration) for t in REAL_TARGETS),
    ],
)
def target(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(
    target: str, topologies: dict[str, Topology], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CartStore]:
    endpoints = {}
    if target != "reference":
        endpoints = _topology(target, topologies, tmp_path_factory.getbasetemp()).endpoints
    s = open_store(target, endpoints, TEST_OPTIONS[target])
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def native_topology(
    topologies: dict[str, Topology], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Topology]:
    """``native_topology(target)``: the session's native topology (started on first use) —
    shared with ``store``, so modules that address the same servers differently (e.g. through
    the external launcher) do not start them twice."""
    return lambda target: _topology(target, topologies, tmp_path_factory.getbasetemp())
