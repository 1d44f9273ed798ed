"""``DockerLauncher``: the three topologies as containers on a private network, through the
Docker Engine API.

Per ``up``: one bridge network with its own /24 (static node addresses), one labelled named
volume and one container per node, CQL/SQL/Redis ports published on loopback only, CPU and
memory limits split evenly over the target's nodes.  The target modules (``postgres``,
``redis_cluster``, ``cassandra``) own the container specs and the readiness rules; this module
owns the lifecycle: create, start, wait, tear down by label (also on Ctrl-C / SIGTERM).
"""

from __future__ import annotations

import importlib
import io
import secrets
import tarfile
import time
from collections.abc import Iterable
from pathlib import PurePosixPath
from types import ModuleType
from typing import Any

from bench import osutil, registry
from bench.errors import InfraError
from bench.launchers.base import Node, ProgressFn, TargetSpec, Topology, no_progress
from bench.launchers.docker import engine
from bench.launchers.docker.probe import Readiness
from bench.launchers.docker.specs import (
    DATA_PATH,
    LABEL_NODE,
    LABEL_RUN,
    LABEL_STATE,
    LABEL_TARGET,
    ContainerSpec,
    Plan,
    Resources,
    resolve_images,
    resources_for,
)
from bench.results import utc_iso


def target_module(target: str) -> ModuleType:
    """The module of ``target`` for this launcher (``bench.registry``): ``containers(plan)``,
    ``endpoints(plan, specs)``, ``settings(plan)``, ``wait_ready(ready)`` and, optionally,
    ``host_ports(start, n)`` and ``CLIENT_ADDRESSING``."""
    return importlib.import_module(registry.launcher_module(target, "docker"))


def node_count(spec: TargetSpec) -> int:
    return registry.get(spec.target).node_count(spec.nodes)


def selector(run_id: str, target: str) -> list[str]:
    return [f"{LABEL_RUN}={run_id}", f"{LABEL_TARGET}={target}"]


def _host_ports(target: str, n: int) -> list[int]:
    """Free host ports from the target's ``port_start`` up: one per node, unless the target
    module chooses them itself (``host_ports(start, n)``)."""
    start = registry.docker_info(target).port_start
    custom = getattr(target_module(target), "host_ports", None)
    if custom is not None:
        chosen: list[int] = custom(start, n)
        return chosen
    ports: list[int] = []
    for _ in range(n):
        ports.append(osutil.free_port(start=start, avoid=set(ports)))
    return ports


def _tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class DockerLauncher:
    name = "docker"

    def __init__(self, images: dict[str, str] | None = None, pull: bool = True) -> None:
        self.images = resolve_images(images)
        self.pull = pull

    # -- lifecycle -------------------------------------------------------------------------

    def up(self, spec: TargetSpec, progress: ProgressFn = no_progress) -> Topology:
        t0 = time.monotonic()
        n = node_count(spec)
        resources = resources_for(spec, n)
        if spec.cpuset:
            osutil.validate_cpuset(spec.cpuset)
        client = engine.connect()
        module = target_module(spec.target)
        image = self.images[registry.docker_info(spec.target).image_key]
        if self.pull:
            engine.ensure_image(client, image)
        elif not engine.image_present(client, image):
            raise InfraError(f"image {image} is not present; {engine.BUILD_HINT}")
        net_name = f"cartbench-{spec.run_id}-{spec.target}"
        try:
            return self._up(client, spec, progress, module, n, resources, net_name, t0)
        except BaseException:
            progress(f"{spec.target}: removing the run's containers, network and volumes")
            _remove_after_failure(spec)
            raise

    def _up(self, client: Any, spec: TargetSpec, progress: ProgressFn, module: ModuleType,
            n: int, resources: Resources, net_name: str, t0: float) -> Topology:
        progress(f"{spec.target}: creating network {net_name}")
        _, prefix = engine.create_network(client, net_name, spec.run_id, spec.target)
        plan = Plan(spec=spec, images=self.images, subnet_prefix=prefix,
                    host_ports=_host_ports(spec.target, n), resources=resources,
                    password=secrets.token_urlsafe(18))
        specs: list[ContainerSpec] = module.containers(plan)
        nodes = [self._create(client, spec, cs, net_name, resources) for cs in specs]
        for node in nodes:
            progress(f"{spec.target}: starting {node.name} ({node.extra['image']})")
            client.containers.get(node.container).start()
        endpoints: dict[str, Any] = module.endpoints(plan, specs)
        settings: dict[str, Any] = module.settings(plan)
        topo = Topology(
            target=spec.target, launcher=self.name, run_id=spec.run_id, nodes=nodes,
            endpoints=endpoints, version="unknown", settings=settings,
            resources=resources.record(), time_to_ready_s=0.0,
            started_at=utc_iso(),
            base_dir=str(spec.base_dir), durability=spec.durability,
            extra={"network": net_name, "subnet": f"{prefix}.0/24", "images": dict(self.images),
                   "labels": {LABEL_RUN: spec.run_id, LABEL_TARGET: spec.target}},
        )
        addressing = getattr(module, "CLIENT_ADDRESSING", None)
        if addressing:
            topo.extra["client_addressing"] = addressing
        progress(f"{spec.target}: waiting until ready")
        timeout = float(spec.options.get("ready_timeout_s",
                                         registry.docker_info(spec.target).ready_timeout_s))
        wait_ready(client, topo, timeout, first_start=True, progress=progress)
        topo.time_to_ready_s = round(time.monotonic() - t0, 3)
        progress(f"{spec.target}: ready in {topo.time_to_ready_s:.1f} s (version {topo.version})")
        return topo

    def _create(self, client: Any, spec: TargetSpec, cs: ContainerSpec, net_name: str,
                resources: Resources) -> Node:
        labels = engine.labels(spec.run_id, spec.target, **{LABEL_NODE: cs.node})
        name = f"cartbench-{spec.run_id}-{cs.node}"
        volume = client.volumes.create(name=f"{name}-data", labels=labels)
        endpoint = client.api.create_endpoint_config(ipv4_address=cs.ip, aliases=[cs.node])
        container = client.containers.create(
            cs.image, command=cs.command, entrypoint=[], user=cs.user or "",
            environment=cs.environment, labels=labels, name=name, hostname=cs.node,
            ports={f"{p.container_port}/tcp": (p.host_ip, p.host_port) for p in cs.ports},
            volumes={volume.name: {"bind": DATA_PATH, "mode": "rw"}},
            network=net_name, networking_config={net_name: endpoint},
            nano_cpus=resources.node_nano_cpus, mem_limit=resources.node_memory_bytes,
            memswap_limit=resources.node_memory_bytes, cpuset_cpus=resources.cpuset,
            stop_signal=cs.stop_signal,
            working_dir="/",
        )
        if cs.files:
            dirs = {str(PurePosixPath(p).parent) for p in cs.files}
            # put_archive needs existing parents: send them as directory entries first
            container.put_archive("/", _dir_tar(sorted(dirs)))
            container.put_archive("/", _tar(cs.files))
        port = cs.ports[0]
        return Node(name=cs.node, host=port.host_ip, port=port.host_port, role=cs.role,
                    container=container.id, data_dir=f"{volume.name}:{DATA_PATH}",
                    extra={"ip": cs.ip, "image": cs.image, "volume": volume.name,
                           "container_name": name, "network": net_name,
                           "stop_timeout": cs.stop_timeout})

    def down(self, topology: Topology) -> None:
        client = engine.connect()
        engine.remove_until_clean(client, selector(topology.run_id, topology.target),
                                  settle_s=0.2)
        left = engine.leftovers(client, selector(topology.run_id, topology.target))
        if left:
            raise InfraError("docker: could not remove " + ", ".join(left))

    # -- faults ----------------------------------------------------------------------------

    def _container(self, topology: Topology, node: str) -> tuple[Any, Any, Node]:
        client = engine.connect()
        n = topology.node(node)
        from docker.errors import NotFound

        try:
            return client, client.containers.get(n.container), n
        except NotFound:
            raise InfraError(f"docker: container of {node} is gone (run bench down)") from None

    def kill_node(self, topology: Topology, node: str) -> None:
        _, c, _ = self._container(topology, node)
        c.reload()
        if c.status == "paused":
            c.unpause()
        if c.status in ("running", "paused"):
            c.kill()  # SIGKILL

    def pause_node(self, topology: Topology, node: str) -> None:
        _, c, _ = self._container(topology, node)
        c.pause()  # cgroup freezer

    def resume_node(self, topology: Topology, node: str) -> None:
        _, c, _ = self._container(topology, node)
        c.reload()
        if c.status == "paused":
            c.unpause()

    def restart_node(self, topology: Topology, node: str) -> None:
        client, c, n = self._container(topology, node)
        c.reload()
        if c.status == "paused":
            c.unpause()
        since = time.time()
        c.restart(timeout=int(n.extra.get("stop_timeout", 30)))
        timeout = registry.docker_info(topology.target).ready_timeout_s
        wait_ready(client, topology, timeout, first_start=False, progress=no_progress,
                   restarted=(n.name, since))

    def disconnect_node(self, topology: Topology, node: str) -> None:
        """Cut the node off the run network (a partition); its published port stays."""
        client, c, n = self._container(topology, node)
        client.networks.get(n.extra["network"]).disconnect(c, force=True)

    def reconnect_node(self, topology: Topology, node: str) -> None:
        client, c, n = self._container(topology, node)
        client.networks.get(n.extra["network"]).connect(
            c, ipv4_address=n.extra["ip"], aliases=[n.name])


def _remove_after_failure(spec: TargetSpec) -> None:
    """Teardown after a failed or interrupted ``up``.  A fresh client: an interrupt in the middle
    of a request leaves the old connection pool unusable."""
    try:
        client = engine.connect()
        try:
            left = engine.remove_until_clean(client, selector(spec.run_id, spec.target))
            del left
            remaining = engine.leftovers(client, selector(spec.run_id, spec.target))
        finally:
            client.close()
    except Exception as exc:  # the original error is what the user must see; add ours to stderr
        remaining = [f"(cleanup failed: {type(exc).__name__}: {exc})"]
    if remaining:
        import sys

        print(f"warning: docker objects of run {spec.run_id} left behind: "
              f"{', '.join(remaining)}; run `bench down` to remove them", file=sys.stderr)


def _dir_tar(dirs: list[str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in dirs:
            parts = PurePosixPath(d.lstrip("/")).parts
            for i in range(1, len(parts) + 1):
                info = tarfile.TarInfo("/".join(parts[:i]))
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
    return buf.getvalue()


def wait_ready(client: Any, topo: Topology, timeout: float, *, first_start: bool,
               progress: ProgressFn, restarted: tuple[str, float] | None = None) -> None:
    """The target module's readiness rules (the native launcher's, checked through the
    published ports).  ``restarted=(node, since)``: that node's log counts only from ``since``."""
    ready = Readiness(client, topo, timeout, first_start, progress, restarted)
    target_module(topo.target).wait_ready(ready)


def cleanup_leftovers(progress: ProgressFn = no_progress, *, runs: Iterable[str] | None = None,
                      keep_runs: Iterable[str] = (), all_states: bool = False) -> list[str]:
    """Remove what earlier (crashed) runs left, found by label: the given ``runs``, or (``None``)
    every run created under this state directory (``bench.paths.state_dir()``; every state
    directory with ``all_states=True``), never those in ``keep_runs`` (live topologies).
    Returns what was removed; an empty list when nothing was left.  Needs an engine."""
    from bench.paths import state_dir

    client = engine.connect()
    keep = set(keep_runs)
    if runs is not None:
        found = set(runs)
    elif all_states:
        found = engine.run_ids(client)
    else:
        found = engine.run_ids(client, [LABEL_RUN, f"{LABEL_STATE}={state_dir()}"])
    removed: list[str] = []
    for run in sorted(found - keep):
        removed += engine.remove_by_label(client, f"{LABEL_RUN}={run}")
    for item in removed:
        progress(f"removed {item}")
    return removed
