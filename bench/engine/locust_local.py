"""Locust glue for one generator process: a ``LocalRunner`` running one scheduling user.

Imports locust (monkey-patching) — import this module only from
``run_load`` or after ``prepare_runtime()``.

Locust is the engine: ``Environment(events=locust.events)`` (without the global events object
fired requests are not counted), a ``LocalRunner``, and a ``User`` whose single task runs the
open-loop scheduler.  Locust's own request statistics are fed by the recorder's sink
(``locust_stats.LocustStatsSink``): in bulk once per op type per interval, failures as they
happen (``response_time`` = *intended* latency in ms, so Locust's own stats are corrected for
coordinated omission too) — firing ``events.request`` per operation cost ~5 µs each.

In library mode ``runner.greenlet.join()`` may never return, so the main greenlet polls the
scheduler's ``finished`` event, closing one interval per second meanwhile.
"""

from __future__ import annotations

import gevent
import locust  # monkey-patches the process (gevent) on first import
from locust import User, constant, task
from locust.env import Environment
from locust.event import DeprecatedEventHook, EventHook
from locust.exception import StopUser

from bench.engine.locust_stats import LocustStatsSink
from bench.engine.pipeline import TargetPipeline, next_after
from bench.engine.recorder import Interval, Recorder
from bench.engine.saturation import CpuProbe
from bench.engine.scheduler import OpenLoopScheduler
from bench.engine.signals import AnyFlag, interrupts_to_main

FLUSH_S = 1.0
POLL_S = 0.1


def snapshot_listeners() -> dict[str, list[object]]:
    """Locust runners register listeners on the global ``locust.events`` and never remove
    them; we restore the lists after each run so runs in one process do not accumulate."""
    out = {}
    for name, hook in vars(locust.events).items():
        if isinstance(hook, EventHook | DeprecatedEventHook):
            out[name] = list(hook._handlers)
    return out


def restore_listeners(saved: dict[str, list[object]]) -> None:
    for name, handlers in saved.items():
        getattr(locust.events, name)._handlers[:] = handlers


def user_class(scheduler: OpenLoopScheduler) -> type[User]:
    state = {"ran": False}

    class CartbenchUser(User):
        wait_time = constant(0)

        @task
        def drive(self) -> None:
            if not state["ran"]:
                state["ran"] = True
                scheduler.run()
            raise StopUser()

    return CartbenchUser


def close_local_interval(recorder: Recorder, scheduler: OpenLoopScheduler, cpu: CpuProbe) -> Interval:
    iv = recorder.rotate()
    iv.in_flight = scheduler.in_flight + len(scheduler.backlog)
    iv.cpu_pct = iv.max_process_cpu_pct = cpu.sample()
    return iv


def run_local(
    target: str,
    scheduler: OpenLoopScheduler,
    recorder: Recorder,
    pipeline: TargetPipeline,
    *,
    deadline_s: float,
) -> dict[str, int]:
    """Run the scheduler under a LocalRunner; returns Locust's own request/failure counts."""
    saved = snapshot_listeners()
    env = Environment(user_classes=[user_class(scheduler)], events=locust.events)
    runner = env.create_local_runner()
    recorder.sink = LocustStatsSink(env.stats, target)
    cpu = CpuProbe()
    try:
        with interrupts_to_main() as box:
            scheduler.stop = AnyFlag(scheduler.stop, box)
            runner.start(1, spawn_rate=1)
            next_flush = pipeline.elapsed() + FLUSH_S
            while not scheduler.finished.is_set():
                box.raise_if_set()
                if pipeline.elapsed() > deadline_s or scheduler.interrupted is not None:
                    break
                scheduler.finished.wait(min(POLL_S, max(0.0, next_flush - pipeline.elapsed())))
                if pipeline.elapsed() >= next_flush:
                    pipeline.close_interval(close_local_interval(recorder, scheduler, cpu))
                    next_flush = next_after(next_flush, pipeline.elapsed())
            box.raise_if_set()
            if scheduler.interrupted is not None:
                raise scheduler.interrupted
        pipeline.close_interval(close_local_interval(recorder, scheduler, cpu))
        total = env.stats.total
        return {"requests": int(total.num_requests), "failures": int(total.num_failures)}
    finally:
        runner.quit()
        gevent.sleep(0)
        restore_listeners(saved)
