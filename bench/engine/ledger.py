"""The ledger of acknowledged writes, and the audit that compares it to a store snapshot.

Owned by the load engine.  The scheduler serialises operations per cart (an operation waits
for its cart's previous operation to finish, see ``scheduler.py``), so for every cart the
order of acknowledgements is the order of application and the *expected* contents are
exact: after an acknowledged ``add_item``/``set_quantity``/``remove_item``/``checkout`` the
ledger applies the same change the contract defines (docs in ``targets/reference.py``).

A failed operation (timeout, unavailable, conflict, error) may or may not have been applied:
its cart becomes **uncertain** and is left out of the cart comparison for the rest of the run
(its acknowledged orders are still checked for existence).  Business outcomes (not_found,
out_of_stock, invalid) are acknowledged *no change*.

Ledgers from several worker processes merge (carts are partitioned between workers).

Memory: everything but the acknowledged orders is bounded by the number of carts.  The
orders must all be kept (the audit checks each one), so ``OrderLog`` stores them packed in
flat arrays: ~30 bytes + 8 per line per order (order id bytes included) instead of ~350 for
a dataclass holding an items dict (``tests/benchmarks/bench_soak.py`` measures both).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from targets.base import Catalog, OpResult, Outcome, Snapshot

MAX_DETAILS = 50


@dataclass
class AckedOrder:
    order_id: str
    cart_id: str
    items: dict[str, int] | None  # None: the cart was uncertain, contents unknown


class _Names:
    """A string table: each distinct name stored once, referred to by index."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}

    def of(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.names)
            self.names.append(name)
        return i


class OrderLog:
    """Acknowledged orders, packed: order ids as UTF-8 in one ``bytearray``; cart and SKU
    names as indexes into string tables (bounded by carts and catalog); items as
    ``(sku, qty)`` pairs in one flat array.  Iterating yields ``AckedOrder``s."""

    def __init__(self, orders: Iterable[AckedOrder] = ()) -> None:
        self._ids = bytearray()
        self._id_end: array[int] = array("Q")
        self._cart: array[int] = array("I")
        self._items: array[int] = array("I")  # sku index, qty, ... (the engine plans qty 1..3)
        self._items_end: array[int] = array("q")  # -1: contents unknown (uncertain cart)
        self._carts = _Names()
        self._skus = _Names()
        for o in orders:
            self.append(o.order_id, o.cart_id, o.items)

    def append(self, order_id: str, cart_id: str, items: dict[str, int] | None) -> None:
        self._ids += order_id.encode()
        self._id_end.append(len(self._ids))
        self._cart.append(self._carts.of(cart_id))
        if items is None:
            self._items_end.append(-1)
            return
        sku = self._skus.of
        for name, qty in items.items():
            self._items.append(sku(name))
            self._items.append(qty)
        self._items_end.append(len(self._items))

    def extend(self, other: Iterable[AckedOrder]) -> None:
        for o in other:
            self.append(o.order_id, o.cart_id, o.items)

    def __len__(self) -> int:
        return len(self._id_end)

    def __iter__(self) -> Iterator[AckedOrder]:
        ids, carts, skus = self._ids, self._carts.names, self._skus.names
        id_start = item_start = 0
        for i, id_end in enumerate(self._id_end):
            order_id = ids[id_start:id_end].decode()
            id_start = id_end
            end = self._items_end[i]
            items: dict[str, int] | None = None
            if end >= 0:
                pairs = self._items[item_start:end]
                items = {skus[pairs[k]]: pairs[k + 1] for k in range(0, len(pairs), 2)}
                item_start = end
            yield AckedOrder(order_id, carts[self._cart[i]], items)

    def nbytes(self) -> int:
        """The packed arrays' size (the string tables aside)."""
        arrays = (self._id_end, self._cart, self._items, self._items_end)
        return len(self._ids) + sum(a.itemsize * len(a) for a in arrays)


@dataclass
class Ledger:
    carts: dict[str, dict[str, int]] = field(default_factory=dict)
    uncertain: set[str] = field(default_factory=set)
    orders: OrderLog = field(default_factory=OrderLog)
    touched: set[str] = field(default_factory=set)  # carts with an acknowledged write
    acked_writes: int = 0

    # -- the engine's view --------------------------------------------------------------

    def contents(self, cart_id: str) -> dict[str, int]:
        """The expected contents (used to pick SKUs that are in the cart)."""
        return self.carts.get(cart_id, {})

    def apply(
        self, op: str, cart_id: str | None, sku: str | None, qty: int, result: OpResult
    ) -> None:
        """Record the acknowledged effect of one completed operation."""
        if cart_id is None or op in ("browse", "view_cart"):
            return
        outcome = result.outcome
        if outcome.is_failure:
            self.uncertain.add(cart_id)
            self.carts.pop(cart_id, None)
            return
        if outcome is not Outcome.OK:
            return
        self.acked_writes += 1
        self.touched.add(cart_id)
        certain = cart_id not in self.uncertain
        if op == "checkout":
            items = self.carts.pop(cart_id, None) if certain else None
            self.orders.append(str(result.value), cart_id, items if certain else None)
            return
        if not certain or sku is None:
            return
        cart = self.carts.setdefault(cart_id, {})
        if op == "add_item":
            cart[sku] = cart.get(sku, 0) + qty
        elif op == "set_quantity" and qty > 0:
            cart[sku] = qty
        elif op in ("remove_item", "set_quantity"):
            cart.pop(sku, None)
        if not cart:
            del self.carts[cart_id]

    def merge(self, other: Ledger) -> None:
        self.carts.update(other.carts)
        self.uncertain |= other.uncertain
        self.touched |= other.touched
        self.orders.extend(other.orders)
        self.acked_writes += other.acked_writes

    # -- transport between processes -----------------------------------------------------

    def to_message(self) -> dict[str, Any]:
        return {
            "carts": self.carts,
            "uncertain": sorted(self.uncertain),
            "touched": sorted(self.touched),
            "orders": [[o.order_id, o.cart_id, o.items] for o in self.orders],
            "acked_writes": self.acked_writes,
        }

    @classmethod
    def from_message(cls, m: dict[str, Any]) -> Ledger:
        return cls(
            carts={c: dict(v) for c, v in m["carts"].items()},
            uncertain=set(m["uncertain"]),
            touched=set(m["touched"]),
            orders=OrderLog(AckedOrder(o, c, i) for o, c, i in m["orders"]),
            acked_writes=int(m["acked_writes"]),
        )

    # -- the audit ---------------------------------------------------------------------

    def audit(self, snapshot: Snapshot, catalog: Catalog | None = None) -> dict[str, Any]:
        """Compare acknowledged writes with what the store returns.

        * ``acknowledged_writes_lost``: cart lines whose stored quantity differs from the
          expected one (certain carts only) + acknowledged orders missing from the store or
          with different items;
        * ``oversold_skus``/``oversold_units``: SKUs whose stored inventory is negative, or
          (given the ``catalog``) whose units in stored orders exceed the initial stock.
        Compared carts: every cart with an acknowledged write that never became uncertain.
        """
        details: list[str] = []
        lost = 0
        checked = 0
        for cart_id in sorted(self.touched - self.uncertain):
            checked += 1
            expected = self.carts.get(cart_id, {})
            stored = {s: q for s, q in snapshot.carts.get(cart_id, {}).items() if q}
            for sku in sorted(set(expected) | set(stored)):
                if expected.get(sku, 0) != stored.get(sku, 0):
                    lost += 1
                    if len(details) < MAX_DETAILS:
                        details.append(
                            f"cart {cart_id} sku {sku}: expected {expected.get(sku, 0)},"
                            f" stored {stored.get(sku, 0)}"
                        )
        stored_orders = {o.order_id: o for o in snapshot.orders}
        for acked in self.orders:
            got = stored_orders.get(acked.order_id)
            if got is None:
                lost += 1
                if len(details) < MAX_DETAILS:
                    details.append(
                        f"order {acked.order_id} (cart {acked.cart_id}) acknowledged but missing"
                    )
            elif acked.items is not None and dict(got.items) != acked.items:
                lost += 1
                if len(details) < MAX_DETAILS:
                    details.append(
                        f"order {acked.order_id}: acknowledged items {acked.items},"
                        f" stored {got.items}"
                    )
        oversold: dict[str, int] = {}
        for sku, level in snapshot.inventory.items():
            if level < 0:
                oversold[sku] = -level
        if catalog is not None:
            sold: Counter[str] = Counter()
            for order in snapshot.orders:
                sold.update(order.items)
            for p in catalog.products:
                over = sold.get(p.sku, 0) - p.stock
                if over > 0:
                    oversold[p.sku] = max(oversold.get(p.sku, 0), over)
        for sku in sorted(oversold)[: max(0, MAX_DETAILS - len(details))]:
            details.append(f"sku {sku} oversold by {oversold[sku]} units")
        return {
            "acknowledged_writes_lost": lost,
            "oversold_skus": len(oversold),
            "oversold_units": sum(oversold.values()),
            "orders": len(self.orders),
            "checked_carts": checked,
            "uncertain_carts": len(self.uncertain),
            "acknowledged_writes": self.acked_writes,
            "details": details,
        }
