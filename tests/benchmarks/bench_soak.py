"""Is the load generator's memory flat over a long run?  A script printing figures, not a test.

    .venv/bin/python tests/benchmarks/bench_soak.py [--seconds 600] [--rate 5000] [--json]

Runs ``run_load`` against the in-memory reference store (every recording on: HdrHistograms,
ledger, per-second files, Locust's stats) at a constant rate the generator sustains (the
``steady`` mix, stock that never runs out — see ``soak``), and
samples this process's RSS every ``--every`` (10) seconds from the per-interval callback.
Prints the table and the growth after warm-up (RSS at the end vs RSS at ``--warm-up``,
60 s).  Goal: < 20 %.

The reference store lives in this same process and keeps every order, as a database would;
that is the *store's* memory, not the generator's, so by default the soak empties the
store's order table once a second (nothing here audits the store; the generator's ledger
still records every acknowledged order).  ``--keep-store-orders`` keeps them (RSS then
includes the store's growth).  The ledger's bytes per order are measured separately with
``tracemalloc``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil

from bench import engine

engine.prepare_runtime()  # before anything that could import a driver

import workloads  # noqa: E402
from bench.engine.ledger import AckedOrder, Ledger  # noqa: E402
from targets.base import OpResult, Outcome  # noqa: E402
from targets.reference import ReferenceStore  # noqa: E402

MB = 1024 * 1024


def bytes_per_order(n: int = 20_000, lines: int = 3) -> dict[str, float]:
    """Marginal memory per acknowledged order in the ledger (orders n+1 .. 2n, so one-time
    tables are left out), and what the previous representation (a list of ``AckedOrder``
    dataclasses holding an items dict) took for the same orders."""
    led = Ledger()
    ok = OpResult(Outcome.OK)
    skus = [f"sku-{i:06d}" for i in range(10_000)]
    carts = [f"cart-{i:06d}" for i in range(5000)]

    def orders(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            cart = carts[i % 5000]
            for k in range(lines):
                led.apply("add_item", cart, skus[(i * 7 + k) % 10_000], 1, ok)
            led.apply("checkout", cart, None, 0, OpResult(Outcome.OK, f"ref-{i + 1}"))

    orders(0, n)
    tracemalloc.start()
    base = tracemalloc.take_snapshot()
    orders(n, 2 * n)
    packed = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(base, "filename"))
    base = tracemalloc.take_snapshot()
    old = [AckedOrder(o.order_id, o.cart_id, dict(o.items or {})) for o in led.orders]
    unpacked = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(base, "filename"))
    tracemalloc.stop()
    del old
    return {
        "ledger_bytes_per_order": round(packed / n, 1),
        "dataclass_bytes_per_order": round(unpacked / (2 * n), 1),
        "lines_per_order": lines,
    }


def soak(
    seconds: float, rate: float, every: float, warm_up: float, keep_store_orders: bool
) -> dict[str, Any]:
    p = workloads.load_profile("steady", rate=rate, duration=seconds)
    # stock that never runs out: checkouts keep succeeding and carts keep being emptied, so
    # the expected cart contents are stationary (with the default stock, the hot SKUs sell
    # out within minutes, every later checkout is out_of_stock and carts grow without bound
    # in the store and, mirrored exactly, in the ledger: the workload's state, not a leak)
    p = replace(p, arrival="poisson", catalog=replace(p.catalog, stock=10**9))
    cat = workloads.build_catalog(p, 1)
    store = ReferenceStore()
    store.prepare(cat)
    proc = psutil.Process()
    rows: list[dict[str, Any]] = []
    t0 = time.monotonic()
    completed = [0]
    store_orders = [0]

    def sample(stats: engine.IntervalStats) -> None:
        completed[0] += stats.completed
        if not keep_store_orders:
            store_orders[0] += len(store._orders)
            store._orders.clear()
        t = time.monotonic() - t0
        if not rows or t - rows[-1]["t_s"] >= every:
            rows.append({
                "t_s": round(t, 1),
                "rss_mb": round(proc.memory_info().rss / MB, 1),
                "completed": completed[0],
                "store_orders": store_orders[0] + len(store._orders),
                "lag_p99_ms": stats.lag_p99_ms,
                "cpu_pct": round(stats.cpu_pct, 1),
            })  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        r = engine.run_load(store, "reference", p, Path(tmp), catalog=cat, on_interval=sample)
    rows.append({
        "t_s": round(time.monotonic() - t0, 1),
        "rss_mb": round(proc.memory_info().rss / MB, 1),
        "completed": r.totals["completed"],
        "store_orders": store_orders[0] + len(store._orders),
        "lag_p99_ms": r.totals["lag_ms"]["p99"],
        "cpu_pct": None,
    })  # fmt: skip
    base = next((row for row in rows if row["t_s"] >= warm_up), rows[0])
    growth = (rows[-1]["rss_mb"] - base["rss_mb"]) / base["rss_mb"]
    return {
        "seconds": seconds,
        "rate": rate,
        "keep_store_orders": keep_store_orders,
        "rows": rows,
        "warm_up_s": warm_up,
        "rss_after_warm_up_mb": base["rss_mb"],
        "rss_end_mb": rows[-1]["rss_mb"],
        "growth_after_warm_up": round(growth, 4),
        "flat": growth < 0.20,
        "ledger_orders": len(r.ledger.orders),
        "ledger_orders_packed_mb": round(r.ledger.orders.nbytes() / MB, 2),
        "completed": r.totals["completed"],
        "dropped": r.totals["dropped"],
        "generator_saturated": r.generator_saturated,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--rate", type=float, default=5000.0)
    ap.add_argument("--every", type=float, default=10.0)
    ap.add_argument("--warm-up", type=float, default=60.0)
    ap.add_argument("--keep-store-orders", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    figures = {**soak(args.seconds, args.rate, args.every, args.warm_up, args.keep_store_orders), **bytes_per_order()}
    figures["load_average"] = [round(x, 2) for x in psutil.getloadavg()]
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{'t_s':>7} {'rss_mb':>8} {'completed':>10} {'store_orders':>12} {'lag_p99_ms':>10} {'cpu_%':>6}")
    for row in figures["rows"]:
        print(f"{row['t_s']:>7} {row['rss_mb']:>8} {row['completed']:>10,} {row['store_orders']:>12,} "
              f"{row['lag_p99_ms']:>10} {row['cpu_pct'] if row['cpu_pct'] is not None else '':>6}")  # fmt: skip
    print(f"RSS after warm-up ({figures['warm_up_s']:.0f} s): {figures['rss_after_warm_up_mb']} MB; "
          f"at the end: {figures['rss_end_mb']} MB; growth {figures['growth_after_warm_up']:.1%} "
          f"(goal < 20 %: {'met' if figures['flat'] else 'NOT met'})")  # fmt: skip
    print(f"ledger: {figures['ledger_orders']:,} acknowledged orders, "
          f"{figures['ledger_orders_packed_mb']} MB packed; "
          f"{figures['ledger_bytes_per_order']} bytes per order (tracemalloc, "
          f"{figures['lines_per_order']} lines; as dataclass + dict: "
          f"{figures['dataclass_bytes_per_order']})")  # fmt: skip
    print(f"completed {figures['completed']:,}, dropped {figures['dropped']:,}, "
          f"generator_saturated {figures['generator_saturated']}; load average "
          f"{figures['load_average']}")  # fmt: skip


if __name__ == "__main__":
    main()
