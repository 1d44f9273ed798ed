"""Topology lifecycle for ``bench up/status/down`` and ``bench run``: which launcher, the spec
each target is started with, bring-up with rollback, tear-down, liveness.

Invariants:

* Launcher selection happens here only (``select_launcher``); the reason is returned so it is
  printed and recorded.  ``--launcher docker`` without ``--image`` uses the official images when
  present or pullable, else the offline ones of ``setup/build-images.sh`` when those exist, and
  says so.
* ``bench up`` and ``bench run`` build their ``TargetSpec`` with the same ``spec_for``.
* ``bring_up`` either starts every requested target or, on any failure or interrupt, stops
  what it started and forgets its state before re-raising.
* The command modules only parse, call this and print.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench import osutil, registry, state
from bench.errors import InfraError, UsageError
from bench.launchers import get_launcher
from bench.launchers.base import Launcher, ProgressFn, TargetSpec, Topology, no_progress

#: The load engine's default in-flight cap (``bench run --in-flight``).
DEFAULT_IN_FLIGHT = 256


def max_connections_for(in_flight_cap: int) -> int:
    """PostgreSQL's ``max_connections`` sized for the load engine's pools."""
    return max(300, in_flight_cap + 50)


@dataclass(frozen=True)
class TopologyOptions:
    """What the user asked of every target's topology (``--nodes``, ``--durability``, ...)."""

    nodes: int | None = None
    durability: str = "default"
    cpuset: str | None = None
    cpus: float | None = None
    memory: str | None = None
    in_flight_cap: int = DEFAULT_IN_FLIGHT


def spec_for(target: str, run_id: str, base_dir: Path, opts: TopologyOptions, *,
             all_nodes: bool = True) -> TargetSpec:
    """The ``TargetSpec`` of ``target``.  ``all_nodes=False`` (``bench run``): ``--nodes``
    applies only to targets whose registry entry says ``run_nodes``."""
    nodes = opts.nodes if all_nodes or registry.get(target).run_nodes else None
    return TargetSpec(
        target=target,
        run_id=run_id,
        base_dir=base_dir,
        nodes=nodes,
        durability=opts.durability or "default",
        cpuset=opts.cpuset,
        cpus=opts.cpus,
        memory=opts.memory,
        max_connections=max_connections_for(opts.in_flight_cap),
    )


def parse_images(values: Iterable[str] | None) -> dict[str, str] | None:
    """``("cassandra=NAME:TAG", ...)`` → ``{"cassandra": "NAME:TAG"}``; UsageError otherwise."""
    if not values:
        return None
    keys = tuple(registry.image_keys())
    images: dict[str, str] = {}
    for value in values:
        key, sep, image = value.partition("=")
        if not sep or not image or key not in keys:
            raise UsageError(
                f"invalid --image {value!r}; expected KEY=NAME:TAG with KEY one of {', '.join(keys)}"
            )
        images[key] = image
    return images


def select_launcher(launcher: str, endpoints: Path | None = None,
                    images: dict[str, str] | None = None,
                    targets: Iterable[str] = ()) -> tuple[Launcher, str]:
    """Resolve ``--launcher`` (auto, native, docker, external) to an instance and the reason
    it was chosen.  Targets served by one launcher only (``reference``) get that launcher."""
    names = list(targets)
    if names and all("reference" in registry.get(t).launchers for t in names):
        from bench.launchers.reference import ReferenceLauncher

        return ReferenceLauncher(), "reference store (in-memory oracle, no datastore)"
    if images and launcher not in ("docker", "auto"):
        raise UsageError("--image is only valid with --launcher docker or auto")
    if launcher == "external":
        if endpoints is None:
            raise UsageError("--launcher external needs --endpoints FILE")
        return get_launcher("external", endpoints_file=endpoints), "--launcher external"
    if endpoints is not None:
        raise UsageError("--endpoints is only valid with --launcher external")
    if launcher == "auto":
        from bench.launchers.auto import choose_launcher

        name, reason = choose_launcher(images)
        if name == "docker":
            return get_launcher("docker", images=images), f"auto: {reason}"
        return get_launcher(name), f"auto: {reason}"
    if launcher == "docker":
        from bench.launchers.auto import docker_images

        chosen, note = docker_images(images)
        reason = "--launcher docker" + (f" ({note})" if note else "")
        return get_launcher("docker", images=chosen), reason
    return get_launcher(launcher), f"--launcher {launcher}"


def bring_up(targets: list[str], launcher: Launcher, reason: str, opts: TopologyOptions,
             progress: ProgressFn = no_progress) -> list[Topology]:
    """Start each target and save its state; on any failure or interrupt, tear down what this
    call started (and forget it) before re-raising."""
    osutil.validate_cpuset(opts.cpuset)
    run_id = state.new_run_id()
    started: list[Topology] = []
    try:
        for target in targets:
            if state.load(target) is not None:
                raise UsageError(
                    f"{target} is already up (see `bench status`); run `bench down --target {target}` first"
                )
            spec = spec_for(target, run_id, state.runs_dir() / run_id / target, opts)
            topo = launcher.up(spec, progress)
            topo.extra["launcher_reason"] = reason
            state.save(topo)
            started.append(topo)
    except BaseException:
        for topo in reversed(started):
            try:
                launcher.down(topo)
            finally:
                state.forget(topo.target)
        raise
    return started


def tear_down(topologies: list[Topology], progress: ProgressFn = no_progress) -> None:
    """Stop each topology with the launcher that started it and forget its state; the
    failures are raised together, after every topology was tried."""
    failures = []
    for topo in topologies:
        try:
            get_launcher(topo.launcher).down(topo)
            state.forget(topo.target)
            progress(f"{topo.target}: stopped")
        except InfraError as exc:
            failures.append(f"{topo.target}: {exc}")
    if failures:
        raise InfraError("; ".join(failures))


def remove_docker_leftovers(keep_runs: list[str], progress: ProgressFn = no_progress) -> list[str]:
    """Containers of earlier crashed runs, found by label; nothing when no engine answers."""
    try:
        from bench.launchers.docker import cleanup_leftovers

        return cleanup_leftovers(progress, keep_runs=keep_runs)
    except Exception:
        return []


def alive(topology: Topology) -> str:
    """``running/total`` nodes: process liveness (native) or container state (docker)."""
    nodes = topology.nodes
    if topology.launcher == "native":
        return f"{sum(osutil.pid_alive(n.pid) for n in nodes)}/{len(nodes)}"
    if topology.launcher == "docker":
        try:
            from bench.launchers.docker import engine

            client = engine.connect(timeout=5)
        except Exception:
            return "engine down"
        try:
            running = 0
            for n in nodes:
                try:
                    running += client.containers.get(n.container).status == "running"
                except Exception:
                    continue
        finally:
            client.close()
        return f"{running}/{len(nodes)}"
    return "-"
