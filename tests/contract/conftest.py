"""Fixtures for the cart-contract suite: one store per target, each datastore started once per
test session by the native launcher and stopped at the end.

``store`` is parametrised over the reference store and the three real stores; the real ones
carry ``@pytest.mark.integration`` so ``-m "not integration"`` runs the reference only.
Every test calls ``store.prepare(...)`` itself, so tests do not depend on each other.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.launchers.base import Topology
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


#: The one session fixture per native topology (tests/conftest.py), shared with the
#: integration tests so a session never starts the same datastore twice.
SESSION_FIXTURES = {"postgres": "postgres_topology", "redis-cluster": "redis_topology",
                    "cassandra": "cassandra_topology"}


def _topology(target: str, request: pytest.FixtureRequest) -> Topology:
    """The session's topology for ``target`` (started on first use by the session fixture).
    ``CARTBENCH_TEST_TOPOLOGY_<TARGET>`` (e.g. ``..._REDIS_CLUSTER``) may name a topology JSON
    file of an already running cluster to use instead (it is not stopped): handy for
    Cassandra's ~20 s start during development."""
    env = "CARTBENCH_TEST_TOPOLOGY_" + target.upper().replace("-", "_")
    if os.environ.get(env):
        return Topology.from_dict(json.loads(Path(os.environ[env]).read_text()))
    topo: Topology = request.getfixturevalue(SESSION_FIXTURES[target])
    return topo


@pytest.fixture(
    params=[
        "reference",
        *(pytest.param(t, marks=pytest.mark.integration) for t in REAL_TARGETS),
    ],
)
def target(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(target: str, request: pytest.FixtureRequest) -> Iterator[CartStore]:
    endpoints = {}
    if target != "reference":
        endpoints = _topology(target, request).endpoints
    s = open_store(target, endpoints, TEST_OPTIONS[target])
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def native_topology(request: pytest.FixtureRequest) -> Callable[[str], Topology]:
    """``native_topology(target)``: the session's native topology (started on first use) —
    shared with ``store``, so modules that address the same servers differently (e.g. through
    the external launcher) do not start them twice."""
    return lambda target: _topology(target, request)
