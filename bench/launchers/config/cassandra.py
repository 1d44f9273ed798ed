"""Everything a Cassandra node needs before its JVM starts, for the native and the Docker
launcher alike: pure functions only.

Only ``cassandra-all`` and its dependencies are on Maven Central; the tarball's ``conf/`` is not,
so this module generates ``cassandra.yaml``, a logback config and the JVM argument list that
Cassandra's ``bin/cassandra`` + ``conf/jvm*-server.options`` would otherwise provide.  It also
chooses loopback addresses that are free (several clusters may run on one machine at once).

Used by ``bench/launchers/native/cassandra.py`` and ``bench/launchers/docker/cassandra.py``
(which adds container addressing); tested by ``tests/unit/test_cassandra_config.py`` without a
Cassandra.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import registry

CLUSTER_NAME = "cartbench"
LOCAL_DC = "datacenter1"  # what SimpleSnitch reports
CQL_PORT = 9042
STORAGE_PORT = 7000
JMX_PORT_START = 7199
HEAP = "1G"  # per node; the stock formula would give each node 6 GB on a 24 GiB machine
MAIN_CLASS = "org.apache.cassandra.service.CassandraDaemon"
READY_LINE = "Starting listening for CQL clients"
#: Echoed by the launcher shell right before ``exec java``: readiness is judged on the log
#: after the last start marker, so a restarted node's old "ready" line does not count.
START_MARKER = "cartbench: starting cassandra node"

MURMUR3_MIN = -(2**63)

#: Java 17 module flags, as listed in Cassandra 5.0's ``conf/jvm17-server.options``.
JDK17_MODULE_FLAGS: tuple[str, ...] = (
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports", "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports", "java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports", "java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports", "java.sql/java.sql=ALL-UNNAMED",
    "--add-exports", "java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports", "jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports", "jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports", "jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens", "java.base/java.io=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens", "jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang=ALL-UNNAMED",
    "--add-opens", "java.base/java.util=ALL-UNNAMED",
)  # fmt: skip

#: GC and general flags from ``conf/jvm-server.options`` / ``jvm17-server.options`` (G1).
GC_FLAGS: tuple[str, ...] = (
    "-XX:+UseG1GC",
    "-XX:+ParallelRefProcEnabled",
    "-XX:MaxTenuringThreshold=1",
    "-XX:G1HeapRegionSize=16m",
    "-XX:G1RSetUpdatingPauseTimePercent=5",
    "-XX:MaxGCPauseMillis=300",
    "-XX:InitiatingHeapOccupancyPercent=70",
    "-ea",
    "-da:net.openhft...",
    "-XX:+UseThreadPriorities",
    "-XX:+HeapDumpOnOutOfMemoryError",
    "-XX:+ExitOnOutOfMemoryError",  # Cassandra's startup check asks for it: die, don't limp
    "-Xss256k",
    "-XX:+AlwaysPreTouch",
    "-XX:+UseTLAB",
    "-XX:+ResizeTLAB",
    "-XX:+PerfDisableSharedMem",
    "-Djava.net.preferIPv4Stack=true",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
)


@dataclass(frozen=True)
class Durability:
    """A durability preset as applied to ``cassandra.yaml`` (and recorded in the results)."""

    name: str
    yaml: dict[str, Any]
    note: str


#: The presets of ``bench.registry`` as applied to cassandra.yaml.
DURABILITY: dict[str, Durability] = {
    name: Durability(name, dict(preset.settings), preset.note)
    for name, preset in registry.get("cassandra").durability.items()
}


@dataclass(frozen=True)
class Tuning:
    """Resource knobs for several JVMs sharing few cores; every field is recorded in settings."""

    concurrent_reads: int = 16
    concurrent_writes: int = 16
    concurrent_counter_writes: int = 8
    concurrent_compactors: int = 1
    compaction_throughput: str = "64MiB/s"
    native_transport_max_threads: int = 32
    read_request_timeout: str = "5000ms"
    write_request_timeout: str = "2000ms"


def balanced_tokens(nodes: int) -> list[int]:
    """One Murmur3 token per node, evenly spaced over [-2**63, 2**63): equal ownership."""
    if nodes < 1:
        raise ValueError("nodes must be at least 1")
    step = 2**64 // nodes
    return [MURMUR3_MIN + i * step for i in range(nodes)]


def processors_per_node(nodes: int, cpus: int) -> int:
    """How many processors each JVM should believe it has (sizes GC, Netty, pools)."""
    return max(1, cpus // nodes)


def candidate_prefixes(limit: int = 250) -> Iterable[str]:
    """``127.0.0`` first (ccm's 127.0.0.1/2/3), then ``127.0.10`` .. ``127.0.limit``."""
    yield "127.0.0"
    for n in range(10, limit + 1):
        yield f"127.0.{n}"


def addresses_for(prefix: str, nodes: int) -> list[str]:
    return [f"{prefix}.{i}" for i in range(1, nodes + 1)]


def choose_addresses(
    nodes: int,
    port_free: Callable[[str, int], bool],
    claim: Callable[[str], bool] = lambda prefix: True,
    ports: Sequence[int] = (CQL_PORT, STORAGE_PORT),
) -> list[str]:
    """The first loopback address group whose CQL and storage ports are free on every address
    and which ``claim(prefix)`` grants (claims keep two concurrent launches apart)."""
    for prefix in candidate_prefixes():
        addrs = addresses_for(prefix, nodes)
        if all(port_free(a, p) for a in addrs for p in ports) and claim(prefix):
            return addrs
    raise LookupError(
        f"no loopback address group 127.0.N.1..{nodes} has ports "
        + "/".join(str(p) for p in ports)
        + " free (is something bound to 0.0.0.0 on them?)"
    )


@dataclass(frozen=True)
class NodeConfig:
    """One node's identity and files."""

    index: int  # 1-based
    address: str
    token: int
    jmx_port: int
    node_dir: Path

    @property
    def name(self) -> str:
        return f"cassandra-{self.index}"

    @property
    def yaml_path(self) -> Path:
        return self.node_dir / "conf" / "cassandra.yaml"

    @property
    def logback_path(self) -> Path:
        return self.node_dir / "conf" / "logback.xml"

    @property
    def log_path(self) -> Path:
        return self.node_dir / "node.log"


def cassandra_yaml(
    node: NodeConfig,
    seeds: Sequence[str],
    durability: Durability,
    tuning: Tuning,
) -> dict[str, Any]:
    """The node's ``cassandra.yaml`` as a dict (Cassandra 5.0 option names with units)."""
    d = node.node_dir
    return {
        "cluster_name": CLUSTER_NAME,
        "num_tokens": 1,
        "initial_token": str(node.token),
        "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
        "endpoint_snitch": "SimpleSnitch",
        "auto_bootstrap": False,
        "seed_provider": [
            {
                "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
                "parameters": [{"seeds": ",".join(f"{s}:{STORAGE_PORT}" for s in seeds)}],
            }
        ],
        "listen_address": node.address,
        "rpc_address": node.address,
        "storage_port": STORAGE_PORT,
        "native_transport_port": CQL_PORT,
        "start_native_transport": True,
        "data_file_directories": [str(d / "data")],
        "commitlog_directory": str(d / "commitlog"),
        "hints_directory": str(d / "hints"),
        "saved_caches_directory": str(d / "saved_caches"),
        "cdc_raw_directory": str(d / "cdc_raw"),
        **durability.yaml,
        "authenticator": "AllowAllAuthenticator",
        "authorizer": "AllowAllAuthorizer",
        "role_manager": "CassandraRoleManager",
        "concurrent_reads": tuning.concurrent_reads,
        "concurrent_writes": tuning.concurrent_writes,
        "concurrent_counter_writes": tuning.concurrent_counter_writes,
        "concurrent_materialized_view_writes": tuning.concurrent_counter_writes,
        "concurrent_compactors": tuning.concurrent_compactors,
        "compaction_throughput": tuning.compaction_throughput,
        "native_transport_max_threads": tuning.native_transport_max_threads,
        "read_request_timeout": tuning.read_request_timeout,
        "write_request_timeout": tuning.write_request_timeout,
        # No snapshot on TRUNCATE/DROP: the suite resets tables between runs.
        "auto_snapshot": False,
    }


def render_yaml(config: dict[str, Any]) -> str:
    """YAML text: one ``key: value`` per line, each value in JSON (a YAML flow subset)."""
    lines = ["# Generated by cartbench (bench/launchers/config/cassandra.py)."]
    lines += [f"{key}: {json.dumps(value)}" for key, value in config.items()]
    return "\n".join(lines) + "\n"


def logback_xml(level: str = "INFO") -> str:
    """Everything to stdout (the launcher appends it to the node's log file)."""
    return f"""<configuration scan="false">
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder>
      <pattern>%-5level [%thread] %date{{ISO8601}} %F:%L - %msg%n</pattern>
    </encoder>
  </appender>
  <logger name="org.apache.cassandra" level="{level}"/>
  <root level="{level}">
    <appender-ref ref="STDOUT"/>
  </root>
</configuration>
"""


def jvm_args(
    node: NodeConfig,
    classpath: str,
    *,
    heap: str = HEAP,
    processors: int,
) -> list[str]:
    """JVM flags + main class (no ``java`` itself): what ``bin/cassandra`` would assemble."""
    return [
        f"-Xms{heap}",
        f"-Xmx{heap}",
        f"-XX:ActiveProcessorCount={processors}",
        f"-Dcassandra.available_processors={processors}",
        *GC_FLAGS,
        "-Djdk.attach.allowAttachSelf=true",
        *JDK17_MODULE_FLAGS,
        f"-XX:HeapDumpPath={node.node_dir}",
        f"-Dcassandra.config={node.yaml_path.as_uri()}",
        f"-Dlogback.configurationFile={node.logback_path.as_uri()}",
        "-Dcassandra-foreground=yes",
        f"-Dcassandra.storagedir={node.node_dir}",
        f"-Dcassandra.logdir={node.node_dir}",
        f"-Dcassandra.jmx.local.port={node.jmx_port}",
        "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        "-Dcassandra.superuser_setup_delay_ms=0",
        "-cp",
        classpath,
        MAIN_CLASS,
    ]


def launch_argv(java: str, args: Sequence[str]) -> list[str]:
    """``sh -c 'echo MARKER pid=$$; exec java ...'``: the marker separates starts in the appended
    log; ``exec`` keeps the JVM as the spawned process (group leader), so ``$$`` is its pid."""
    return ["/bin/sh", "-c", f'echo "{START_MARKER} pid=$$"; exec "$0" "$@"', java, *args]


def ready_in_log(text: str, pid: int | None = None) -> bool:
    """True if the log shows the CQL listener started after the last start marker — and, given
    ``pid``, after the marker of that very process (an older start's line does not count)."""
    start = text.rfind(START_MARKER)
    if start < 0:
        return pid is None and READY_LINE in text
    if pid is not None:
        line_end = text.find("\n", start)
        marker = text[start : line_end if line_end >= 0 else len(text)]
        if marker.strip() != f"{START_MARKER} pid={pid}":
            return False
    return READY_LINE in text[start:]


def settings(durability: Durability, tuning: Tuning, heap: str, processors: int) -> dict[str, Any]:
    """What the results record about this cluster's configuration."""
    return {
        **durability.yaml,
        "durability_note": durability.note,
        "heap": f"-Xms{heap} -Xmx{heap}",
        "gc": "G1 (MaxGCPauseMillis=300, as Cassandra 5.0 ships for Java 17)",
        "active_processor_count": processors,
        "num_tokens": 1,
        "token_allocation": "balanced initial_token (Murmur3)",
        "partitioner": "Murmur3Partitioner",
        "endpoint_snitch": "SimpleSnitch",
        "authenticator": "AllowAllAuthenticator (no auth)",
        "authorizer": "AllowAllAuthorizer",
        "auto_snapshot": False,
        "concurrent_reads": tuning.concurrent_reads,
        "concurrent_writes": tuning.concurrent_writes,
        "concurrent_counter_writes": tuning.concurrent_counter_writes,
        "concurrent_compactors": tuning.concurrent_compactors,
        "compaction_throughput": tuning.compaction_throughput,
        "native_transport_max_threads": tuning.native_transport_max_threads,
        "read_request_timeout": tuning.read_request_timeout,
        "write_request_timeout": tuning.write_request_timeout,
    }
