"""The reference store on its own: latency injection and thread safety."""

from __future__ import annotations

import threading
import time

from targets.base import Outcome
from targets.reference import ReferenceStore
from workloads import make_catalog


def test_latency_is_injected_as_a_sleep() -> None:
    store = ReferenceStore(latency_s=0.02)
    store.prepare(make_catalog(n=3))
    t0 = time.perf_counter()
    for _ in range(5):
        store.browse("sku-000000")
    assert time.perf_counter() - t0 >= 0.1


def test_latency_callable_is_called_per_operation() -> None:
    calls = []

    def latency() -> float:
        calls.append(1)
        return 0.0

    store = ReferenceStore(latency_s=latency)
    store.prepare(make_catalog(n=3))
    store.view_cart("c")
    store.add_item("c", "sku-000000", 1)
    assert len(calls) == 2
    assert store.settings()["latency_s"] == "callable"


def test_sleeping_operations_run_concurrently() -> None:
    """The sleep happens outside the lock: 10 threads × 0.1 s take ~0.1 s, not 1 s."""
    store = ReferenceStore(latency_s=0.1)
    store.prepare(make_catalog(n=3))
    threads = [threading.Thread(target=store.browse, args=("sku-000000",)) for _ in range(10)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert time.perf_counter() - t0 < 0.6


def test_order_ids_are_unique_and_checkout_decrements() -> None:
    store = ReferenceStore()
    store.prepare(make_catalog(n=3, stock=5))
    ids = set()
    for i in range(5):
        store.add_item(f"c{i}", "sku-000001", 1)
        result = store.checkout(f"c{i}")
        assert result.outcome is Outcome.OK
        ids.add(result.value)
    assert len(ids) == 5
    assert store.browse("sku-000001").value.stock == 0
    store.add_item("late", "sku-000001", 1)
    assert store.checkout("late").outcome is Outcome.OUT_OF_STOCK
    assert store.view_cart("late").value == {"sku-000001": 1}
