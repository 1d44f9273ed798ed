"""The one registry of targets: everything cartbench knows about a datastore *by name*.

Invariants:

* Every per-target table lives here and nowhere else: names, the architecture line, the cart
  store class, the launcher module per launcher kind, node counts, ports, image keys and
  images, durability settings per preset, the store options a preset implies, and what a target
  supports.  Code elsewhere asks ``get(name)`` instead of writing ``if target == "redis"``.
* This module is a leaf: it imports nothing of cartbench but ``bench.errors``.  Stores and
  launcher modules are named by import path (``"targets.postgres:PostgresStore"``), resolved by
  their own layer (``targets.open_store``, the launchers), so registering a target never makes a
  launcher import a store or the other way round.
* Adding a target = one store module in ``targets/``, its launcher modules (native and/or
  docker, see ``docs/ARCHITECTURE.md``) and one ``Target`` entry below;
  ``tests/unit/test_registry.py`` walks the registry and checks every entry resolves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bench.errors import UsageError

DURABILITY_PRESETS = ("default", "strict")
#: Fault operations a launcher may offer (``Launcher.kill_node`` etc.).
FAULTS = ("kill", "pause", "resume", "restart")


@dataclass(frozen=True)
class Preset:
    """One durability preset as the datastore applies it: the settings written to its config
    (recorded in the topology) and one line saying what it means for acknowledged writes."""

    settings: Mapping[str, str]
    note: str


@dataclass(frozen=True)
class DockerInfo:
    """The Docker launcher's per-target data (also the source of ``compose/*.yml``)."""

    image_key: str  # --image KEY=NAME:TAG
    default_image: str  # official image (what users with a registry expect)
    offline_image: str  # built by setup/build-images.sh
    port_start: int  # first host port tried (free ports are searched upwards)
    ready_timeout_s: float
    compose_file: str
    compose_subnet: str  # fixed /24 prefix of the compose file
    compose_ports: tuple[int, ...]  # fixed host ports of the compose file


@dataclass(frozen=True)
class Target:
    name: str
    architecture: str
    #: ``"package.module:Class"``; constructed as ``Class(endpoints, **options)`` (or
    #: ``Class(**options)`` when ``needs_endpoints`` is false).
    store: str
    #: launcher kind → module implementing this target for that launcher.
    launchers: Mapping[str, str]
    default_nodes: int
    min_nodes: int
    max_nodes: int | None
    durability: Mapping[str, Preset]
    docker: DockerInfo | None = None
    #: Store options each durability preset implies (e.g. ``WAIT 1`` on Redis Cluster).
    store_options: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: ``bench run --nodes N`` changes this target's topology (others keep their default).
    run_nodes: bool = False
    faults: tuple[str, ...] = FAULTS
    needs_endpoints: bool = True
    #: The store's data lives in the generator process (each worker has its own copy): the
    #: catalog is loaded in every worker and a multi-process audit is impossible.
    process_local: bool = False
    #: Part of ``--target all`` (the harness self-test ``reference`` is not).
    benchmark: bool = True

    @property
    def durability_keys(self) -> tuple[str, ...]:
        """The settings that change durability (what ``bench status`` shows)."""
        keys: dict[str, None] = {}
        for preset in self.durability.values():
            keys.update(dict.fromkeys(preset.settings))
        return tuple(keys)

    def node_count(self, nodes: int | None) -> int:
        """The node count for ``--nodes`` (None = default), validated with a precise message."""
        n = self.default_nodes if nodes is None else nodes
        if self.max_nodes is not None and self.min_nodes == self.max_nodes and n != self.min_nodes:
            raise UsageError(f"{self.name} runs as a single primary; --nodes must be {self.min_nodes}")
        if n < self.min_nodes:
            raise UsageError(f"{self.name} needs at least {self.min_nodes} nodes, got {n}")
        return n

    def store_options_for(self, durability: str) -> dict[str, Any]:
        return dict(self.store_options.get(durability, {}))


def _frozen(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))


_POSTGRES_WAL = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}

_ENTRIES = (
    Target(
        name="postgres",
        architecture="centralised RDBMS (PostgreSQL 15, 1 primary)",
        store="targets.postgres:PostgresStore",
        launchers=_frozen({
            "native": "bench.launchers.native.postgres",
            "docker": "bench.launchers.docker.postgres",
        }),
        default_nodes=1,
        min_nodes=1,
        max_nodes=1,
        # PostgreSQL ships durable: ``default`` == ``strict`` for the WAL knobs; they are still
        # written out explicitly so the report can show them.
        durability=_frozen({
            "default": Preset(_frozen(_POSTGRES_WAL), "PostgreSQL's shipped default: durable on ack"),
            "strict": Preset(_frozen(_POSTGRES_WAL), "durable on ack (WAL fsynced at commit)"),
        }),
        docker=DockerInfo(
            image_key="postgres",
            default_image="postgres:15",
            offline_image="cartbench/postgres:15-offline",
            port_start=25432,
            ready_timeout_s=90.0,
            compose_file="postgres.yml",
            compose_subnet="10.231.201",
            compose_ports=(25432,),
        ),
    ),
    Target(
        name="cassandra",
        architecture="Dynamo-style leaderless (Cassandra 5.0, 3 nodes, RF=3, QUORUM)",
        store="targets.cassandra:CassandraStore",
        launchers=_frozen({
            "native": "bench.launchers.native.cassandra",
            "docker": "bench.launchers.docker.cassandra",
        }),
        default_nodes=3,
        min_nodes=1,
        max_nodes=None,
        durability=_frozen({
            "default": Preset(
                _frozen({"commitlog_sync": "periodic", "commitlog_sync_period": "10000ms"}),
                "Cassandra's shipped default: fsync every 10 s; acked writes can be lost on a crash",
            ),
            "strict": Preset(
                _frozen({"commitlog_sync": "batch"}),
                "commit log fsynced before a write is acknowledged (durable on ack)",
            ),
        }),
        docker=DockerInfo(
            image_key="cassandra",
            default_image="cassandra:5.0",
            offline_image="cartbench/cassandra:5.0-offline",
            port_start=29042,
            ready_timeout_s=420.0,
            compose_file="cassandra.yml",
            compose_subnet="10.231.203",
            compose_ports=(29042,),
        ),
        run_nodes=True,
    ),
    Target(
        name="redis-cluster",
        architecture="sharded in-memory (Redis 7 Cluster, 3 masters + 3 replicas)",
        store="targets.redis_cluster:RedisClusterStore",
        launchers=_frozen({
            "native": "bench.launchers.native.redis_cluster",
            "docker": "bench.launchers.docker.redis_cluster",
        }),
        default_nodes=6,
        min_nodes=3,
        max_nodes=None,
        # ``default`` is what redis-server ships with (RDB snapshots, no AOF: acknowledged
        # writes since the last snapshot are lost on a crash; replication is asynchronous
        # either way). ``strict`` = AOF with fsync on every write, and the cart store adds
        # ``WAIT 1`` so a replica acknowledged each write.
        durability=_frozen({
            "default": Preset(
                _frozen({"appendonly": "no", "appendfsync": "everysec",
                         "save": "3600 1 300 100 60 10000"}),
                "redis-server's shipped default: RDB snapshots; acked writes since the last "
                "snapshot are lost on a crash",
            ),
            "strict": Preset(
                _frozen({"appendonly": "yes", "appendfsync": "always", "save": ""}),
                "AOF fsynced on every write, and WAIT 1 (a replica acknowledged)",
            ),
        }),
        store_options=_frozen({"strict": _frozen({"wait_replicas": 1})}),
        docker=DockerInfo(
            image_key="redis",
            default_image="redis:7.0",
            offline_image="cartbench/redis:7.0-offline",
            port_start=27001,
            ready_timeout_s=120.0,
            compose_file="redis-cluster.yml",
            compose_subnet="10.231.202",
            compose_ports=tuple(27001 + i for i in range(6)),
        ),
    ),
    Target(
        name="reference",
        architecture="in-memory oracle (harness self-test; no datastore)",
        store="targets.reference:ReferenceStore",
        launchers=_frozen({"reference": "bench.launchers.reference"}),
        default_nodes=0,
        min_nodes=0,
        max_nodes=0,
        durability=_frozen({
            "default": Preset(_frozen({}), "none (process memory)"),
            "strict": Preset(_frozen({}), "none (process memory)"),
        }),
        faults=(),
        needs_endpoints=False,
        process_local=True,
        benchmark=False,
    ),
)

TARGETS: Mapping[str, Target] = MappingProxyType({t.name: t for t in _ENTRIES})
#: The datastores ``--target all`` means, in run order.
BENCHMARK_TARGETS: tuple[str, ...] = tuple(t.name for t in _ENTRIES if t.benchmark)


def get(name: str) -> Target:
    """The entry for ``name``; UsageError naming the choices otherwise."""
    try:
        return TARGETS[name]
    except KeyError:
        raise UsageError(
            f"unknown target {name!r}; choose one of: {', '.join(TARGETS)}"
        ) from None


def expand(target: str, *, allow_reference: bool = False) -> list[str]:
    """``all`` → every benchmark target; otherwise the named target(s) (comma list), validated.
    ``reference`` alone is accepted only with ``allow_reference`` (``bench run``)."""
    if allow_reference and target.strip() == "reference":
        return ["reference"]
    if target == "all":
        return list(BENCHMARK_TARGETS)
    names = [t.strip() for t in target.split(",") if t.strip()]
    for name in names:
        if name not in BENCHMARK_TARGETS:
            raise UsageError(
                f"unknown target {name!r}; choose one of: {', '.join(BENCHMARK_TARGETS)}, all"
            )
    if not names:
        raise UsageError("no target given; choose one of: " + ", ".join(BENCHMARK_TARGETS) + ", all")
    return names


def docker_info(name: str) -> DockerInfo:
    """The Docker data of ``name``; UsageError if the Docker launcher cannot start it."""
    info = get(name).docker
    if info is None:
        raise UsageError(f"{name} cannot be started by the Docker launcher")
    return info


def launcher_module(name: str, kind: str) -> str:
    """The module implementing target ``name`` for launcher ``kind``; UsageError otherwise."""
    module = get(name).launchers.get(kind)
    if module is None:
        raise UsageError(f"{name} cannot be started by the {kind} launcher")
    return module


def with_docker() -> dict[str, Target]:
    """Targets the Docker launcher can start (name → entry), in registry order."""
    return {t.name: t for t in _ENTRIES if t.docker is not None}


def image_keys() -> dict[str, str]:
    """``--image`` key → target name."""
    return {t.docker.image_key: name for name, t in with_docker().items() if t.docker}


def default_images() -> dict[str, str]:
    return {t.docker.image_key: t.docker.default_image for t in with_docker().values() if t.docker}


def offline_images() -> dict[str, str]:
    return {t.docker.image_key: t.docker.offline_image for t in with_docker().values() if t.docker}
