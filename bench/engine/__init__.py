"""The open-loop load engine (Locust + HdrHistogram).

Importing ``bench.engine`` is cheap: it imports neither locust nor gevent.  The orchestrator
(``bench run``) calls ``prepare_runtime()`` first — before any database driver is imported —
then, per target::

    from bench import engine
    import workloads

    engine.prepare_runtime()                     # import locust: gevent monkey-patching
    profile = workloads.load_profile("holiday-rush", scale=1.0, duration=None, rate=None)
    catalog = workloads.build_catalog(profile, seed)   # or any targets.base.Catalog
    store.prepare(catalog)
    result = engine.run_load(
        store, "postgres", profile, run_dir,
        seed=42,
        workers=0,                 # N > 0: Locust master + N local worker processes
        in_flight_cap=256,         # concurrent operations (split evenly across workers)
        backlog_cap=10_000,        # arrivals waiting for a slot; beyond: counted "dropped"
        catalog=catalog,           # SKUs drawn from catalog.skus (index 0 = hottest)
        on_interval=callback,      # IntervalStats once per second (live progress)
        stop_event=event,          # anything with .is_set(): stop offering, drain <= 5 s
        results_doc=doc,           # the results.json dict: doc["targets"][target] is updated
                                   # in place and run_dir/results.json rewritten every second
        store_spec=engine.StoreSpec("postgres", endpoints, options),  # required if workers > 0
        drain_timeout_s=30.0,      # after the profile: wait this long for in-flight ops
        master_port=None,          # workers: fixed port for external `bench worker`s
        spawn_workers=True,        # False: wait for N external `bench worker` processes
    )                              # -> TargetLoadResult
    result.to_json()               # == doc["targets"][target] as written (minus your keys)
    audit = result.ledger.audit(store.snapshot(), catalog)   # -> targets.<t>.audit dict

``run_load`` raises ``UsageError`` for bad arguments, ``InfraError`` when worker processes do
not connect, and re-raises ``Interrupted``/``KeyboardInterrupt`` (SIGTERM/SIGINT are routed
to the main greenlet while it runs; the target is written with ``status: "interrupted"``).
``result.status`` is ``ok``, ``interrupted`` (``stop_event`` set) or ``failed`` (a worker
did not finish).  Files written under ``run_dir``: ``hdr/<target>/<op>.{intended,service}
.hlog``, rows appended to ``timeseries.csv``, ``results.json``, ``workers/*.log``
(docs/RESULTS.md).  ``profile.to_json()`` is the ``run.profile`` block (add ``seed``).

``run_worker(master_host, master_port)`` is the body of ``bench worker --master HOST
[--port P]``: a Locust ``WorkerRunner`` that runs whatever the master sends (its share of
the profile, the store spec, its carts and seed) and returns when the master quits.

Modules: ``scheduler`` (open-loop arrivals, in-flight cap, backlog, per-cart serialisation),
``wrapper`` (the one timing point), ``recorder`` + ``hdrstats`` (HdrHistograms per op per
interval), ``ledger`` (acknowledged writes + audit), ``saturation`` (generator-saturation
detector), ``pipeline`` (interval → files, ``TargetLoadResult``), ``results`` (file
writers), ``signals`` (interrupts under gevent), ``locust_local`` / ``distributed`` (Locust
runners).
"""

from __future__ import annotations

from typing import Any

from bench.engine.ledger import Ledger
from bench.engine.load import StoreSpec, run_load
from bench.engine.pipeline import IntervalStats, TargetLoadResult

__all__ = [
    "IntervalStats",
    "Ledger",
    "StoreSpec",
    "TargetLoadResult",
    "prepare_runtime",
    "run_load",
    "run_worker",
]


def prepare_runtime() -> None:
    """Import locust now (gevent monkey-patching); call before importing any DB driver."""
    import locust  # noqa: F401


def run_worker(master_host: str, master_port: int = 5557, **kwargs: Any) -> None:
    """``bench worker --master HOST [--port P]``: serve one master until it quits."""
    prepare_runtime()
    from bench.engine.distributed import run_worker as _run_worker

    _run_worker(master_host, master_port, **kwargs)
