"""Redis Cluster (Debian's redis-server 7) as 6 local nodes: 3 masters + 3 replicas.

Ports are picked free from 30001 upwards (Redis's own ``create-cluster`` range; 7000 would
clash with Cassandra's internode port). Ready means, on every node: ``cluster_state:ok``,
16384 slots ok, all nodes known, and every replica ``master_link_status:up`` (a replica that
never finished its first sync refuses to fail over).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from bench import osutil, registry
from bench.errors import InfraError
from bench.launchers.base import Node, ProgressFn, TargetSpec, Topology
from bench.launchers.config.redis_cluster import HOST, node_settings
from bench.launchers.native import stop_nodes
from bench.paths import SETUP_COMMAND
from bench.results import utc_iso


def node_argv(server: str, port: int, node_dir: Path, settings: dict[str, str]) -> list[str]:
    argv = [
        server,
        "--port",
        str(port),
        "--dir",
        str(node_dir),
        "--cluster-config-file",
        str(node_dir / "nodes.conf"),
        "--daemonize",
        "no",
        "--logfile",
        "",
    ]
    for key, value in settings.items():
        argv += [f"--{key}", *value.split()] if key == "save" and value else [f"--{key}", value]
    return argv


def _binaries() -> tuple[str, str]:
    server = osutil.which("redis-server")
    cli = osutil.which("redis-cli")
    if not server or not cli:
        raise InfraError(f"redis-server/redis-cli not found; run {SETUP_COMMAND}")
    return server, cli


def _version(server: str) -> str:
    out = subprocess.run([server, "--version"], capture_output=True, text=True, check=False).stdout
    # "Redis server v=7.0.15 sha=... malloc=jemalloc-5.3.0 bits=64 build=..."
    for part in out.split():
        if part.startswith("v="):
            return part[2:]
    return out.strip()


def up(spec: TargetSpec, progress: ProgressFn) -> Topology:
    t0 = time.monotonic()
    server, cli = _binaries()
    count = spec.nodes or registry.get("redis-cluster").default_nodes
    if count < 6 or count % 2:
        from bench.errors import UsageError

        raise UsageError(
            f"redis-cluster needs an even number of nodes >= 6 (masters + 1 replica each), got {count}"
        )
    settings = node_settings(spec)
    root = spec.base_dir / "redis-cluster"
    root.mkdir(parents=True, exist_ok=True)
    start = int(spec.options.get("port", 30001))
    ports: list[int] = []
    for _ in range(count):
        port = osutil.free_port(HOST, start=start, avoid=set(ports) | {p + 10000 for p in ports})
        # the cluster bus uses port + 10000: it must be free too
        while not osutil.port_is_free(HOST, port + 10000):
            port = osutil.free_port(HOST, start=port + 1, avoid=set(ports))
        ports.append(port)
        start = port + 1

    nodes: list[Node] = []
    topo = Topology(
        target="redis-cluster",
        launcher="native",
        run_id=spec.run_id,
        nodes=nodes,
        endpoints={"startup_nodes": [[HOST, p] for p in ports]},
        version=_version(server),
        settings=dict(settings, masters=str(count // 2), replicas_per_master="1"),
        resources={"cpuset": spec.cpuset},
        time_to_ready_s=0.0,
        started_at=utc_iso(),
        base_dir=str(root),
        durability=spec.durability,
    )
    try:
        for i, port in enumerate(ports, 1):
            node_dir = root / f"node-{port}"
            node_dir.mkdir(parents=True, exist_ok=True)
            log_path = node_dir / "redis.log"
            argv = node_argv(server, port, node_dir, settings)
            proc = osutil.spawn(argv, log_path, cpuset=spec.cpuset, cwd=node_dir)
            node = Node(
                name=f"redis-{i}",
                host=HOST,
                port=port,
                role="node",
                pid=proc.pid,
                data_dir=str(node_dir),
                log_path=str(log_path),
            )
            node.extra = {"argv": argv, "cwd": str(node_dir)}
            nodes.append(node)
        progress(f"redis-cluster: {count} nodes started on ports {ports[0]}..{ports[-1]}")
        for node in nodes:
            _wait_ping(node)
        progress("redis-cluster: creating cluster (redis-cli --cluster create)")
        res = subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *[f"{HOST}:{p}" for p in ports],
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if res.returncode != 0:
            tail = " | ".join(
                res.stdout.strip().splitlines()[-3:] + res.stderr.strip().splitlines()[-2:]
            )
            raise InfraError(f"redis-cluster: cluster create failed: {tail}")
        progress("redis-cluster: waiting for slots, gossip and replica sync")
        _wait_cluster_ready(topo)
        _record_roles(topo)
    except BaseException:
        stop_nodes(nodes)
        raise
    topo.time_to_ready_s = round(time.monotonic() - t0, 3)
    progress(f"redis-cluster: ready in {topo.time_to_ready_s:.1f} s")
    return topo


def _client(node: Node) -> Any:
    import redis

    return redis.Redis(host=node.host, port=node.port, socket_timeout=2, socket_connect_timeout=2)


def _wait_ping(node: Node) -> None:
    def ping() -> bool:
        with _client(node) as r:
            return bool(r.ping())

    osutil.wait_until(
        ping,
        timeout=30,
        what=f"{node.name} to answer PING",
        alive=lambda: osutil.pid_alive(node.pid),
        on_dead=lambda: f"{node.name} exited during start-up: {osutil.log_tail(node.log_path)}",
    )


def _node_ready(node: Node, count: int) -> bool:
    with _client(node) as r:
        info = r.cluster("INFO")
        if isinstance(info, bytes | str):
            text = info.decode() if isinstance(info, bytes) else info
            info = dict(line.split(":", 1) for line in text.split() if ":" in line)
        if str(info.get("cluster_state")) != "ok":
            return False
        if int(info.get("cluster_slots_ok", 0)) != 16384:
            return False
        if int(info.get("cluster_known_nodes", 0)) != count:
            return False
        repl = r.info("replication")
        return not (repl.get("role") == "slave" and repl.get("master_link_status") != "up")


def _wait_cluster_ready(topo: Topology) -> None:
    count = len(topo.nodes)
    osutil.wait_until(
        lambda: all(_node_ready(n, count) for n in topo.nodes),
        timeout=90,
        what="redis-cluster: all nodes ok, 16384 slots, replicas in sync",
        alive=lambda: all(osutil.pid_alive(n.pid) for n in topo.nodes),
        on_dead=lambda: (
            "redis-cluster: a node exited: "
            + "; ".join(
                f"{n.name}: {osutil.log_tail(n.log_path, 3)}"
                for n in topo.nodes
                if not osutil.pid_alive(n.pid)
            )
        ),
    )


def _record_roles(topo: Topology) -> None:
    for node in topo.nodes:
        with _client(node) as r:
            repl = r.info("replication")
        node.role = "replica" if repl.get("role") == "slave" else "master"
        if node.role == "replica":
            node.extra["master"] = f"{repl.get('master_host')}:{repl.get('master_port')}"


def wait_node_ready(topology: Topology, node: Node) -> None:
    _wait_ping(node)
    _wait_cluster_ready(topology)
