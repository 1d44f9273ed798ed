"""``bench findmax``: per target, the highest offered rate that holds the SLO on this machine.

The search itself is ``bench/findmax.py`` (pure); this module runs its steps inside the
orchestrator's per-target up → prepare → … → down (``RunOptions.target_body``), so bring-up
failures, Ctrl-C and teardown behave exactly as in ``bench run``.  Each step is a fresh
profile: a warm-up stage then one steady stage at the step's rate, with the base profile's
mix, carts, catalog and key distribution.  Step evidence (results.json, timeseries.csv, HDR
logs) goes to ``RUN_DIR/findmax/<target>/step-NN-<rate>/``; the repeat of the final passing
step is recorded as the target's block in ``RUN_DIR/results.json`` like a ``bench run``, so
``bench report``, ``compare`` and ``history`` read it unchanged, plus ``targets.<t>.findmax``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from bench.commands.run import console, out
from bench.errors import EXIT_INFRA, UsageError
from bench.live import LiveView


def step_profile(base: Any, rate: float, index: int, bounds: Any) -> Any:
    from workloads import Stage

    stages = []
    if bounds.warmup_s > 0:
        stages.append(Stage("warm-up", "hold", bounds.warmup_s, rate, rate, True))
    stages.append(Stage("measure", "hold", bounds.step_s, rate, rate))
    return replace(base, name=f"{base.name}@findmax", stages=tuple(stages), scale=1.0)


def search_profile(base: Any, bounds: Any) -> Any:
    """``run.profile`` of a findmax run: the base profile's mix etc. with the search range as
    its one (documentary) stage — so ``bench history`` never files a findmax run as
    comparable with a ``bench run`` of the same profile, while findmax runs with the same
    bounds and mix stay comparable with each other."""
    from workloads import Stage

    search = Stage("findmax search", "ramp", bounds.max_time_s, bounds.start_rate,
                   bounds.max_rate)  # fmt: skip
    return replace(base, name=f"findmax:{base.name}", stages=(search,), scale=1.0,
                   description=f"bench findmax with {base.name}'s mix: {bounds.to_json()}")


def make_body(search_factory: Any, criteria: Any, base: Any, opts: Any, view: LiveView) -> Any:
    from bench import engine
    from bench.findmax import judge, step_summary
    from bench.slo import evaluate

    def body(tr: Any) -> None:
        search = search_factory()
        block = tr.block
        block["findmax"] = {"bounds": search.bounds.to_json(), "criteria": criteria.to_json()}
        last: dict[str, Any] | None = None
        while (nxt := search.next_rate()) is not None:
            rate, phase = nxt
            index = len(search.steps) + 1
            prof = step_profile(base, rate, index, search.bounds)
            view.label(tr.target, f"step {index} ({phase}) @ {rate:,.0f}/s")
            tr.progress(f"{tr.target}: step {index} ({phase}): {rate:,.0f} ops/s")
            repeat = phase == "repeat"
            step_dir = tr.run_dir / "findmax" / tr.target / f"step-{index:02d}-{rate:.0f}"
            t0 = time.monotonic()
            load = engine.run_load(
                tr.store, tr.target, prof,
                tr.run_dir if repeat else step_dir,
                seed=opts.seed + index, workers=0, in_flight_cap=opts.in_flight_cap,
                catalog=tr.catalog, on_interval=tr.on_interval,
                results_doc=tr.results.data if repeat else None,
                store_spec=tr.store_spec, drain_timeout_s=5.0,
            )  # fmt: skip
            seconds = time.monotonic() - t0
            doc = load.to_json()
            last = doc
            verdict = judge(doc, criteria)
            summary = step_summary(doc)
            summary["dir"] = str((tr.run_dir if repeat else step_dir).relative_to(tr.run_dir))
            search.record(rate, phase, verdict, summary, seconds)
            tr.progress(
                f"{tr.target}: step {index} {'passed' if verdict.passed else 'failed'}"
                + ("" if verdict.passed else f": {'; '.join(verdict.reasons)}")
            )
            block["findmax"].update(search.to_json())
            tr.results.flush()
            if load.status == "interrupted":
                raise KeyboardInterrupt
        if search.repeat is None and last is not None:
            block.update(last)  # no repeat (no passing step): the last step's numbers
        block["findmax"].update(search.to_json())
        block["slo"] = evaluate(criteria.terms, block)
        block["audit"] = {"skipped": "findmax steps share one store; audit with bench run"}
        block["status"] = "ok"

    return body


@click.command()
@click.option("--target", "-t", default="all", show_default=True,
              help="postgres, cassandra, redis-cluster, all (comma list allowed), or reference.")
@click.option("--slo", "slos", multiple=True, metavar="TERM",
              help="SLO term(s), e.g. p99.9<=300ms, checkout:p99<=500ms, errors<=0.1% "
                   "(repeatable; default p99.9<=300ms).")
@click.option("--max-errors", default="1%", show_default=True,
              help="Error share above which a step fails (besides any errors SLO term).")
@click.option("--profile", "-p", default="steady", show_default=True,
              help="Profile whose mix, carts, catalog and keys each step uses (its stages are not).")
@click.option("--start-rate", type=float, default=200.0, show_default=True)
@click.option("--max-rate", type=float, default=50_000.0, show_default=True)
@click.option("--growth", type=float, default=2.0, show_default=True,
              help="Rate factor between steps until one fails.")
@click.option("--resolution", type=float, default=0.10, show_default=True,
              help="Bisect until the failing rate is within this share above the passing one.")
@click.option("--step", "step_s", type=float, default=10.0, show_default=True,
              help="Seconds of steady load per step (after the warm-up).")
@click.option("--warmup", "warmup_s", type=float, default=3.0, show_default=True,
              help="Warm-up seconds before each step (excluded from its verdict).")
@click.option("--max-steps", type=int, default=12, show_default=True,
              help="Cap on steps per target, the repeat included.")
@click.option("--max-time", "max_time_s", type=float, default=600.0, show_default=True,
              help="Cap on load seconds per target.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--in-flight", "in_flight", type=int, default=256, show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True)
@click.option("--no-report", is_flag=True)
@click.option("--launcher", default="auto", show_default=True,
              type=click.Choice(["auto", "native", "docker", "external"]))
@click.option("--endpoints", type=click.Path(path_type=Path), default=None)
@click.option("--nodes", type=int, default=None, help="Cassandra node count (default 3).")
@click.option("--durability", type=click.Choice(["default", "strict"]), default="default",
              show_default=True)
@click.option("--cpuset", default=None, help="Pin each target's processes to these CPUs.")
@click.option("--image", "images", multiple=True, metavar="KEY=NAME:TAG")
@click.option("--cpus", type=float, default=None)
@click.option("--memory", default=None)
def findmax(target: str, slos: tuple[str, ...], max_errors: str, profile: str,
            start_rate: float, max_rate: float, growth: float, resolution: float, step_s: float,
            warmup_s: float, max_steps: int, max_time_s: float, seed: int, in_flight: int,
            out_dir: Path, no_report: bool, launcher: str, endpoints: Path | None,
            nodes: int | None, durability: str, cpuset: str | None, images: tuple[str, ...],
            cpus: float | None, memory: str | None) -> None:  # fmt: skip
    """Find each target's highest sustainable rate within the SLO (bounded search)."""
    from bench import engine

    engine.prepare_runtime()  # import locust (gevent) before any datastore driver
    from bench import lifecycle, orchestrator
    from bench.commands.run import _render
    from bench.findmax import Bounds, Criteria, Search
    from bench.osutil import validate_cpuset
    from bench.paths import state_dir
    from bench.registry import expand
    from bench.slo import parse_slo, parse_slos
    from reports.findmax import headline as findmax_headline
    from workloads import OPERATIONS, load_profile

    targets = expand(target, allow_reference=True)
    if in_flight < 1:
        raise UsageError(f"--in-flight must be >= 1, got {in_flight}")
    validate_cpuset(cpuset)
    bounds = Bounds(start_rate=start_rate, max_rate=max_rate, growth=growth,
                    resolution=resolution, max_steps=max_steps, max_time_s=max_time_s,
                    step_s=step_s, warmup_s=warmup_s)  # fmt: skip
    terms = parse_slos(list(slos), OPERATIONS)
    err_term = parse_slo(f"errors<={max_errors.strip()}")
    criteria = Criteria(terms=terms, max_error_share=err_term.threshold)
    base = load_profile(profile)
    opts = orchestrator.RunOptions(
        targets=targets, profile=search_profile(base, bounds), seed=seed, workers=0, in_flight_cap=in_flight,
        nodes=nodes, durability=durability, cpuset=cpuset, cpus=cpus, memory=memory,
    )  # fmt: skip
    launch, reason = lifecycle.select_launcher(
        launcher, endpoints, lifecycle.parse_images(images), targets)
    try:
        with LiveView(console) as view:
            opts.target_body = make_body(lambda: Search(bounds), criteria, base, opts, view)
            view.progress(
                f"launcher: {launch.name} ({reason}); findmax {', '.join(t.text for t in terms)}"
                f", rates {start_rate:g}..{max_rate:g} ops/s, ≤ {max_steps} steps and "
                f"{max_time_s:g} s per target, profile {base.name}'s mix"
            )
            run_dir, results = orchestrator.run_all(
                opts, launch, reason, out_dir, progress=view.progress,
                on_interval=view.interval, state_dir=state_dir(),
            )  # fmt: skip
    except KeyboardInterrupt:
        runs = sorted(p for p in out_dir.glob("*-*") if (p / "results.json").exists())
        if runs and not no_report:
            _render(runs[-1])
        raise
    results.data["run"]["findmax"] = {"bounds": bounds.to_json(), "criteria": criteria.to_json()}
    results.flush()
    if not no_report:
        _render(run_dir)
    out.print(_table(results.data))
    out.print(findmax_headline(results.data))
    out.print(f"results: {run_dir}")
    failed = orchestrator.failed_targets(results)
    if failed:
        console.print(f"error: targets failed: {', '.join(failed)} (see {run_dir / 'run.log'})")
        raise SystemExit(EXIT_INFRA)


def _table(data: dict[str, Any]) -> Table:
    table = Table(title=f"cartbench findmax {data['run']['id']}")
    for col in ("target", "verdict", "max ops/s", "first failing ops/s", "repeat", "steps",
                "why the next step failed"):
        table.add_column(col)
    for name, t in data.get("targets", {}).items():
        fm = t.get("findmax") or {}
        steps = fm.get("steps") or []
        failing = next((s for s in reversed(steps) if not s["passed"]), None)
        rep = fm.get("repeat_held")
        table.add_row(
            name,
            t.get("status", "?") if t.get("status") != "ok" else str(fm.get("verdict", "?")),
            "-" if fm.get("max_rate_ops_s") is None else f"{fm['max_rate_ops_s']:,.0f}",
            "-" if fm.get("lowest_failing_rate_ops_s") is None
            else f"{fm['lowest_failing_rate_ops_s']:,.0f}",
            "-" if rep is None else ("held" if rep else "[bold red]did not hold[/bold red]"),
            str(len(steps)),
            "; ".join(failing["reasons"]) if failing else (t.get("error") or "-"),
        )
    return table
