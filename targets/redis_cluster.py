"""Redis Cluster cart store: a hash per cart, per-SKU inventory behind Lua, a checkout saga.

Keys (``{...}`` is the cluster hash tag; ``P`` is
``endpoints["key_prefix"]``, empty unless given, e.g. ``cartbench:`` from external endpoints)::

    Pproduct:{<sku>}              hash  name, price_cents, stock   (one slot per SKU)
    Pcart:{<cart_id>}             hash  sku → qty
    Pcheckout:{<cart_id>}         hash  sku → qty   (a cart claimed by an in-flight checkout)
    Porder:{<cart_id>}:<order_id> hash  sku → qty   (a placed order)

The prefix stays *outside* the hash tag, so a key's slot depends on the cart id or SKU only: the
slot layout is the same with or without a prefix, and one cart's keys share one slot.  A prefix
may not contain ``{`` or ``}`` (it would become the hash tag and put every key in one slot).
With a prefix, ``prepare`` deletes only the prefix's keys (SCAN + UNLINK on each master), never
``FLUSHALL`` someone else's cluster.

Connection: ``endpoints["startup_nodes"]`` (``[[host, port], ...]``), optional ``password``,
and optional ``address_remap`` — a mapping ``"announced_host:port" → [host, port]`` (the Docker
launcher's containers announce addresses the host cannot reach) turned here into redis-py's
``address_remap`` callable, so every redirect and topology refresh goes to a reachable address.

Everything about one cart shares the cart's slot, so claiming a cart, restoring it and turning
the claim into an order are each single atomic commands.  Inventory is *not* co-located: one
``{inventory}`` slot would make checkout atomic but put every stock update on one master (the
hot shard the cluster exists to avoid).  So checkout is a saga, in this order:

1. claim: atomically RENAME ``cart:{c}`` → ``checkout:{c}`` (refused → conflict if a claim
   already exists: a concurrent or crashed checkout of the same cart);
2. for each SKU in sorted order, a Lua check-and-decrement on ``product:{sku}``
   (``stock >= qty`` else refuse) — atomic per SKU, so no oversell while masters survive;
3. on a refusal: re-increment the SKUs already decremented (compensation), merge the claim
   back into the cart → out_of_stock;
4. RENAME ``checkout:{c}`` → ``order:{c}:<id>`` — the order exists exactly when the claim is
   consumed.

No command is retried by the client (redis-py's default would retry a HINCRBY, a decrement or
the RENAME after a dropped connection and apply it twice); idempotent reads retry.  If the final
RENAME fails, the store reads back whether the order exists: if so the checkout answers ok,
if the claim is still there it compensates, otherwise (or if the read fails) it answers the
failure and gives no stock back — stock is never returned for an order that exists.
Compensation tries every step and reports a failed one.

Failure modes (docs/SEMANTICS.md): a client/driver failure between 2 and 4 leaves stock
decremented with no order and a dangling claim (stock lost, never oversold; the cart's next
checkout answers conflict); replication is asynchronous, so a master failover can lose an
acknowledged decrement and oversell, unless ``wait_replicas`` ≥ 1 makes every write wait for a
replica's ack (``WAIT``; a write without the ack answers ``timeout``: it may or may not
survive).  Between 2 and 4 other clients see lower stock without an order (no isolation).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import redis
from redis import exceptions as rexc
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import BlockingConnectionPool
from redis.retry import Retry

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

#: KEYS[1] product, ARGV[1] qty → new stock, -1 unknown SKU, -2 not enough stock.
DECREMENT = """
local s = redis.call('HGET', KEYS[1], 'stock')
if not s then return -1 end
local q = tonumber(ARGV[1])
if tonumber(s) < q then return -2 end
return redis.call('HINCRBY', KEYS[1], 'stock', -q)
"""
#: KEYS[1] cart, KEYS[2] claim → -1 already claimed, 0 empty cart, else the claimed items.
CLAIM = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
return redis.call('HGETALL', KEYS[2])
"""
#: KEYS[1] claim, KEYS[2] cart: merge the claimed items back into the cart.
RESTORE = """
local items = redis.call('HGETALL', KEYS[1])
for i = 1, #items, 2 do redis.call('HINCRBY', KEYS[2], items[i], items[i + 1]) end
redis.call('DEL', KEYS[1])
return #items / 2
"""


class _NotReplicated(Exception):
    """WAIT returned fewer replica acks than asked for within the timeout: the command *was*
    applied on the master (``result`` is its reply) but may not survive a failover."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


#: Idempotent reads are retried this often on a connection error or timeout (the cluster
#: client reinitialises its slot map after each); writes never are.
READ_RETRIES = 3


_GLOB_SPECIALS = frozenset("*?[]\\")


@dataclass(frozen=True)
class KeyLayout:
    """Key names under an optional prefix placed before the hash tag (see module docstring)."""

    prefix: str = ""

    def __post_init__(self) -> None:
        if "{" in self.prefix or "}" in self.prefix:
            raise InfraError(
                f"redis-cluster: key_prefix {self.prefix!r} must not contain '{{' or '}}' "
                "(it would become the hash tag and put every key in one slot)"
            )

    def product(self, sku: str) -> str:
        return f"{self.prefix}product:{{{sku}}}"

    def cart(self, cart_id: str) -> str:
        return f"{self.prefix}cart:{{{cart_id}}}"

    def claim(self, cart_id: str) -> str:
        return f"{self.prefix}checkout:{{{cart_id}}}"

    def order(self, cart_id: str, order_id: str) -> str:
        return f"{self.prefix}order:{{{cart_id}}}:{order_id}"

    def pattern(self, kind: str = "") -> str:
        """SCAN MATCH pattern for ``<prefix><kind>*`` (glob characters in the prefix escaped)."""
        escaped = "".join("\\" + c if c in _GLOB_SPECIALS else c for c in self.prefix)
        return f"{escaped}{kind}*"

    def tag_of(self, key: str, kind: str) -> str:
        """The cart id or SKU of a ``<prefix><kind>:{tag}`` or ``...:{tag}:<order id>`` key."""
        return key[len(self.prefix) + len(kind) + 2:].rsplit("}", 1)[0]


def address_remapper(remap: Any) -> Callable[[tuple[str, int]], tuple[str, int]] | None:
    """redis-py's ``address_remap`` from the endpoints' mapping ``"host:port" → [host, port]``
    (a callable is passed through; None/empty → no remapping)."""
    if not remap:
        return None
    if callable(remap):
        return cast(Callable[[tuple[str, int]], tuple[str, int]], remap)
    if not isinstance(remap, dict):
        raise InfraError("redis-cluster: endpoints address_remap must map 'host:port' to [host, port]")
    table: dict[tuple[str, int], tuple[str, int]] = {}
    for source, target in remap.items():
        host, _, port = str(source).rpartition(":")
        if not host or not port.isdigit() or not isinstance(target, list | tuple) or len(target) != 2:
            raise InfraError(f"redis-cluster: bad address_remap entry {source!r}: {target!r}")
        table[(host, int(port))] = (str(target[0]), int(target[1]))

    def remap_address(address: tuple[str, int]) -> tuple[str, int]:
        return table.get((str(address[0]), int(address[1])), address)

    return remap_address


def outcome_of(exc: BaseException) -> Outcome:
    if isinstance(exc, rexc.TimeoutError | _NotReplicated):
        return Outcome.TIMEOUT
    if isinstance(exc, rexc.ConnectionError | rexc.ClusterDownError | rexc.ClusterError
                  | rexc.TryAgainError | rexc.ReadOnlyError | rexc.MasterDownError):
        return Outcome.UNAVAILABLE
    if isinstance(exc, rexc.ResponseError) and str(exc).startswith(("MOVED", "ASK", "CLUSTERDOWN")):
        return Outcome.UNAVAILABLE
    return Outcome.ERROR


class RedisClusterStore:
    name = "redis-cluster"

    def __init__(
        self,
        endpoints: dict[str, Any],
        wait_replicas: int = 0,
        wait_timeout_ms: int = 1000,
        max_connections: int = 64,
        pool_timeout_s: float = 30.0,
        socket_timeout_s: float = 5.0,
    ) -> None:
        make_node: Any = ClusterNode  # redis-py's cluster module is untyped
        nodes = [make_node(str(h), int(p)) for h, p in endpoints.get("startup_nodes", [])]
        if not nodes:
            raise InfraError("redis-cluster: endpoints have no startup_nodes")
        if wait_replicas < 0 or max_connections < 1:
            raise InfraError("redis-cluster: wait_replicas must be >= 0 and max_connections >= 1")
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        self.max_connections = max_connections
        self.socket_timeout_s = socket_timeout_s
        self._keys = KeyLayout(str(endpoints.get("key_prefix") or ""))
        self._remapped = bool(endpoints.get("address_remap"))
        first = nodes[0]
        try:
            # connection_pool_class is only honoured on the url= path (redis-py 8.1
            # NodesManager.create_redis_node); the blocking pool makes callers beyond
            # max_connections (per node) wait up to `timeout` instead of raising
            # MaxConnectionsError.
            self._rc: Any = RedisCluster(
                url=f"redis://{first.host}:{first.port}",
                startup_nodes=nodes,
                connection_pool_class=BlockingConnectionPool,
                max_connections=max_connections,
                timeout=pool_timeout_s,
                socket_timeout=socket_timeout_s,
                socket_connect_timeout=socket_timeout_s,
                password=endpoints.get("password") or None,
                address_remap=address_remapper(endpoints.get("address_remap")),
                decode_responses=True,
                # redis-py 8.1 retries ConnectionError/TimeoutError up to 10 times by default:
                # a HINCRBY, Lua decrement, claim or RENAME applied before the connection
                # dropped would be applied again and still acknowledged.  No retries here;
                # reads retry themselves (``_read``).  MOVED/ASK redirects are still followed.
                retry=Retry(NoBackoff(), 0),
            )
        except rexc.RedisError as exc:
            raise InfraError(f"redis-cluster: cannot connect to {first.host}:{first.port}: {exc}") from exc
        self._sha = {name: self._rc.script_load(src) for name, src in self._scripts().items()}
        self._known_skus: set[str] = set()  # SKUs proven to exist (immutable catalogue)

    @staticmethod
    def _scripts() -> dict[str, str]:
        return {"decrement": DECREMENT, "claim": CLAIM, "restore": RESTORE}

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, key: str, *command: Any) -> Any:
        """Run one command routed by ``key``; with ``wait_replicas``, follow it by ``WAIT`` on
        the same connection (WAIT only counts the connection's own writes)."""
        if not self.wait_replicas:
            return self._rc.execute_command(*command)
        node = self._rc.get_node_from_key(key)
        pipe = node.redis_connection.pipeline(transaction=False)
        pipe.execute_command(*command)
        pipe.execute_command("WAIT", self.wait_replicas, self.wait_timeout_ms)
        result, acked = pipe.execute(raise_on_error=False)
        if isinstance(result, rexc.ResponseError) and str(result).startswith(("MOVED", "ASK")):
            self._rc.nodes_manager.initialize()  # topology changed (failover): refresh
        if isinstance(result, Exception):
            raise result
        if int(acked) < self.wait_replicas:
            raise _NotReplicated(f"WAIT {self.wait_replicas}: {acked} replica(s) acked", result)
        return result

    def _read(self, fn: Callable[[], Any]) -> Any:
        """An idempotent read, retried on connection errors and timeouts."""
        for attempt in range(READ_RETRIES + 1):
            try:
                return fn()
            except (rexc.ConnectionError, rexc.TimeoutError, rexc.ClusterDownError):
                if attempt == READ_RETRIES:
                    raise
        raise AssertionError("unreachable")

    def _script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        try:
            return self._call(keys[0], "EVALSHA", self._sha[name], len(keys), *keys, *args)
        except rexc.NoScriptError:  # a node that restarted/failed over lost its script cache
            return self._call(keys[0], "EVAL", self._scripts()[name], len(keys), *keys, *args)

    def _run(self, fn: Callable[[], OpResult]) -> OpResult:
        try:
            return fn()
        except Exception as exc:  # outcomes are values
            return OpResult(outcome_of(exc), error=exc)

    def _product_exists(self, sku: str) -> bool:
        """The catalogue is immutable between ``prepare`` calls (docs/SEMANTICS.md), so a SKU
        seen once stays known: only unknown SKUs cost a request.  A single-key ``EXISTS``
        command — ``RedisCluster.exists`` builds a cross-slot pipeline even for one key."""
        if sku in self._known_skus:
            return True
        key = self._keys.product(sku)
        if self._read(lambda: self._rc.execute_command("EXISTS", key)):
            self._known_skus.add(sku)
            return True
        return False

    # -- contract ------------------------------------------------------------------------

    def prepare(self, catalog: Catalog) -> PrepareReport:
        self._known_skus.clear()
        if self._keys.prefix:
            self._delete_prefixed()
        else:  # no prefix: the cluster is ours (native/docker launchers)
            self._rc.flushall(target_nodes=RedisCluster.PRIMARIES)
        batch = 2000
        products = catalog.products
        for start in range(0, len(products), batch):
            pipe = self._rc.pipeline()
            for p in products[start:start + batch]:
                pipe.hset(self._keys.product(p.sku), mapping={
                    "name": p.name, "price_cents": p.price_cents, "stock": p.stock,
                })
            pipe.execute()
        if self.wait_replicas:
            for node in self._rc.get_primaries():
                # a fresh connection has no writes of its own: WAIT on it proves nothing, so
                # wait for every replica's offset to catch up with its master instead
                self._wait_replicas_caught_up(node)
        return PrepareReport(products=len(products))

    def _delete_prefixed(self, batch: int = 1000) -> None:
        """Delete every key under the prefix, master by master (one key per UNLINK: keys of
        different slots cannot share a command even on one node)."""
        for node in self._rc.get_primaries():
            conn = node.redis_connection
            pipe = conn.pipeline(transaction=False)
            for key in conn.scan_iter(match=self._keys.pattern(), count=batch):
                pipe.unlink(key)
                if len(pipe) >= batch:
                    pipe.execute()
            pipe.execute()

    def _wait_replicas_caught_up(self, node: Any, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            info = node.redis_connection.info("replication")
            offset = int(info.get("master_repl_offset", 0))
            lags = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
            if all(int(s.get("offset", 0)) >= offset for s in lags):
                return
            time.sleep(0.05)
        raise InfraError(f"redis-cluster: replicas of {node.name} did not catch up in {timeout_s} s")

    def browse(self, sku: str) -> OpResult:
        if bad := invalid_args(sku=sku):
            return bad

        def op() -> OpResult:
            h = self._read(lambda: self._rc.hgetall(self._keys.product(sku)))
            if not h:
                return OpResult(Outcome.NOT_FOUND)
            return OpResult(Outcome.OK, Product(sku, h["name"], int(h["price_cents"]), int(h["stock"])))

        return self._run(op)

    def add_item(self, cart_id: str, sku: str, qty: int) -> OpResult:
        if bad := invalid_args(cart_id, sku) or invalid_qty(qty, allow_zero=False):
            return bad

        def op() -> OpResult:
            if not self._product_exists(sku):
                return OpResult(Outcome.NOT_FOUND)
            key = self._keys.cart(cart_id)
            self._call(key, "HINCRBY", key, sku, qty)
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
            key = self._keys.cart(cart_id)
            self._call(key, "HSET", key, sku, qty)
            return OpResult(Outcome.OK)

        return self._run(op)

    def remove_item(self, cart_id: str, sku: str) -> OpResult:
        if bad := invalid_args(cart_id, sku):
            return bad

        def op() -> OpResult:
            key = self._keys.cart(cart_id)
            removed = self._call(key, "HDEL", key, sku)
            return OpResult(Outcome.OK if removed else Outcome.NOT_FOUND)

        return self._run(op)

    def view_cart(self, cart_id: str) -> OpResult:
        if bad := invalid_args(cart_id):
            return bad
        key = self._keys.cart(cart_id)
        return self._run(lambda: OpResult(Outcome.OK, {
            sku: int(q) for sku, q in self._read(lambda: self._rc.hgetall(key)).items()
        }))

    def checkout(self, cart_id: str) -> OpResult:
        if bad := invalid_args(cart_id):
            return bad
        cart, claim = self._keys.cart(cart_id), self._keys.claim(cart_id)
        try:
            claimed = self._script("claim", [cart, claim], [])
        except Exception as exc:
            return OpResult(outcome_of(exc), error=exc)
        if claimed == 0:
            return OpResult(Outcome.NOT_FOUND)
        if claimed == -1:
            return OpResult(Outcome.CONFLICT, error=RuntimeError(f"cart {cart_id} already claimed"))
        items = {claimed[i]: int(claimed[i + 1]) for i in range(0, len(claimed), 2)}
        done: list[tuple[str, int]] = []
        for sku in sorted(items):
            try:
                left = self._script("decrement", [self._keys.product(sku)], [items[sku]])
            except _NotReplicated as exc:  # applied on the master: undo it with the others
                if isinstance(exc.result, int) and exc.result >= 0:
                    done.append((sku, items[sku]))
                return self._compensate(cart_id, done, OpResult(Outcome.TIMEOUT, error=exc))
            except Exception as exc:
                # ambiguous: this decrement may have applied; undo only what we know we did
                # (a decrement that did apply is stock leaked — undersell, never oversell)
                return self._compensate(cart_id, done, OpResult(outcome_of(exc), error=exc))
            if int(left) < 0:
                return self._compensate(cart_id, done, OpResult(Outcome.OUT_OF_STOCK))
            done.append((sku, items[sku]))
        order_id = uuid.uuid4().hex
        order = self._keys.order(cart_id, order_id)
        try:
            self._call(claim, "RENAME", claim, order)
            return OpResult(Outcome.OK, order_id)
        except _NotReplicated as exc:
            # the order exists on the master: never give its stock back
            return OpResult(Outcome.TIMEOUT, error=exc)
        except Exception as exc:
            return self._settle_rename(cart_id, order, done, exc)

    def _settle_rename(self, cart_id: str, order: str, done: list[tuple[str, int]],
                       exc: Exception) -> OpResult:
        """The final RENAME failed: find out whether it was applied before compensating."""
        claim = self._keys.claim(cart_id)
        try:
            placed = bool(self._read(lambda: self._rc.exists(order)))
            claimed = bool(self._read(lambda: self._rc.exists(claim)))
        except Exception:
            return OpResult(outcome_of(exc), error=exc)  # unknown: keep the stock taken
        if placed:  # applied, the reply was lost: the checkout happened
            return OpResult(Outcome.OK, order.rsplit("}:", 1)[1])
        if claimed:  # not applied: undo the decrements, give the cart back
            return self._compensate(cart_id, done, OpResult(outcome_of(exc), error=exc))
        return OpResult(outcome_of(exc), error=exc)  # neither (a failover lost both): unknown

    def _compensate(self, cart_id: str, done: list[tuple[str, int]], result: OpResult) -> OpResult:
        """Re-increment every decremented SKU and merge the claim back into the cart.  Each
        step is tried even when an earlier one failed; a failure is reported (its stock is
        leaked: undersell) and overrides an ``out_of_stock``."""
        failed: list[str] = []
        first: Exception | None = None
        for sku, qty in reversed(done):
            key = self._keys.product(sku)
            try:
                self._call(key, "HINCRBY", key, "stock", qty)
            except _NotReplicated:
                pass  # applied on the master
            except Exception as exc:
                failed.append(f"{sku}+{qty}")
                first = first or exc
        try:
            self._script("restore", [self._keys.claim(cart_id), self._keys.cart(cart_id)], [])
        except _NotReplicated:
            pass
        except Exception as exc:
            failed.append("cart restore")
            first = first or exc
        if first is None:
            return result
        error = RuntimeError(f"checkout of {cart_id}: compensation failed for {failed}: {first}")
        return OpResult(outcome_of(first), error=error)

    def snapshot(self) -> Snapshot:
        snap = Snapshot()
        rc, keys = self._rc, self._keys
        for key in rc.scan_iter(match=keys.pattern("cart:"), count=1000):
            items = {k: int(v) for k, v in rc.hgetall(key).items()}
            if items:
                snap.carts[keys.tag_of(key, "cart")] = items
        for key in rc.scan_iter(match=keys.pattern("order:"), count=1000):
            order_id = key.rsplit("}:", 1)[1]
            items = {k: int(v) for k, v in rc.hgetall(key).items()}
            snap.orders.append(Order(order_id=order_id, cart_id=keys.tag_of(key, "order"), items=items))
        products = list(rc.scan_iter(match=keys.pattern("product:"), count=1000))
        pipe = rc.pipeline()
        for key in products:
            pipe.hget(key, "stock")
        for key, stock in zip(products, pipe.execute(), strict=True):
            snap.inventory[keys.tag_of(key, "product")] = int(stock)
        return snap

    def settings(self) -> dict[str, Any]:
        return {
            "store": "redis-cluster",
            "driver": f"redis-py {redis.__version__}",
            "pool": "BlockingConnectionPool per node",
            "max_connections_per_node": self.max_connections,
            "wait_replicas": self.wait_replicas,
            "wait_timeout_ms": self.wait_timeout_ms,
            "socket_timeout_s": self.socket_timeout_s,
            "inventory_layout": "one slot per SKU; checkout saga with compensation",
            "client_retries": f"writes 0, idempotent reads {READ_RETRIES}",
            "key_prefix": self._keys.prefix,
            "address_remap": self._remapped,
        }

    def close(self) -> None:
        self._rc.close()
