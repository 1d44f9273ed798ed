"""Config generation and validation of the native launchers (no datastore needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import osutil
from bench.errors import UsageError
from bench.launchers.base import TargetSpec, Topology
from bench.launchers.config import postgres, redis_cluster
from bench.launchers.native.redis_cluster import node_argv
from bench.registry import expand as expand_targets


def spec(target: str = "postgres", **kw: object) -> TargetSpec:
    return TargetSpec(target=target, run_id="r1", base_dir=Path("/tmp/x"), **kw)  # type: ignore[arg-type]


def test_expand_targets() -> None:
    assert expand_targets("all") == ["postgres", "cassandra", "redis-cluster"]
    assert expand_targets("redis-cluster,postgres") == ["redis-cluster", "postgres"]
    with pytest.raises(UsageError, match="unknown target 'redis'"):
        expand_targets("redis")
    with pytest.raises(UsageError, match="no target"):
        expand_targets(",")


def test_spec_validation_messages() -> None:
    with pytest.raises(UsageError, match="durability 'max'"):
        spec(durability="max")
    with pytest.raises(UsageError, match="at least 1"):
        spec(nodes=0)


@pytest.mark.parametrize("preset", ["default", "strict"])
def test_postgres_settings_are_explicit(preset: str) -> None:
    s = postgres.server_settings(spec(durability=preset, max_connections=400), 5555)
    assert s["listen_addresses"] == "127.0.0.1"
    assert s["port"] == "5555" and s["max_connections"] == "400"
    assert s["fsync"] == "on" and s["synchronous_commit"] == "on"


def test_redis_presets_differ_where_it_matters() -> None:
    default = redis_cluster.node_settings(spec("redis-cluster"))
    strict = redis_cluster.node_settings(spec("redis-cluster", durability="strict"))
    assert default["appendonly"] == "no"
    assert strict["appendonly"] == "yes" and strict["appendfsync"] == "always"
    assert default["bind"] == strict["bind"] == "127.0.0.1"


def test_redis_argv_quotes_empty_save() -> None:
    strict = redis_cluster.node_settings(spec("redis-cluster", durability="strict"))
    argv = node_argv("redis-server", 30001, Path("/d"), strict)
    i = argv.index("--save")
    assert argv[i + 1] == ""
    default = redis_cluster.node_settings(spec("redis-cluster"))
    argv = node_argv("redis-server", 30001, Path("/d"), default)
    i = argv.index("--save")
    assert argv[i + 1 : i + 7] == ["3600", "1", "300", "100", "60", "10000"]


def test_cpuset_validation() -> None:
    osutil.validate_cpuset("0")
    with pytest.raises(UsageError, match="invalid --cpuset"):
        osutil.validate_cpuset("one")
    with pytest.raises(UsageError, match="does not have"):
        osutil.validate_cpuset("0-512")
    assert osutil.cpuset_prefix("1") == ["taskset", "-c", "1"]
    assert osutil.cpuset_prefix(None) == []


def test_free_port_skips_taken_ports() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        assert osutil.free_port(start=taken) != taken


def test_topology_round_trips_through_json() -> None:
    import json

    from bench.launchers.base import Node

    topo = Topology(
        target="postgres",
        launcher="native",
        run_id="r",
        nodes=[Node("n", "h", 1, "primary", pid=5)],
        endpoints={"dsn": "x"},
        version="15",
        settings={"fsync": "on"},
        resources={},
        time_to_ready_s=1.0,
        started_at="t",
        base_dir="/b",
    )
    again = Topology.from_dict(json.loads(topo.to_json()))
    assert again == topo
    assert again.node("n").pid == 5
    with pytest.raises(UsageError, match="no node 'm'"):
        again.node("m")
