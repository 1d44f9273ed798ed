"""``DockerLauncher``: the three topologies as containers on a private network, through the
Docker Engine API.

Per ``up``: one bridge network with its own /24 (static node addresses), one labelled named
volume and one container per node, CQL/SQL/Redis ports published on loopback only, CPU and
memory limits split evenly over the target's nodes.  The target modules (``postgres``,
``redis_cluster``, ``cassandra``) own the container specs and the readiness rules; this module
owns the lifecycle: create, start, wait, tear down by label (also on Ctrl-C / SIGTERM).
"""

from __future__ import annotations

import functools
import io
import secrets
import tarfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import PurePosixPath
from types import ModuleType
from typing import Any

from bench import osutil
from bench.errors import InfraError, UsageError
from bench.launchers.base import Node, ProgressFn, TargetSpec, Topology, no_progress
from bench.launchers.docker import cassandra, engine, postgres, redis_cluster
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

MODULES: dict[str, ModuleType] = {
    "postgres": postgres,
    "redis-cluster": redis_cluster,
    "cassandra": cassandra,
}
READY_TIMEOUT_S = {"postgres": 90.0, "redis-cluster": 120.0, "cassandra": 420.0}
#: First host port tried per target (free ports are searched upwards from here).
PORT_START = {"postgres": 25432, "redis-cluster": 27001, "cassandra": 29042}


def node_count(spec: TargetSpec) -> int:
    if spec.target == "postgres":
        if spec.nodes not in (None, 1):
            raise UsageError("postgres runs as a single primary; --nodes must be 1")
        return 1
    if spec.target == "redis-cluster":
        n = redis_cluster.node_count(spec)
        if n < 3:
            raise UsageError(f"redis-cluster needs at least 3 nodes, got {n}")
        return n
    return int(cassandra.node_count(spec))


def selector(run_id: str, target: str) -> list[str]:
    return [f"{LABEL_RUN}={run_id}", f"{LABEL_TARGET}={target}"]


def _host_ports(target: str, n: int) -> list[int]:
    start = PORT_START[target]
    if target == "cassandra":
        # one port, free on every 127.0.0.i the nodes are published on
        port = start
        for _ in range(200):
            port = osutil.free_port(start=port)
            if all(osutil.port_is_free(cassandra.client_address(i), port) for i in range(1, n + 1)):
                return [port]
            port += 1
        raise InfraError(f"docker: no port free on 127.0.0.1..{n} for Cassandra's CQL")
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


class Probe:
    """What readiness checks may ask of the containers of one topology."""

    def __init__(self, client: Any, topo: Topology, since: float | None = None) -> None:
        self.client = client
        self.topo = topo
        self.since = since  # only log lines after this (epoch seconds): a restart's old log

    def container(self, node: Node) -> Any:
        return self.client.containers.get(node.container)

    def status(self, node: Node) -> str:
        from docker.errors import NotFound

        try:
            return str(self.container(node).status)
        except NotFound:
            return "removed"

    def alive(self) -> bool:
        return all(self.status(n) in ("running", "created", "paused") for n in self.topo.nodes)

    def log(self, node: Node, tail: int | str = "all") -> str:
        kwargs: dict[str, Any] = {"since": self.since} if self.since is not None else {}
        out = self.container(node).logs(tail=tail, **kwargs)
        return out.decode(errors="replace") if isinstance(out, bytes) else str(out)

    def dead_report(self) -> str:
        from docker.errors import APIError

        parts = []
        for n in self.topo.nodes:
            status = self.status(n)
            if status in ("running", "created", "paused"):
                continue
            try:
                c = self.container(n)
                tail = " | ".join(self.log(n, tail=5).strip().splitlines()[-5:])
                code = c.attrs.get("State", {}).get("ExitCode")
                oom = c.attrs.get("State", {}).get("OOMKilled")
                parts.append(f"{n.name} exited (code {code}{', OOM-killed' if oom else ''}): {tail}")
            except APIError:
                parts.append(f"{n.name} is {status} (removed by someone else?)")
        return "docker: " + "; ".join(parts)


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
        module = MODULES[spec.target]
        image = self.images[{"redis-cluster": "redis"}.get(spec.target, spec.target)]
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
        if spec.target == "postgres":
            endpoints = postgres.endpoints(plan)
            settings: dict[str, Any] = postgres.settings(spec)
        elif spec.target == "redis-cluster":
            endpoints = redis_cluster.endpoints(plan, specs)
            settings = redis_cluster.settings(spec)
        else:
            endpoints = cassandra.endpoints(plan)
            settings = cassandra.settings(plan)
        topo = Topology(
            target=spec.target, launcher=self.name, run_id=spec.run_id, nodes=nodes,
            endpoints=endpoints, version="unknown", settings=settings,
            resources=resources.record(), time_to_ready_s=0.0,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            base_dir=str(spec.base_dir), durability=spec.durability,
            extra={"network": net_name, "subnet": f"{prefix}.0/24", "images": dict(self.images),
                   "labels": {LABEL_RUN: spec.run_id, LABEL_TARGET: spec.target}},
        )
        if spec.target == "redis-cluster":
            topo.extra["client_addressing"] = (
                "containers announce their network IPs; clients remap IP:6379 to the published "
                "127.0.0.1 port (endpoints.address_remap)")
        elif spec.target == "cassandra":
            topo.extra["client_addressing"] = settings["client_addressing"]
        progress(f"{spec.target}: waiting until ready")
        timeout = float(spec.options.get("ready_timeout_s", READY_TIMEOUT_S[spec.target]))
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
        timeout = READY_TIMEOUT_S[topology.target]
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
    """The native launcher's readiness rules, checked through the published ports.
    ``restarted=(node, since)``: that node's log counts only from ``since`` on."""
    probe = Probe(client, topo)
    restarted_probe = Probe(client, topo, since=restarted[1]) if restarted else probe
    what = topo.target

    def until(predicate: Callable[[], bool], description: str) -> None:
        osutil.wait_until(predicate, timeout=timeout, what=f"{what}: {description}",
                           interval=0.25, alive=probe.alive, on_dead=probe.dead_report)

    if topo.target == "postgres":
        until(lambda: postgres.server_up(topo.endpoints), "server to accept connections")
        if first_start:
            postgres.create_database(topo.endpoints)
        until(lambda: postgres.ready(topo.endpoints), "an authenticated query")
        topo.version = postgres.version(topo.endpoints)
        return
    if topo.target == "redis-cluster":
        for node in topo.nodes:
            port: int = node.port
            until(functools.partial(redis_cluster.ping, port), f"{node.name} to answer PING")
        if first_start:
            progress("redis-cluster: forming the cluster (redis-cli --cluster create)")
            specs_ips = [n.extra["ip"] for n in topo.nodes]
            cmd = ["redis-cli", "--cluster", "create",
                   *[f"{ip}:{redis_cluster.PORT}" for ip in specs_ips],
                   "--cluster-replicas", "1" if len(specs_ips) >= 6 else "0", "--cluster-yes"]
            code, out = probe.container(topo.nodes[0]).exec_run(cmd)
            if code != 0:
                text = out.decode(errors="replace") if isinstance(out, bytes) else str(out)
                tail = " | ".join(text.strip().splitlines()[-3:])
                raise InfraError(f"redis-cluster: cluster create failed: {tail}")
        count = len(topo.nodes)
        until(lambda: all(redis_cluster.node_ready(n.port, count) for n in topo.nodes),
              "all nodes cluster_state:ok, 16384 slots, all known, replicas linked")
        by_ip = {n.extra["ip"]: n.name for n in topo.nodes}
        for node in topo.nodes:
            node.role, master = redis_cluster.role(node.port)
            node.extra.pop("master", None)
            if master:
                node.extra["master"] = by_ip.get(master.split(":")[0], master)
        topo.version = redis_cluster.version(topo.nodes[0].port)
        return
    from bench.launchers.config.cassandra import ready_in_log

    def logged_ready(node: Node) -> bool:
        p = restarted_probe if restarted and node.name == restarted[0] else probe
        return ready_in_log(p.log(node))

    for node in topo.nodes:
        until(functools.partial(logged_ready, node),
              f"{node.name} to log 'Starting listening for CQL clients'")
        progress(f"cassandra: {node.name} listening for CQL")
    until(lambda: cassandra.driver_sees_all(topo.endpoints, len(topo.nodes)),
          "the driver to see every node up")
    topo.version = cassandra.version(topo.endpoints)


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
