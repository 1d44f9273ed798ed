"""The cart contract through the *external* launcher: an endpoints TOML file (written here)
pointing at the session's native servers, with non-default names — database ``ext_contract``,
keyspace ``ext_contract`` (replication and consistency from the file), key prefix
``ext-contract:`` — and checks that every store stays inside the namespace it was given.

The scripted sequence and the 50-concurrent-checkouts race are the contract suite's own tests,
imported (collected again here with this module's ``store``), not copies.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bench.launchers.base import TargetSpec, Topology
from bench.launchers.external import ExternalLauncher
from targets import open_store
from targets.base import CartStore

from .conftest import REAL_TARGETS, TEST_OPTIONS
from .test_contract import (
    SCRIPT,
    run_script,
    small_catalog,
    test_concurrent_checkouts_never_oversell,
    test_scripted_sequence_matches_reference,
)

pytestmark = pytest.mark.integration

__all__ = ["test_concurrent_checkouts_never_oversell", "test_scripted_sequence_matches_reference"]

DBNAME = "ext_contract"
KEYSPACE = "ext_contract"
KEY_PREFIX = "ext-contract:"
#: Deliberately unlike the native defaults (NetworkTopologyStrategy RF 3, QUORUM/SERIAL), so the
#: checks below can tell the endpoints file's values from the defaults.
REPLICATION = {"class": "NetworkTopologyStrategy", "datacenter1": 2}
CONSISTENCY, SERIAL = "LOCAL_QUORUM", "LOCAL_SERIAL"


def _create_database(native: Topology) -> None:
    """What the user's DBA would have done: an empty database for the benchmark."""
    import psycopg

    with psycopg.connect(native.endpoints["dsn"], autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DBNAME,)).fetchone() is None:
            conn.execute(f"CREATE DATABASE {DBNAME}")


def endpoints_toml(target: str, native: Topology) -> str:
    ep = native.endpoints
    if target == "postgres":
        _create_database(native)
        return (f'[postgres]\ndsn = "host={ep["host"]} port={ep["port"]} user={ep["user"]} '
                f'password={ep["password"]} dbname={DBNAME}"\n')
    if target == "redis-cluster":
        nodes = ", ".join(f'"{h}:{p}"' for h, p in ep["startup_nodes"][:2])
        return f'[redis-cluster]\nstartup_nodes = [{nodes}]\nkey_prefix = "{KEY_PREFIX}"\n'
    points = ", ".join(f'"{p}"' for p in ep["contact_points"])
    replication = ", ".join(f'{k} = {v}' if isinstance(v, int) else f'{k} = "{v}"'
                            for k, v in REPLICATION.items())
    return (f'[cassandra]\ncontact_points = [{points}]\nport = {ep["port"]}\n'
            f'local_dc = "{ep["local_dc"]}"\nkeyspace = "{KEYSPACE}"\n'
            f"replication = {{ {replication} }}\n"
            f'consistency = "{CONSISTENCY}"\nserial_consistency = "{SERIAL}"\n')


@pytest.fixture(scope="module", params=REAL_TARGETS)
def external_topology(
    request: pytest.FixtureRequest, native_topology: Callable[[str], Topology],
    tmp_path_factory: pytest.TempPathFactory,
) -> Topology:
    target = str(request.param)
    native = native_topology(target)
    base = tmp_path_factory.mktemp(f"external-{target}")
    file = base / "endpoints.toml"
    file.write_text(endpoints_toml(target, native))
    spec = TargetSpec(target=target, run_id=f"ext-{uuid.uuid4().hex[:8]}", base_dir=base)
    topo = ExternalLauncher(file).up(spec)
    assert topo.launcher == "external" and topo.version == native.version
    return topo


@pytest.fixture
def target(external_topology: Topology) -> str:
    return external_topology.target


@pytest.fixture
def store(external_topology: Topology) -> Iterator[CartStore]:
    s = open_store(external_topology.target, external_topology.endpoints,
                   TEST_OPTIONS[external_topology.target])
    try:
        yield s
    finally:
        s.close()


# -- each store stays in the namespace the endpoints file gave it ----------------------------


def _postgres_namespace(topo: Topology, store: CartStore) -> None:
    import psycopg

    assert store.settings()["dbname"] == DBNAME
    with psycopg.connect(topo.endpoints["dsn"]) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (DBNAME,)
        orders = conn.execute("SELECT count(*) FROM orders").fetchone()
    assert orders == (len(store.snapshot().orders),) and orders != (0,)


def _redis_keys(topo: Topology) -> list[str]:
    from redis.cluster import ClusterNode, RedisCluster

    make_node: Any = ClusterNode
    rc: Any = RedisCluster(startup_nodes=[make_node(h, p) for h, p in topo.endpoints["startup_nodes"]],
                           decode_responses=True, socket_timeout=5)
    try:
        return sorted(rc.scan_iter(count=1000))
    finally:
        rc.close()


def _redis_namespace_before(topo: Topology) -> Any:
    """A key of 'the user's own data', outside the prefix: prepare must not delete it."""
    from redis.cluster import ClusterNode, RedisCluster

    make_node: Any = ClusterNode
    rc: Any = RedisCluster(startup_nodes=[make_node(h, p) for h, p in topo.endpoints["startup_nodes"]],
                           decode_responses=True, socket_timeout=5)
    try:
        rc.set("users-own:{keep}", "precious")
    finally:
        rc.close()
    return [k for k in _redis_keys(topo) if not k.startswith(KEY_PREFIX)]


def _redis_namespace(topo: Topology, store: CartStore, outside_before: Any) -> None:
    from redis.crc import key_slot

    assert store.settings()["key_prefix"] == KEY_PREFIX
    keys = _redis_keys(topo)
    assert [k for k in keys if not k.startswith(KEY_PREFIX)] == outside_before
    assert "users-own:{keep}" in outside_before
    ours = [k for k in keys if k.startswith(KEY_PREFIX)]
    assert f"{KEY_PREFIX}product:{{sku-000001}}" in ours
    # one cart's keys share one slot: its cart hash and its order hashes hash alike
    c3, orders = f"{KEY_PREFIX}cart:{{c3}}", [k for k in ours if k.startswith(f"{KEY_PREFIX}order:{{c1}}")]
    assert c3 in ours and orders
    slots = {key_slot(k.encode()) for k in [*orders, f"{KEY_PREFIX}cart:{{c1}}"]}
    assert slots == {key_slot(b"c1")}


def _cassandra_namespace(topo: Topology, store: CartStore) -> None:
    from cassandra.cluster import Cluster

    settings = store.settings()
    assert (settings["keyspace"], settings["consistency"], settings["serial_consistency"]) == (
        KEYSPACE, CONSISTENCY, SERIAL)
    ep = topo.endpoints
    cluster = Cluster(contact_points=ep["contact_points"], port=ep["port"], protocol_version=5)
    try:
        session = cluster.connect()
        row = session.execute("SELECT replication FROM system_schema.keyspaces "
                              "WHERE keyspace_name = %s", (KEYSPACE,)).one()
        assert row is not None and row.replication["datacenter1"] == "2"
        orders = session.execute(f"SELECT count(*) FROM {KEYSPACE}.orders").one()[0]
    finally:
        cluster.shutdown()
    assert orders == len(store.snapshot().orders) == 2
    # an explicit store option still overrides the endpoints' consistency
    override = open_store("cassandra", ep, {"consistency": "quorum"})
    try:
        assert override.settings()["consistency"] == "QUORUM"
    finally:
        override.close()


def test_store_stays_in_the_endpoints_namespace(external_topology: Topology,
                                                store: CartStore) -> None:
    topo = external_topology
    before = _redis_namespace_before(topo) if topo.target == "redis-cluster" else None
    store.prepare(small_catalog())
    results = run_script(store)
    assert len(results) == len(SCRIPT)
    if topo.target == "postgres":
        _postgres_namespace(topo, store)
    elif topo.target == "redis-cluster":
        _redis_namespace(topo, store, before)
    else:
        _cassandra_namespace(topo, store)
