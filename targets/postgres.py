"""PostgreSQL cart store: normalised tables, one ACID transaction per checkout.

Data model::

    products(sku PK, name, price_cents)         inventory(sku PK → products, stock >= 0)
    carts(cart_id PK, updated_at)               cart_items(cart_id → carts, sku → products,
                                                           qty > 0, PK (cart_id, sku))
    orders(order_id identity PK, cart_id, created_at)   order_items(order_id, sku, qty, PK)

Single-statement operations run in autocommit (one round trip each; unknown SKUs are caught
by the ``cart_items.sku`` foreign key, not by an extra read).  ``checkout`` is one
READ COMMITTED transaction: lock the cart's lines, lock the inventory rows **in SKU order**
(deterministic lock order: no deadlock between checkouts), conditionally decrement
(``stock >= qty`` → rowcount check; a short row → rollback → out_of_stock), insert the order,
delete exactly the lines it locked (a line a concurrent add inserted meanwhile is neither
locked nor ordered, so it stays in the cart), commit.  READ COMMITTED suffices: the row locks
make the locked lines and stock rows stable until commit; SERIALIZABLE would add aborts
(conflict) for concurrent adds to the same cart without ordering anything more.  Serialization/deadlock errors map to ``conflict``.

Connection: the endpoints' ``dsn`` (with the endpoints' ``dbname`` when both are given), else
host/port/user/password/dbname.  ``prepare`` drops and recreates only its six tables, in that
database's default schema.

Connections come from a fixed-size pool (``targets.pgpool``: a deque behind a semaphore, safe
for threads and, when locust has monkey-patched first, for greenlets, with a gevent-native
wait); statements are server-side prepared after ``prepare_threshold`` executions.
``add_item``/``set_quantity`` are one statement each (the cart row is ensured in a
data-modifying CTE): one round trip, no pipeline-mode bookkeeping in the client.

Every operation is bounded: ``statement_timeout`` (5 s by default) cancels a statement on the
server (``QueryCanceled`` → ``timeout``), and waiting for a pooled connection gives up after
``pool_timeout_s`` (5 s; a pool timeout → ``timeout``).  Prepare and the audit's snapshot
lift the statement timeout for themselves.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from bench.errors import InfraError
from targets.base import (
    Catalog,
    OpResult,
    Order,
    Outcome,
    PrepareReport,
    Product,
    Snapshot,
    invalid_args,
    invalid_qty,
)
from targets.pgpool import ConnectionPool, PgConn, PoolTimeout

SCHEMA = """
DROP TABLE IF EXISTS order_items, orders, cart_items, carts, inventory, products CASCADE;
CREATE TABLE products (
    sku         text PRIMARY KEY,
    name        text NOT NULL,
    price_cents integer NOT NULL CHECK (price_cents >= 0)
);
-- inventory is the hot, frequently updated table: keep it narrow and leave room on each page
-- so that stock updates stay HOT (heap-only tuple) updates.
CREATE TABLE inventory (
    sku   text PRIMARY KEY REFERENCES products (sku),
    stock integer NOT NULL CHECK (stock >= 0)
) WITH (fillfactor = 70);
CREATE TABLE carts (
    cart_id    text PRIMARY KEY,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- PK (cart_id, sku) is the only index a cart needs: every access is by cart_id (prefix).
-- No index on cart_items(sku): products are never deleted, so the FK needs none.
CREATE TABLE cart_items (
    cart_id text NOT NULL REFERENCES carts (cart_id) ON DELETE CASCADE,
    sku     text NOT NULL REFERENCES products (sku),
    qty     integer NOT NULL CHECK (qty > 0),
    PRIMARY KEY (cart_id, sku)
) WITH (fillfactor = 80);
CREATE TABLE orders (
    order_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cart_id    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_cart_id_idx ON orders (cart_id);
CREATE TABLE order_items (
    order_id bigint NOT NULL REFERENCES orders (order_id),
    sku      text NOT NULL REFERENCES products (sku),
    qty      integer NOT NULL CHECK (qty > 0),
    PRIMARY KEY (order_id, sku)
);
"""

# One statement per add/set: the CTE ensures the cart row (the FK of cart_items), the main
# statement upserts the line; the FK check runs at the end of the statement and sees the CTE's row.
_ENSURE_CART_CTE = (
    "WITH cart AS (INSERT INTO carts (cart_id) VALUES (%(cart)s) "
    "ON CONFLICT (cart_id) DO NOTHING) "
)
ADD_ITEM = (
    _ENSURE_CART_CTE + "INSERT INTO cart_items (cart_id, sku, qty) VALUES (%(cart)s, %(sku)s, "
    "%(qty)s) ON CONFLICT (cart_id, sku) DO UPDATE SET qty = cart_items.qty + EXCLUDED.qty"
)
SET_ITEM = (
    _ENSURE_CART_CTE + "INSERT INTO cart_items (cart_id, sku, qty) VALUES (%(cart)s, %(sku)s, "
    "%(qty)s) ON CONFLICT (cart_id, sku) DO UPDATE SET qty = EXCLUDED.qty"
)
REMOVE_ITEM = "DELETE FROM cart_items WHERE cart_id = %s AND sku = %s"
PRODUCT_EXISTS = "SELECT 1 FROM products WHERE sku = %s"
VIEW_CART = "SELECT sku, qty FROM cart_items WHERE cart_id = %s"
BROWSE = (
    "SELECT p.name, p.price_cents, i.stock FROM products p JOIN inventory i USING (sku) "
    "WHERE p.sku = %s"
)
LOCK_CART = "SELECT sku, qty FROM cart_items WHERE cart_id = %s ORDER BY sku FOR UPDATE"
LOCK_STOCK = "SELECT sku FROM inventory WHERE sku = ANY(%s) ORDER BY sku FOR UPDATE"
DECREMENT = "UPDATE inventory SET stock = stock - %s WHERE sku = %s AND stock >= %s"
NEW_ORDER = "INSERT INTO orders (cart_id) VALUES (%s) RETURNING order_id"
ORDER_ITEMS = (
    "INSERT INTO order_items (order_id, sku, qty) "
    "SELECT %s, s, q FROM unnest(%s::text[], %s::integer[]) AS t(s, q)"
)
#: Only the lines this checkout locked and ordered: a line inserted by a concurrent add after
#: LOCK_CART ran is not locked, not ordered, and stays in the cart.
EMPTY_CART = "DELETE FROM cart_items WHERE cart_id = %s AND sku = ANY(%s)"

_CONFLICTS = (pgerrors.SerializationFailure, pgerrors.DeadlockDetected, pgerrors.LockNotAvailable)


class _OutOfStock(Exception):
    """Internal: raised inside the checkout transaction to roll it back."""


def outcome_of(exc: BaseException) -> Outcome:
    """Map a psycopg/pool exception to an outcome."""
    if isinstance(exc, _CONFLICTS):
        return Outcome.CONFLICT
    if isinstance(exc, pgerrors.QueryCanceled | PoolTimeout):
        return Outcome.TIMEOUT
    if isinstance(exc, psycopg.OperationalError):  # connection refused/lost, admin shutdown
        return Outcome.UNAVAILABLE
    return Outcome.ERROR


def conninfo_of(endpoints: dict[str, Any]) -> str:
    """The connection string: ``dsn`` as given (host, port, user, TLS, ... from the user's
    endpoints file), with ``dbname`` from the endpoints when both are present; else built from
    the parts."""
    dsn = endpoints.get("dsn")
    if dsn:
        extra = {"dbname": str(endpoints["dbname"])} if endpoints.get("dbname") else {}
        return psycopg.conninfo.make_conninfo(str(dsn), **extra)
    return psycopg.conninfo.make_conninfo(
        host=endpoints["host"], port=endpoints["port"], user=endpoints["user"],
        password=endpoints.get("password"), dbname=endpoints["dbname"],
    )


class PostgresStore:
    name = "postgres"

    def __init__(
        self,
        endpoints: dict[str, Any],
        pool_size: int = 20,
        prepare_threshold: int | None = 1,
        pool_timeout_s: float = 5.0,
        connect_timeout_s: float = 10.0,
        statement_timeout_ms: int = 5000,
    ) -> None:
        if pool_size < 1:
            raise InfraError(f"postgres: pool_size must be at least 1, got {pool_size}")
        self._endpoints = endpoints
        self._pool_size = pool_size
        self._prepare_threshold = prepare_threshold
        self._statement_timeout_ms = statement_timeout_ms
        self._pool_timeout_s = pool_timeout_s
        conninfo = conninfo_of(endpoints)
        self._dbname = str(psycopg.conninfo.conninfo_to_dict(conninfo).get("dbname", ""))
        options = f"-c statement_timeout={statement_timeout_ms}"
        try:
            self._pool = ConnectionPool(
                conninfo, pool_size, timeout_s=pool_timeout_s,
                connect_timeout_s=connect_timeout_s, autocommit=True,
                prepare_threshold=prepare_threshold, options=options,
            )  # fmt: skip
        except psycopg.OperationalError as exc:
            raise InfraError(
                f"postgres: could not open {pool_size} connections to "
                f"{endpoints.get('host')}:{endpoints.get('port')}: {str(exc).strip()[:200]}"
            ) from exc

    # -- plumbing ------------------------------------------------------------------------

    @contextmanager
    def _conn(self) -> Iterator[PgConn]:
        with self._pool.connection() as conn:
            yield conn

    def _run(self, fn: Callable[[PgConn], OpResult]) -> OpResult:
        try:
            with self._conn() as conn:
                return fn(conn)
        except pgerrors.ForeignKeyViolation:
            return OpResult(Outcome.NOT_FOUND)  # unknown SKU (cart_items.sku → products)
        except _OutOfStock:
            return OpResult(Outcome.OUT_OF_STOCK)
        except Exception as exc:
            return OpResult(outcome_of(exc), error=exc)

    # -- contract ------------------------------------------------------------------------

    def prepare(self, catalog: Catalog) -> PrepareReport:
        with self._conn() as conn:
            conn.execute("SET statement_timeout = 0")  # bulk load: the pool is drained below
            with conn.transaction():
                conn.execute(SCHEMA)
                with conn.cursor() as cur:
                    with cur.copy("COPY products (sku, name, price_cents) FROM STDIN") as copy:
                        for p in catalog.products:
                            copy.write_row((p.sku, p.name, p.price_cents))
                    with cur.copy("COPY inventory (sku, stock) FROM STDIN") as copy:
                        buf = io.StringIO()
                        for p in catalog.products:
                            buf.write(f"{p.sku}\t{p.stock}\n")
                        copy.write(buf.getvalue())
            conn.execute("ANALYZE products, inventory")
        # Prepared statements cached on pooled connections refer to the dropped tables.
        self._pool.drain()
        return PrepareReport(products=len(catalog.products))

    def browse(self, sku: str) -> OpResult:
        if bad := invalid_args(sku=sku):
            return bad

        def op(conn: PgConn) -> OpResult:
            row = conn.execute(BROWSE, (sku,)).fetchone()
            if row is None:
                return OpResult(Outcome.NOT_FOUND)
            return OpResult(Outcome.OK, Product(sku, row[0], row[1], row[2]))

        return self._run(op)

    def add_item(self, cart_id: str, sku: str, qty: int) -> OpResult:
        if bad := invalid_args(cart_id, sku) or invalid_qty(qty, allow_zero=False):
            return bad
        return self._run(lambda conn: self._upsert(conn, ADD_ITEM, cart_id, sku, qty))

    def set_quantity(self, cart_id: str, sku: str, qty: int) -> OpResult:
        if bad := invalid_args(cart_id, sku) or invalid_qty(qty, allow_zero=True):
            return bad
        if qty == 0:
            return self._run(lambda conn: self._remove_known(conn, cart_id, sku))
        return self._run(lambda conn: self._upsert(conn, SET_ITEM, cart_id, sku, qty))

    @staticmethod
    def _upsert(conn: PgConn, sql: str, cart_id: str, sku: str, qty: int) -> OpResult:
        conn.execute(sql, {"cart": cart_id, "sku": sku, "qty": qty})
        return OpResult(Outcome.OK)

    def remove_item(self, cart_id: str, sku: str) -> OpResult:
        if bad := invalid_args(cart_id, sku):
            return bad

        def op(conn: PgConn) -> OpResult:
            deleted = conn.execute(REMOVE_ITEM, (cart_id, sku)).rowcount
            return OpResult(Outcome.OK if deleted else Outcome.NOT_FOUND)

        return self._run(op)

    @staticmethod
    def _remove_known(
        conn: PgConn, cart_id: str, sku: str
    ) -> OpResult:
        """set_quantity(..., 0): remove the line; an unknown SKU is not_found either way."""
        deleted = conn.execute(REMOVE_ITEM, (cart_id, sku)).rowcount
        return OpResult(Outcome.OK if deleted else Outcome.NOT_FOUND)

    def view_cart(self, cart_id: str) -> OpResult:
        if bad := invalid_args(cart_id):
            return bad
        return self._run(
            lambda conn: OpResult(Outcome.OK, dict(conn.execute(VIEW_CART, (cart_id,)).fetchall()))
        )

    def checkout(self, cart_id: str) -> OpResult:
        if bad := invalid_args(cart_id):
            return bad

        def op(conn: PgConn) -> OpResult:
            with conn.transaction():
                lines = conn.execute(LOCK_CART, (cart_id,)).fetchall()
                if not lines:
                    return OpResult(Outcome.NOT_FOUND)
                skus = [sku for sku, _ in lines]
                conn.execute(LOCK_STOCK, (skus,))  # row locks taken in SKU order
                for sku, qty in lines:
                    if conn.execute(DECREMENT, (qty, sku, qty)).rowcount != 1:
                        raise _OutOfStock  # rolls the transaction back
                row = conn.execute(NEW_ORDER, (cart_id,)).fetchone()
                assert row is not None
                order_id = row[0]
                conn.execute(ORDER_ITEMS, (order_id, skus, [qty for _, qty in lines]))
                conn.execute(EMPTY_CART, (cart_id, skus))
            return OpResult(Outcome.OK, str(order_id))

        return self._run(op)

    def snapshot(self) -> Snapshot:
        snap = Snapshot()
        with self._conn() as conn, conn.transaction():  # one consistent view
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute("SET LOCAL statement_timeout = 0")  # the audit reads everything
            for cart_id, sku, qty in conn.execute("SELECT cart_id, sku, qty FROM cart_items"):
                snap.carts.setdefault(cart_id, {})[sku] = qty
            snap.inventory = dict(conn.execute("SELECT sku, stock FROM inventory").fetchall())
            orders: dict[int, Order] = {}
            for order_id, cart_id in conn.execute("SELECT order_id, cart_id FROM orders"):
                orders[order_id] = Order(order_id=str(order_id), cart_id=cart_id, items={})
            items = conn.execute("SELECT order_id, sku, qty FROM order_items")
            for order_id, sku, qty in items:
                orders[order_id].items[sku] = qty
            snap.orders = list(orders.values())
        return snap

    def settings(self) -> dict[str, Any]:
        return {
            "store": "postgres",
            "driver": f"psycopg {psycopg.__version__}",
            "dbname": self._dbname,
            "pool": "targets.pgpool (deque + semaphore)",
            "pool_size": self._pool_size,
            "prepare_threshold": self._prepare_threshold,
            "statement_timeout_ms": self._statement_timeout_ms,
            "pool_timeout_s": self._pool_timeout_s,
            "autocommit": True,
            "checkout_isolation": "read committed + row locks in sku order",
        }

    def close(self) -> None:
        self._pool.close()
