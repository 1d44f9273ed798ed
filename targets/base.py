"""The cart contract every store implements, and the outcome values it returns.

Modelled on YCSB's ``DB``/``Status``: expected outcomes are *values*, never exceptions, and
stores never time themselves (timing lives in the load engine's single wrapper).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Outcome(StrEnum):
    OK = "ok"
    NOT_FOUND = "not_found"  # unknown SKU, item not in cart, empty cart at checkout
    OUT_OF_STOCK = "out_of_stock"  # checkout refused: not enough inventory (nothing changed)
    INVALID = "invalid"  # bad argument (negative/zero quantity, empty id)
    CONFLICT = "conflict"  # lost a race (LWT/transaction contention) and gave up
    UNAVAILABLE = "unavailable"  # not enough replicas / node down / connection refused
    TIMEOUT = "timeout"  # the datastore or driver timed out
    ERROR = "error"  # anything else (bug, protocol error)

    @property
    def is_failure(self) -> bool:
        """Business outcomes (ok, not_found, out_of_stock, invalid) are successes of the
        *system*; conflict/unavailable/timeout/error count as failed requests."""
        return self in _FAILURES


_FAILURES = frozenset({Outcome.CONFLICT, Outcome.UNAVAILABLE, Outcome.TIMEOUT, Outcome.ERROR})


@dataclass(slots=True)
class OpResult:
    outcome: Outcome
    value: Any = None  # view_cart: dict[sku, qty]; checkout: order id; browse: Product
    error: BaseException | None = None  # the driver's exception, for the error breakdown

    @property
    def error_type(self) -> str | None:
        return type(self.error).__name__ if self.error is not None else None


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    price_cents: int
    stock: int


@dataclass(frozen=True)
class Catalog:
    products: tuple[Product, ...]
    seed: int

    @property
    def skus(self) -> list[str]:
        return [p.sku for p in self.products]


@dataclass(frozen=True)
class Order:
    order_id: str
    cart_id: str
    items: dict[str, int]


@dataclass
class Snapshot:
    """Everything the correctness audit needs, read back from the datastore."""

    carts: dict[str, dict[str, int]] = field(default_factory=dict)
    orders: list[Order] = field(default_factory=list)
    inventory: dict[str, int] = field(default_factory=dict)


@dataclass
class PrepareReport:
    """What ``prepare`` loaded (the orchestrator times it: stores never time themselves)."""

    products: int


def invalid_args(cart_id: str | None = None, sku: str | None = None) -> OpResult | None:
    """The shared argument check: an ``invalid`` result for an empty id, else None."""
    if cart_id is not None and not cart_id:
        return OpResult(Outcome.INVALID, error=ValueError("empty cart id"))
    if sku is not None and not sku:
        return OpResult(Outcome.INVALID, error=ValueError("empty sku"))
    return None


def invalid_qty(qty: int, *, allow_zero: bool) -> OpResult | None:
    wrong_type = not isinstance(qty, int) or isinstance(qty, bool)
    if wrong_type or qty < 0 or (qty == 0 and not allow_zero):
        return OpResult(Outcome.INVALID, error=ValueError(f"invalid quantity {qty!r}"))
    return None


class CartStore(Protocol):
    name: str

    def prepare(self, catalog: Catalog) -> PrepareReport:
        """Create the schema (idempotently, dropping old data) and bulk-load the catalog."""
        ...

    def browse(self, sku: str) -> OpResult: ...

    def add_item(self, cart_id: str, sku: str, qty: int) -> OpResult: ...

    def remove_item(self, cart_id: str, sku: str) -> OpResult: ...

    def set_quantity(self, cart_id: str, sku: str, qty: int) -> OpResult: ...

    def view_cart(self, cart_id: str) -> OpResult: ...

    def checkout(self, cart_id: str) -> OpResult:
        """Place an order for the cart's items, decrement inventory, empty the cart."""
        ...

    def snapshot(self) -> Snapshot: ...

    def settings(self) -> dict[str, Any]:
        """Store-side settings that change results (consistency levels, pool sizes, WAIT...)."""
        ...

    def close(self) -> None: ...
