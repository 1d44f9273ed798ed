"""Three Cassandra nodes in containers (offline image): RF=3 keyspace, QUORUM write/read from the
host through the per-node loopback addresses, a node cut off the network, teardown."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bench.launchers.base import TargetSpec
from bench.launchers.docker import DockerLauncher

pytestmark = pytest.mark.docker


def test_cassandra_three_nodes(launcher: DockerLauncher, run_id: str, tmp_path: Path,
                               leftovers: Any) -> None:
    from cassandra import (
        ConsistencyLevel,
        OperationTimedOut,
        ReadTimeout,
        Unavailable,
        WriteTimeout,
    )
    from cassandra.cluster import (
        EXEC_PROFILE_DEFAULT,
        Cluster,
        ExecutionProfile,
        NoHostAvailable,
    )
    from cassandra.policies import DCAwareRoundRobinPolicy

    spec = TargetSpec(target="cassandra", run_id=run_id, base_dir=tmp_path, nodes=3)
    topo = launcher.up(spec, progress=print)
    print(f"cassandra x3 time_to_ready_s={topo.time_to_ready_s}")
    try:
        assert topo.version.startswith("5.0")
        assert topo.endpoints["contact_points"] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
        assert topo.settings["heap"] == "-Xms1G -Xmx1G"
        ep = topo.endpoints
        profile = ExecutionProfile(
            load_balancing_policy=DCAwareRoundRobinPolicy(ep["local_dc"]),
            consistency_level=ConsistencyLevel.QUORUM,
        )
        cluster = Cluster(ep["contact_points"], port=ep["port"], protocol_version=5,
                          execution_profiles={EXEC_PROFILE_DEFAULT: profile})
        try:
            session = cluster.connect()
            session.execute("CREATE KEYSPACE ks WITH replication = "
                            "{'class': 'SimpleStrategy', 'replication_factor': 3}")
            session.execute("CREATE TABLE ks.carts (id int PRIMARY KEY, qty int)")
            for i in range(20):
                session.execute("INSERT INTO ks.carts (id, qty) VALUES (%s, %s)", (i, i * 2))
            assert session.execute("SELECT qty FROM ks.carts WHERE id = 7").one()[0] == 14
            # one node partitioned away: QUORUM (2 of 3) still reads and writes
            launcher.disconnect_node(topo, "cassandra-3")
            deadline = time.monotonic() + 30  # the driver notices node 3 is gone
            while True:
                try:
                    session.execute("INSERT INTO ks.carts (id, qty) VALUES (100, 1)")
                    row = session.execute("SELECT qty FROM ks.carts WHERE id = 100").one()
                    break
                except (OperationTimedOut, Unavailable, WriteTimeout, ReadTimeout, NoHostAvailable):
                    if time.monotonic() > deadline:
                        raise
            assert row is not None and row[0] == 1
            launcher.reconnect_node(topo, "cassandra-3")
            launcher.restart_node(topo, "cassandra-2")  # returns once it serves CQL again
            assert session.execute("SELECT qty FROM ks.carts WHERE id = 7").one()[0] == 14
        finally:
            cluster.shutdown()
    finally:
        launcher.down(topo)
    assert leftovers(run_id) == []
