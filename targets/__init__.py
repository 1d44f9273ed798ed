"""Cart stores: one module per datastore, each mapping the cart contract (``targets.base``)
onto that datastore's idiomatic data model.

``open_store`` resolves the store class named by the target's ``bench.registry`` entry; drivers
are imported only then (the load engine imports locust/gevent before any driver).
"""

from __future__ import annotations

import importlib
from typing import Any

from bench import registry
from targets.base import CartStore


def open_store(target: str, endpoints: dict[str, Any], options: dict[str, Any] | None = None) -> CartStore:
    """Connect a cart store for ``target`` using a topology's ``endpoints``.

    ``options`` carries store settings (consistency levels, pool sizes, durability preset...).
    """
    entry = registry.get(target)
    module, _, cls_name = entry.store.partition(":")
    cls = getattr(importlib.import_module(module), cls_name)
    opts = dict(options or {})
    store: CartStore = cls(endpoints, **opts) if entry.needs_endpoints else cls(**opts)
    return store
