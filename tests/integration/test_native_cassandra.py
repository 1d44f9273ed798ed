"""The native Cassandra launcher against real Cassandra 5.0 JVMs (jars from setup/fetch-cassandra.sh).

One 3-node cluster for the module: QUORUM writes/reads at RF=3, settings applied as recorded,
a killed node tolerated, a restarted node rejoining, and ``down`` leaving no process behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import osutil
from bench.launchers.base import TargetSpec, Topology
from bench.launchers.native import NativeLauncher

pytestmark = pytest.mark.integration


def _session(topo: Topology, contact_points: list[str] | None = None) -> Any:
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import DCAwareRoundRobinPolicy

    ep = topo.endpoints
    profile = ExecutionProfile(
        load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=ep["local_dc"]), request_timeout=15
    )
    cluster = Cluster(
        contact_points=contact_points or ep["contact_points"],
        port=ep["port"],
        protocol_version=5,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
    )
    return cluster, cluster.connect()


def _setting(session: Any, name: str) -> str:
    row = session.execute("SELECT value FROM system_views.settings WHERE name = %s", (name,)).one()
    return str(row.value)


def _no_process_left(topo: Topology) -> list[int]:
    return [pid for node in topo.nodes if node.pid for pid in osutil.group_members(node.pid)]


@pytest.fixture(scope="module")
def launched(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[NativeLauncher, Topology, list[str]]]:
    base = tmp_path_factory.mktemp("cassandra3")
    mp = pytest.MonkeyPatch()
    mp.setenv("CARTBENCH_STATE", str(base / "state"))
    launcher = NativeLauncher()
    messages: list[str] = []
    spec = TargetSpec(target="cassandra", run_id="it-" + uuid.uuid4().hex[:6], base_dir=base / "run")
    topo = launcher.up(spec, messages.append)
    try:
        yield launcher, topo, messages
    finally:
        launcher.down(topo)
        mp.undo()


def test_up_reports_three_ready_nodes(launched: tuple[NativeLauncher, Topology, list[str]]) -> None:
    _, topo, messages = launched
    assert topo.version.startswith("5.0.")
    assert len(topo.nodes) == 3 and all(osutil.pid_alive(n.pid) for n in topo.nodes)
    assert topo.endpoints["replication_factor"] == 3
    assert topo.endpoints["port"] == 9042
    assert len(set(topo.endpoints["contact_points"])) == 3
    assert topo.settings["commitlog_sync"] == "periodic"
    assert 0 < topo.time_to_ready_s < 300
    assert sum("listening for CQL" in m for m in messages) == 3
    cluster, _ = _session(topo)
    try:
        hosts = cluster.metadata.all_hosts()
        assert sorted(h.address for h in hosts) == sorted(topo.endpoints["contact_points"])
        assert all(h.is_up for h in hosts)
        assert len(cluster.metadata.token_map.ring) == 3
    finally:
        cluster.shutdown()


def test_applied_settings_match_the_recorded_ones(
    launched: tuple[NativeLauncher, Topology, list[str]],
) -> None:
    _, topo, _ = launched
    cluster, session = _session(topo)
    try:
        assert _setting(session, "commitlog_sync") == "periodic"
        assert _setting(session, "commitlog_sync_period") == "10000ms"
        assert _setting(session, "concurrent_reads") == str(topo.settings["concurrent_reads"])
        assert _setting(session, "concurrent_writes") == str(topo.settings["concurrent_writes"])
        assert _setting(session, "num_tokens") == "1"
        assert "AllowAllAuthenticator" in _setting(session, "authenticator")
    finally:
        cluster.shutdown()


def test_quorum_write_and_read_at_rf3(launched: tuple[NativeLauncher, Topology, list[str]]) -> None:
    from cassandra import ConsistencyLevel
    from cassandra.query import SimpleStatement

    _, topo, _ = launched
    cluster, session = _session(topo)
    try:
        session.execute(
            "CREATE KEYSPACE IF NOT EXISTS it WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 3}"
        )
        session.execute("CREATE TABLE IF NOT EXISTS it.kv (k text PRIMARY KEY, v int)")
        write = SimpleStatement(
            "INSERT INTO it.kv (k, v) VALUES (%s, %s)", consistency_level=ConsistencyLevel.QUORUM
        )
        for i in range(20):
            session.execute(write, (f"key{i}", i))
        read = SimpleStatement(
            "SELECT v FROM it.kv WHERE k = %s", consistency_level=ConsistencyLevel.QUORUM
        )
        assert [session.execute(read, (f"key{i}",)).one().v for i in range(20)] == list(range(20))
        replicas = cluster.metadata.get_replicas("it", b"key7")
        assert len(replicas) == 3
    finally:
        cluster.shutdown()


def test_quorum_read_survives_a_killed_node_and_the_node_restarts(
    launched: tuple[NativeLauncher, Topology, list[str]],
) -> None:
    from cassandra import ConsistencyLevel
    from cassandra.query import SimpleStatement

    launcher, topo, _ = launched
    victim = topo.nodes[2]
    launcher.kill_node(topo, victim.name)
    assert not osutil.pid_alive(victim.pid)
    survivors = [n.host for n in topo.nodes if n is not victim]
    cluster, session = _session(topo, survivors)
    try:
        read = SimpleStatement(
            "SELECT v FROM it.kv WHERE k = %s", consistency_level=ConsistencyLevel.QUORUM
        )
        assert [session.execute(read, (f"key{i}",)).one().v for i in range(20)] == list(range(20))
        all_read = SimpleStatement(
            "SELECT v FROM it.kv WHERE k = %s", consistency_level=ConsistencyLevel.ALL
        )
        from cassandra import ReadTimeout, Unavailable
        from cassandra.cluster import NoHostAvailable

        with pytest.raises((Unavailable, ReadTimeout, NoHostAvailable)):
            # ALL needs the dead replica (Unavailable once it is convicted, a timeout before):
            # proves the QUORUM reads above really ran without it
            for i in range(20):
                session.execute(all_read, (f"key{i}",))
    finally:
        cluster.shutdown()
    old_pid = victim.pid
    launcher.restart_node(topo, victim.name)  # waits via cassandra.wait_node_ready
    assert victim.pid != old_pid and osutil.pid_alive(victim.pid)
    log = Path(victim.log_path or "").read_text()
    assert log.count("Starting listening for CQL clients") == 2


def test_second_cluster_alongside_gets_other_addresses_and_strict_durability(
    launched: tuple[NativeLauncher, Topology, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 1-node strict cluster started while the 3-node one runs (as another user would)."""
    _, first, _ = launched
    monkeypatch.setenv("CARTBENCH_STATE", str(tmp_path / "state"))
    launcher = NativeLauncher()
    spec = TargetSpec(
        target="cassandra", run_id="it-strict", base_dir=tmp_path / "run", nodes=1,
        durability="strict",
    )  # fmt: skip
    topo = launcher.up(spec)
    try:
        assert topo.endpoints["replication_factor"] == 1
        assert not set(topo.endpoints["contact_points"]) & set(first.endpoints["contact_points"])
        assert topo.nodes[0].extra["jmx_port"] not in {n.extra["jmx_port"] for n in first.nodes}
        assert topo.settings["commitlog_sync"] == "batch"
        cluster, session = _session(topo)
        try:
            assert _setting(session, "commitlog_sync") == "batch"
        finally:
            cluster.shutdown()
    finally:
        launcher.down(topo)
    assert _no_process_left(topo) == []


def test_down_leaves_no_process(launched: tuple[NativeLauncher, Topology, list[str]]) -> None:
    launcher, topo, _ = launched
    assert _no_process_left(topo)  # they run before down
    launcher.down(topo)
    assert _no_process_left(topo) == []
    assert not Path(topo.base_dir).exists()
