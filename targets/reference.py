"""The in-memory reference store: the cart contract implemented exactly, under one lock.

It is the semantic oracle of the contract tests (every real
store must give the same outcomes for the same scripted operations) and a stand-in datastore
for testing the load engine: ``latency_s`` injects a delay per operation, slept with
``time.sleep`` so that under gevent's monkey-patching it yields instead of blocking.

Argument outcomes (shared by every store, see docs/SEMANTICS.md):

* empty ``cart_id``/``sku`` → invalid; ``qty <= 0`` for ``add_item`` → invalid;
  ``qty < 0`` for ``set_quantity`` → invalid, ``set_quantity(..., 0)`` removes the line
  (exactly like ``remove_item``: not_found if the line is absent);
* unknown SKU → not_found (checked before the quantity-zero removal);
* ``remove_item`` of a line not in the cart → not_found;
* ``view_cart`` of an unknown cart → ok with ``{}``;
* ``checkout`` of an empty/unknown cart → not_found; any line short of stock → out_of_stock
  and nothing changes; otherwise ok with the order id, inventory decremented, cart emptied.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

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

LatencyFn = Callable[[], float]


class ReferenceStore:
    name = "reference"

    def __init__(self, latency_s: float | LatencyFn = 0.0) -> None:
        self._latency = latency_s
        self._lock = threading.Lock()
        self._products: dict[str, Product] = {}
        self._stock: dict[str, int] = {}
        self._carts: dict[str, dict[str, int]] = {}
        self._orders: list[Order] = []
        self._ids = itertools.count(1)

    # -- helpers -------------------------------------------------------------------------

    def _delay(self) -> None:
        seconds = self._latency() if callable(self._latency) else self._latency
        if seconds > 0:
            time.sleep(seconds)

    # -- contract ------------------------------------------------------------------------

    def prepare(self, catalog: Catalog) -> PrepareReport:
        with self._lock:
            self._products = {p.sku: p for p in catalog.products}
            self._stock = {p.sku: p.stock for p in catalog.products}
            self._carts = {}
            self._orders = []
        return PrepareReport(products=len(catalog.products))

    def browse(self, sku: str) -> OpResult:
        self._delay()
        if bad := invalid_args(sku=sku):
            return bad
        with self._lock:
            product = self._products.get(sku)
            if product is None:
                return OpResult(Outcome.NOT_FOUND)
            current = Product(sku, product.name, product.price_cents, self._stock[sku])
            return OpResult(Outcome.OK, current)

    def add_item(self, cart_id: str, sku: str, qty: int) -> OpResult:
        self._delay()
        if bad := invalid_args(cart_id, sku) or invalid_qty(qty, allow_zero=False):
            return bad
        with self._lock:
            if sku not in self._products:
                return OpResult(Outcome.NOT_FOUND)
            cart = self._carts.setdefault(cart_id, {})
            cart[sku] = cart.get(sku, 0) + qty
            return OpResult(Outcome.OK)

    def remove_item(self, cart_id: str, sku: str) -> OpResult:
        self._delay()
        if bad := invalid_args(cart_id, sku):
            return bad
        with self._lock:
            return self._remove(cart_id, sku)

    def _remove(self, cart_id: str, sku: str) -> OpResult:
        cart = self._carts.get(cart_id, {})
        if sku not in cart:
            return OpResult(Outcome.NOT_FOUND)
        del cart[sku]
        if not cart:
            self._carts.pop(cart_id, None)
        return OpResult(Outcome.OK)

    def set_quantity(self, cart_id: str, sku: str, qty: int) -> OpResult:
        self._delay()
        if bad := invalid_args(cart_id, sku) or invalid_qty(qty, allow_zero=True):
            return bad
        with self._lock:
            if sku not in self._products:
                return OpResult(Outcome.NOT_FOUND)
            if qty == 0:
                return self._remove(cart_id, sku)
            self._carts.setdefault(cart_id, {})[sku] = qty
            return OpResult(Outcome.OK)

    def view_cart(self, cart_id: str) -> OpResult:
        self._delay()
        if bad := invalid_args(cart_id):
            return bad
        with self._lock:
            return OpResult(Outcome.OK, dict(self._carts.get(cart_id, {})))

    def checkout(self, cart_id: str) -> OpResult:
        self._delay()
        if bad := invalid_args(cart_id):
            return bad
        with self._lock:
            cart = self._carts.get(cart_id)
            if not cart:
                return OpResult(Outcome.NOT_FOUND)
            if any(self._stock[sku] < qty for sku, qty in cart.items()):
                return OpResult(Outcome.OUT_OF_STOCK)
            for sku, qty in cart.items():
                self._stock[sku] -= qty
            order_id = f"ref-{next(self._ids)}"
            self._orders.append(Order(order_id=order_id, cart_id=cart_id, items=dict(cart)))
            del self._carts[cart_id]
            return OpResult(Outcome.OK, order_id)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                carts={c: dict(items) for c, items in self._carts.items() if items},
                orders=list(self._orders),
                inventory=dict(self._stock),
            )

    def settings(self) -> dict[str, Any]:
        latency = "callable" if callable(self._latency) else self._latency
        return {"store": "reference", "latency_s": latency}

    def close(self) -> None:
        """Nothing to release."""
