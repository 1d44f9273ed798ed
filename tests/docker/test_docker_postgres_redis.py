"""PostgreSQL and Redis Cluster in containers on the offline images: real clients, faults,
teardown, zero leftovers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bench.launchers.base import TargetSpec
from bench.launchers.docker import DockerLauncher, redis_cluster

pytestmark = pytest.mark.docker


def test_postgres_container_roundtrip(docker_client: Any, launcher: DockerLauncher, run_id: str,
                                      tmp_path: Path, leftovers: Any) -> None:
    import psycopg

    spec = TargetSpec(target="postgres", run_id=run_id, base_dir=tmp_path, cpus=0.5, memory="1g")
    topo = launcher.up(spec)
    try:
        assert topo.launcher == "docker" and topo.version.startswith("15.")
        assert topo.resources["cpus"] == 0.5 and topo.resources["memory_bytes"] == 1024**3
        container = docker_client.containers.get(topo.nodes[0].container)
        assert container.labels["cartbench.run"] == run_id
        assert container.attrs["HostConfig"]["NanoCpus"] == 500_000_000
        bindings = container.attrs["HostConfig"]["PortBindings"]["5432/tcp"]
        assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]
        with psycopg.connect(topo.endpoints["dsn"], autocommit=True) as conn:
            conn.execute("CREATE TABLE t (k int primary key, v text)")
            conn.execute("INSERT INTO t VALUES (1, 'one')")
        launcher.kill_node(topo, "postgres-1")
        container.reload()
        assert container.status == "exited"
        launcher.restart_node(topo, "postgres-1")  # crash recovery; data survives
        with psycopg.connect(topo.endpoints["dsn"]) as conn:
            assert conn.execute("SELECT v FROM t WHERE k = 1").fetchone() == ("one",)
        with pytest.raises(psycopg.OperationalError):
            bad = topo.endpoints["dsn"].replace(topo.endpoints["password"], "wrong")
            psycopg.connect(bad)
    finally:
        launcher.down(topo)
    assert leftovers(run_id) == []


def _cluster(topo: Any) -> Any:
    from redis.cluster import ClusterNode, RedisCluster

    return RedisCluster(
        startup_nodes=[ClusterNode(h, p) for h, p in topo.endpoints["startup_nodes"]],
        address_remap=redis_cluster.remapper(topo.endpoints), socket_timeout=5,
    )


def test_redis_cluster_containers(docker_client: Any, launcher: DockerLauncher, run_id: str,
                                  tmp_path: Path, leftovers: Any) -> None:
    spec = TargetSpec(target="redis-cluster", run_id=run_id, base_dir=tmp_path)
    topo = launcher.up(spec)
    try:
        roles = sorted(n.role for n in topo.nodes)
        assert roles == ["master"] * 3 + ["replica"] * 3
        assert topo.version.startswith("7.0")
        rc = _cluster(topo)
        for i in range(300):  # keys spread over all three masters
            rc.set(f"cart:{i}", str(i))
        assert [rc.get(f"cart:{i}") for i in (0, 150, 299)] == [b"0", b"150", b"299"]
        rc.close()

        replica = next(n for n in topo.nodes if n.role == "replica")
        launcher.pause_node(topo, replica.name)
        assert docker_client.containers.get(replica.container).status == "paused"
        launcher.resume_node(topo, replica.name)

        # a partition from the run network: the node's peers lose it, reconnecting heals it
        launcher.disconnect_node(topo, replica.name)
        net = docker_client.networks.get(topo.extra["network"])
        net.reload()
        assert replica.container not in {c.id for c in net.containers}
        launcher.reconnect_node(topo, replica.name)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if all(redis_cluster.node_ready(n.port, 6) for n in topo.nodes):
                    break
            except Exception:  # the node is still re-joining
                pass
            time.sleep(0.5)
        else:
            pytest.fail("cluster did not heal within 60 s after reconnect")
        rc = _cluster(topo)
        assert rc.get("cart:150") == b"150"
        rc.close()
    finally:
        launcher.down(topo)
    assert leftovers(run_id) == []
