"""The one place where a store call is timed (YCSB ``DBWrapper`` style).

Stores never time themselves and never need to catch their own
unexpected exceptions: anything a store raises becomes an ``error`` outcome carrying the
exception (for the errors-by-type breakdown).  ``BaseException``s that are not ``Exception``
(``GreenletExit``, ``KeyboardInterrupt``) propagate, and so does ``bench.errors.Interrupted``
(an Exception, re-raised).  Two clock reads per operation: just before and just after the
store call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.errors import Interrupted
from targets.base import CartStore, OpResult, Outcome
from workloads import OPERATIONS

now_ns = time.perf_counter_ns
StoreMethod = Callable[..., OpResult]


def store_methods(store: CartStore) -> tuple[StoreMethod, ...]:
    """The store's bound methods in ``OPERATIONS`` order (looked up once, not per call)."""
    return tuple(getattr(store, name) for name in OPERATIONS)


def call_store(method: StoreMethod, args: tuple[Any, ...]) -> tuple[OpResult, int, int]:
    """``method(*args)`` timed; returns ``(result, start_ns, end_ns)``."""
    start = now_ns()
    try:
        result = method(*args)
    except Interrupted:
        raise
    except Exception as e:
        result = OpResult(Outcome.ERROR, error=e)
    end = now_ns()
    if result.__class__ is not OpResult and not isinstance(result, OpResult):
        result = OpResult(Outcome.ERROR, error=TypeError(f"store returned {type(result).__name__}"))
    return result, start, end
