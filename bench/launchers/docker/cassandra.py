"""Apache Cassandra 5.0 (3 nodes, RF=3 by default) in containers.

Configuration comes from the native launcher's pure generator
(``bench.launchers.config.cassandra``: cassandra.yaml, logback, Java 17 JVM flags), with
container addressing applied on top:

* internode: ``listen_address`` = the node's static IP on the run network, every node a seed;
* clients on the host: node *i* publishes its CQL port on ``127.0.0.i:P`` — the same port ``P``
  on distinct loopback addresses, and ``native_transport_port = P`` inside the container — and
  advertises ``broadcast_rpc_address = 127.0.0.i``.  The driver's view of the ring (system.peers)
  therefore names addresses the host can reach; no address translator is needed and every node
  is a contact point.

The JVM is started directly (``java ... CassandraDaemon``), so the official ``cassandra:5.0``
image (jars in /opt/cassandra/lib, ``java`` on PATH) and the offline image behave the same.
"""

from __future__ import annotations

import functools
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, cast

from bench import osutil
from bench.errors import InfraError
from bench.launchers.base import Node
from bench.launchers.config import cassandra as cc
from bench.launchers.docker.specs import DATA_PATH, ContainerSpec, Plan, PortSpec, Resources

if TYPE_CHECKING:
    from bench.launchers.docker.probe import Readiness

CLASSPATH = "/opt/cassandra/lib/*"
MIB = 1024**2


def heap_for(resources: Resources) -> str:
    """Half the node's memory limit, at most the native launcher's 1 GiB."""
    half_mib = resources.node_memory_bytes // 2 // MIB
    return cc.HEAP if half_mib >= 1024 else f"{max(half_mib, 64)}M"


def processors_for(resources: Resources) -> int:
    return max(1, int(resources.cpus // resources.nodes))


def client_address(index: int) -> str:
    return f"127.0.0.{index}"


def _node_config(plan: Plan, index: int, tokens: list[int]) -> cc.NodeConfig:
    return cc.NodeConfig(index=index, address=plan.ip(index), token=tokens[index - 1],
                         jmx_port=cc.JMX_PORT_START, node_dir=cast(Any, PurePosixPath(DATA_PATH)))


def yaml_for(plan: Plan, node: cc.NodeConfig, seeds: list[str]) -> dict[str, Any]:
    durability = cc.DURABILITY[plan.spec.durability]
    config = cc.cassandra_yaml(node, seeds, durability, cc.Tuning())
    config["rpc_address"] = "0.0.0.0"
    config["broadcast_rpc_address"] = client_address(node.index)
    config["native_transport_port"] = plan.host_ports[0]
    return config


def containers(plan: Plan) -> list[ContainerSpec]:
    n = plan.nodes
    tokens = cc.balanced_tokens(n)
    seeds = [plan.ip(i) for i in range(1, n + 1)]
    heap = heap_for(plan.resources)
    processors = processors_for(plan.resources)
    port = plan.host_ports[0]
    specs = []
    for i in range(1, n + 1):
        node = _node_config(plan, i, tokens)
        args = cc.jvm_args(node, CLASSPATH, heap=heap, processors=processors)
        specs.append(ContainerSpec(
            node=node.name,
            role="node",
            image=plan.image("cassandra"),
            command=cc.launch_argv("java", args),
            ip=node.address,
            ports=[PortSpec(port, client_address(i), port)],
            files={
                str(node.yaml_path): cc.render_yaml(yaml_for(plan, node, seeds)),
                str(node.logback_path): cc.logback_xml(),
            },
            stop_timeout=60,
            ready_log_line=cc.READY_LINE,
        ))
    return specs


CLIENT_ADDRESSING = "node i published on 127.0.0.i:PORT; broadcast_rpc_address=127.0.0.i"


def settings(plan: Plan) -> dict[str, Any]:
    s = cc.settings(cc.DURABILITY[plan.spec.durability], cc.Tuning(), heap_for(plan.resources),
                    processors_for(plan.resources))
    s["client_addressing"] = CLIENT_ADDRESSING
    return s


def host_ports(start: int, n: int) -> list[int]:
    """One port, free on every 127.0.0.i the nodes are published on."""
    port = start
    for _ in range(200):
        port = osutil.free_port(start=port)
        if all(osutil.port_is_free(client_address(i), port) for i in range(1, n + 1)):
            return [port]
        port += 1
    raise InfraError(f"docker: no port free on 127.0.0.1..{n} for Cassandra's CQL")


def endpoints(plan: Plan, specs: list[ContainerSpec]) -> dict[str, Any]:
    n = plan.nodes
    return {
        "contact_points": [client_address(i) for i in range(1, n + 1)],
        "port": plan.host_ports[0],
        "local_dc": cc.LOCAL_DC,
        "replication_factor": min(3, n),
    }


def _cluster(endpoints: dict[str, Any]) -> Any:
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import DCAwareRoundRobinPolicy

    profile = ExecutionProfile(
        load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=endpoints["local_dc"]))
    return Cluster(contact_points=endpoints["contact_points"], port=endpoints["port"],
                   execution_profiles={EXEC_PROFILE_DEFAULT: profile}, protocol_version=5,
                   connect_timeout=5, control_connection_timeout=5)


def driver_sees_all(endpoints: dict[str, Any], count: int) -> bool:
    """The driver connects and sees ``count`` hosts, all up."""
    cluster = _cluster(endpoints)
    try:
        session = cluster.connect()
        hosts = cluster.metadata.all_hosts()
        session.execute("SELECT release_version FROM system.local")
        return len(hosts) == count and all(h.is_up for h in hosts)
    finally:
        cluster.shutdown()


def version(endpoints: dict[str, Any]) -> str:
    cluster = _cluster(endpoints)
    try:
        row = cluster.connect().execute("SELECT release_version FROM system.local").one()
        return str(row[0]) if row else "unknown"
    finally:
        cluster.shutdown()


def wait_ready(ready: Readiness) -> None:
    """Every node logs that it listens for CQL (since its last start), then the driver sees
    every node up; records the version."""
    topo = ready.topo

    def logged_ready(node: Node) -> bool:
        return cc.ready_in_log(ready.log(node))

    for node in topo.nodes:
        ready.until(functools.partial(logged_ready, node),
                    f"{node.name} to log 'Starting listening for CQL clients'")
        ready.progress(f"cassandra: {node.name} listening for CQL")
    ready.until(lambda: driver_sees_all(topo.endpoints, len(topo.nodes)),
                "the driver to see every node up")
    topo.version = version(topo.endpoints)
