"""The one place where a store call is timed (YCSB ``DBWrapper`` style).

Owned by the load engine.  Stores never time themselves and never need to catch their own
unexpected exceptions: anything a store raises becomes an ``error`` outcome carrying the
exception (for the errors-by-type breakdown).  ``BaseException``s that are not ``Exception``
(``GreenletExit``, ``KeyboardInterrupt``, ``bench.errors.Interrupted`` is an Exception but is
re-raised) propagate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.errors import Interrupted
from targets.base import CartStore, OpResult, Outcome

now_ns = time.perf_counter_ns


@dataclass(slots=True)
class PlannedOp:
    """One operation as the workload chose it; ``intended_ns`` on the engine's clock."""

    name: str
    cart_id: str | None
    sku: str | None
    qty: int
    intended_ns: int
    dispatched_ns: int = 0  # the scheduler handled the arrival
    granted_ns: int = 0  # an in-flight slot was granted (greenlet spawned)


def call_store(store: CartStore, op: PlannedOp) -> tuple[OpResult, int, int]:
    """Run ``op`` against ``store``; returns ``(result, start_ns, end_ns)``."""
    name, cart, sku = op.name, op.cart_id or "", op.sku or ""
    start = now_ns()
    try:
        if name == "browse":
            result = store.browse(sku)
        elif name == "add_item":
            result = store.add_item(cart, sku, op.qty)
        elif name == "view_cart":
            result = store.view_cart(cart)
        elif name == "set_quantity":
            result = store.set_quantity(cart, sku, op.qty)
        elif name == "remove_item":
            result = store.remove_item(cart, sku)
        elif name == "checkout":
            result = store.checkout(cart)
        else:
            raise ValueError(f"unknown operation {name!r}")
    except Interrupted:
        raise
    except Exception as e:
        result = OpResult(Outcome.ERROR, error=e)
    end = now_ns()
    if not isinstance(result, OpResult):
        result = OpResult(Outcome.ERROR, error=TypeError(f"store returned {type(result).__name__}"))
    return result, start, end
