"""Container specs as plain data: what the Docker launcher creates and what ``compose/*.yml`` say.

Each target module (``postgres``, ``redis_cluster``, ``cassandra`` in this package) turns a
``Plan`` into a list of ``ContainerSpec``.  The launcher hands them to the Engine API; the compose
generator (``compose.py``) renders the very same specs as YAML — one source of truth, compared by
``tests/unit/test_compose_files.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bench import registry
from bench.errors import UsageError
from bench.launchers.base import TargetSpec

#: Official images by default (what users with a registry expect), pinned to the majors the
#: native launcher runs.  ``setup/build-images.sh`` builds registry-free equivalents (OFFLINE).
#: Both views come from ``bench.registry`` (image key → image name).
DEFAULT_IMAGES = registry.default_images()
OFFLINE_IMAGES = registry.offline_images()

#: Per *target* (split evenly over its nodes): on a 2-core / 24 GiB machine this leaves a core
#: for the load generator and keeps three 1 GiB-heap Cassandra JVMs comfortable.
DEFAULT_CPUS = 1.0
DEFAULT_MEMORY = "6g"

#: Inside every container the node's data lives here (a labelled named volume per node).
DATA_PATH = "/var/lib/cartbench"

LABEL_RUN = "cartbench.run"
LABEL_TARGET = "cartbench.target"
LABEL_NODE = "cartbench.node"
#: The state directory (``bench.paths.state_dir()``) of the process that created the object:
#: ``cleanup_leftovers`` only touches its own state directory's runs by default, so a parallel
#: session (another CARTBENCH_STATE) never loses its live containers.
LABEL_STATE = "cartbench.state"

_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
MIN_NODE_MEMORY = 128 * 1024**2


def parse_memory(text: str) -> int:
    """``"6g"`` / ``"512m"`` / ``"1.5GiB"`` / bytes → bytes; UsageError otherwise."""
    m = _MEMORY_RE.match(str(text))
    if not m:
        raise UsageError(f"invalid memory limit {text!r}; use a size like 512m or 6g")
    value = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if value <= 0:
        raise UsageError(f"invalid memory limit {text!r}; it must be positive")
    return value


@dataclass(frozen=True)
class Resources:
    """The target's CPU/memory budget and its even split over the nodes."""

    cpus: float
    memory: str
    memory_bytes: int
    nodes: int
    cpuset: str | None = None

    @property
    def node_nano_cpus(self) -> int:
        return int(self.cpus / self.nodes * 1e9)

    @property
    def node_memory_bytes(self) -> int:
        return self.memory_bytes // self.nodes

    def record(self) -> dict[str, Any]:
        """What ``Topology.resources`` says (the report shows it)."""
        return {
            "cpus": self.cpus,
            "memory": self.memory,
            "memory_bytes": self.memory_bytes,
            "cpuset": self.cpuset,
            "split": "even per node",
            "per_node": {"cpus": round(self.cpus / self.nodes, 4),
                         "memory_bytes": self.node_memory_bytes},
            "scope": "per target (all its containers together)",
        }


def resources_for(spec: TargetSpec, nodes: int) -> Resources:
    """Validate ``spec.cpus`` / ``spec.memory`` (UsageError) and apply the defaults."""
    cpus = DEFAULT_CPUS if spec.cpus is None else spec.cpus
    if not isinstance(cpus, int | float) or cpus <= 0:
        raise UsageError(f"invalid --cpus {spec.cpus!r}; it must be a positive number of CPUs")
    import os

    available = len(os.sched_getaffinity(0))
    if cpus > available:
        raise UsageError(f"--cpus {cpus} exceeds the {available} CPUs this machine has")
    if cpus / nodes < 0.01:
        raise UsageError(f"--cpus {cpus} is too small for {nodes} nodes (at least 0.01 per node)")
    memory = DEFAULT_MEMORY if spec.memory is None else spec.memory
    memory_bytes = parse_memory(memory)
    if memory_bytes // nodes < MIN_NODE_MEMORY:
        raise UsageError(
            f"--memory {memory} is too small for {nodes} nodes (at least 128m per node)"
        )
    return Resources(float(cpus), str(memory), memory_bytes, nodes, spec.cpuset)


@dataclass(frozen=True)
class PortSpec:
    container_port: int
    host_ip: str
    host_port: int


@dataclass(frozen=True)
class ContainerSpec:
    """One node's container, engine-agnostic."""

    node: str  # e.g. "redis-cluster-3"; also the network alias
    role: str
    image: str
    command: list[str]
    ip: str  # static address on the run network
    ports: list[PortSpec]
    user: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    #: Files written into the container before it starts (path → content).
    files: dict[str, str] = field(default_factory=dict)
    stop_signal: str = "SIGTERM"
    stop_timeout: int = 30
    #: What the readiness check reads from the container log (if anything).
    ready_log_line: str | None = None


@dataclass(frozen=True)
class Plan:
    """Everything a target module needs to produce its container specs (no engine access)."""

    spec: TargetSpec
    images: dict[str, str]
    subnet_prefix: str  # "10.231.7": node i gets 10.231.7.(i+1); .1 is the gateway
    host_ports: list[int]  # one per node (cassandra: one for all, on distinct loopback IPs)
    resources: Resources
    password: str = "cartbench"

    def ip(self, index: int) -> str:
        """Address of node ``index`` (1-based)."""
        return f"{self.subnet_prefix}.{index + 1}"

    def image(self, target: str) -> str:
        return self.images[registry.docker_info(target).image_key]

    @property
    def nodes(self) -> int:
        """The topology's node count (``--nodes`` or the target's default), validated."""
        return registry.get(self.spec.target).node_count(self.spec.nodes)


def env_image_overrides(text: str | None = None) -> dict[str, str]:
    """``CARTBENCH_IMAGES="postgres=NAME:TAG,redis=NAME:TAG"`` (CI sets the offline images);
    the value ``offline`` means all three ``OFFLINE_IMAGES``."""
    import os

    text = os.environ.get("CARTBENCH_IMAGES", "") if text is None else text
    if text.strip() == "offline":
        return dict(OFFLINE_IMAGES)
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise UsageError(f"CARTBENCH_IMAGES: expected KEY=NAME:TAG, got {part!r}")
        out[key.strip()] = value.strip()
    return out


def resolve_images(overrides: dict[str, str] | None) -> dict[str, str]:
    """Defaults, then ``CARTBENCH_IMAGES``, then ``images={"cassandra": "NAME:TAG"}`` overrides
    (keys validated)."""
    images = dict(DEFAULT_IMAGES)
    for key, value in {**env_image_overrides(), **(overrides or {})}.items():
        key = registry.docker_info(key).image_key if key in registry.with_docker() else key
        if key not in images:
            raise UsageError(
                f"unknown image key {key!r}; choose one of: {', '.join(sorted(images))}"
            )
        if not value or any(c.isspace() for c in value):
            raise UsageError(f"invalid image name {value!r} for {key}")
        images[key] = value
    return images
