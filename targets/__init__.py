"""Cart stores: one module per datastore, each mapping the cart contract (``targets.base``)
onto that datastore's idiomatic data model.  ``open_store`` is the single name → class mapping."""

from __future__ import annotations

from typing import Any

from bench.errors import UsageError
from targets.base import CartStore

STORES = ("reference", "postgres", "cassandra", "redis-cluster")


def open_store(target: str, endpoints: dict[str, Any], options: dict[str, Any] | None = None) -> CartStore:
    """Connect a cart store for ``target`` using a topology's ``endpoints``.

    ``options`` carries store settings (consistency levels, pool sizes, durability preset...).
    Import drivers lazily: the load engine must import locust (gevent) before any driver.
    """
    opts = dict(options or {})
    if target == "reference":
        from targets.reference import ReferenceStore

        return ReferenceStore(**opts)
    if target == "postgres":
        from targets.postgres import PostgresStore

        return PostgresStore(endpoints, **opts)
    if target == "cassandra":
        from targets.cassandra import CassandraStore

        return CassandraStore(endpoints, **opts)
    if target == "redis-cluster":
        from targets.redis_cluster import RedisClusterStore

        return RedisClusterStore(endpoints, **opts)
    raise UsageError(f"unknown store {target!r}; choose one of: {', '.join(STORES)}")
