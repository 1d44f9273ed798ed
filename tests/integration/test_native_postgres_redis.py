"""The native launcher starts real PostgreSQL and Redis Cluster, clients read and write, and
``down`` leaves no process behind."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from bench import osutil
from bench.launchers.base import TargetSpec
from bench.launchers.native import NativeLauncher

pytestmark = pytest.mark.integration


def test_postgres_accepts_authenticated_reads_and_writes(postgres_topology) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    ep = postgres_topology.endpoints
    with psycopg.connect(ep["dsn"], autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (k int primary key, v text)")
        conn.execute(
            "INSERT INTO t VALUES (1, 'cart') ON CONFLICT (k) DO UPDATE SET v = excluded.v"
        )
        assert conn.execute("SELECT v FROM t WHERE k = 1").fetchone() == ("cart",)
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
        max_conn = conn.execute("SHOW max_connections").fetchone()
        assert max_conn is not None and int(max_conn[0]) >= 300
    bad = ep["dsn"].replace(f"password={ep['password']}", "password=wrong")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(bad)
    assert postgres_topology.nodes[0].host == "127.0.0.1"


def test_redis_cluster_has_three_masters_three_replicas(redis_topology) -> None:  # type: ignore[no-untyped-def]
    from redis.cluster import ClusterNode, RedisCluster

    roles = sorted(n.role for n in redis_topology.nodes)
    assert roles == ["master"] * 3 + ["replica"] * 3
    startup = [ClusterNode(h, p) for h, p in redis_topology.endpoints["startup_nodes"]]
    rc = RedisCluster(startup_nodes=startup)
    try:
        for i in range(50):  # keys spread over all three masters
            rc.set(f"k{i}", i)
        assert [int(rc.get(f"k{i}")) for i in range(50)] == list(range(50))  # type: ignore[arg-type]
        assert len({rc.keyslot(f"k{i}") // 5462 for i in range(50)}) == 3
    finally:
        rc.close()


def test_redis_node_restart_rejoins(redis_topology) -> None:  # type: ignore[no-untyped-def]
    launcher = NativeLauncher()
    replica = next(n for n in redis_topology.nodes if n.role == "replica")
    old_pid = replica.pid
    launcher.restart_node(redis_topology, replica.name)
    assert replica.pid != old_pid and osutil.pid_alive(replica.pid)
    assert not osutil.pid_alive(old_pid)


def test_failed_start_tears_down_and_shows_log(tmp_path: Path) -> None:
    from bench.errors import InfraError

    spec = TargetSpec(
        target="redis-cluster",
        run_id="bad",
        base_dir=tmp_path,
        options={"cluster_node_timeout_ms": "not-a-number"},
    )
    before = set(_redis_pids())
    with pytest.raises(InfraError) as info:
        NativeLauncher().up(spec)
    assert "redis" in str(info.value)
    assert set(_redis_pids()) <= before


def _redis_pids() -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"redis-server" in cmd and osutil.pid_alive(int(entry.name)):
                out.append(int(entry.name))
    return out


def test_pause_and_resume_postgres(postgres_topology) -> None:  # type: ignore[no-untyped-def]
    launcher = NativeLauncher()
    node = postgres_topology.nodes[0]
    launcher.pause_node(postgres_topology, node.name)
    try:
        assert osutil.proc_state(node.pid) == "T"
    finally:
        launcher.resume_node(postgres_topology, node.name)
    assert osutil.proc_state(node.pid) != "T"
    assert node.extra["stop_signal"] == signal.SIGINT
