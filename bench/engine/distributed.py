"""``--workers N``: Locust's own master/worker distribution, with exact histogram merging.

Imports locust (monkey-patching): import only from ``run_load`` /
``run_worker``.

Master (``run_master``, in the ``bench run`` process): a ``MasterRunner`` bound to
127.0.0.1 (or ``host``) on a free port; N local worker processes are started
(``python -c "from bench.engine import run_worker; ..."``), each a ``WorkerRunner``.  Once
all are ready, the master sends every worker its job with a custom message
``cartbench_job``: the whole profile, the store spec, the SKUs and carts, the seed, its index
``i`` of N and a shared start time.  Every worker draws the one intended sequence a single
process would offer and offers its share: cart ``j``'s operations if ``j % N == i`` (so
per-cart serialisation still holds), browses by arrival number — the merged offered
sequence is exactly the single-process one, and uniform arrivals stay evenly spaced.  ``runner.start(N)`` gives each worker one scheduling user.

Every second each worker sends ``cartbench_interval`` (its closed ``Interval``, HDR
histograms encoded) and at the end ``cartbench_done`` (its ledger and per-op counts); the
master merges intervals into its own recorder (``Interval.absorb``: exact HDR addition) and
feeds the same ``TargetPipeline`` as a local run.  ``cartbench_stop`` asks workers to stop
offering early.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
import locust
from gevent.event import Event
from locust import User, constant
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from bench.engine.ledger import Ledger
from bench.engine.locust_local import restore_listeners, snapshot_listeners
from bench.engine.locust_stats import LocustStatsSink
from bench.engine.pipeline import OnInterval, TargetLoadResult, TargetPipeline, next_after
from bench.engine.recorder import Interval, Recorder
from bench.engine.saturation import CpuProbe
from bench.engine.scheduler import OpenLoopScheduler, StopFlag
from bench.engine.signals import AnyFlag, interrupts_to_main
from bench.errors import InfraError, Interrupted
from targets.base import Catalog
from workloads import Profile, cart_name, profile_from_dict, profile_to_dict

FLUSH_S = 1.0
READY_TIMEOUT_S = 60.0
START_DELAY_S = 1.0  # the job reaches every worker (and a worker opens its store) before t = 0
JOB_TIMEOUT_S = 60.0
USER_CLASS_NAME = "CartbenchUser"


def _named_user(body: Any) -> type[User]:
    cls = type(USER_CLASS_NAME, (User,), {"wait_time": constant(0), "tasks": [body]})
    return cls


# -- master ----------------------------------------------------------------------------


def _spawn_workers(
    n: int, host: str, port: int, run_dir: Path, target: str
) -> list[subprocess.Popen[bytes]]:
    code = f"from bench.engine import run_worker; run_worker({host!r}, {port})"
    procs = []
    log_dir = run_dir / "workers"
    log_dir.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        with open(log_dir / f"{target}-{i}.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", code],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            )
    return procs


def _stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 5.0
    for p in procs:
        while p.poll() is None and time.monotonic() < deadline:
            gevent.sleep(0.05)
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, 9)
            p.wait(timeout=5)


def run_master(
    store_spec: Any,
    target: str,
    profile: Profile,
    run_dir: Path,
    *,
    catalog: Catalog,
    workers: int,
    seed: int,
    in_flight_cap: int,
    backlog_cap: int,
    on_interval: OnInterval | None,
    stop_event: StopFlag | None,
    results_doc: dict[str, Any] | None,
    generator: dict[str, Any],
    drain_timeout_s: float,
    host: str = "127.0.0.1",
    port: int | None = None,
    spawn_workers: bool = True,
) -> TargetLoadResult:
    from bench.osutil import free_port

    port = port or free_port(host)
    saved = snapshot_listeners()
    env = Environment(user_classes=[_named_user(lambda user: None)], events=locust.events)
    runner: MasterRunner = env.create_master_runner(master_bind_host=host, master_bind_port=port)
    recorder = Recorder()
    latest: dict[int, tuple[int, float]] = {}
    done: dict[int, dict[str, Any]] = {}

    def on_interval_msg(environment: Environment, msg: Any) -> None:
        received = Interval.from_message(msg.data["interval"])
        recorder.absorb(received)
        received.release()
        latest[int(msg.data["worker"])] = (
            int(msg.data["interval"]["in_flight"]),
            float(msg.data["interval"]["cpu_pct"]),
        )

    def on_done(environment: Environment, msg: Any) -> None:
        done[int(msg.data["worker"])] = msg.data

    runner.register_message("cartbench_interval", on_interval_msg)
    runner.register_message("cartbench_done", on_done)
    procs = _spawn_workers(workers, host, port, run_dir, target) if spawn_workers else []
    pipeline: TargetPipeline | None = None
    box_cm = interrupts_to_main()
    box = box_cm.__enter__()
    stop_event = AnyFlag(stop_event, box)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while len(runner.clients.ready) < workers:
            box.raise_if_set()
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                where = (
                    f"logs: {run_dir / 'workers'}"
                    if spawn_workers
                    else f"start them with: bench worker --master {host} --port {port}"
                )
                raise InfraError(
                    f"{target}: only {len(runner.clients.ready)} of {workers} load-generator "
                    f"workers connected within {READY_TIMEOUT_S:.0f} s ({where})"
                )
            gevent.sleep(0.1)
        skus = catalog.skus
        carts = [cart_name(j) for j in range(profile.carts)]
        client_ids = sorted(c.id for c in runner.clients.ready)
        start_at = time.time() + START_DELAY_S  # the shared t = 0 of every worker
        for i, cid in enumerate(client_ids):
            job = {
                "index": i,
                "workers": workers,
                "start_at": start_at,
                "target": target,
                "profile": profile_to_dict(profile),
                "store": store_spec.to_message(),
                "skus": skus,
                "carts": carts,
                "seed": seed,
                "catalog_seed": seed,
                "in_flight_cap": max(1, in_flight_cap // workers),
                "backlog_cap": backlog_cap // workers,
                "drain_timeout_s": drain_timeout_s,
            }
            runner.send_message("cartbench_job", job, client_id=cid)
        pipeline = TargetPipeline(
            target,
            profile,
            run_dir,
            results_doc=results_doc,
            on_interval=on_interval,
            generator={**generator, "worker_ids": client_ids},
        )
        cpu = CpuProbe()
        runner.start(workers, spawn_rate=workers)
        end_by = profile.duration_s + drain_timeout_s + 30.0
        next_flush = pipeline.elapsed() + FLUSH_S
        stop_sent = False
        while len(done) < workers and pipeline.elapsed() < end_by:
            box.raise_if_set()
            if stop_event.is_set() and not stop_sent:
                runner.send_message("cartbench_stop", {})
                stop_sent = True
            if any(p.poll() is not None for p in procs):
                break
            gevent.sleep(min(0.1, max(0.0, next_flush - pipeline.elapsed())))
            if pipeline.elapsed() >= next_flush:
                pipeline.close_interval(_master_interval(recorder, latest, cpu))
                next_flush = next_after(next_flush, pipeline.elapsed())
        gevent.sleep(0.2)  # let the last interval messages land
        box.raise_if_set()
        pipeline.close_interval(_master_interval(recorder, latest, cpu))
        ledger = Ledger()
        worker_counts: list[dict[str, int]] = []
        per_s = [0] * (int(profile.duration_s) + 1)
        for i in sorted(done):
            ledger.merge(Ledger.from_message(done[i]["ledger"]))
            worker_counts.append(done[i]["op_counts"])
            for k, n in enumerate(done[i].get("offered_per_s", ())):
                per_s[k] += int(n)
        missing = sorted(set(range(workers)) - set(done))
        total = env.stats.total
        pipeline.extra_totals = {
            "locust": {"requests": int(total.num_requests), "failures": int(total.num_failures)},
            "workers": worker_counts,
            "offered_per_s": per_s,
        }
        status, error = "ok", None
        if missing:
            status, error = "failed", f"load-generator workers {missing} did not finish"
        elif stop_event.is_set():
            status, error = "interrupted", "stopped before the profile ended"
        return pipeline.finish(status=status, error=error, ledger=ledger)
    except (Interrupted, KeyboardInterrupt):
        if pipeline is not None:
            pipeline.write_results(status="interrupted", error="interrupted", ended_at=None)
            pipeline.abort()
        raise
    finally:
        with contextlib.suppress(Exception):
            runner.quit()
        _stop_workers(procs)
        restore_listeners(saved)
        box_cm.__exit__(None, None, None)


def _master_interval(
    recorder: Recorder, latest: dict[int, tuple[int, float]], cpu: CpuProbe
) -> Interval:
    iv = recorder.rotate()
    own = cpu.sample()
    iv.in_flight = sum(f for f, _ in latest.values())
    iv.cpu_pct = own + sum(c for _, c in latest.values())
    iv.max_process_cpu_pct = max([own, *(c for _, c in latest.values())])
    iv.processes = 1 + len(latest)
    return iv


# -- worker ----------------------------------------------------------------------------


class _Flag:
    def __init__(self) -> None:
        self.value = False

    def is_set(self) -> bool:
        return self.value


def run_worker(master_host: str, master_port: int, *, max_runtime_s: float = 24 * 3600) -> None:
    """Connect to a master and run the jobs it sends until it quits (or ``max_runtime_s``)."""
    job_ready = Event()
    job: dict[str, Any] = {}
    stop = _Flag()

    def drive(user: User) -> None:
        if job.get("ran"):
            raise StopUser()
        if not job_ready.wait(JOB_TIMEOUT_S):
            raise StopUser()
        job["ran"] = True
        _run_job(job, user.environment, runner, stop)
        raise StopUser()

    env = Environment(user_classes=[_named_user(drive)], events=locust.events)
    runner: WorkerRunner = env.create_worker_runner(master_host, master_port)

    def on_job(environment: Environment, msg: Any) -> None:
        job.update(msg.data)
        job_ready.set()

    def on_stop(environment: Environment, msg: Any) -> None:
        stop.value = True

    runner.register_message("cartbench_job", on_job)
    runner.register_message("cartbench_stop", on_stop)
    deadline = time.monotonic() + max_runtime_s
    # runner.greenlet is a gevent Group: empty once the master's "quit" (or a lost master:
    # Locust's heartbeat timeout) has killed the worker's greenlets
    while len(runner.greenlet) > 0 and time.monotonic() < deadline:
        gevent.sleep(0.2)
    runner.quit()


def _run_job(job: dict[str, Any], env: Environment, runner: WorkerRunner, stop: _Flag) -> None:
    from bench.engine.load import StoreSpec

    index = int(job["index"])
    spec = StoreSpec.from_message(job["store"])
    store = spec.open()
    profile = profile_from_dict(job["profile"])
    recorder, ledger = Recorder(LocustStatsSink(env.stats, str(job["target"]))), Ledger()
    scheduler = OpenLoopScheduler(
        store,
        profile,
        list(job["skus"]),
        list(job["carts"]),
        recorder,
        ledger,
        seed=int(job["seed"]),
        in_flight_cap=int(job["in_flight_cap"]),
        backlog_cap=int(job["backlog_cap"]),
        drain_timeout_s=float(job["drain_timeout_s"]),
        stop=stop,
        part=(index, int(job["workers"])),
        start_at=float(job["start_at"]),
    )
    if spec.prepare_in_worker:
        from workloads import build_catalog

        store.prepare(build_catalog(profile, int(job["catalog_seed"])))
    cpu = CpuProbe()
    counts: Counter[str] = Counter()

    def send(iv: Interval) -> None:
        iv.in_flight = scheduler.in_flight + len(scheduler.backlog)
        iv.cpu_pct = iv.max_process_cpu_pct = cpu.sample()
        for name, op in iv.ops.items():
            counts[name] += op.count
        runner.send_message("cartbench_interval", {"worker": index, "interval": iv.to_message()})
        iv.release()

    def flusher() -> None:
        while not scheduler.finished.wait(FLUSH_S):
            send(recorder.rotate())

    flush_greenlet = gevent.spawn(flusher)
    try:
        scheduler.run()
    finally:
        flush_greenlet.kill()
        send(recorder.rotate())
        runner.send_message(
            "cartbench_done",
            {
                "worker": index,
                "ledger": ledger.to_message(),
                "op_counts": dict(counts),
                "abandoned": scheduler.abandoned,
                "offered_per_s": scheduler.offered_per_s,
            },
        )
        store.close()
