"""``bench up`` / ``bench status`` / ``bench down``: topologies without load."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from bench import osutil, registry, state
from bench.errors import InfraError, UsageError
from bench.launchers import get_launcher
from bench.launchers.base import Launcher, TargetSpec, Topology
from bench.registry import expand as expand_targets

console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
out = Console(width=None if sys.stdout.isatty() else 160)


F = TypeVar("F", bound=Callable[..., Any])


def target_option(default: str | None) -> Callable[[F], F]:
    return click.option(
        "--target",
        "-t",
        default=default,
        required=default is None,
        show_default=True,
        help="postgres, cassandra, redis-cluster or all (comma-separated list allowed).",
    )


def launcher_options(f: F) -> F:
    f = click.option(
        "--launcher",
        default="auto",
        show_default=True,
        type=click.Choice(["auto", "native", "docker", "external"]),
        help="How targets are started: native processes, Docker containers, "
        "or your existing endpoints (--endpoints FILE).",
    )(f)
    f = click.option(
        "--endpoints",
        type=click.Path(path_type=Path),
        default=None,
        help="TOML file with existing endpoints (with --launcher external).",
    )(f)
    f = click.option(
        "--nodes",
        type=int,
        default=None,
        help="Node count (cassandra: default 3, 1 for quick runs; redis-cluster: 6).",
    )(f)
    f = click.option(
        "--durability",
        type=click.Choice(["default", "strict"]),
        default="default",
        show_default=True,
        help="default = each datastore's shipped settings; "
        "strict = durable on acknowledgement for all three.",
    )(f)
    f = click.option(
        "--cpuset",
        default=None,
        help="Pin the target's processes to these CPUs (e.g. 1), leaving the rest "
        "to the load generator. Default: no pinning.",
    )(f)
    f = click.option(
        "--image",
        "images",
        multiple=True,
        metavar="KEY=NAME:TAG",
        help="Docker: image override, e.g. --image cassandra=cartbench/cassandra:5.0-offline "
        "(keys: postgres, cassandra, redis). Repeatable.",
    )(f)
    f = click.option("--cpus", type=float, default=None, help="Docker: CPU limit per target.")(f)
    f = click.option("--memory", default=None, help="Docker: memory limit per target (e.g. 6g).")(f)
    return f


def parse_images(values: tuple[str, ...] | list[str] | None) -> dict[str, str] | None:
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


def make_launcher(
    launcher: str, endpoints: Path | None, images: dict[str, str] | None = None
) -> tuple[Launcher, str]:
    """Resolve ``--launcher`` to an instance and the reason it was chosen."""
    if images and launcher not in ("docker", "auto"):
        raise UsageError("--image is only valid with --launcher docker or auto")
    if launcher == "external":
        if endpoints is None:
            raise UsageError("--launcher external needs --endpoints FILE")
        return get_launcher("external", endpoints_file=endpoints), "--launcher external"
    if endpoints is not None:
        raise UsageError("--endpoints is only valid with --launcher external")
    if launcher == "auto":
        try:
            from bench.launchers.auto import choose_launcher
        except ImportError:
            return get_launcher("native"), "auto: docker launcher not available, using native"
        name, reason = choose_launcher(images)
        if name == "docker":
            return get_launcher("docker", images=images), f"auto: {reason}"
        return get_launcher(name), f"auto: {reason}"
    if launcher == "docker":
        return get_launcher("docker", images=images), "--launcher docker"
    return get_launcher(launcher), f"--launcher {launcher}"


def build_spec(target: str, run_id: str, opts: dict[str, Any]) -> TargetSpec:
    base_dir = state.runs_dir() / run_id / target
    return TargetSpec(
        target=target,
        run_id=run_id,
        base_dir=base_dir,
        nodes=opts.get("nodes"),
        durability=opts.get("durability") or "default",
        cpuset=opts.get("cpuset"),
        cpus=opts.get("cpus"),
        memory=opts.get("memory"),
    )


def progress(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


def topology_table(topologies: list[Topology], alive: list[str] | None = None) -> Table:
    table = Table(title="cartbench targets")
    for col in (
        "target",
        "launcher",
        "nodes",
        "endpoints",
        "version",
        "durability settings",
        "cpuset",
        "time to ready",
    ):
        table.add_column(col)
    if alive is not None:
        table.add_column("alive")
    for i, t in enumerate(topologies):
        first = t.nodes[0] if t.nodes else None
        endpoints = f"{first.host}:{first.port}" if first else "-"
        if len(t.nodes) > 1:
            endpoints += f" (+{len(t.nodes) - 1})"
        shown = registry.get(t.target).durability_keys
        durable = {k: v for k, v in t.settings.items() if k in shown}
        table.add_row(
            t.target,
            t.launcher,
            str(len(t.nodes)),
            endpoints,
            t.version,
            f"{t.durability}: " + " ".join(f"{k}={v}" for k, v in durable.items()),
            str(t.resources.get("cpuset") or "-"),
            f"{t.time_to_ready_s:.1f} s",
            *([alive[i]] if alive is not None else []),
        )
    return table


def bring_up(targets: list[str], opts: dict[str, Any]) -> list[Topology]:
    """Start each target; on any failure or interrupt, tear down what this call started."""
    osutil.validate_cpuset(opts.get("cpuset"))  # bad input fails before anything is printed
    launcher, reason = make_launcher(
        opts.get("launcher") or "auto", opts.get("endpoints"), parse_images(opts.get("images"))
    )
    progress(f"launcher: {launcher.name} ({reason})")
    run_id = state.new_run_id()
    started: list[Topology] = []
    try:
        for target in targets:
            if state.load(target) is not None:
                raise UsageError(
                    f"{target} is already up (see `bench status`); run `bench down --target {target}` first"
                )
            topo = launcher.up(build_spec(target, run_id, opts), progress)
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


def tear_down(topologies: list[Topology]) -> None:
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


@click.command()
@target_option(None)
@launcher_options
def up(target: str, **opts: Any) -> None:
    """Start datastore topologies and wait until they are really ready."""
    targets = expand_targets(target)
    topologies = bring_up(targets, opts)
    out.print(topology_table(topologies))


def _alive(t: Topology) -> str:
    """``running/total`` nodes: process liveness (native) or container state (docker)."""
    if t.launcher == "native":
        return f"{sum(osutil.pid_alive(n.pid) for n in t.nodes)}/{len(t.nodes)}"
    if t.launcher == "docker":
        try:
            from bench.launchers.docker import engine

            client = engine.connect(timeout=5)
            try:
                running = 0
                for n in t.nodes:
                    try:
                        running += client.containers.get(n.container).status == "running"
                    except Exception:
                        continue
            finally:
                client.close()
            return f"{running}/{len(t.nodes)}"
        except Exception:
            return "engine down"
    return "-"


@click.command()
def status() -> None:
    """Show what is running (from the state directory)."""
    topologies = state.load_all()
    if not topologies:
        out.print("nothing is running")
        return
    alive = [
        f"{sum(osutil.pid_alive(n.pid) for n in t.nodes)}/{len(t.nodes)}"
        if t.launcher == "native"
        else "-"
        for t in topologies
    ]
    out.print(topology_table(topologies, alive))


@click.command()
@target_option("all")
def down(target: str) -> None:
    """Stop running topologies (all by default) and remove their data."""
    wanted = set(expand_targets(target))
    everything = state.load_all()
    topologies = [t for t in everything if t.target in wanted]
    tear_down(topologies)
    cleaned: list[str] = []
    try:  # containers of earlier crashed runs, found by label (no engine: nothing to do)
        from bench.launchers.docker import cleanup_leftovers

        keep = [t.run_id for t in everything if t.target not in wanted]
        cleaned = cleanup_leftovers(progress, keep_runs=keep)
    except Exception:
        cleaned = []
    if cleaned:
        progress(f"docker: removed leftovers of earlier runs: {', '.join(cleaned)}")
    if not topologies and not cleaned:
        out.print("nothing to stop")
