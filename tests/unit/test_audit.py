"""The audit's checkers, each proven by planting its anomaly (and a clean history first).

Every case the issue lists as auditing clean before the per-line model is here: an order whose
stock was given back, stock taken without an order, one cart with two orders, an acknowledged
add lost and then hidden by a set_quantity, losses in a cart that later had one timeout, and a
store that refuses every checkout.
"""

from __future__ import annotations

import itertools
from typing import Any

from bench.engine.ledger import Ledger
from targets.base import Catalog, OpResult, Order, Outcome, Product, Snapshot
from targets.reference import ReferenceStore

OK = OpResult(Outcome.OK)
TIMEOUT = OpResult(Outcome.TIMEOUT)


def catalog(stock: int = 10) -> Catalog:
    return Catalog(products=(Product("a", "A", 1, stock), Product("b", "B", 1, stock)), seed=1)


class Driven:
    """A reference store and a ledger driven together, one operation at a time (each with its
    own invocation/completion times), so the history is what the engine would record."""

    def __init__(self, store: Any | None = None, stock: int = 10) -> None:
        self.cat = catalog(stock)
        self.store = store if store is not None else ReferenceStore()
        self.store.prepare(self.cat)
        self.led = Ledger()
        self.clock = itertools.count(1000, 10)

    def do(self, op: str, cart: str, sku: str | None = None, qty: int = 0) -> OpResult:
        args: tuple[Any, ...] = (cart,) if sku is None else (
            (cart, sku, qty) if op in ("add_item", "set_quantity") else (cart, sku))
        start = next(self.clock)
        token = self.led.begin(op, cart, sku, qty, start)
        result: OpResult = getattr(self.store, op)(*args)
        self.led.apply(op, cart, sku, qty, result, token, start, next(self.clock))
        return result

    def audit(self, snap: Snapshot | None = None) -> dict[str, Any]:
        return self.led.audit(snap if snap is not None else self.store.snapshot(), self.cat)


def busy(d: Driven) -> None:
    d.do("add_item", "c1", "a", 2)
    d.do("add_item", "c1", "b", 1)
    d.do("view_cart", "c1")
    d.do("checkout", "c1")
    d.do("add_item", "c2", "a", 3)
    d.do("set_quantity", "c2", "a", 1)
    d.do("add_item", "c2", "b", 2)
    d.do("remove_item", "c2", "b")
    d.do("view_cart", "c2")


def test_a_clean_history_audits_to_zero_with_every_checker_on() -> None:
    d = Driven()
    busy(d)
    report = d.audit()
    assert report["anomalies"] == 0, report["findings"]
    assert report["orders"] == 1 and report["reads_checked"] == 2
    assert report["checked_lines"] >= 3 and report["uncertain_lines"] == 0


def test_order_whose_stock_was_given_back_breaks_stock_conservation() -> None:
    d = Driven()
    busy(d)
    snap = d.store.snapshot()
    snap.inventory["a"] += 2  # compensation re-added stock although the order exists
    report = d.audit(snap)
    assert report["stock_created_units"] == 2 and report["anomalies"] == 2
    assert any(f["kind"] == "stock_conservation" and f["sku"] == "a" for f in report["findings"])


def test_stock_taken_without_an_order_is_a_leak_nothing_explains() -> None:
    d = Driven()
    busy(d)
    snap = d.store.snapshot()
    snap.inventory["b"] -= 3
    report = d.audit(snap)
    assert report["stock_leaked_units"] == 3 and report["stock_leaked_unexplained"] == 3


def test_a_leak_within_an_indeterminate_checkout_is_uncertain_not_an_anomaly() -> None:
    d = Driven()
    d.do("add_item", "c1", "a", 2)
    start = next(d.clock)
    d.led.apply("checkout", "c1", None, 0, TIMEOUT, d.led.begin("checkout", "c1", None, 0, start),
                start, next(d.clock))
    snap = d.store.snapshot()
    snap.inventory["a"] -= 2  # the saga decremented, then the client lost the connection
    report = d.audit(snap)
    assert report["stock_leaked_units"] == 2 and report["stock_leaked_unexplained"] == 0
    assert report["anomalies"] == 0 and report["indeterminate_ops"] == 1


def test_one_checkout_two_orders_is_a_duplicate() -> None:
    d = Driven()
    busy(d)
    snap = d.store.snapshot()
    first = snap.orders[0]
    snap.orders.append(Order("dup-1", first.cart_id, dict(first.items)))
    for sku, q in first.items.items():
        snap.inventory[sku] -= q  # the duplicate took its stock too: conservation holds
    report = d.audit(snap)
    assert report["duplicate_orders"] == 1 and report["phantom_orders"] == 0
    assert report["anomalies"] == 1


def test_an_order_nobody_placed_is_a_phantom() -> None:
    d = Driven()
    busy(d)
    snap = d.store.snapshot()
    snap.orders.append(Order("ghost", "c9", {"b": 1}))
    snap.inventory["b"] -= 1
    report = d.audit(snap)
    assert report["phantom_orders"] == 1
    assert any(f.get("order") == "ghost" for f in report["findings"])


def test_an_order_id_stored_twice_is_a_duplicate() -> None:
    d = Driven()
    busy(d)
    snap = d.store.snapshot()
    snap.orders.append(snap.orders[0])
    assert d.audit(snap)["duplicate_orders"] >= 1


class LosesNextAdd(ReferenceStore):
    """Acknowledges one add without applying it."""

    lose = False

    def add_item(self, cart_id: str, sku: str, qty: int) -> OpResult:
        if self.lose:
            self.lose = False
            return OpResult(Outcome.OK)
        return super().add_item(cart_id, sku, qty)


def test_a_lost_add_hidden_by_a_later_set_quantity_is_caught_by_the_read_between() -> None:
    store = LosesNextAdd()
    d = Driven(store)
    d.do("add_item", "c1", "a", 1)
    store.lose = True
    d.do("add_item", "c1", "a", 2)  # acknowledged, lost
    d.do("view_cart", "c1")  # reads 1, the history says 3
    d.do("set_quantity", "c1", "a", 5)  # hides the loss from the final snapshot
    report = d.audit()
    assert report["stale_reads"] == 1 and report["lost_adds"] == 0
    finding = next(f for f in report["findings"] if f["kind"] == "stale_reads")
    assert finding["cart"] == "c1" and finding["sku"] == "a" and "add_item(a, 2)" in finding["detail"]


def test_a_lost_add_shows_in_the_order_placed_after_it() -> None:
    store = LosesNextAdd()
    d = Driven(store)
    d.do("add_item", "c1", "a", 1)
    store.lose = True
    d.do("add_item", "c1", "b", 2)
    order = d.do("checkout", "c1")
    report = d.audit()
    assert report["order_content_mismatches"] == 1 and report["acknowledged_writes_lost"] == 1
    assert any(f.get("order") == order.value and f.get("sku") == "b" for f in report["findings"])


def test_losses_in_a_cart_that_later_had_a_timeout_are_still_found() -> None:
    store = LosesNextAdd()
    d = Driven(store)
    store.lose = True
    d.do("add_item", "c1", "a", 2)  # lost
    start = next(d.clock)
    d.led.apply("add_item", "c1", "b", 1, TIMEOUT, d.led.begin("add_item", "c1", "b", 1, start),
                start, next(d.clock))  # c1/b uncertain; c1/a still certain
    report = d.audit()
    assert report["lost_adds"] == 1 and report["uncertain_lines"] == 1
    assert report["findings"][0]["cart"] == "c1" and report["findings"][0]["sku"] == "a"


def test_a_later_acknowledged_set_makes_an_uncertain_line_certain_again() -> None:
    d = Driven()
    start = next(d.clock)
    d.led.apply("add_item", "c1", "a", 1, TIMEOUT, d.led.begin("add_item", "c1", "a", 1, start),
                start, next(d.clock))
    d.do("set_quantity", "c1", "a", 2)
    snap = d.store.snapshot()
    snap.carts["c1"]["a"] = 1
    report = d.audit(snap)
    assert report["lost_adds"] == 1 and report["uncertain_lines"] == 0


class RefusesEverything(ReferenceStore):
    def checkout(self, cart_id: str) -> OpResult:
        return OpResult(Outcome.OUT_OF_STOCK)


def test_a_store_refusing_every_checkout_is_caught_as_wrongful_refusals() -> None:
    d = Driven(RefusesEverything())
    d.do("add_item", "c1", "a", 2)
    d.do("checkout", "c1")
    d.do("add_item", "c2", "b", 1)
    d.do("checkout", "c2")
    report = d.audit()
    assert report["wrongful_refusals"] == 2 and report["refusals"] == 2


def test_a_refusal_the_stock_could_not_cover_is_not_wrongful() -> None:
    d = Driven(stock=3)
    d.do("add_item", "c1", "a", 2)
    d.do("checkout", "c1")  # ok: 1 left
    d.do("add_item", "c2", "a", 2)
    assert d.do("checkout", "c2").outcome is Outcome.OUT_OF_STOCK
    report = d.audit()
    assert report["wrongful_refusals"] == 0 and report["anomalies"] == 0


def test_a_removed_item_that_came_back_is_a_resurrection_not_a_loss() -> None:
    d = Driven()
    d.do("add_item", "c1", "a", 2)
    d.do("remove_item", "c1", "a")
    snap = d.store.snapshot()
    snap.carts["c1"] = {"a": 2}
    report = d.audit(snap)
    assert report["resurrected"] == 1 and report["lost_adds"] == 0 and report["anomalies"] == 0
    assert report["acknowledged_writes_lost"] == 0


def test_a_line_nobody_wrote_or_an_add_applied_twice_is_unacknowledged() -> None:
    d = Driven()
    d.do("add_item", "c1", "a", 2)
    snap = d.store.snapshot()
    snap.carts["c1"]["a"] = 4  # a retried HINCRBY applied twice
    snap.carts["c7"] = {"b": 1}
    report = d.audit(snap)
    assert report["unacknowledged_lines"] == 2


def test_operations_cut_off_at_drain_are_indeterminate_not_findings() -> None:
    d = Driven()
    d.do("add_item", "c1", "a", 1)
    d.led.begin("add_item", "c1", "a", 2, next(d.clock))  # never completes
    d.led.begin("checkout", "c2", None, 0, next(d.clock))
    d.store.add_item("c1", "a", 2)  # ... though it was applied
    report = d.audit()
    assert report["cut_off_ops"] == 2 and report["anomalies"] == 0
    assert report["uncertain_lines"] == 1


def test_an_add_overlapping_a_checkout_must_be_ordered_or_left_in_the_cart() -> None:
    """The PostgreSQL bug: a line added while the checkout ran, deleted without being ordered."""
    d = Driven()
    d.do("add_item", "c1", "a", 1)
    led = d.led
    t_co = led.begin("checkout", "c1", None, 0, next(d.clock))
    t_add = led.begin("add_item", "c1", "b", 2, next(d.clock))
    d.store.add_item("c1", "b", 2)
    led.apply("add_item", "c1", "b", 2, OK, t_add, 0, next(d.clock))
    order = d.store.checkout("c1")  # orders a and b: fine
    led.apply("checkout", "c1", None, 0, order, t_co, 0, next(d.clock))
    assert d.audit()["anomalies"] == 0

    d2 = Driven()
    d2.do("add_item", "c1", "a", 1)
    led = d2.led
    t_co = led.begin("checkout", "c1", None, 0, next(d2.clock))
    t_add = led.begin("add_item", "c1", "b", 2, next(d2.clock))
    order = d2.store.checkout("c1")  # orders only a ...
    d2.store.add_item("c1", "b", 2)
    d2.store.remove_item("c1", "b")  # ... and deletes b unordered
    led.apply("add_item", "c1", "b", 2, OK, t_add, 0, next(d2.clock))
    led.apply("checkout", "c1", None, 0, order, t_co, 0, next(d2.clock))
    report = d2.audit()
    assert report["lost_adds"] == 1 and report["concurrent_episodes"] == 1
    assert report["findings"][0]["sku"] == "b"


def test_two_concurrent_orders_holding_the_same_lines_are_duplicates() -> None:
    d = Driven()
    d.do("add_item", "c1", "a", 2)
    led = d.led
    t1 = led.begin("checkout", "c1", None, 0, next(d.clock))
    t2 = led.begin("checkout", "c1", None, 0, next(d.clock))
    led.apply("checkout", "c1", None, 0, OpResult(Outcome.OK, "o1"), t1, 0, next(d.clock))
    led.apply("checkout", "c1", None, 0, OpResult(Outcome.OK, "o2"), t2, 0, next(d.clock))
    snap = Snapshot(orders=[Order("o1", "c1", {"a": 2}), Order("o2", "c1", {"a": 2})],
                    inventory={"a": 6, "b": 10})
    report = d.audit(snap)
    assert report["duplicate_orders"] == 1
    snap = Snapshot(orders=[Order("o1", "c1", {"a": 2}), Order("o2", "c1", {})],
                    inventory={"a": 8, "b": 10})
    assert d.audit(snap)["anomalies"] == 0


def test_ledgers_merge_and_travel_between_processes_without_changing_the_verdict() -> None:
    store = LosesNextAdd()
    d = Driven(store)
    busy(d)
    store.lose = True
    d.do("add_item", "c3", "a", 1)
    d.led.begin("add_item", "c4", "a", 1, next(d.clock))
    twin = Ledger.from_message(d.led.to_message())
    merged = Ledger()
    merged.merge(twin)
    a, b = d.audit(), merged.audit(d.store.snapshot(), d.cat)
    assert a == b and a["lost_adds"] == 1 and a["cut_off_ops"] == 1
