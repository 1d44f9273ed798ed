"""Cassandra cart store: a partition per cart, stock guarded by lightweight transactions.

Tables (keyspace ``endpoints["keyspace"]``, default
``cartbench``; replication ``endpoints["replication"]`` if given, else
``NetworkTopologyStrategy`` with ``endpoints["replication_factor"]`` in ``local_dc``)::

    products(sku PK, name, price_cents, stock)     -- stock only ever changed by LWT (Paxos)
    carts(cart_id, sku, line timeuuid, qty,        -- one partition per cart; a line is
          PRIMARY KEY (cart_id, (sku, line)))      -- appended per add: no read-modify-write
    orders(order_id uuid PK, cart_id, items map<text,int>, created_at)

Cart lines are *appended* (``add_item`` inserts a new ``line`` row; the quantity of a SKU is the
sum of its lines), so concurrent adds to one cart never lose updates without paying for an LWT.
``set_quantity`` deletes the SKU's lines and inserts one, in a single-partition batch (atomic
and isolated) with explicit timestamps so the insert wins over the delete.

``checkout`` cannot be atomic across SKUs (each SKU is its own partition, and Cassandra has no
multi-partition transactions before Accord).  Design:

1. read the cart (at ``consistency``), note the time just before the read;
2. per SKU **in sorted order**, compare-and-set ``UPDATE products SET stock = new WHERE sku = ?
   IF stock = old`` (Paxos, ``serial_consistency``), retrying with the current value the
   failed CAS returns, at most ``cas_retries`` times (then → conflict);  a SKU short of stock
   refuses;
3. on refusal or failure, re-increment (CAS again) the SKUs already decremented → out_of_stock
   (or the failure's outcome);
4. write the order under an id derived from the cart's line ids (``order_id_of``), claimed
   before step 2 by an LWT ``INSERT INTO checkouts ... IF NOT EXISTS``: a second checkout of
   the same lines (a concurrent one, or a retry) loses the claim; if the order exists (a retry
   after an ambiguous order write or cart delete) it only empties the cart and answers ok with
   that order, else conflict — one order per set of lines, stock taken once (cost: one more
   Paxos round per checkout; a checkout that died before writing its order leaves those lines
   claimed until the cart changes, answering conflict);
5. delete exactly the lines read in step 1 (row deletes in one single-partition batch), so
   lines added during checkout survive.

The driver never retries a non-idempotent statement (``NoRetryUnlessIdempotent``): its default
policy would resend a compare-and-set to the next host after a connection error and could
apply a decrement twice.  Compensation tries every SKU and reports any that failed.

Failure modes (docs/SEMANTICS.md): no oversell while a serial quorum is reachable (every
decrement is linearizable); a CAS write timeout is *ambiguous* (Paxos may still commit it) and
answers ``timeout``; a client failure between 2 and 4 leaves stock decremented without an
order (undersell); two concurrent checkouts of the *same* lines place one order (the other
answers conflict);
between 2 and 5 other readers see the lower stock before the order exists.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import cassandra
from cassandra import (
    ConsistencyLevel,
    OperationTimedOut,
    ReadTimeout,
    Unavailable,
    WriteTimeout,
)
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.policies import DCAwareRoundRobinPolicy, RetryPolicy, TokenAwarePolicy
from cassandra.query import BatchStatement, BatchType, PreparedStatement, tuple_factory

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

DEFAULT_KEYSPACE = "cartbench"
#: Execution profile of the hot-path reads (rows as tuples).
FAST_READS = "cartbench-fast-reads"
#: Cassandra's unquoted identifiers: a letter, then letters/digits/underscores, at most 48.
_KEYSPACE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,47}")

#: DDL and statements are templates over ``{ks}`` (the keyspace).
TABLES = (
    """CREATE TABLE {ks}.products (
        sku text PRIMARY KEY, name text, price_cents int, stock int)""",
    """CREATE TABLE {ks}.carts (
        cart_id text, sku text, line timeuuid, qty int,
        PRIMARY KEY (cart_id, sku, line))""",
    """CREATE TABLE {ks}.orders (
        order_id uuid PRIMARY KEY, cart_id text, items map<text, int>, created_at timestamp)""",
    """CREATE TABLE {ks}.checkouts (order_id uuid PRIMARY KEY, cart_id text)""",
)

STATEMENTS = {
    "browse": "SELECT name, price_cents, stock FROM {ks}.products WHERE sku = ?",
    "exists": "SELECT sku FROM {ks}.products WHERE sku = ?",
    "stock": "SELECT stock FROM {ks}.products WHERE sku = ?",
    "cas": "UPDATE {ks}.products SET stock = ? WHERE sku = ? IF stock = ?",
    "add": "INSERT INTO {ks}.carts (cart_id, sku, line, qty) VALUES (?, ?, ?, ?)",
    "set": "INSERT INTO {ks}.carts (cart_id, sku, line, qty) VALUES (?, ?, ?, ?) "
    "USING TIMESTAMP ?",
    "clear_sku": "DELETE FROM {ks}.carts USING TIMESTAMP ? WHERE cart_id = ? AND sku = ?",
    "has_sku": "SELECT qty FROM {ks}.carts WHERE cart_id = ? AND sku = ? LIMIT 1",
    "remove": "DELETE FROM {ks}.carts WHERE cart_id = ? AND sku = ?",
    "view": "SELECT sku, qty FROM {ks}.carts WHERE cart_id = ?",
    "lines": "SELECT sku, line, qty FROM {ks}.carts WHERE cart_id = ?",
    "order_exists": "SELECT order_id FROM {ks}.orders WHERE order_id = ?",
    "claim": "INSERT INTO {ks}.checkouts (order_id, cart_id) VALUES (?, ?) IF NOT EXISTS",
    "release": "DELETE FROM {ks}.checkouts WHERE order_id = ? IF EXISTS",
    "order": "INSERT INTO {ks}.orders (order_id, cart_id, items, created_at) "
    "VALUES (?, ?, ?, toTimestamp(now()))",
    "empty": "DELETE FROM {ks}.carts USING TIMESTAMP ? WHERE cart_id = ?",
    "drop_line": "DELETE FROM {ks}.carts WHERE cart_id = ? AND sku = ? AND line = ?",
    "seed": "INSERT INTO {ks}.products (sku, name, price_cents, stock) VALUES (?, ?, ?, ?)",
}


#: Statements safe to send twice (reads; writes of fixed values, keys and timestamps): the driver
#: may retry them on the next host after a connection error.  Everything else — the stock CAS
#: above all, and ``remove`` (its timestamp is the coordinator's) — is never retried.
IDEMPOTENT = frozenset({"browse", "exists", "stock", "view", "lines", "order_exists", "has_sku",
                        "add", "set", "clear_sku", "order", "empty", "drop_line", "seed"})

#: Namespace of order ids derived from the checkout's lines (``order_id_of``).
ORDER_NAMESPACE = uuid.UUID("6f1d3c1e-6d5a-4c36-9d0e-2f8a0c5b7e11")


class NoRetryUnlessIdempotent(RetryPolicy):  # type: ignore[misc]
    """The driver's default policy retries *any* statement on the next host after a
    connection or server error (``on_request_error``), so a compare-and-set whose reply was
    lost could be applied twice.  Here only statements marked idempotent are; write timeouts
    (a CAS's ambiguous outcome included) are rethrown to the store, which reports them as
    ``timeout``.  Unavailable (nothing was applied) keeps the default: one retry elsewhere."""

    def on_request_error(self, query: Any, consistency: Any, error: Any,
                         retry_num: int) -> tuple[int, Any]:
        if query is not None and getattr(query, "is_idempotent", False) and retry_num == 0:
            return self.RETRY_NEXT_HOST, None
        return self.RETHROW, None

    def on_write_timeout(self, *args: Any, **kwargs: Any) -> tuple[int, Any]:
        return self.RETHROW, None


def order_id_of(cart_id: str, lines: list[uuid.UUID]) -> uuid.UUID:
    """The order id of a checkout of exactly these cart lines (every add/set writes a new
    ``line`` timeuuid): a retried checkout of the same lines derives the same id, so it
    finds the order a previous, ambiguous attempt placed instead of placing a second one."""
    name = cart_id + ":" + ",".join(sorted(str(u) for u in lines))
    return uuid.uuid5(ORDER_NAMESPACE, name)


#: Protocol v5 error "CAS operation result is unknown - proposal accepted by 1 but not a
#: quorum" (Cassandra 4+); cassandra-driver 3.30 surfaces it as a bare ErrorMessage.
CAS_WRITE_UNKNOWN = 0x1700


class _Refused(Exception):
    """Internal: a SKU is short of stock."""


class _Contended(Exception):
    """The CAS loop gave up after ``cas_retries`` lost races."""


def outcome_of(exc: BaseException) -> Outcome:
    """Map a cassandra-driver exception.  A CAS write timeout is ambiguous (the Paxos round
    may still complete), so it is a ``timeout``, not a ``conflict``; losing the race
    ``cas_retries`` times is the ``conflict``."""
    if isinstance(exc, _Contended):
        return Outcome.CONFLICT
    if isinstance(exc, Unavailable | NoHostAvailable):
        return Outcome.UNAVAILABLE
    if isinstance(exc, ReadTimeout | WriteTimeout | OperationTimedOut):
        return Outcome.TIMEOUT
    if getattr(exc, "code", None) == CAS_WRITE_UNKNOWN:
        return Outcome.TIMEOUT  # ambiguous like a CAS write timeout
    return Outcome.ERROR


def _now_us() -> int:
    return time.time_ns() // 1000


def keyspace_of(endpoints: dict[str, Any]) -> str:
    name = str(endpoints.get("keyspace") or DEFAULT_KEYSPACE)
    if not _KEYSPACE_NAME.fullmatch(name):
        raise InfraError(f"cassandra: keyspace {name!r} is not a plain identifier (letters, "
                         "digits, underscores; at most 48 characters)")
    return name


def replication_cql(endpoints: dict[str, Any], local_dc: str, factor: int) -> str:
    """The keyspace's replication map as CQL: ``endpoints["replication"]`` as given (external
    endpoints), else ``NetworkTopologyStrategy`` with ``factor`` replicas in ``local_dc``."""
    given = endpoints.get("replication")
    options: dict[str, Any] = (
        dict(given) if given else {"class": "NetworkTopologyStrategy", local_dc: factor}
    )
    for key, value in options.items():
        if "'" in str(key) or "'" in str(value):
            raise InfraError(f"cassandra: bad replication option {key!r}: {value!r}")
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in options.items()) + "}"


def _consistency(name: str) -> int:
    try:
        return int(getattr(ConsistencyLevel, name.upper()))
    except AttributeError:
        raise InfraError(f"cassandra: unknown consistency level {name!r}") from None


class CassandraStore:
    name = "cassandra"

    def __init__(
        self,
        endpoints: dict[str, Any],
        consistency: str | None = None,
        serial_consistency: str | None = None,
        request_timeout_s: float = 10.0,
        cas_retries: int = 50,
        seed_concurrency: int = 64,
    ) -> None:
        self._endpoints = endpoints
        # an explicit option wins, then the endpoints (external file), then QUORUM/SERIAL
        self.consistency = str(consistency or endpoints.get("consistency") or "QUORUM").upper()
        self.serial_consistency = str(
            serial_consistency or endpoints.get("serial_consistency") or "SERIAL"
        ).upper()
        self.keyspace = keyspace_of(endpoints)
        self.request_timeout_s = request_timeout_s
        self.cas_retries = cas_retries
        self.seed_concurrency = seed_concurrency
        self.replication_factor = int(endpoints.get("replication_factor", 3))
        self.local_dc = str(endpoints.get("local_dc", "datacenter1"))
        self.replication = replication_cql(endpoints, self.local_dc, self.replication_factor)
        profile = ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(self.local_dc)),
            consistency_level=_consistency(self.consistency),
            serial_consistency_level=_consistency(self.serial_consistency),
            request_timeout=request_timeout_s,
            retry_policy=NoRetryUnlessIdempotent(),
        )
        fast = ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(self.local_dc)),
            consistency_level=_consistency(self.consistency),
            serial_consistency_level=_consistency(self.serial_consistency),
            request_timeout=request_timeout_s,
            row_factory=tuple_factory,
            retry_policy=NoRetryUnlessIdempotent(),
        )
        kwargs: dict[str, Any] = {}
        self.connection_class = "default (asyncore/libev)"
        if _gevent_patched():
            from cassandra.io.geventreactor import GeventConnection

            kwargs["connection_class"] = GeventConnection
            self.connection_class = "GeventConnection"
        self._cluster = Cluster(
            contact_points=list(endpoints["contact_points"]),
            port=int(endpoints.get("port", 9042)),
            protocol_version=int(endpoints.get("protocol_version", 5)),
            execution_profiles={EXEC_PROFILE_DEFAULT: profile, FAST_READS: fast},
            **kwargs,
        )
        try:
            self._session = self._cluster.connect()
        except NoHostAvailable as exc:
            self._cluster.shutdown()
            raise InfraError(f"cassandra: no host reachable at {endpoints['contact_points']}") from exc
        self._lock = threading.Lock()
        self._stmts: dict[str, PreparedStatement] | None = None
        self._known_skus: set[str] = set()  # SKUs proven to exist (immutable catalogue)

    # -- plumbing ------------------------------------------------------------------------

    def _s(self, name: str) -> PreparedStatement:
        if self._stmts is None:
            with self._lock:
                if self._stmts is None:
                    stmts = {k: self._session.prepare(v.format(ks=self.keyspace))
                                   for k, v in STATEMENTS.items()}
                    for k, stmt in stmts.items():
                        stmt.is_idempotent = k in IDEMPOTENT
                    self._stmts = stmts
        return self._stmts[name]

    def _exec(self, name: str, args: tuple[Any, ...]) -> Any:
        return self._session.execute(self._s(name), args)

    def _run(self, fn: Callable[[], OpResult]) -> OpResult:
        try:
            return fn()
        except Exception as exc:  # outcomes are values
            return OpResult(outcome_of(exc), error=exc)

    def _read(self, name: str, args: tuple[Any, ...]) -> Any:
        """A hot-path read: rows as plain tuples (the default named-tuple factory builds a
        namedtuple class per result, tens of µs per request)."""
        return self._session.execute(self._s(name), args, execution_profile=FAST_READS)

    def _product_exists(self, sku: str) -> bool:
        """The catalogue is immutable between ``prepare`` calls (docs/SEMANTICS.md): a SKU
        seen once stays known, only unknown SKUs cost a read."""
        if sku in self._known_skus:
            return True
        if self._read("exists", (sku,)).one() is None:
            return False
        self._known_skus.add(sku)
        return True

    def _adjust(self, sku: str, delta: int) -> None:
        """Compare-and-set ``stock += delta`` (delta < 0 refuses below zero)."""
        row = self._exec("stock", (sku,)).one()
        if row is None:
            raise _Refused(sku)
        current = int(row.stock)
        for _ in range(self.cas_retries):
            if current + delta < 0:
                raise _Refused(sku)
            result = self._exec("cas", (current + delta, sku, current))
            if result.was_applied:
                return
            current = int(result.one().stock)  # a failed CAS returns the current value
        raise _Contended(f"stock of {sku}: lost {self.cas_retries} compare-and-set races")

    # -- contract ------------------------------------------------------------------------

    def prepare(self, catalog: Catalog) -> PrepareReport:
        with self._lock:
            self._stmts = None
            self._known_skus.clear()
        s = self._session
        ks = self.keyspace
        s.execute(f"DROP KEYSPACE IF EXISTS {ks}", timeout=120)
        s.execute(f"CREATE KEYSPACE {ks} WITH replication = {self.replication}", timeout=120)
        for ddl in TABLES:
            s.execute(ddl.format(ks=ks), timeout=120)
        rows = [(p.sku, p.name, p.price_cents, p.stock) for p in catalog.products]
        results = execute_concurrent_with_args(
            s, self._s("seed"), rows, concurrency=self.seed_concurrency, raise_on_first_error=True
        )
        assert all(ok for ok, _ in results)
        return PrepareReport(products=len(rows))

    def browse(self, sku: str) -> OpResult:
        if bad := invalid_args(sku=sku):
            return bad

        def op() -> OpResult:
            row = self._read("browse", (sku,)).one()
            if row is None:
                return OpResult(Outcome.NOT_FOUND)
            return OpResult(Outcome.OK, Product(sku, row[0], row[1], row[2]))

        return self._run(op)

    def add_item(self, cart_id: str, sku: str, qty: int) -> OpResult:
        if bad := invalid_args(cart_id, sku) or invalid_qty(qty, allow_zero=False):
            return bad

        def op() -> OpResult:
            if not self._product_exists(sku):
                return OpResult(Outcome.NOT_FOUND)
            self._exec("add", (cart_id, sku, uuid.uuid1(), qty))
            return OpResult(Outcome.OK)

        return self._run(op)

    def set_quantity(self, cart_id: str, sku: str, qty: int) -> OpResult:
        if bad := invalid_args(cart_id, sku) or invalid_qty(qty, allow_zero=True):
            return bad
        if qty == 0:
            return self.remove_item(cart_id, sku)  # an unknown SKU is never in a cart

        def op() -> OpResult:
            if not self._product_exists(sku):
                return OpResult(Outcome.NOT_FOUND)
            ts = _now_us()
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)  # one partition: atomic
            batch.add(self._s("clear_sku"), (ts - 1, cart_id, sku))
            batch.add(self._s("set"), (cart_id, sku, uuid.uuid1(), qty, ts))
            self._session.execute(batch)
            return OpResult(Outcome.OK)

        return self._run(op)

    def remove_item(self, cart_id: str, sku: str) -> OpResult:
        if bad := invalid_args(cart_id, sku):
            return bad

        def op() -> OpResult:
            if self._read("has_sku", (cart_id, sku)).one() is None:
                return OpResult(Outcome.NOT_FOUND)
            self._exec("remove", (cart_id, sku))
            return OpResult(Outcome.OK)

        return self._run(op)

    def _lines(self, cart_id: str) -> dict[str, int]:
        items: dict[str, int] = {}
        for sku, qty in self._read("view", (cart_id,)):
            items[sku] = items.get(sku, 0) + qty
        return items

    def view_cart(self, cart_id: str) -> OpResult:
        if bad := invalid_args(cart_id):
            return bad
        return self._run(lambda: OpResult(Outcome.OK, self._lines(cart_id)))

    def checkout(self, cart_id: str) -> OpResult:
        if bad := invalid_args(cart_id):
            return bad
        items: dict[str, int] = {}
        lines: list[uuid.UUID] = []
        keys: list[tuple[str, uuid.UUID]] = []
        try:
            for row in self._exec("lines", (cart_id,)):
                items[row.sku] = items.get(row.sku, 0) + row.qty
                lines.append(row.line)
                keys.append((row.sku, row.line))
        except Exception as exc:
            return OpResult(outcome_of(exc), error=exc)
        if not items:
            return OpResult(Outcome.NOT_FOUND)
        order_id = order_id_of(cart_id, lines)
        try:
            if not self._exec("claim", (order_id, cart_id)).was_applied:
                if self._exec("order_exists", (order_id,)).one() is None:
                    # a concurrent checkout of these lines (or one that died before its
                    # order was written) holds the claim
                    return OpResult(Outcome.CONFLICT, error=RuntimeError(
                        f"checkout of {cart_id}: these lines are claimed by another checkout"))
                # an earlier attempt placed this order and failed before emptying the cart
                self._drop_lines(cart_id, keys)
                return OpResult(Outcome.OK, str(order_id))
        except Exception as exc:
            return OpResult(outcome_of(exc), error=exc)
        done: list[tuple[str, int]] = []
        for sku in sorted(items):
            try:
                self._adjust(sku, -items[sku])
            except _Refused:
                return self._compensate(cart_id, done, OpResult(Outcome.OUT_OF_STOCK),
                                        release=order_id)
            except Exception as exc:
                # this SKU's CAS may have applied (timeout): undo only the known ones and
                # release the claim once they are back. No order was written, so a retry can
                # place no duplicate; if the ambiguous CAS did commit, the retry takes the
                # units again (undersell, never oversell). Keeping the claim instead left the
                # cart unable to check out at all (every retry answered conflict).
                return self._compensate(cart_id, done, OpResult(outcome_of(exc), error=exc),
                                        release=order_id)
            done.append((sku, items[sku]))
        try:
            self._exec("order", (order_id, cart_id, items))
        except Exception as exc:
            # ambiguous (the order may exist): keep the stock taken; a retry of this checkout
            # derives the same order id and finds the order if it was written
            return OpResult(outcome_of(exc), error=exc)
        try:
            self._drop_lines(cart_id, keys)
        except Exception as exc:
            # the order exists; the cart's next checkout finds it (same lines, same id)
            return OpResult(outcome_of(exc), error=exc)
        return OpResult(Outcome.OK, str(order_id))

    def _drop_lines(self, cart_id: str, keys: list[tuple[str, uuid.UUID]]) -> None:
        """Delete exactly the lines the checkout read and ordered, in one single-partition
        batch (atomic).  A partition delete ``USING TIMESTAMP`` of the read also removed a
        concurrent add whose write timestamp was older than the read but which the read did
        not see yet — an acknowledged add deleted unordered (found by the audit)."""
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        stmt = self._s("drop_line")
        for sku, line in keys:
            batch.add(stmt, (cart_id, sku, line))
        batch.is_idempotent = True
        self._session.execute(batch)

    def _compensate(self, cart_id: str, done: list[tuple[str, int]], result: OpResult,
                    release: uuid.UUID | None = None) -> OpResult:
        """Give back every SKU already decremented, each tried even if an earlier one failed;
        a failure is reported (its units are leaked: undersell) and overrides ``out_of_stock``.
        ``release``: the claim to drop once every unit is back (the lines may check out later)."""
        failed: list[str] = []
        first: Exception | None = None
        for sku, qty in reversed(done):
            try:
                self._adjust(sku, qty)
            except Exception as exc:
                failed.append(f"{sku}+{qty}")
                first = first or exc
        if first is None and release is not None:
            try:
                self._exec("release", (release,))
            except Exception as exc:
                failed.append("claim release")
                first = exc
        if first is None:
            return result
        error = RuntimeError(f"checkout of {cart_id}: compensation failed for {failed}: {first}")
        return OpResult(outcome_of(first), error=error)

    def snapshot(self) -> Snapshot:
        snap = Snapshot()
        s, ks = self._session, self.keyspace
        for row in s.execute(f"SELECT cart_id, sku, qty FROM {ks}.carts", timeout=120):
            cart = snap.carts.setdefault(row.cart_id, {})
            cart[row.sku] = cart.get(row.sku, 0) + row.qty
        for row in s.execute(f"SELECT order_id, cart_id, items FROM {ks}.orders", timeout=120):
            snap.orders.append(Order(str(row.order_id), row.cart_id, dict(row.items or {})))
        for row in s.execute(f"SELECT sku, stock FROM {ks}.products", timeout=120):
            snap.inventory[row.sku] = row.stock
        return snap

    def settings(self) -> dict[str, Any]:
        return {
            "store": "cassandra",
            "driver": f"cassandra-driver {cassandra.__version__}",
            "consistency": self.consistency,
            "serial_consistency": self.serial_consistency,
            "keyspace": self.keyspace,
            "replication_factor": self.replication_factor,
            "replication": self.replication,
            "load_balancing": f"TokenAwarePolicy(DCAwareRoundRobinPolicy({self.local_dc!r}))",
            "connection_class": self.connection_class,
            "request_timeout_s": self.request_timeout_s,
            "cas_retries": self.cas_retries,
            "checkout": "per-SKU LWT compare-and-set in sku order, compensation on refusal",
            "retry_policy": "idempotent statements only (never a CAS)",
            "order_id": "uuid5 of the cart's line ids (a retried checkout finds its order)",
        }

    def close(self) -> None:
        self._cluster.shutdown()


def _gevent_patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:
        return False
    return bool(monkey.is_module_patched("socket"))

