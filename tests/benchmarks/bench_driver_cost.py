"""What does the load generator pay per cart operation, per datastore?  A script printing
figures, not a test.

    .venv/bin/python tests/benchmarks/bench_driver_cost.py [--targets postgres redis-cluster
        cassandra] [--rate 500] [--seconds 20] [--bare-ops 3000] [--topology T=topology.json]
        [--pgbench] [--pgbench-rate 1000] [--pgbench-seconds 30] [--json]

Per target (started with the native launcher, or an already running topology from
``bench up`` given with ``--topology``), the holiday-rush profile's mix, keys and catalog:

1. **requests per cart operation**: the datastore requests the store issues (SQL statements
   through psycopg's cursor, Redis commands as redis-py packs them, pipelines included, CQL
   requests through cassandra-driver's response futures), counted per operation over
   ``--bare-ops`` operations of the mix;
2. **bare driver loop**: the same operation sequence (same SKUs, same carts) called on the
   store one after another in this process — no Locust, no scheduler, no recorder, no
   ledger — and the same with 16 greenlets (concurrency inside the driver): process CPU µs
   per cart operation and per request;
3. **harness**: ``engine.run_load`` (Locust, open-loop scheduler, HdrHistograms, ledger,
   per-second files) at ``--rate`` ops/s of the mix for ``--seconds``: process CPU µs per
   completed operation and per request, schedule lag p99/max.  ``overhead`` = harness /
   bare − 1 (goal ≤ 20 %).

``--pgbench`` adds the noise-floor cross-check against pgbench on the same PostgreSQL: the
browse query, Poisson arrivals at ``--pgbench-rate`` for ``--pgbench-seconds``, latency from
the scheduled start in both (pgbench: ``-R -l``, latency + schedule lag per transaction).

CPU figures (process CPU time / operations) hold on a busy machine; wall-clock latencies
move with whatever else runs (the load average is printed).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import engine

engine.prepare_runtime()  # import locust (gevent monkey-patching) before any driver, as `bench run`

import gevent  # noqa: E402
import psutil  # noqa: E402

import workloads  # noqa: E402
from bench.launchers.base import TargetSpec, Topology  # noqa: E402
from bench.launchers.native import NativeLauncher  # noqa: E402
from targets import open_store  # noqa: E402
from targets.base import CartStore  # noqa: E402
from workloads.samplers import OperationMix, SkuChooser  # noqa: E402

PROFILE = "holiday-rush"
Plan = list[tuple[str, tuple[Any, ...]]]


# -- request counting -----------------------------------------------------------------------


class RequestCounter:
    """Counts the datastore requests the drivers send (patched at the driver's one entry
    point per request; only while ``counting()`` is active, so timed loops pay nothing)."""

    def __init__(self) -> None:
        self.n = 0
        self._undo: list[Callable[[], None]] = []

    def _wrap(self, owner: Any, name: str, weight: Callable[..., int] | None = None) -> None:
        original = getattr(owner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.n += 1 if weight is None else weight(*args)
            return original(*args, **kwargs)

        setattr(owner, name, counted)
        self._undo.append(lambda: setattr(owner, name, original))

    @contextmanager
    def counting(self, target: str) -> Iterator[RequestCounter]:
        if target == "postgres":
            import psycopg

            self._wrap(psycopg.Cursor, "execute")
        elif target == "redis-cluster":
            from redis.connection import AbstractConnection

            # every command is packed once, alone or in a pipeline's batch
            self._wrap(AbstractConnection, "send_command")
            self._wrap(AbstractConnection, "pack_commands", lambda _conn, cmds: len(cmds))
        elif target == "cassandra":
            from cassandra.cluster import Session

            self._wrap(Session, "_create_response_future")
        try:
            yield self
        finally:
            for undo in reversed(self._undo):
                undo()
            self._undo.clear()


# -- the operation sequence -------------------------------------------------------------------


def make_plan(profile: workloads.Profile, catalog_skus: list[str], n: int, seed: int) -> Plan:
    """``n`` operations of the profile's mix with its SKU distribution; remove/set pick a SKU
    the cart holds (as the scheduler does from its ledger), carts from the profile's carts."""
    rng = random.Random(seed)
    mix, skus = OperationMix(profile.mix), SkuChooser(catalog_skus, profile.sku)
    carts = [workloads.cart_name(i) for i in range(profile.carts)]
    contents: dict[str, set[str]] = {}
    plan: Plan = []
    for _ in range(n):
        op = mix.choose(rng)
        if op == "browse":
            plan.append((op, (skus.choose(rng),)))
            continue
        cart = carts[rng.randrange(len(carts))]
        held = contents.setdefault(cart, set())
        if op in ("view_cart", "checkout"):
            plan.append((op, (cart,)))
            if op == "checkout":
                held.clear()
        elif op == "add_item":
            sku = skus.choose(rng)
            held.add(sku)
            plan.append((op, (cart, sku, rng.randint(1, 3))))
        else:
            sku = sorted(held)[rng.randrange(len(held))] if held else skus.choose(rng)
            if op == "remove_item":
                held.discard(sku)
                plan.append((op, (cart, sku)))
            else:
                plan.append((op, (cart, sku, rng.randint(1, 3))))
    return plan


def cpu_s() -> float:
    return time.process_time()  # user + system of this process, finer than psutil's ticks


def count_requests(store: CartStore, target: str, plan: Plan) -> dict[str, float]:
    """Requests per operation (per operation name and over the mix)."""
    counter = RequestCounter()
    per_op: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    with counter.counting(target):
        for op, args in plan:
            before = counter.n
            getattr(store, op)(*args)
            per_op[op] += counter.n - before
            calls[op] += 1
    out = {op: per_op[op] / calls[op] for op in calls}
    out["mix"] = sum(per_op.values()) / len(plan)
    return out


def bare_loop(store: CartStore, plan: Plan, concurrency: int = 1) -> dict[str, float]:
    """CPU and wall time per operation of ``plan`` called straight on the store."""
    methods = [(getattr(store, op), args) for op, args in plan]
    c0, t0 = cpu_s(), time.perf_counter()
    if concurrency == 1:
        for fn, args in methods:
            fn(*args)
    else:
        it = iter(methods)

        def worker() -> None:
            for fn, args in it:
                fn(*args)

        gevent.joinall([gevent.spawn(worker) for _ in range(concurrency)])
    cpu, wall = cpu_s() - c0, time.perf_counter() - t0
    return {"us_cpu_per_op": cpu / len(plan) * 1e6, "ops_per_s": len(plan) / wall}


def harness_run(store: CartStore, target: str, profile: workloads.Profile,
                catalog: Any, rate: float, seconds: float) -> dict[str, Any]:
    prof = workloads.apply_options(profile, rate=rate, duration=seconds)
    with tempfile.TemporaryDirectory() as tmp:
        c0 = cpu_s()
        r = engine.run_load(store, target, prof, Path(tmp), catalog=catalog, drain_timeout_s=10)
        cpu = cpu_s() - c0
        with (Path(tmp) / "timeseries.csv").open() as f:
            rows = list(csv.DictReader(f))
    done = r.totals["completed"]
    # steady state: the generator's own per-second CPU over the completed operations of the
    # same seconds, without the first two and the last second (start-up, drain)
    steady = rows[2:-1]
    steady_ops = sum(int(row["completed"]) for row in steady)
    steady_cpu_us = sum(float(row["generator_cpu_pct"]) for row in steady) / 100.0 * 1e6
    return {
        "completed": done,
        "errors": r.totals["errors"],
        "dropped": r.totals["dropped"],
        "us_cpu_per_op": steady_cpu_us / steady_ops if steady_ops else float("nan"),
        "us_cpu_per_op_whole_run": cpu / done * 1e6 if done else float("nan"),
        "cpu_share": cpu / seconds,
        "lag_p99_ms": r.totals["lag_ms"]["p99"],
        "lag_max_ms": r.totals["lag_ms"]["max"],
        "generator_saturated": r.generator_saturated,
        "operations": r.operations,
    }


# -- pgbench cross-check ----------------------------------------------------------------------

PGBENCH_BROWSE = (
    "\\set r random(0, {hi})\n"
    "SELECT p.name, p.price_cents, i.stock FROM products p JOIN inventory i USING (sku) "
    "WHERE p.sku = 'sku-' || lpad(:r::text, 6, '0');\n"
)


def pgbench_cross_check(store: CartStore, endpoints: dict[str, Any], profile: workloads.Profile,
                        catalog: Any, rate: float, seconds: float) -> dict[str, Any]:
    """pgbench and cartbench, same server, same browse query, same Poisson rate, latency
    from the scheduled start in both."""
    pgbench = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "browse.sql"
        script.write_text(PGBENCH_BROWSE.format(hi=len(catalog.products) - 1))
        env = dict(os.environ, PGPASSWORD=str(endpoints.get("password") or ""))
        argv = [pgbench, "-n", "-f", str(script), "-R", str(rate), "-c", "8", "-j", "1",
                "-T", str(int(seconds)), "-l", "--log-prefix", f"{tmp}/pgb",
                "-h", str(endpoints["host"]), "-p", str(endpoints["port"]),
                "-U", str(endpoints["user"]), str(endpoints["dbname"])]
        subprocess.run(argv, check=True, cwd=tmp, env=env, capture_output=True, timeout=seconds + 60)
        lat_ms: list[float] = []
        lag_ms: list[float] = []
        for log in Path(tmp).glob("pgb*"):
            for line in log.read_text().splitlines():
                f = line.split()
                if len(f) >= 7:  # client tx_no time_us script_no epoch epoch_us lag_us
                    lat_ms.append((int(f[2]) + int(f[6])) / 1000.0)
                    lag_ms.append(int(f[6]) / 1000.0)
    lat_ms.sort()
    lag_ms.sort()

    def q(v: list[float], p: float) -> float:
        return v[min(len(v) - 1, int(p / 100.0 * len(v)))]

    pg = {"n": len(lat_ms), "p50": q(lat_ms, 50), "p99": q(lat_ms, 99), "p99_9": q(lat_ms, 99.9),
          "lag_p99": q(lag_ms, 99), "lag_max": lag_ms[-1]}
    browse_only = replace(profile, mix={"browse": 1.0})
    h = harness_run(store, "postgres", browse_only, catalog, rate, seconds)
    intended = h["operations"]["browse"]["latency_ms"]["intended"]
    cb = {"n": h["completed"], "p50": intended["p50"], "p99": intended["p99"],
          "p99_9": intended["p99_9"], "lag_p99": h["lag_p99_ms"], "lag_max": h["lag_max_ms"],
          "us_cpu_per_op": h["us_cpu_per_op"]}
    return {"pgbench": pg, "cartbench": cb, "rate": rate, "seconds": seconds}


# -- driver -------------------------------------------------------------------------------------


def measure_target(target: str, endpoints: dict[str, Any], args: argparse.Namespace
                   ) -> dict[str, Any]:
    profile = workloads.load_profile(PROFILE)
    catalog = workloads.build_catalog(profile, 42)
    store = open_store(target, endpoints)
    try:
        store.prepare(catalog)
        plan = make_plan(profile, catalog.skus, args.bare_ops, seed=7)
        bare_loop(store, plan[: min(300, len(plan))])  # warm up: connections, prepared stmts
        requests = count_requests(store, target, plan)
        store.prepare(catalog)  # same starting state for the timed loops
        bare1 = bare_loop(store, plan)
        store.prepare(catalog)
        bare16 = bare_loop(store, plan, concurrency=16)
        store.prepare(catalog)
        harness = harness_run(store, target, profile, catalog, args.rate, args.seconds)
        out: dict[str, Any] = {
            "settings": store.settings(),
            "requests_per_op": requests,
            "bare_sequential": bare1,
            "bare_16_greenlets": bare16,
            "harness": {k: v for k, v in harness.items() if k != "operations"},
        }
        if args.pgbench and target == "postgres":
            store.prepare(catalog)
            out["pgbench"] = pgbench_cross_check(store, endpoints, profile, catalog,
                                                 args.pgbench_rate, args.pgbench_seconds)
        return out
    finally:
        store.close()


def print_target(target: str, r: dict[str, Any], rate: float) -> None:
    req = r["requests_per_op"]["mix"] or 1.0  # the reference store sends none: per op
    h, b1, b16 = r["harness"], r["bare_sequential"], r["bare_16_greenlets"]
    per_op = ", ".join(f"{k} {v:.2f}" for k, v in r["requests_per_op"].items() if k != "mix")
    print(f"\n== {target}  ({r['settings'].get('driver')}, "
          f"{r['settings'].get('connection_class', '')})")
    print(f"requests per cart op (mix)  : {req:6.2f}   [{per_op}]")
    print(f"bare driver, sequential     : {b1['us_cpu_per_op']:7.0f} us CPU/op "
          f"{b1['us_cpu_per_op'] / req:6.0f} us/request  ({b1['ops_per_s']:.0f} ops/s)")
    print(f"bare driver, 16 greenlets   : {b16['us_cpu_per_op']:7.0f} us CPU/op "
          f"{b16['us_cpu_per_op'] / req:6.0f} us/request  ({b16['ops_per_s']:.0f} ops/s)")
    print(f"harness @ {rate:.0f} ops/s         : {h['us_cpu_per_op']:7.0f} us CPU/op "
          f"{h['us_cpu_per_op'] / req:6.0f} us/request  steady state "
          f"({h['us_cpu_per_op_whole_run']:.0f} over the whole run incl. start-up and drain)")
    print(f"{'':<30}(completed {h['completed']}, "
          f"errors {h['errors']}, dropped {h['dropped']}, lag p99 {h['lag_p99_ms']} ms "
          f"max {h['lag_max_ms']} ms, {h['cpu_share']:.0%} of a core)")
    print(f"harness overhead vs bare    : {h['us_cpu_per_op'] / max(b1['us_cpu_per_op'], 1e-9) - 1:+.0%} "
          "(vs the sequential loop; goal <= +20 %)")
    if "pgbench" in r:
        x = r["pgbench"]
        print(f"noise floor vs pgbench, browse @ {x['rate']:.0f}/s Poisson, {x['seconds']:.0f} s, "
              "latency from the schedule (ms):")
        print(f"    {'':<10} {'p50':>7} {'p99':>7} {'p99.9':>7} {'lag p99':>8} {'lag max':>8}")
        for name in ("pgbench", "cartbench"):
            v = x[name]
            print(f"    {name:<10} {v['p50']:>7.2f} {v['p99']:>7.2f} {v['p99_9']:>7.2f} "
                  f"{v['lag_p99']:>8.2f} {v['lag_max']:>8.2f}")
        pg, cb = x["pgbench"], x["cartbench"]
        print(f"    goals: p50 <= pgbench+0.3 ({cb['p50'] <= pg['p50'] + 0.3}), "
              f"p99 <= 2*pgbench+1 ({cb['p99'] <= 2 * pg['p99'] + 1}), "
              f"lag p99 <= 0.5 ({cb['lag_p99'] <= 0.5}), lag max <= 5 ({cb['lag_max'] <= 5})")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--targets", nargs="+", default=["postgres", "redis-cluster", "cassandra"])
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--bare-ops", type=int, default=3000)
    ap.add_argument("--topology", action="append", default=[],
                    help="TARGET=topology.json of an already running cluster (bench up)")
    ap.add_argument("--pgbench", action="store_true")
    ap.add_argument("--pgbench-rate", type=float, default=1000.0)
    ap.add_argument("--pgbench-seconds", type=float, default=30.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    given = dict(item.split("=", 1) for item in args.topology)
    launcher = NativeLauncher()
    base = Path(tempfile.mkdtemp(prefix="cartbench-cost-"))
    figures: dict[str, Any] = {"load_average_start": [round(x, 2) for x in psutil.getloadavg()],
                               "rate": args.rate, "seconds": args.seconds}
    for target in args.targets:
        topo: Topology | None = None
        if target == "reference":
            endpoints = {}
        elif target in given:
            endpoints = Topology.from_dict(json.loads(Path(given[target]).read_text())).endpoints
        else:
            spec = TargetSpec(target=target, run_id=f"cost-{uuid.uuid4().hex[:6]}",
                              base_dir=base / target)
            topo = launcher.up(spec)
            endpoints = topo.endpoints
        try:
            figures[target] = measure_target(target, endpoints, args)
        finally:
            if topo is not None:
                launcher.down(topo)
        if not args.json:
            print_target(target, figures[target], args.rate)
            sys.stdout.flush()
    figures["load_average_end"] = [round(x, 2) for x in psutil.getloadavg()]
    if args.json:
        print(json.dumps(figures, default=str))
    else:
        print(f"\nload average {figures['load_average_start']} -> {figures['load_average_end']} "
              f"(cpus: {psutil.cpu_count()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
