"""Real datastores bound every operation: a blocked statement comes back as a ``timeout``
failure whose latency is at least the timeout, recorded apart from the successes."""

from __future__ import annotations

import psycopg
import pytest

from bench.engine.recorder import Recorder, summarize
from bench.engine.timing import call_store
from targets.base import Outcome
from targets.postgres import PostgresStore
from workloads.catalog import make_catalog

pytestmark = pytest.mark.integration


def test_postgres_statement_blocked_by_a_lock_times_out(postgres_topology) -> None:  # type: ignore[no-untyped-def]
    ep = postgres_topology.endpoints
    store = PostgresStore(ep, pool_size=2, statement_timeout_ms=300)
    try:
        store.prepare(make_catalog(n=10, seed=1, stock=5))
        sku = "sku-000001"
        assert store.add_item("c-timeout", sku, 1).outcome is Outcome.OK
        rec = Recorder()
        with psycopg.connect(ep["dsn"]) as blocker:  # holds the lock until the block ends
            blocker.execute("LOCK TABLE cart_items IN ACCESS EXCLUSIVE MODE")
            result, start, end = call_store(store.view_cart, ("c-timeout",))
            rec.completed("view_cart", start, start, end, result)
            blocker.rollback()
        assert result.outcome is Outcome.TIMEOUT, result
        assert result.error_type == "QueryCanceled"
        assert end - start >= 300_000_000
        op = rec.rotate().ops["view_cart"]
        assert op.intended.get_total_count() == 0  # not among the successes
        assert summarize(op.failed["timeout"])["p50"] >= 300.0
        # the connection is usable again afterwards
        assert store.view_cart("c-timeout").outcome is Outcome.OK
    finally:
        store.close()


def test_postgres_default_statement_timeout_is_set_on_the_server(postgres_topology) -> None:  # type: ignore[no-untyped-def]
    store = PostgresStore(postgres_topology.endpoints, pool_size=1)
    try:
        with store._conn() as conn:
            row = conn.execute("SHOW statement_timeout").fetchone()
        assert row == ("5s",)
        assert store.settings()["statement_timeout_ms"] == 5000
    finally:
        store.close()
