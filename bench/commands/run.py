"""``bench run``, ``bench worker`` and ``bench list``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from bench.errors import EXIT_INFRA, UsageError
from bench.live import LiveView

console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
out = Console(width=None if sys.stdout.isatty() else 160)


def _progress(message: str) -> None:
    import time

    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


@click.command()
@click.option(
    "--target",
    "-t",
    default="all",
    show_default=True,
    help="postgres, cassandra, redis-cluster, all (comma list allowed), or reference.",
)
@click.option(
    "--profile",
    "-p",
    default="holiday-rush",
    show_default=True,
    help="Built-in profile name (see `bench list`) or a TOML file.",
)
@click.option("--scale", type=float, default=1.0, show_default=True, help="Multiply every rate.")
@click.option(
    "--duration", type=float, default=None, help="Stretch/compress the profile to S seconds."
)
@click.option(
    "--rate", type=float, default=None, help="Constant offered rate R ops/s instead of the stages."
)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--workers",
    default="auto",
    show_default=True,
    help="Local Locust worker processes (0 = generate load in this process; auto = from the "
    "target's measured generator cost per operation x the profile's peak, capped by the "
    "generator's CPUs).",
)
@click.option(
    "--master-port",
    type=int,
    default=5557,
    show_default=True,
    help="With --workers: the port workers connect to (`bench worker --master HOST --master-port P`).",
)
@click.option(
    "--remote-workers",
    is_flag=True,
    help="With --workers N: wait for N `bench worker` processes (other machines) instead of starting local ones.",
)
@click.option(
    "--in-flight",
    "in_flight",
    type=int,
    default=256,
    show_default=True,
    help="Cap on concurrent operations per generator process.",
)
@click.option("--consistency", default=None, help="Cassandra consistency level (default QUORUM).")
@click.option("--generator-cpuset", default=None, help="Pin the load generator to these CPUs.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Parent directory of run directories.",
)
@click.option("--no-report", is_flag=True, help="Do not render index.html at the end.")
@click.option(
    "--launcher",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "native", "docker", "external"]),
)
@click.option(
    "--endpoints",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML file with existing endpoints (with --launcher external).",
)
@click.option("--nodes", type=int, default=None, help="Cassandra node count (default 3).")
@click.option(
    "--durability", type=click.Choice(["default", "strict"]), default="default", show_default=True
)
@click.option("--cpuset", default=None, help="Pin each target's processes to these CPUs.")
@click.option(
    "--image",
    "images",
    multiple=True,
    metavar="KEY=NAME:TAG",
    help="Docker: image override (keys: postgres, cassandra, redis). Repeatable.",
)
@click.option("--cpus", type=float, default=None, help="Docker: CPU limit per target.")
@click.option("--memory", default=None, help="Docker: memory limit per target.")
def run(
    target: str,
    profile: str,
    scale: float,
    duration: float | None,
    rate: float | None,
    seed: int,
    workers: str,
    master_port: int,
    remote_workers: bool,
    in_flight: int,
    consistency: str | None,
    generator_cpuset: str | None,
    out_dir: Path,
    no_report: bool,
    launcher: str,
    endpoints: Path | None,
    nodes: int | None,
    durability: str,
    cpuset: str | None,
    images: tuple[str, ...],
    cpus: float | None,
    memory: str | None,
) -> None:
    """Run a load profile against each target in turn and write results + report."""
    from bench import engine

    engine.prepare_runtime()  # import locust (gevent) before any datastore driver
    from bench import lifecycle, orchestrator
    from bench.paths import state_dir
    from bench.placement import resolve as resolve_placement
    from bench.registry import expand
    from bench.sizing import parse_workers, size
    from workloads import load_profile

    targets = expand(target, allow_reference=True)
    fixed_workers = parse_workers(workers)
    if in_flight < 1:
        raise UsageError(f"--in-flight must be >= 1, got {in_flight}")
    placement = resolve_placement(cpuset, generator_cpuset)
    prof = load_profile(profile, scale=scale, duration=duration, rate=rate)
    placement.apply_to_generator()  # the datastores get theirs explicitly (launcher cpuset)
    sizing: dict[str, Any] = {}
    workers_by_target: dict[str, int] = {}
    for t in targets:
        plan = size(t, prof.peak_rate, len(placement.generator))
        sizing[t] = plan.to_json()
        workers_by_target[t] = plan.workers if fixed_workers is None else fixed_workers
        sizing[t]["workers"] = workers_by_target[t]
        sizing[t]["mode"] = "auto" if fixed_workers is None else "fixed"
    store_options: dict[str, dict[str, Any]] = {}
    if consistency:
        store_options["cassandra"] = {"consistency": consistency.upper()}
    opts = orchestrator.RunOptions(
        targets=targets,
        profile=prof,
        seed=seed,
        workers=max(workers_by_target.values(), default=0),
        workers_by_target=workers_by_target,
        sizing=sizing,
        in_flight_cap=in_flight,
        nodes=nodes,
        durability=durability,
        cpuset=placement.datastore_cpuset,
        generator_cpuset=placement.generator_cpuset,
        placement=placement.to_json(),
        cpus=cpus,
        memory=memory,
        store_options=store_options,
        master_port=master_port,
        remote_workers=remote_workers,
    )
    launch, reason = lifecycle.select_launcher(
        launcher, endpoints, lifecycle.parse_images(images), targets)
    _progress(placement.describe())
    for t, plan_json in sizing.items():
        if plan_json["warning"]:
            console.print(f"[yellow]warning: {plan_json['warning']}[/yellow]", highlight=False)
        else:
            _progress(f"generator for {t}: {max(1, plan_json['workers'])} process(es), "
                      f"~{plan_json['needed_cores']:.2f} cores needed at the peak "
                      f"({plan_json['mode']})")
    _progress(
        f"launcher: {launch.name} ({reason}); profile {prof.name}: "
        f"{prof.duration_s:.0f} s per target, peak {prof.peak_rate:.0f} ops/s"
    )
    run_dir: Path | None = None
    try:
        with LiveView(console) as view:
            run_dir, results = orchestrator.run_all(
                opts,
                launch,
                reason,
                out_dir,
                progress=view.progress,
                on_interval=view.interval,
                state_dir=state_dir(),
            )
    except KeyboardInterrupt:
        latest = _latest_run(out_dir)
        if latest is not None and not no_report:
            _render(latest)
        raise
    if not no_report:
        _render(run_dir)
    out.print(_summary_table(results.data))
    out.print(f"results: {run_dir}")
    failed = orchestrator.failed_targets(results)
    if failed:
        console.print(f"error: targets failed: {', '.join(failed)} (see {run_dir / 'run.log'})")
        raise SystemExit(EXIT_INFRA)


def _latest_run(parent: Path) -> Path | None:
    runs = sorted(p for p in parent.glob("*-*") if (p / "results.json").exists())
    return runs[-1] if runs else None


def _render(run_dir: Path) -> None:
    try:
        from reports import render_report

        path = render_report(run_dir)
        _progress(f"report: {path}")
    except Exception as exc:
        console.print(f"warning: report not rendered ({exc}); run `bench report {run_dir}`")


def _summary_table(data: dict[str, Any]) -> Table:
    from bench.results import worst_op

    table = Table(
        title=f"cartbench run {data['run']['id']} — profile {data['run']['profile']['name']}"
    )
    for col in (
        "target",
        "status",
        "throughput ops/s",
        "p99 ms",
        "p99.9 ms",
        "errors",
        "dropped",
        "abandoned",
        "lost writes",
        "oversold",
        "SLO",
        "generator",
    ):
        table.add_column(col)
    for name, t in data.get("targets", {}).items():
        totals = t.get("totals", {})
        worst99 = worst_op(t.get("operations") or {}, "p99")[1] or 0.0
        worst999 = worst_op(t.get("operations") or {}, "p99_9")[1] or 0.0
        audit = t.get("audit", {})
        slo = t.get("slo", {})
        table.add_row(
            name,
            t.get("status", "?") + (f": {t['error']}" if t.get("error") else ""),
            f"{totals.get('throughput_ops_s', 0):.0f}",
            f"{worst99:.1f}",
            f"{worst999:.1f}",
            str(totals.get("errors", "-")),
            str(totals.get("dropped", "-")),
            str(totals.get("abandoned", "-")),
            str(audit.get("acknowledged_writes_lost", "-")),
            str(audit.get("oversold_units", "-")),
            _slo_cell(slo, bool(t.get("generator_saturated"))),
            "[bold red]SATURATED[/bold red]" if t.get("generator_saturated") else "ok",
        )
    return table


def _slo_cell(slo: dict[str, Any], saturated: bool) -> str:
    """met / missed / inconclusive: a saturated generator's numbers are never a verdict."""
    if saturated:
        return "[yellow]inconclusive[/yellow]"
    if not slo:
        return "-"
    verdict = slo.get("verdict") or ("met" if slo.get("met") else "missed")
    limit = slo.get("p99_9_ms")
    return f"{verdict} (p99.9≤{limit:g}ms)" if isinstance(limit, int | float) else str(verdict)


@click.command()
@click.option(
    "--master", "master_host", required=True, help="Host of the `bench run --workers` master."
)
@click.option("--master-port", type=int, default=5557, show_default=True)
def worker(master_host: str, master_port: int) -> None:
    """Join a distributed run as a Locust worker."""
    from bench import engine

    engine.prepare_runtime()
    engine.run_worker(master_host, master_port)


@click.command(name="list")
def list_cmd() -> None:
    """Show targets and load profiles."""
    from bench import registry
    from workloads import list_profiles

    table = Table(title="targets")
    table.add_column("target")
    table.add_column("architecture")
    for name in registry.BENCHMARK_TARGETS:
        table.add_row(name, registry.get(name).architecture)
    out.print(table)
    table = Table(title="profiles")
    for col in ("profile", "duration s", "peak ops/s", "description"):
        table.add_column(col)
    for p in list_profiles():
        table.add_row(
            p["name"], f"{p['duration_s']:.0f}", f"{p['peak_rate']:.0f}", p["description"]
        )
    out.print(table)
