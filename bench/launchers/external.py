"""``ExternalLauncher``: the user's existing datastores, named in a TOML endpoints file.

Nothing is started or stopped.  ``up`` validates the file's section for the target, connects,
reads the server version and returns a ``Topology`` whose endpoints the cart stores use.  The
store's schema goes in a dedicated place so it cannot collide with the user's data: a database
(the DSN's ``dbname``, default ``cartbench``), a keyspace (``keyspace``, default ``cartbench``)
and a key prefix (``key_prefix``, default ``cartbench:``) — recorded in ``endpoints``.  Fault
operations raise UsageError: we never kill, pause or restart someone else's servers.

File format (every section optional; only the target being run must be present)::

    [postgres]
    dsn = "host=db.example port=5432 user=bench password=... dbname=cartbench"

    [cassandra]
    contact_points = ["10.0.0.1", "10.0.0.2"]
    port = 9042
    local_dc = "dc1"
    keyspace = "cartbench"
    replication = { class = "NetworkTopologyStrategy", dc1 = 3 }   # or SimpleStrategy + replication_factor
    consistency = "QUORUM"          # reads and writes
    serial_consistency = "SERIAL"

    [redis-cluster]
    startup_nodes = ["10.0.0.5:7000", "10.0.0.6:7000"]
    key_prefix = "cartbench:"
    password = "..."                 # optional
"""

from __future__ import annotations

import time
import tomllib
from pathlib import Path
from typing import Any

from bench.errors import InfraError, UsageError
from bench.launchers.base import Node, ProgressFn, TargetSpec, Topology, no_progress
from bench.results import utc_iso

CONSISTENCY_LEVELS = ("ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM",
                      "LOCAL_ONE")
SERIAL_LEVELS = ("SERIAL", "LOCAL_SERIAL")
NOT_SUPPORTED = "not supported with external endpoints (cartbench never touches your servers)"


def load_endpoints_file(path: Path) -> dict[str, Any]:
    """Parse and check the file's top level (UsageError with the file name on any problem)."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"endpoints file {path} not found") from None
    except OSError as exc:
        raise UsageError(f"cannot read endpoints file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"endpoints file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(PARSERS))
    if unknown:
        raise UsageError(
            f"endpoints file {path}: unknown section(s) {', '.join(unknown)}; "
            f"expected: {', '.join(PARSERS)}"
        )
    for name, section in data.items():
        if not isinstance(section, dict):
            raise UsageError(f"endpoints file {path}: [{name}] must be a table")
    return data


def _host_port(text: Any, default_port: int, where: str) -> tuple[str, int]:
    if isinstance(text, list) and len(text) == 2:
        host, port = text
    elif isinstance(text, str):
        host, _, port_text = text.rpartition(":") if ":" in text else (text, "", str(default_port))
        try:
            port = int(port_text)
        except ValueError:
            raise UsageError(f"{where}: bad port in {text!r}") from None
    else:
        raise UsageError(f"{where}: expected 'host:port', got {text!r}")
    if not isinstance(host, str) or not host or not isinstance(port, int) or not 0 < port < 65536:
        raise UsageError(f"{where}: expected 'host:port', got {text!r}")
    return host, port


def postgres_endpoints(section: dict[str, Any], where: str) -> dict[str, Any]:
    from psycopg import conninfo

    dsn = section.get("dsn")
    if not isinstance(dsn, str) or not dsn.strip():
        raise UsageError(f"{where}: [postgres] needs dsn = \"host=... user=... dbname=...\"")
    try:
        params = conninfo.conninfo_to_dict(dsn)
    except Exception as exc:  # psycopg raises ProgrammingError subclasses
        raise UsageError(f"{where}: [postgres] dsn is not a valid libpq connection string: {exc}") from None
    params.setdefault("dbname", "cartbench")
    params.setdefault("connect_timeout", 5)
    port_text = str(params.get("port", 5432))
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"{where}: [postgres] dsn has a bad port {port_text!r}")
    return {
        "dsn": conninfo.make_conninfo(**{k: str(v) for k, v in params.items()}),
        "host": str(params.get("host", "localhost")),
        "port": int(port_text),
        "user": str(params.get("user", "")),
        "password": str(params.get("password", "")),
        "dbname": str(params["dbname"]),
    }


def cassandra_endpoints(section: dict[str, Any], where: str) -> dict[str, Any]:
    points = section.get("contact_points")
    if not isinstance(points, list) or not points or not all(isinstance(p, str) for p in points):
        raise UsageError(f"{where}: [cassandra] needs contact_points = [\"host\", ...]")
    port = section.get("port", 9042)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise UsageError(f"{where}: [cassandra] port must be an integer 1..65535")
    local_dc = section.get("local_dc", "datacenter1")
    keyspace = section.get("keyspace", "cartbench")
    if not isinstance(keyspace, str) or not keyspace.isidentifier():
        raise UsageError(f"{where}: [cassandra] keyspace must be a plain identifier, got {keyspace!r}")
    replication = dict(section.get("replication", {"class": "SimpleStrategy", "replication_factor": 3}))
    cls = str(replication.get("class", ""))
    if cls.endswith("SimpleStrategy"):
        rf = replication.get("replication_factor")
        if not isinstance(rf, int) or rf < 1:
            raise UsageError(f"{where}: [cassandra] SimpleStrategy needs replication_factor >= 1")
    elif cls.endswith("NetworkTopologyStrategy"):
        dcs = {k: v for k, v in replication.items() if k != "class"}
        if not dcs or not all(isinstance(v, int) and v >= 0 for v in dcs.values()):
            raise UsageError(f"{where}: [cassandra] NetworkTopologyStrategy needs dc = factor entries")
        rf = int(dcs.get(local_dc, max(dcs.values())))
    else:
        raise UsageError(
            f"{where}: [cassandra] replication class must be SimpleStrategy or NetworkTopologyStrategy"
        )
    consistency = str(section.get("consistency", "QUORUM")).upper()
    serial = str(section.get("serial_consistency", "SERIAL")).upper()
    if consistency not in CONSISTENCY_LEVELS:
        raise UsageError(f"{where}: [cassandra] consistency must be one of {', '.join(CONSISTENCY_LEVELS)}")
    if serial not in SERIAL_LEVELS:
        raise UsageError(f"{where}: [cassandra] serial_consistency must be SERIAL or LOCAL_SERIAL")
    return {
        "contact_points": list(points),
        "port": port,
        "local_dc": str(local_dc),
        "replication_factor": rf,
        "replication": replication,
        "keyspace": keyspace,
        "consistency": consistency,
        "serial_consistency": serial,
    }


def redis_endpoints(section: dict[str, Any], where: str) -> dict[str, Any]:
    nodes = section.get("startup_nodes")
    if not isinstance(nodes, list) or not nodes:
        raise UsageError(f"{where}: [redis-cluster] needs startup_nodes = [\"host:port\", ...]")
    parsed = [list(_host_port(n, 6379, f"{where}: [redis-cluster] startup_nodes")) for n in nodes]
    prefix = section.get("key_prefix", "cartbench:")
    if not isinstance(prefix, str) or not prefix:
        raise UsageError(f"{where}: [redis-cluster] key_prefix must be a non-empty string")
    out: dict[str, Any] = {"startup_nodes": parsed, "key_prefix": prefix}
    if section.get("password"):
        out["password"] = str(section["password"])
    return out


def _postgres_probe(ep: dict[str, Any]) -> tuple[str, list[Node], dict[str, Any]]:
    import psycopg

    with psycopg.connect(ep["dsn"], autocommit=True) as conn:
        version = str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]  # type: ignore[index]
        names = ("fsync", "synchronous_commit", "full_page_writes", "max_connections",
                 "shared_buffers")
        settings = {n: str(conn.execute(f"SHOW {n}").fetchone()[0]) for n in names}  # type: ignore[index]
    return version, [Node("postgres-1", ep["host"], ep["port"], "primary")], settings


def _cassandra_probe(ep: dict[str, Any]) -> tuple[str, list[Node], dict[str, Any]]:
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import DCAwareRoundRobinPolicy

    profile = ExecutionProfile(load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=ep["local_dc"]))
    cluster = Cluster(contact_points=ep["contact_points"], port=ep["port"],
                      execution_profiles={EXEC_PROFILE_DEFAULT: profile}, connect_timeout=5)
    try:
        session = cluster.connect()
        row = session.execute("SELECT release_version FROM system.local").one()
        hosts = sorted(cluster.metadata.all_hosts(), key=lambda h: str(h.address))
        nodes = [Node(f"cassandra-{i}", str(h.address), ep["port"], "node",
                      extra={"datacenter": h.datacenter, "up": bool(h.is_up)})
                 for i, h in enumerate(hosts, 1)]
    finally:
        cluster.shutdown()
    settings = {k: ep[k] for k in ("keyspace", "replication", "consistency", "serial_consistency")}
    return str(row[0]) if row else "unknown", nodes, settings


def _redis_probe(ep: dict[str, Any]) -> tuple[str, list[Node], dict[str, Any]]:
    import redis
    from redis.cluster import ClusterNode, RedisCluster

    make_node: Any = ClusterNode  # redis-py's cluster module is untyped
    rc: Any = RedisCluster(startup_nodes=[make_node(h, p) for h, p in ep["startup_nodes"]],
                      password=ep.get("password"), socket_timeout=5, socket_connect_timeout=5)
    try:
        infos = rc.info("server", target_nodes=RedisCluster.ALL_NODES)
        # Members from CLUSTER NODES (the client's cache may hold only masters); each node's
        # role from its own INFO replication (another node's view can lag behind gossip).
        table = rc.cluster_nodes()
        nodes = []
        for i, (addr, detail) in enumerate(sorted(table.items()), 1):
            host, _, port_text = str(addr).rpartition(":")
            port = int(port_text.split("@")[0])
            with redis.Redis(host=host, port=port, password=ep.get("password"),
                             socket_timeout=5, socket_connect_timeout=5) as r:
                role = "replica" if r.info("replication").get("role") == "slave" else "master"
            nodes.append(Node(f"redis-cluster-{i}", host, port, role,
                              extra={"node_id": detail.get("node_id")}))
        versions = {str(v.get("redis_version")) for v in infos.values()} if isinstance(infos, dict) else set()
    finally:
        rc.close()
    version = ",".join(sorted(versions)) or "unknown"
    return version, nodes, {"key_prefix": ep["key_prefix"]}


PARSERS = {"postgres": postgres_endpoints, "cassandra": cassandra_endpoints,
           "redis-cluster": redis_endpoints}
PROBES = {"postgres": _postgres_probe, "cassandra": _cassandra_probe, "redis-cluster": _redis_probe}


class ExternalLauncher:
    name = "external"

    def __init__(self, endpoints_file: Path | str | None = None) -> None:
        """``endpoints_file`` is needed for ``up``; ``down`` (from another shell) needs none."""
        self.endpoints_file = Path(endpoints_file) if endpoints_file is not None else None
        self.data = load_endpoints_file(self.endpoints_file) if self.endpoints_file else {}

    def endpoints_for(self, target: str) -> dict[str, Any]:
        if self.endpoints_file is None:
            raise UsageError("--launcher external needs --endpoints FILE (a TOML endpoints file)")
        where = str(self.endpoints_file)
        section = self.data.get(target)
        if section is None:
            raise UsageError(f"endpoints file {where} has no [{target}] section")
        return PARSERS[target](section, where)

    def up(self, spec: TargetSpec, progress: ProgressFn = no_progress) -> Topology:
        t0 = time.monotonic()
        endpoints = self.endpoints_for(spec.target)
        where = str(self.endpoints_file)
        progress(f"{spec.target}: checking the external endpoints")
        try:
            version, nodes, settings = PROBES[spec.target](endpoints)
        except (UsageError, InfraError):
            raise
        except Exception as exc:  # each driver has its own hierarchy
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise InfraError(
                f"{spec.target}: cannot reach the external endpoints from {where}: {first}"
            ) from None
        return Topology(
            target=spec.target, launcher=self.name, run_id=spec.run_id, nodes=nodes,
            endpoints=endpoints, version=version,
            settings={**settings, "managed_by": "the user (external endpoints)"},
            resources={"note": "unknown: external servers are not resource-limited by cartbench"},
            time_to_ready_s=round(time.monotonic() - t0, 3),
            started_at=utc_iso(),
            base_dir=str(spec.base_dir), durability="external",
            extra={"endpoints_file": str(Path(where).resolve())},
        )

    def down(self, topology: Topology) -> None:
        """Nothing to stop: the servers belong to the user."""

    def kill_node(self, topology: Topology, node: str) -> None:
        raise UsageError(f"kill_node is {NOT_SUPPORTED}")

    def pause_node(self, topology: Topology, node: str) -> None:
        raise UsageError(f"pause_node is {NOT_SUPPORTED}")

    def resume_node(self, topology: Topology, node: str) -> None:
        raise UsageError(f"resume_node is {NOT_SUPPORTED}")

    def restart_node(self, topology: Topology, node: str) -> None:
        raise UsageError(f"restart_node is {NOT_SUPPORTED}")
