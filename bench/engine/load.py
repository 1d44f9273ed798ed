"""``run_load``: drive one target with a profile and write its results.

Chooses the local (one process, ``LocalRunner``) or distributed
(``workers=N``: ``MasterRunner`` + N worker processes) path; both feed the same
``TargetPipeline``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.engine.ledger import Ledger
from bench.engine.pipeline import OnInterval, TargetLoadResult, TargetPipeline
from bench.engine.recorder import Recorder
from bench.errors import Interrupted, UsageError
from targets.base import CartStore, Catalog
from workloads import Profile, build_catalog, cart_name

if TYPE_CHECKING:
    from bench.engine.scheduler import StopFlag

DEFAULT_IN_FLIGHT_CAP = 256
DEFAULT_BACKLOG_CAP = 10_000
DEFAULT_DRAIN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class StoreSpec:
    """How a worker process opens its own store: ``targets.open_store(target, endpoints,
    options)``.
    ``prepare_in_worker``: each worker loads the profile's catalog into its own store — only
    for process-local stores (``reference``) in tests and demos; real stores are prepared
    once by the orchestrator."""

    target: str
    endpoints: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    prepare_in_worker: bool = False

    def to_message(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "endpoints": self.endpoints,
            "options": self.options,
            "prepare_in_worker": self.prepare_in_worker,
        }

    @classmethod
    def from_message(cls, m: dict[str, Any]) -> StoreSpec:
        return cls(
            m["target"],
            dict(m["endpoints"]),
            dict(m["options"]),
            bool(m.get("prepare_in_worker", False)),
        )

    def open(self) -> CartStore:
        from targets import open_store

        return open_store(self.target, self.endpoints, self.options)


def run_load(
    store: CartStore | None,
    target: str,
    profile: Profile,
    run_dir: Path,
    *,
    seed: int = 42,
    workers: int = 0,
    in_flight_cap: int = DEFAULT_IN_FLIGHT_CAP,
    backlog_cap: int = DEFAULT_BACKLOG_CAP,
    catalog: Catalog | None = None,
    on_interval: OnInterval | None = None,
    stop_event: StopFlag | None = None,
    results_doc: dict[str, Any] | None = None,
    store_spec: StoreSpec | None = None,
    drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S,
    master_host: str = "127.0.0.1",
    master_port: int | None = None,
    spawn_workers: bool = True,
) -> TargetLoadResult:
    """Offer ``profile`` to ``store`` open-loop and record everything under ``run_dir``.

    See ``bench.engine`` for the full contract.  ``store`` is used by the local path
    (``workers=0``); ``workers=N`` needs ``store_spec`` (each worker opens its own store).
    With ``spawn_workers=False`` the master starts no worker processes and waits (60 s) for
    N external ``bench worker --master HOST --port master_port`` processes instead.
    """
    if workers < 0:
        raise UsageError(f"--workers must be >= 0, got {workers}")
    if in_flight_cap < 1:
        raise UsageError(f"in-flight cap must be >= 1, got {in_flight_cap}")
    if backlog_cap < 0:
        raise UsageError(f"backlog cap must be >= 0, got {backlog_cap}")
    catalog = catalog if catalog is not None else build_catalog(profile, seed)
    generator = {
        "workers": workers,
        "in_flight_cap": in_flight_cap,
        "backlog_cap": backlog_cap,
        "seed": seed,
        "arrival": profile.arrival,
    }
    if workers > 0:
        if store_spec is None:
            raise UsageError("--workers needs a store spec (target, endpoints, options)")
        from bench.engine.distributed import run_master

        return run_master(
            store_spec,
            target,
            profile,
            run_dir,
            catalog=catalog,
            workers=workers,
            seed=seed,
            in_flight_cap=in_flight_cap,
            backlog_cap=backlog_cap,
            on_interval=on_interval,
            stop_event=stop_event,
            results_doc=results_doc,
            generator=generator,
            drain_timeout_s=drain_timeout_s,
            host=master_host,
            port=master_port,
            spawn_workers=spawn_workers,
        )
    if store is None:
        raise UsageError("run_load needs a store when workers=0")
    from bench.engine.locust_local import run_local  # imports locust: monkey-patches
    from bench.engine.scheduler import OpenLoopScheduler

    recorder, ledger = Recorder(), Ledger()
    scheduler = OpenLoopScheduler(
        store,
        profile,
        catalog.skus,
        [cart_name(i) for i in range(profile.carts)],
        recorder,
        ledger,
        seed=seed,
        in_flight_cap=in_flight_cap,
        backlog_cap=backlog_cap,
        drain_timeout_s=drain_timeout_s,
        stop=stop_event,
    )
    pipeline = TargetPipeline(
        target,
        profile,
        run_dir,
        results_doc=results_doc,
        on_interval=on_interval,
        generator=generator,
    )
    status, error = "ok", None
    try:
        locust_counts = run_local(
            target,
            scheduler,
            recorder,
            pipeline,
            deadline_s=profile.duration_s + drain_timeout_s + 30.0,
        )
    except (Interrupted, KeyboardInterrupt):
        pipeline.write_results(status="interrupted", error="interrupted", ended_at=None)
        pipeline.abort()
        raise
    pipeline.extra_totals = {"locust": locust_counts, "offered_per_s": scheduler.offered_per_s}
    if stop_event is not None and stop_event.is_set():
        status, error = "interrupted", "stopped before the profile ended"
    return pipeline.finish(status=status, error=error, ledger=ledger)
