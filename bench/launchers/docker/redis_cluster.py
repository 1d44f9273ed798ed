"""Redis Cluster (3 masters + 3 replicas by default) in containers.

Addressing: nodes gossip and announce their *container* addresses (static IPs on the run
network), which the host cannot reach.  Clients on the host connect through the published
127.0.0.1 ports and remap addresses: ``endpoints["address_remap"]`` maps ``"IP:6379"`` to
``[host, published_port]`` (redis-py ``RedisCluster(address_remap=...)``).  We do not use
``cluster-announce-ip 127.0.0.1``: the nodes would then try to reach each other at their own
loopback.  The cluster is formed with ``redis-cli --cluster create`` run inside node 1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bench.errors import InfraError
from bench.launchers.docker.specs import DATA_PATH, ContainerSpec, Plan, PortSpec

if TYPE_CHECKING:
    from bench.launchers.docker.probe import Readiness
from bench.launchers.config.redis_cluster import node_settings

PORT = 6379


CLIENT_ADDRESSING = (
    "containers announce their network IPs; clients remap IP:6379 to the published "
    "127.0.0.1 port (endpoints.address_remap)")


def settings(plan: Plan) -> dict[str, str]:
    s = node_settings(plan.spec)
    s["bind"] = "0.0.0.0"
    return s


def _command(settings: dict[str, str]) -> list[str]:
    argv = ["redis-server", "--port", str(PORT), "--dir", DATA_PATH,
            "--cluster-config-file", f"{DATA_PATH}/nodes.conf", "--daemonize", "no"]
    for key, value in settings.items():
        argv += [f"--{key}", *value.split()] if key == "save" and value else [f"--{key}", value]
    return argv


def containers(plan: Plan) -> list[ContainerSpec]:
    command = _command(settings(plan))
    return [
        ContainerSpec(
            node=f"redis-cluster-{i}",
            role="node",  # masters/replicas are known once the cluster is formed
            image=plan.image("redis-cluster"),
            command=command,
            ip=plan.ip(i),
            ports=[PortSpec(PORT, "127.0.0.1", plan.host_ports[i - 1])],
        )
        for i in range(1, plan.nodes + 1)
    ]


def create_command(specs: list[ContainerSpec]) -> list[str]:
    """Run inside node 1: forms the cluster over the container addresses."""
    replicas = 1 if len(specs) >= 6 and len(specs) % 2 == 0 else 0
    return ["redis-cli", "--cluster", "create", *[f"{c.ip}:{PORT}" for c in specs],
            "--cluster-replicas", str(replicas), "--cluster-yes"]


def compose_services(plan: Plan, specs: list[ContainerSpec], labels: dict[str, str],
                     image: str) -> dict[str, Any]:
    """The compose file's one-shot service that forms the cluster once every node answers."""
    create = " ".join(create_command(specs))
    pings = " && ".join(f"redis-cli -h {c.ip} -p {PORT} ping" for c in specs)
    return {"redis-cluster-create": {
        "image": image,
        "entrypoint": ["/bin/sh"],
        "command": ["-c", f"for i in $$(seq 60); do ({pings}) >/dev/null 2>&1 && break; "
                          f"sleep 1; done; {create}"],
        "labels": {**labels, "cartbench.node": "cluster-create"},
        "networks": {"net": {"ipv4_address": plan.ip(len(specs) + 1)}},
        "depends_on": [c.node for c in specs],
        "restart": "no",
    }}


def endpoints(plan: Plan, specs: list[ContainerSpec]) -> dict[str, Any]:
    return {
        "startup_nodes": [["127.0.0.1", p.host_port] for c in specs for p in c.ports],
        "address_remap": {f"{c.ip}:{PORT}": ["127.0.0.1", c.ports[0].host_port] for c in specs},
    }


def remapper(endpoints: dict[str, Any]) -> Callable[[tuple[str, int]], tuple[str, int]]:
    """The ``address_remap`` callable for redis-py ``RedisCluster``."""
    table = {k: (str(v[0]), int(v[1])) for k, v in endpoints["address_remap"].items()}

    def remap(address: tuple[str, int]) -> tuple[str, int]:
        return table.get(f"{address[0]}:{address[1]}", address)

    return remap


def _client(port: int) -> Any:
    import redis

    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=2)


def ping(port: int) -> bool:
    with _client(port) as r:
        return bool(r.ping())


def node_ready(port: int, count: int) -> bool:
    """cluster_state:ok, 16384 slots, all nodes known, a replica's link to its master up."""
    with _client(port) as r:
        raw = r.execute_command("CLUSTER INFO")  # redis-py parses it into a dict
        if isinstance(raw, bytes | str):
            text = raw.decode() if isinstance(raw, bytes) else raw
            raw = dict(line.split(":", 1) for line in text.split() if ":" in line)
        info = {str(k): str(v) for k, v in dict(raw).items()}
        if info.get("cluster_state") != "ok" or int(info.get("cluster_slots_ok", 0)) != 16384:
            return False
        if int(info.get("cluster_known_nodes", 0)) != count:
            return False
        repl = r.info("replication")
        return not (repl.get("role") == "slave" and repl.get("master_link_status") != "up")


def role(port: int) -> tuple[str, str | None]:
    """("master"|"replica", "IP:port of the master" for replicas)."""
    with _client(port) as r:
        repl = r.info("replication")
    if repl.get("role") == "slave":
        return "replica", f"{repl.get('master_host')}:{repl.get('master_port')}"
    return "master", None


def version(port: int) -> str:
    with _client(port) as r:
        return str(r.info("server").get("redis_version", "unknown"))


def wait_ready(ready: Readiness) -> None:
    """Every node answers PING; (first start) the cluster is formed from inside node 1; every
    node is ready (``node_ready``); records roles, masters and the version."""
    topo = ready.topo
    for node in topo.nodes:
        port: int = node.port
        ready.until(functools.partial(ping, port), f"{node.name} to answer PING")
    if ready.first_start:
        ready.progress("redis-cluster: forming the cluster (redis-cli --cluster create)")
        specs_ips = [n.extra["ip"] for n in topo.nodes]
        cmd = ["redis-cli", "--cluster", "create",
               *[f"{ip}:{PORT}" for ip in specs_ips],
               "--cluster-replicas", "1" if len(specs_ips) >= 6 else "0", "--cluster-yes"]
        code, out = ready.probe.container(topo.nodes[0]).exec_run(cmd)
        if code != 0:
            text = out.decode(errors="replace") if isinstance(out, bytes) else str(out)
            tail = " | ".join(text.strip().splitlines()[-3:])
            raise InfraError(f"redis-cluster: cluster create failed: {tail}")
    count = len(topo.nodes)
    ready.until(lambda: all(node_ready(n.port, count) for n in topo.nodes),
                "all nodes cluster_state:ok, 16384 slots, all known, replicas linked")
    by_ip = {n.extra["ip"]: n.name for n in topo.nodes}
    for node in topo.nodes:
        node.role, master = role(node.port)
        node.extra.pop("master", None)
        if master:
            node.extra["master"] = by_ip.get(master.split(":")[0], master)
    topo.version = version(topo.nodes[0].port)
