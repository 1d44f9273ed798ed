"""The cart contract on the Docker launcher's endpoints (offline images): published loopback
ports, and for Redis Cluster the ``address_remap`` table — nodes announce container addresses,
the store must follow MOVED/ASK redirects and topology refreshes to the published ports.

One target's containers at a time (the topology fixture is module-scoped and parametrised, so
pytest groups the tests by target and tears each topology down before the next); every run
asserts zero leftovers by label.  The scripted sequence and the 50-concurrent-checkouts race are
the contract suite's own tests, imported (collected again here with this module's ``store``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.launchers.base import TargetSpec, Topology
from bench.launchers.docker import DockerLauncher, engine
from bench.launchers.docker.specs import OFFLINE_IMAGES
from targets import open_store
from targets.base import CartStore

from .conftest import TEST_OPTIONS
from .test_contract import (
    test_concurrent_checkouts_never_oversell,
    test_scripted_sequence_matches_reference,
)

pytestmark = pytest.mark.docker

__all__ = ["test_concurrent_checkouts_never_oversell", "test_scripted_sequence_matches_reference"]

ROOT = Path(__file__).resolve().parents[2]
DOCKER_TARGETS = ("redis-cluster", "postgres", "cassandra")


@pytest.fixture(scope="module", params=DOCKER_TARGETS)
def docker_topology(request: pytest.FixtureRequest, docker_client: Any,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    target = str(request.param)
    run_id = "ct" + uuid.uuid4().hex[:10]
    launcher = DockerLauncher(images=OFFLINE_IMAGES, pull=False)
    t0 = time.monotonic()
    topo = launcher.up(TargetSpec(target=target, run_id=run_id,
                                  base_dir=tmp_path_factory.mktemp(f"docker-{target}")))
    print(f"\n[docker {target}: up in {time.monotonic() - t0:.1f} s]")
    try:
        yield topo
    finally:
        launcher.down(topo)
        assert engine.leftovers(docker_client, f"cartbench.run={run_id}") == []


@pytest.fixture
def target(docker_topology: Topology) -> str:
    return docker_topology.target


@pytest.fixture
def store(docker_topology: Topology) -> Iterator[CartStore]:
    s = open_store(docker_topology.target, docker_topology.endpoints,
                   TEST_OPTIONS[docker_topology.target])
    try:
        yield s
    finally:
        s.close()


def _published(topo: Topology) -> set[tuple[str, int]]:
    """The host-reachable addresses the Docker launcher published."""
    ep = topo.endpoints
    if topo.target == "redis-cluster":
        return {(str(h), int(p)) for h, p in ep["address_remap"].values()}
    if topo.target == "cassandra":
        return {(str(h), int(ep["port"])) for h in ep["contact_points"]}
    return {(str(ep["host"]), int(ep["port"]))}


def _addresses_in_use(store: CartStore) -> set[tuple[str, int]]:
    """Where the store's driver actually sends requests (its own view of the cluster)."""
    if store.name == "redis-cluster":
        return {(n.host, int(n.port)) for n in store._rc.get_nodes()}  # type: ignore[attr-defined]
    if store.name == "cassandra":
        hosts = store._cluster.metadata.all_hosts()  # type: ignore[attr-defined]
        return {(str(h.endpoint.address), int(h.endpoint.port)) for h in hosts}
    with store._pool.connection() as conn:  # type: ignore[attr-defined]
        return {(conn.info.host, int(conn.info.port))}


def test_store_talks_only_to_published_ports(docker_topology: Topology, store: CartStore) -> None:
    """Every node the driver knows is a published loopback address — for Redis, only true
    when the store applies ``address_remap`` (the cluster announces container IPs)."""
    in_use = _addresses_in_use(store)
    assert in_use and in_use <= _published(docker_topology), in_use
    if docker_topology.target == "redis-cluster":
        masters = {(n.host, n.port) for n in docker_topology.nodes if n.role == "master"}
        # every master is known at its remapped address; redis-py may also list the replicas
        # it learnt from CLUSTER SLOTS (also remapped), depending on when replicas synced
        assert masters <= in_use
        assert store.settings()["address_remap"] is True
