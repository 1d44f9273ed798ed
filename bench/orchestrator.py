"""``bench run``: for each target in turn, launcher up → prepare → load → audit → down.

The orchestrator owns the *run*: its directory, its ``results.json`` (run context + one block
per target) and the order of things. It delegates everything else: launchers start
datastores, stores talk to them, the engine offers load and measures, the ledger audits,
``reports`` renders. A target that fails is recorded as failed and the next one still runs.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import lifecycle, registry
from bench.errors import CartbenchError, InfraError
from bench.launchers.base import Launcher, ProgressFn, Topology
from bench.provenance import run_context
from bench.results import (
    DEFAULT_SLO_P99_9_MS,
    SCHEMA_VERSION,
    RunResults,
    new_run_dir,
    not_ok,
    slo_block,
    start_timeseries,
    utc_iso,
)

log = logging.getLogger("cartbench")


def public_topology(topo: Topology) -> dict[str, Any]:
    """The topology as recorded in results (no passwords)."""
    endpoints = {k: v for k, v in topo.endpoints.items() if k not in ("password", "dsn")}
    return {
        "launcher": topo.launcher,
        "launcher_reason": topo.extra.get("launcher_reason"),
        "version": topo.version,
        "durability": topo.durability,
        "settings": topo.settings,
        "resources": topo.resources,
        "time_to_ready_s": topo.time_to_ready_s,
        "endpoints": endpoints,
        "nodes": [
            {"name": n.name, "host": n.host, "port": n.port, "role": n.role} for n in topo.nodes
        ],
    }


@dataclass
class RunOptions:
    targets: list[str]
    profile: Any  # workloads.profile.Profile
    seed: int = 42
    workers: int = 0
    #: per target (``--workers auto``); a target not listed uses ``workers``
    workers_by_target: dict[str, int] = field(default_factory=dict)
    #: ``bench.sizing.Sizing.to_json()`` per target: needed vs available generator cores
    sizing: dict[str, Any] = field(default_factory=dict)
    in_flight_cap: int = 256
    nodes: int | None = None
    durability: str = "default"
    cpuset: str | None = None
    generator_cpuset: str | None = None
    #: ``bench.placement.Placement.to_json()``: which CPUs the generator and the datastores had
    placement: dict[str, Any] | None = None
    cpus: float | None = None
    memory: str | None = None
    store_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    slo_p99_9_ms: float = DEFAULT_SLO_P99_9_MS
    master_port: int = 5557
    remote_workers: bool = False
    # replaces load + audit + slo for each target (``bench findmax``); None: ``bench run``
    target_body: Callable[[TargetRun], None] | None = None


@dataclass
class TargetRun:
    """What a ``target_body`` gets: a prepared store inside the target's up/down. It must
    fill ``block`` (``status`` at least); failures and teardown stay the orchestrator's."""

    target: str
    store: Any  # targets.base.CartStore
    catalog: Any  # targets.base.Catalog
    block: dict[str, Any]
    results: RunResults
    run_dir: Path
    store_spec: Any  # bench.engine.StoreSpec
    on_interval: Callable[[Any], None]
    progress: ProgressFn


def setup_logging(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


def run_all(
    opts: RunOptions,
    launcher: Launcher,
    launcher_reason: str,
    out_parent: Path,
    *,
    progress: ProgressFn,
    on_interval: Callable[[str, Any], None] | None = None,
    state_dir: Path,
) -> tuple[Path, RunResults]:
    """Run every target; returns the run dir and results. Raises KeyboardInterrupt after
    recording partial results if interrupted (the caller renders the report and exits 130)."""
    run_id, run_dir = new_run_dir(out_parent)
    handler = setup_logging(run_dir)
    results = RunResults(run_dir)
    results.data = {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "id": run_id,
            "started_at": utc_iso(),
            "ended_at": None,
            "profile": dict(opts.profile.to_json(), seed=opts.seed),
            "launcher": launcher.name,
            "launcher_reason": launcher_reason,
            "seed": opts.seed,
            "generator": {
                "workers": opts.workers,
                "cpuset": opts.generator_cpuset,
                "placement": opts.placement,
                "sizing": opts.sizing,
                "in_flight_cap": opts.in_flight_cap,
            },
            "targets_requested": opts.targets,
            **run_context(),
        },
        "targets": {},
    }
    results.flush()
    start_timeseries(run_dir)
    progress(f"run {run_id}: results in {run_dir}")
    try:
        for target in opts.targets:
            results.target(target)
        for target in opts.targets:
            _run_target(target, opts, launcher, results, run_dir, progress, on_interval, state_dir)
    except KeyboardInterrupt:
        for block in results.data["targets"].values():
            if block["status"] in ("pending", "running"):
                block["status"] = "interrupted"
                block["error"] = "interrupted by the user"
        raise
    finally:
        results.data["run"]["ended_at"] = utc_iso()
        results.flush()
        logging.getLogger().removeHandler(handler)
        handler.close()
    return run_dir, results


def _run_target(
    target: str,
    opts: RunOptions,
    launcher: Launcher,
    results: RunResults,
    run_dir: Path,
    progress: ProgressFn,
    on_interval: Callable[[str, Any], None] | None,
    state_dir: Path,
) -> None:
    from bench import engine
    from targets import open_store
    from workloads import build_catalog

    entry = registry.get(target)
    block = results.target(target)
    block["status"] = "running"
    block["started_at"] = utc_iso()
    results.flush()
    run_id = results.data["run"]["id"]
    spec = lifecycle.spec_for(
        target, run_id, state_dir / "runs" / run_id / target,
        lifecycle.TopologyOptions(nodes=opts.nodes, durability=opts.durability,
                                  cpuset=opts.cpuset, cpus=opts.cpus, memory=opts.memory,
                                  in_flight_cap=opts.in_flight_cap),
        all_nodes=False)
    topo: Topology | None = None
    store = None
    try:
        progress(f"{target}: starting ({launcher.name})")
        topo = launcher.up(spec, progress)
        block["topology"] = public_topology(topo)
        results.flush()
        # the durability preset becomes store settings (strict on Redis Cluster = ``WAIT 1``)
        store_options = {
            **entry.store_options_for(opts.durability),
            **opts.store_options.get(target, {}),
        }
        store = open_store(target, topo.endpoints, store_options)
        catalog = build_catalog(opts.profile, opts.seed)
        progress(f"{target}: seeding {len(catalog.products)} products")
        t_prepare = time.perf_counter()
        prep = store.prepare(catalog)
        prep_seconds = time.perf_counter() - t_prepare
        block["prepare"] = {"products": prep.products, "seconds": round(prep_seconds, 3)}
        block["store"] = store.settings()
        progress(f"{target}: seeded in {prep_seconds:.1f} s; offering load ({opts.profile.name})")
        results.flush()

        def interval_cb(stats: Any) -> None:
            if on_interval is not None:
                on_interval(target, stats)

        # Long-lived objects (drivers, catalog, the previous target's leftovers) move to the
        # permanent generation so the collector's full passes stay short during the load:
        # a multi-hundred-millisecond gen-2 pause is a generator stall, not the datastore's.
        workers = opts.workers_by_target.get(target, opts.workers)
        block["generator_sizing"] = opts.sizing.get(target)
        gc.collect()
        gc.freeze()
        store_spec = engine.StoreSpec(
            target, topo.endpoints, store_options, prepare_in_worker=entry.process_local
        )
        if opts.target_body is not None:
            # another command's load on the same up → prepare → … → down (bench findmax)
            opts.target_body(
                TargetRun(target, store, catalog, block, results, run_dir, store_spec,
                          interval_cb, progress)
            )
            gc.unfreeze()
            return
        load = engine.run_load(
            store,
            target,
            opts.profile,
            run_dir,
            seed=opts.seed,
            workers=workers,
            in_flight_cap=opts.in_flight_cap,
            catalog=catalog,
            on_interval=interval_cb,
            results_doc=results.data,
            store_spec=store_spec,
            master_port=opts.master_port if workers else None,
            spawn_workers=not opts.remote_workers,
        )
        gc.unfreeze()
        block.update(load.to_json())
        progress(f"{target}: load done; auditing acknowledged writes")
        if entry.process_local and workers:
            block["audit"] = {"skipped": "each worker process has its own in-memory store"}
        else:
            block["audit"] = load.ledger.audit(store.snapshot(), catalog)
        block["slo"] = slo_block(block, opts.slo_p99_9_ms)
        block["status"] = load.status  # "ok", or "interrupted"/"failed" as the engine saw it
        if load.status == "interrupted":
            raise KeyboardInterrupt
    except CartbenchError as exc:
        block["status"] = "failed"
        block["error"] = exc.message
        progress(f"[red]{target}: failed: {exc.message}[/red]")
        log.error("%s failed: %s", target, exc.message)
    except Exception as exc:
        block["status"] = "failed"
        block["error"] = f"{type(exc).__name__}: {exc}"
        progress(f"[red]{target}: failed: {type(exc).__name__}: {exc}[/red]")
        log.exception("%s failed", target)
    finally:
        block["ended_at"] = utc_iso()
        results.flush()
        if store is not None:
            try:
                store.close()
            except Exception:
                log.exception("closing %s store", target)
        if topo is not None:
            progress(f"{target}: stopping")
            t0 = time.monotonic()
            launcher.down(topo)
            log.info("%s stopped in %.1f s", target, time.monotonic() - t0)


def failed_targets(results: RunResults) -> list[str]:
    return not_ok(results.data)


__all__ = ["InfraError", "RunOptions", "RunResults", "failed_targets", "run_all"]
