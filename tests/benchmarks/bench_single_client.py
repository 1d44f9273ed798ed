"""Single-client, unloaded latency baseline per target and operation (a script, not a test).

    .venv/bin/python tests/benchmarks/bench_single_client.py [--calls 2000] [--targets ...]
        [--topology TARGET=path/to/topology.json ...]

For each target: start it with the native launcher (or use a running topology given with
``--topology``), ``prepare`` a 10 000-SKU catalog (the seeding time is printed), then time
``--calls`` calls of each operation one after another from one thread, and print p50/p99 in
milliseconds.  Topologies started here are stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.launchers.base import TargetSpec, Topology
from bench.launchers.native import NativeLauncher
from targets import open_store
from targets.base import CartStore, Outcome
from workloads import SkuChooser, SkuDistribution, make_catalog, sku_name

OPERATIONS = ("browse", "add_item", "set_quantity", "view_cart", "remove_item", "checkout")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(store: CartStore, calls: int, n_skus: int) -> dict[str, tuple[float, float, str]]:
    names = [sku_name(i) for i in range(n_skus)]
    zipf = SkuChooser(names, SkuDistribution(kind="zipf", s=1.1))
    skus = [names[int(i)] for i in zipf.indices(np.random.default_rng(1), calls)]
    carts = [f"bench-{i}" for i in range(calls)]
    plan: dict[str, Callable[[int], object]] = {
        "browse": lambda i: store.browse(skus[i]),
        "add_item": lambda i: store.add_item(carts[i], skus[i], 1),
        "set_quantity": lambda i: store.set_quantity(carts[i], skus[i], 2),
        "view_cart": lambda i: store.view_cart(carts[i]),
        "remove_item": lambda i: store.remove_item(carts[i], skus[i]),
        "checkout": lambda i: store.checkout(carts[i]),
    }
    out: dict[str, tuple[float, float, str]] = {}
    for op in OPERATIONS:
        if op == "checkout":  # checkout needs a filled cart: refill (untimed) first
            for i in range(calls):
                store.add_item(carts[i], skus[i], 1)
        samples: list[float] = []
        outcomes: dict[str, int] = {}
        for i in range(calls):
            t0 = time.perf_counter()
            result = plan[op](i)
            samples.append((time.perf_counter() - t0) * 1e3)
            name = getattr(result, "outcome", Outcome.ERROR).value
            outcomes[name] = outcomes.get(name, 0) + 1
        summary = ",".join(f"{k}={v}" for k, v in sorted(outcomes.items()))
        out[op] = (statistics.median(samples), percentile(samples, 0.99), summary)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--targets", nargs="+",
                        default=["reference", "postgres", "redis-cluster", "cassandra"])
    parser.add_argument("--topology", action="append", default=[],
                        help="TARGET=topology.json of an already running cluster")
    args = parser.parse_args()
    given = dict(item.split("=", 1) for item in args.topology)
    launcher = NativeLauncher()
    started: list[Topology] = []
    base = Path(tempfile.mkdtemp(prefix="cartbench-bench-"))
    print(f"single client, {args.calls} sequential calls per operation, latency in ms")
    print(f"{'target':<14} {'operation':<13} {'p50':>8} {'p99':>8}  outcomes")
    try:
        for target in args.targets:
            endpoints = {}
            if target in given:
                endpoints = Topology.from_dict(json.loads(Path(given[target]).read_text())).endpoints
            elif target != "reference":
                spec = TargetSpec(target=target, run_id=f"bench-{uuid.uuid4().hex[:6]}",
                                  base_dir=base / target)
                topo = launcher.up(spec)
                started.append(topo)
                endpoints = topo.endpoints
            store = open_store(target, endpoints)
            try:
                report = store.prepare(make_catalog(n=args.skus, seed=42))
                print(f"{target:<14} {'seed':<13} {report.seconds * 1e3:>8.0f} ms for "
                      f"{report.products} products")
                for op, (p50, p99, summary) in measure(store, args.calls, args.skus).items():
                    print(f"{target:<14} {op:<13} {p50:>8.3f} {p99:>8.3f}  {summary}")
                sys.stdout.flush()
            finally:
                store.close()
    finally:
        for topo in started:
            launcher.down(topo)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
