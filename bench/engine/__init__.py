"""The open-loop load engine (Locust + HdrHistogram).  Owned by the load-engine engineer.

Importing ``bench.engine`` is cheap and does **not** import locust/gevent; the orchestrator
calls ``prepare_runtime()`` first (before any database driver is imported), then::

    from bench import engine
    import workloads

    engine.prepare_runtime()                      # import locust: gevent monkey-patching
    profile = workloads.load_profile("holiday-rush", scale=1.0, duration=None, rate=None)
    catalog = workloads.build_catalog(profile, seed)   # or any targets.base.Catalog
    store.prepare(catalog)
    result = engine.run_load(
        store, "postgres", profile, run_dir,
        seed=42, workers=0, in_flight_cap=256, backlog_cap=10_000,
        catalog=catalog,                 # SKUs are drawn from catalog.skus (index 0 hottest)
        on_interval=callback,            # IntervalStats once per second (live progress)
        stop_event=event,                # anything with .is_set(): stop offering, drain 5 s
        results_doc=doc,                 # the results.json dict; targets.<t> is updated
                                         # in place and the file rewritten every second
        store_spec=engine.StoreSpec("postgres", endpoints, options),  # needed for workers>0
    )                                    # -> TargetLoadResult
    doc["targets"]["postgres"].update(result.to_json())   # already done by run_load
    audit = result.ledger.audit(store.snapshot(), catalog)  # -> dict for targets.<t>.audit

``run_worker(master_host, master_port)`` is the body of ``bench worker --master HOST``: it
connects a Locust ``WorkerRunner`` to a master started by ``run_load(..., workers=N,
master_port=P)`` and runs whatever the master sends (profile share, store spec, seed).

Modules: ``scheduler`` (open-loop arrivals, in-flight cap, backlog, per-cart serialisation),
``wrapper`` (the one timing point), ``recorder`` (HdrHistograms per op per interval),
``ledger`` (acknowledged writes + audit), ``saturation`` (generator-saturation detector),
``pipeline`` (interval → files, ``TargetLoadResult``), ``results`` (file writers),
``locust_local`` / ``distributed`` (Locust runners).
"""

from __future__ import annotations

from typing import Any

from bench.engine.ledger import Ledger
from bench.engine.pipeline import IntervalStats, TargetLoadResult
from bench.engine.run import StoreSpec, run_load

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
