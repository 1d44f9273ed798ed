"""``bench up`` / ``bench status`` / ``bench down``: topologies without load.

Parses options, calls ``bench.lifecycle`` (launcher choice, bring-up with rollback,
tear-down, liveness) and prints; the options themselves are shared with ``bench run``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from bench import lifecycle, osutil, registry, state
from bench.launchers.base import Topology
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


@click.command()
@target_option(None)
@launcher_options
def up(target: str, **opts: Any) -> None:
    """Start datastore topologies and wait until they are really ready."""
    targets = expand_targets(target)
    options = lifecycle.TopologyOptions(
        nodes=opts["nodes"], durability=opts["durability"], cpuset=opts["cpuset"],
        cpus=opts["cpus"], memory=opts["memory"])
    osutil.validate_cpuset(options.cpuset)  # bad input fails before anything is printed
    launcher, reason = lifecycle.select_launcher(
        opts.get("launcher") or "auto", opts.get("endpoints"),
        lifecycle.parse_images(opts.get("images")), targets)
    progress(f"launcher: {launcher.name} ({reason})")
    topologies = lifecycle.bring_up(targets, launcher, reason, options, progress)
    out.print(topology_table(topologies))


@click.command()
def status() -> None:
    """Show what is running (from the state directory)."""
    topologies = state.load_all()
    if not topologies:
        out.print("nothing is running")
        return
    out.print(topology_table(topologies, [lifecycle.alive(t) for t in topologies]))


@click.command()
@target_option("all")
def down(target: str) -> None:
    """Stop running topologies (all by default) and remove their data."""
    wanted = set(expand_targets(target))
    everything = state.load_all()
    topologies = [t for t in everything if t.target in wanted]
    lifecycle.tear_down(topologies, progress)
    keep = [t.run_id for t in everything if t.target not in wanted]
    cleaned = lifecycle.remove_docker_leftovers(keep, progress)
    if cleaned:
        progress(f"docker: removed leftovers of earlier runs: {', '.join(cleaned)}")
    if not topologies and not cleaned:
        out.print("nothing to stop")
