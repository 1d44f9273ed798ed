"""The history of acknowledged operations, and the audit that judges a store snapshot by it.

In Jepsen's terms the ledger is the *history* (every operation's
invocation and completion, ``ok`` / ``fail`` / ``info`` = indeterminate) and ``audit`` is the
*checker*: a per-line model of what the cart may contain, plus order and stock checks.

**The model.**  Each cart line (cart, SKU) holds an interval ``[lo, hi]`` of quantities the
history allows: an acknowledged ``add_item q`` adds ``q`` to both ends; an indeterminate one
(timeout, unavailable, conflict, error, or cut off at drain: it may or may not have been
applied) adds ``q`` to ``hi`` only; an acknowledged ``set_quantity q`` / ``remove_item`` /
``checkout`` resets the line to ``[q, q]`` / ``[0, 0]``, an indeterminate one widens it.  So one
failure makes only the lines it touched uncertain, never the whole cart, and the next
acknowledged reset (or a read, below) makes them certain again.  Business outcomes
(``not_found``, ``out_of_stock``, ``invalid``) change nothing (and are reads: see below).

**Concurrency.**  Operations on one cart may overlap (``sessions_per_cart`` > 1).  The engine
calls ``begin`` before and ``apply`` after each operation; operations on a cart that overlap
(transitively) form an *episode*, applied when the last of them completes: adds commute; with
resets in the episode any order is possible, so the line's interval becomes the hull over
every order.  An order placed in an episode may hold any part of the lines; what must hold is
that every acknowledged unit is somewhere — in the order or still in the cart (checked as a
per-line debt against the stored order).  A sequential episode (one operation) is exact.

**Findings** (``audit``), each naming the cart, SKU or order and the operations behind it:

* ``lost_adds``: a stored line below ``lo`` (an acknowledged add or set gone);
* ``resurrected``: a stored line above ``hi`` after an acknowledged remove/set/checkout — a
  removed item came back (Dynamo's carts allow it; reported apart from losses);
* ``unacknowledged_lines``: a stored line above ``hi`` with no reset (a write applied twice, or
  written by nobody);
* ``stale_reads``: a ``view_cart`` (or ``remove_item``/``checkout`` answering ``not_found``) that
  returned something outside the interval at that moment — only reads that did not overlap
  another operation on the cart are judged;
* ``lost_orders``: an acknowledged order missing; ``order_content_mismatches``: a stored order
  whose lines fall outside the cart's lines at checkout (fewer units: acknowledged lines not
  ordered; more: units nobody added);
* ``phantom_orders``: stored orders of a cart beyond its acknowledged and indeterminate
  checkouts; ``duplicate_orders``: such an extra order with the same lines as an acknowledged
  one (one checkout, two orders), or one order id stored twice;
* stock conservation per SKU (initial = final + units in stored orders):
  ``stock_created_units`` (stock given back while its order exists, or ordered without a
  decrement), ``stock_leaked_units`` (taken, no order) of which ``stock_leaked_unexplained``
  is more than the SKU's indeterminate checkouts could hold;
* ``oversold_skus/units`` (negative stock, or more units ordered than the initial stock);
* ``wrongful_refusals``: ``out_of_stock`` for a cart of exactly known lines although, for every
  SKU, the initial stock minus every unit that could have been taken by then (acknowledged and
  indeterminate orders that started earlier, refused checkouts holding stock at that moment)
  still covered the line.

``acknowledged_writes_lost`` = ``lost_adds`` + ``lost_orders`` + order shortfalls (the figure
the report's survival verdict and the nightly judge); ``anomalies`` = every finding but
resurrections (units for stock conservation, SKUs for overselling).  Uncertainty is counted, not hidden:
``uncertain_lines`` (interval wider than a point at the end), ``indeterminate_ops``,
``cut_off_ops``.

Ledgers from several worker processes merge (carts are partitioned between workers; times are
``perf_counter_ns``, one clock per host: wrongful-refusal judgement across remote workers'
clocks is approximate).

Memory: bounded by lines touched, plus every acknowledged order (packed, ``OrderLog``: ~30
bytes + 12 per line per order) and one small record per checkout attempt that was refused or
indeterminate.
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from targets.base import Catalog, OpResult, Outcome, Snapshot

MAX_DETAILS = 50
HISTORY = 4  # operations remembered per line for the findings

#: Finding kinds counted in ``audit()`` (in this order in the details).
KINDS = (
    "lost_adds", "lost_orders", "order_content_mismatches", "resurrected",
    "unacknowledged_lines", "stale_reads", "phantom_orders", "duplicate_orders",
    "stock_conservation", "wrongful_refusals", "oversold",
)  # fmt: skip


@dataclass
class AckedOrder:
    order_id: str
    cart_id: str
    items: dict[str, int] | None  # exact lines, or None: see ``bounds``
    bounds: dict[str, tuple[int, int]] | None = None  # per SKU (lo, hi) when not exact

    def allowed(self) -> dict[str, tuple[int, int]] | None:
        if self.items is not None:
            return {s: (q, q) for s, q in self.items.items()}
        return self.bounds


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
    names as indexes into string tables (bounded by carts and catalog); lines as
    ``(sku, lo, hi)`` triples in one flat array.  Iterating yields ``AckedOrder``s."""

    def __init__(self, orders: Iterable[AckedOrder] = ()) -> None:
        self._ids = bytearray()
        self._id_end: array[int] = array("Q")
        self._cart: array[int] = array("I")
        self._items: array[int] = array("I")  # sku index, lo, hi, ...
        self._items_end: array[int] = array("q")  # -1: contents unknown
        self._carts = _Names()
        self._skus = _Names()
        for o in orders:
            self.add(o)

    def append(self, order_id: str, cart_id: str, items: dict[str, int] | None,
               bounds: dict[str, tuple[int, int]] | None = None) -> None:
        self._ids += order_id.encode()
        self._id_end.append(len(self._ids))
        self._cart.append(self._carts.of(cart_id))
        lines = {s: (q, q) for s, q in items.items()} if items is not None else bounds
        if lines is None:
            self._items_end.append(-1)
            return
        sku = self._skus.of
        for name, (lo, hi) in lines.items():
            self._items.extend((sku(name), lo, hi))
        self._items_end.append(len(self._items))

    def add(self, o: AckedOrder) -> None:
        self.append(o.order_id, o.cart_id, o.items, o.bounds)

    def extend(self, other: Iterable[AckedOrder]) -> None:
        for o in other:
            self.add(o)

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
            bounds: dict[str, tuple[int, int]] | None = None
            if end >= 0:
                t = self._items[item_start:end]
                item_start = end
                lines = {skus[t[k]]: (t[k + 1], t[k + 2]) for k in range(0, len(t), 3)}
                if all(lo == hi for lo, hi in lines.values()):
                    items = {s: lo for s, (lo, _) in lines.items()}
                else:
                    bounds = lines
            yield AckedOrder(order_id, carts[self._cart[i]], items, bounds)

    def nbytes(self) -> int:
        """The packed arrays' size (the string tables aside)."""
        arrays = (self._id_end, self._cart, self._items, self._items_end)
        return len(self._ids) + sum(a.itemsize * len(a) for a in arrays)


class Line:
    """One cart line's allowed quantities ``[lo, hi]`` and what the audit needs to explain it."""

    __slots__ = ("debt", "debt_order", "hi", "lo", "ops", "reset")

    def __init__(self) -> None:
        self.lo = 0
        self.hi = 0
        self.reset = False  # an acknowledged/indeterminate remove, set or checkout happened
        self.debt_order: str | None = None  # a concurrent checkout's order that may hold
        self.debt = 0  # ... up to ``debt`` units the line must otherwise still have
        self.ops: list[Any] = []  # _Text, or str once transported

    def note(self, text: Any) -> None:
        self.ops.append(text)
        if len(self.ops) > HISTORY:
            del self.ops[0]

    def to_list(self) -> list[Any]:
        return [self.lo, self.hi, self.reset, self.debt_order, self.debt, [str(o) for o in self.ops]]

    @classmethod
    def from_list(cls, v: list[Any]) -> Line:
        line = cls()
        line.lo, line.hi, line.reset, line.debt_order, line.debt, line.ops = v
        return line


@dataclass
class _Done:
    """A completed operation waiting for its episode to end."""

    seq: int
    op: str
    sku: str | None
    qty: int
    outcome: Outcome
    value: Any
    start: int
    end: int


class _Text:
    """An operation's description, formatted only when shown (most never are): keeps the
    per-operation cost of the history low."""

    __slots__ = ("d",)

    def __init__(self, d: _Done) -> None:
        self.d = d

    def __str__(self) -> str:
        d = self.d
        return _fmt(d.seq, d.op, d.sku, d.qty, d.outcome, d.value)

    __repr__ = __str__


def _fmt(seq: int, op: str, sku: str | None, qty: int, outcome: Outcome | str, value: Any) -> str:
    arg = f"({sku}{', ' + str(qty) if op in ('add_item', 'set_quantity') else ''})" if sku else ""
    extra = f" -> {value}" if op == "checkout" and value is not None else ""
    return f"#{seq} {op}{arg} {outcome}{extra}"


@dataclass
class Ledger:
    lines: dict[str, dict[str, Line]] = field(default_factory=dict)
    orders: OrderLog = field(default_factory=OrderLog)
    #: indeterminate checkouts: (cart, start_ns, {sku: hi}, op text)
    maybe_orders: list[tuple[str, int, dict[str, int], Any]] = field(default_factory=list)
    #: acknowledged orders' start times and lines (hi) for the wrongful-refusal check
    order_starts: list[tuple[int, dict[str, int]]] = field(default_factory=list)
    #: out_of_stock answers: (cart, start_ns, end_ns, {sku: qty} or None if not exact, text)
    refusals: list[tuple[str, int, int, dict[str, int] | None, Any]] = field(default_factory=list)
    #: ops whose order lines must fit a shared cap: (order ids, cart, sku, cap)
    shared_caps: list[tuple[list[str], str, str, int]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)  # found while running
    counts: Counter[str] = field(default_factory=Counter)
    touched: set[str] = field(default_factory=set)
    acked_writes: int = 0
    narrow_on_read: bool = True  # a consistent read pins the line (linearizable reads)
    _open: dict[str, int] = field(default_factory=dict)  # cart -> ops in flight
    _pending: dict[str, list[_Done]] = field(default_factory=dict)  # cart -> episode so far
    _inflight: dict[int, tuple[str, str, str | None, int, int]] = field(default_factory=dict)
    _seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # -- the engine's view --------------------------------------------------------------

    def contents(self, cart_id: str) -> dict[str, int]:
        """Lines that may be in the cart, with their lowest allowed quantity (used to pick
        SKUs that are in the cart)."""
        cart = self.lines.get(cart_id)
        if not cart:
            return {}
        return {s: ln.lo for s, ln in cart.items() if ln.hi > 0}

    @property
    def carts(self) -> dict[str, dict[str, int]]:
        """Exactly known non-empty lines per cart (for tests and tools)."""
        out: dict[str, dict[str, int]] = {}
        for c, cart in self.lines.items():
            exact = {s: ln.lo for s, ln in cart.items() if ln.lo == ln.hi and ln.lo > 0}
            if exact:
                out[c] = exact
        return out

    def begin(self, op: str, cart_id: str | None, sku: str | None = None, qty: int = 0,
              start_ns: int = 0) -> int:
        """Record an invocation; returns the token ``apply`` takes (0: not tracked)."""
        if cart_id is None or op == "browse":
            return 0
        seq = next(self._seq)
        self._open[cart_id] = self._open.get(cart_id, 0) + 1
        self._inflight[seq] = (op, cart_id, sku, qty, start_ns)
        return seq

    def apply(
        self, op: str, cart_id: str | None, sku: str | None, qty: int, result: OpResult,
        token: int = 0, start_ns: int = 0, end_ns: int = 0,
    ) -> None:
        """Record one completed operation (after ``begin``; without a token the operation
        counts as sequential)."""
        if cart_id is None or op == "browse":
            return
        if op == "set_quantity" and qty == 0:
            op = "remove_item"
        if token:
            self._inflight.pop(token, None)
        else:
            token = next(self._seq)
            self._open[cart_id] = self._open.get(cart_id, 0) + 1
        done = _Done(token, op, sku, qty, result.outcome, result.value, start_ns, end_ns)
        left = self._open.get(cart_id, 1) - 1
        pending = self._pending.get(cart_id)
        if left:
            self._open[cart_id] = left
            if pending is None:
                self._pending[cart_id] = [done]
            else:
                pending.append(done)
            return
        self._open.pop(cart_id, None)
        if pending is None:
            self._sequential(cart_id, done)
        else:
            del self._pending[cart_id]
            pending.append(done)
            self._episode(cart_id, pending)

    def cut_off(self) -> None:
        """Operations still in flight (abandoned at drain) become indeterminate."""
        for seq, (op, cart, sku, qty, start) in sorted(self._inflight.items()):
            self.counts["cut_off_ops"] += 1
            self.apply(op, cart, sku, qty, OpResult(Outcome.TIMEOUT, "cut off at drain"),
                       token=seq, start_ns=start, end_ns=start)
        self._inflight.clear()

    # -- the model ----------------------------------------------------------------------

    def _line(self, cart_id: str, sku: str) -> Line:
        cart = self.lines.get(cart_id)
        if cart is None:
            cart = self.lines[cart_id] = {}
        line = cart.get(sku)
        if line is None:
            line = cart[sku] = Line()
        return line

    def _find(self, kind: str, text: str, **where: Any) -> None:
        self.counts[kind] += 1
        if len(self.findings) < MAX_DETAILS:
            self.findings.append({"kind": kind, **where, "detail": text})

    def _sequential(self, cart_id: str, d: _Done) -> None:
        outcome = d.outcome
        if outcome is Outcome.INVALID:
            return
        text = _Text(d)
        failed = outcome.is_failure
        if failed:
            self.counts["indeterminate_ops"] += 1
        elif outcome is Outcome.OK and d.op != "view_cart":
            self.acked_writes += 1
            self.touched.add(cart_id)
        op = d.op
        if op == "view_cart":
            if outcome is Outcome.OK and isinstance(d.value, dict):
                self._read(cart_id, {s: int(q) for s, q in d.value.items()}, text)
            return
        if op == "checkout":
            self._checkout(cart_id, d, text)
            return
        assert d.sku is not None
        line = self._line(cart_id, d.sku)
        line.note(text)
        if op == "add_item":
            if outcome is Outcome.OK:
                line.lo += d.qty
                line.hi += d.qty
            elif failed:
                line.hi += d.qty
        elif op == "set_quantity":
            if outcome is Outcome.OK:
                line.lo = line.hi = d.qty
                line.reset, line.debt_order = True, None
            elif failed:
                line.lo, line.hi = min(line.lo, d.qty), max(line.hi, d.qty)
                line.reset, line.debt_order = True, None
        elif op == "remove_item":
            if outcome is Outcome.OK:
                if line.hi == 0:
                    self._find("stale_reads", f"cart {cart_id} sku {d.sku}: remove found a line"
                               f" the history says is absent; ops: {line.ops}",
                               cart=cart_id, sku=d.sku)
                line.lo = line.hi = 0
                line.reset, line.debt_order = True, None
            elif outcome is Outcome.NOT_FOUND:
                self._read(cart_id, {}, text, only=d.sku)
            elif failed:
                line.lo = 0
                line.reset, line.debt_order = True, None

    def _read(self, cart_id: str, seen: dict[str, int], text: Any, only: str | None = None) -> None:
        """Judge a read that overlapped nothing on its cart; a consistent one pins the lines."""
        self.counts["reads_checked"] += 1
        cart = self.lines.get(cart_id, {})
        skus = [only] if only is not None else sorted(set(cart) | set(seen))
        bad = []
        for sku in skus:
            line = cart.get(sku)
            lo, hi = (line.lo, line.hi) if line is not None else (0, 0)
            got = seen.get(sku, 0)
            if not lo <= got <= hi:
                bad.append((sku, lo, hi, got, line.ops if line is not None else []))
        if bad:
            for sku, lo, hi, got, ops in bad:
                self._find("stale_reads", f"cart {cart_id} sku {sku}: {text} read {got}, the"
                           f" history allows [{lo}, {hi}]; ops: {ops}", cart=cart_id, sku=sku)
            return
        if self.narrow_on_read:
            for sku in skus:
                line = cart.get(sku)
                if line is not None:
                    line.lo = line.hi = seen.get(sku, 0)

    def _checkout(self, cart_id: str, d: _Done, text: Any) -> None:
        cart = self.lines.get(cart_id, {})
        outcome = d.outcome
        if outcome is Outcome.NOT_FOUND:
            self._read(cart_id, {}, text)
            return
        if outcome is Outcome.OUT_OF_STOCK:
            exact = all(ln.lo == ln.hi for ln in cart.values())
            items = {s: ln.lo for s, ln in cart.items() if ln.lo > 0} if exact else None
            self.refusals.append((cart_id, d.start, d.end, items or None, text))
            return
        bounds = {s: (ln.lo, ln.hi) for s, ln in cart.items() if ln.hi > 0}
        for line in cart.values():
            line.note(text)
            line.reset, line.debt_order = True, None
        if outcome is Outcome.OK:
            self.orders.append(str(d.value), cart_id, None, bounds)
            self.order_starts.append((d.start, {s: hi for s, (_, hi) in bounds.items()}))
            for line in cart.values():
                line.lo = line.hi = 0
        else:  # indeterminate: the order may exist, its lines may be gone
            self.maybe_orders.append((cart_id, d.start, {s: hi for s, (_, hi) in bounds.items()},
                                      text))
            for line in cart.values():
                line.lo = 0

    def _episode(self, cart_id: str, ops: list[_Done]) -> None:
        """Overlapping operations on one cart: the hull over every order of them."""
        self.counts["concurrent_episodes"] += 1
        texts = [_Text(d) for d in ops]
        checkouts = [d for d in ops if d.op == "checkout"
                     and (d.outcome is Outcome.OK or d.outcome.is_failure)]
        skus = {d.sku for d in ops if d.sku is not None}
        if checkouts:
            skus |= set(self.lines.get(cart_id, {}))
        acked_orders = [str(d.value) for d in checkouts if d.outcome is Outcome.OK]
        per_order_hi: dict[str, int] = {}  # what one order may hold
        shared_hi: dict[str, int] = {}  # what all of the episode's orders may hold together
        for d in ops:
            if d.outcome.is_failure:
                self.counts["indeterminate_ops"] += 1
            elif d.outcome is Outcome.OK and d.op != "view_cart":
                self.acked_writes += 1
                self.touched.add(cart_id)
            if d.op == "view_cart":
                self.counts["reads_concurrent_unchecked"] += 1
            if d.op == "checkout" and d.outcome is Outcome.OUT_OF_STOCK:
                self.refusals.append((cart_id, d.start, d.end, None, texts[0]))
        for sku in sorted(skus):
            line = self._line(cart_id, sku)
            adds_ok = sum(d.qty for d in ops if d.op == "add_item" and d.sku == sku
                          and d.outcome is Outcome.OK)
            adds_all = adds_ok + sum(d.qty for d in ops if d.op == "add_item" and d.sku == sku
                                     and d.outcome.is_failure)
            resets: list[tuple[int, bool]] = []
            for d in ops:
                certain = d.outcome is Outcome.OK
                if not (certain or d.outcome.is_failure):
                    continue
                if d.op == "set_quantity" and d.sku == sku:
                    resets.append((d.qty, certain))
                elif (d.op == "remove_item" and d.sku == sku) or d.op == "checkout":
                    resets.append((0, certain))
            for d, t in zip(ops, texts, strict=True):
                if d.sku == sku or d.op == "checkout":
                    line.note(t)
            lo_pre, hi_pre = line.lo, line.hi
            sets = [d.qty for d in ops if d.op == "set_quantity" and d.sku == sku
                    and (d.outcome is Outcome.OK or d.outcome.is_failure)]
            # a set between two checkouts creates up to its quantity anew
            per_order_hi[sku] = max([hi_pre, *sets]) + adds_all
            shared_hi[sku] = hi_pre + sum(sets) + adds_all
            if not resets:
                line.lo += adds_ok
                line.hi += adds_all
                continue
            values = [v for v, _ in resets]
            line.lo = min(values) if any(c for _, c in resets) else min(line.lo, min(values))
            line.hi = max(hi_pre, max(values)) + adds_all
            line.reset = True
            only_checkouts = all(
                d.op == "checkout" for d in ops
                if d.sku == sku and d.op in ("set_quantity", "remove_item")
                and (d.outcome is Outcome.OK or d.outcome.is_failure)
            )
            if len(acked_orders) == 1 and len(checkouts) == 1 and only_checkouts:
                # every acknowledged unit is in that order or still in the cart
                line.lo = 0
                line.debt_order, line.debt = acked_orders[0], lo_pre + adds_ok
            else:
                line.debt_order = None
        for d in checkouts:
            bounds = {s: (0, hi) for s, hi in per_order_hi.items() if hi > 0}
            if d.outcome is Outcome.OK:
                self.orders.append(str(d.value), cart_id, None, bounds)
                self.order_starts.append((d.start, dict(per_order_hi)))
            else:
                self.maybe_orders.append((cart_id, d.start, dict(per_order_hi), texts[0]))
        if len(acked_orders) > 1:
            for sku, cap in shared_hi.items():
                self.shared_caps.append((acked_orders, cart_id, sku, cap))

    # -- merging and transport ----------------------------------------------------------

    def merge(self, other: Ledger) -> None:
        self.lines.update(other.lines)
        self.touched |= other.touched
        self.orders.extend(other.orders)
        self.maybe_orders.extend(other.maybe_orders)
        self.order_starts.extend(other.order_starts)
        self.refusals.extend(other.refusals)
        self.shared_caps.extend(other.shared_caps)
        self.findings.extend(other.findings[: max(0, MAX_DETAILS - len(self.findings))])
        self.counts.update(other.counts)
        self.acked_writes += other.acked_writes
        for v in other._inflight.values():
            self._inflight[next(self._seq) + 10**12] = v
            self._open[v[1]] = self._open.get(v[1], 0) + 1

    def to_message(self) -> dict[str, Any]:
        return {
            "lines": {c: {s: ln.to_list() for s, ln in cart.items()}
                      for c, cart in self.lines.items()},
            "orders": [[o.order_id, o.cart_id, o.items,
                        {s: list(b) for s, b in (o.bounds or {}).items()} or None]
                       for o in self.orders],
            "maybe_orders": [[c, t, i, str(x)] for c, t, i, x in self.maybe_orders],
            "order_starts": [list(o) for o in self.order_starts],
            "refusals": [[c, st, en, i, str(x)] for c, st, en, i, x in self.refusals],
            "shared_caps": [list(s) for s in self.shared_caps],
            "findings": self.findings,
            "counts": dict(self.counts),
            "touched": sorted(self.touched),
            "acked_writes": self.acked_writes,
            "narrow_on_read": self.narrow_on_read,
            "inflight": [list(v) for v in self._inflight.values()],
        }

    @classmethod
    def from_message(cls, m: dict[str, Any]) -> Ledger:
        led = cls(
            lines={c: {s: Line.from_list(v) for s, v in cart.items()}
                   for c, cart in m["lines"].items()},
            orders=OrderLog(
                AckedOrder(o, c, i, {s: (b[0], b[1]) for s, b in bd.items()} if bd else None)
                for o, c, i, bd in m["orders"]
            ),
            maybe_orders=[(c, t, dict(i), x) for c, t, i, x in m["maybe_orders"]],
            order_starts=[(t, dict(i)) for t, i in m["order_starts"]],
            refusals=[(c, s, e, dict(i) if i is not None else None, x)
                      for c, s, e, i, x in m["refusals"]],
            shared_caps=[(list(o), c, s, cap) for o, c, s, cap in m["shared_caps"]],
            findings=list(m["findings"]),
            counts=Counter(m["counts"]),
            touched=set(m["touched"]),
            acked_writes=int(m["acked_writes"]),
            narrow_on_read=bool(m.get("narrow_on_read", True)),
        )
        for i, v in enumerate(m.get("inflight", [])):
            led._inflight[10**12 + i] = (v[0], v[1], v[2], v[3], v[4])
            led._open[v[1]] = led._open.get(v[1], 0) + 1
        return led

    # -- the audit ---------------------------------------------------------------------

    def audit(self, snapshot: Snapshot, catalog: Catalog | None = None) -> dict[str, Any]:
        """Judge ``snapshot`` (read after the load) by the history; see the module docstring
        for every count.  Operations still in flight count as indeterminate."""
        self.cut_off()
        counts: Counter[str] = Counter(self.counts)
        findings: list[dict[str, Any]] = list(self.findings)

        def find(kind: str, text: str, **where: Any) -> None:
            counts[kind] += 1
            if len(findings) < MAX_DETAILS:
                findings.append({"kind": kind, **where, "detail": text})

        stored_orders: dict[str, Any] = {}
        for o in snapshot.orders:
            if o.order_id in stored_orders:
                find("duplicate_orders", f"order {o.order_id} (cart {o.cart_id}) stored twice",
                     order=o.order_id, cart=o.cart_id)
            stored_orders[o.order_id] = o

        # -- cart lines
        checked = uncertain = 0
        uncertain_carts: set[str] = set()
        for cart_id in sorted(set(self.lines) | set(snapshot.carts)):
            cart = self.lines.get(cart_id, {})
            stored = {s: q for s, q in snapshot.carts.get(cart_id, {}).items() if q}
            for sku in sorted(set(cart) | set(stored)):
                line = cart.get(sku)
                got = stored.get(sku, 0)
                if line is None:
                    find("unacknowledged_lines", f"cart {cart_id} sku {sku}: stored {got},"
                         " never written", cart=cart_id, sku=sku)
                    continue
                lo, hi = line.lo, line.hi
                if line.debt_order is not None:
                    held = stored_orders.get(line.debt_order)
                    in_order = held.items.get(sku, 0) if held is not None else 0
                    lo += max(0, line.debt - in_order)
                if lo == hi:
                    checked += 1
                else:
                    uncertain += 1
                    uncertain_carts.add(cart_id)
                where = {"cart": cart_id, "sku": sku, "ops": [str(o) for o in line.ops]}
                if got < lo:
                    find("lost_adds", f"cart {cart_id} sku {sku}: the history needs at least"
                         f" {lo}, stored {got}", **where)
                elif got > hi:
                    kind = "resurrected" if line.reset else "unacknowledged_lines"
                    find(kind, f"cart {cart_id} sku {sku}: the history allows at most {hi},"
                         f" stored {got}", **where)

        # -- orders
        acked_ids: set[str] = set()
        acked_by_cart: dict[str, list[dict[str, int]]] = defaultdict(list)
        for acked in self.orders:
            acked_ids.add(acked.order_id)
            got_order = stored_orders.get(acked.order_id)
            allowed = acked.allowed() or {}
            if got_order is None:
                find("lost_orders", f"order {acked.order_id} (cart {acked.cart_id})"
                     " acknowledged but missing", order=acked.order_id, cart=acked.cart_id)
                continue
            acked_by_cart[acked.cart_id].append(dict(got_order.items))
            for sku in sorted(set(allowed) | set(got_order.items)):
                lo, hi = allowed.get(sku, (0, 0))
                q = got_order.items.get(sku, 0)
                if not lo <= q <= hi:
                    if q < lo:
                        counts["order_shortfalls"] += 1
                    find("order_content_mismatches", f"order {acked.order_id} (cart"
                         f" {acked.cart_id}) sku {sku}: {q} units, the cart's lines at checkout"
                         f" allow [{lo}, {hi}]", order=acked.order_id, cart=acked.cart_id, sku=sku)
        for ids, cart_id, sku, cap in self.shared_caps:
            # two checkouts may acknowledge the same order (a retry that found it): count once
            total = sum(stored_orders[i].items.get(sku, 0) for i in dict.fromkeys(ids)
                        if i in stored_orders)
            if total > cap:
                find("duplicate_orders", f"orders {ids} of cart {cart_id} hold {total} units of"
                     f" {sku} between them, the cart had at most {cap}", cart=cart_id, sku=sku)
        maybe_by_cart = Counter(c for c, _, _, _ in self.maybe_orders)
        for o in snapshot.orders:
            if o.order_id in acked_ids:
                continue
            if maybe_by_cart[o.cart_id] > 0:
                maybe_by_cart[o.cart_id] -= 1
                counts["indeterminate_orders_applied"] += 1
                continue
            if dict(o.items) in acked_by_cart.get(o.cart_id, []):
                find("duplicate_orders", f"order {o.order_id} (cart {o.cart_id}): the same lines"
                     " as an acknowledged order of that cart, placed by no checkout",
                     order=o.order_id, cart=o.cart_id)
            else:
                find("phantom_orders", f"order {o.order_id} (cart {o.cart_id}, {o.items}):"
                     " no checkout of that cart could have placed it",
                     order=o.order_id, cart=o.cart_id)

        # -- stock
        oversold: dict[str, int] = {s: -lv for s, lv in snapshot.inventory.items() if lv < 0}
        if catalog is not None:
            ordered: Counter[str] = Counter()
            for o in snapshot.orders:
                ordered.update(o.items)
            maybe_units: Counter[str] = Counter()
            for _, _, items, _ in self.maybe_orders:
                maybe_units.update(items)
            for p in catalog.products:
                over = ordered.get(p.sku, 0) - p.stock
                if over > 0:
                    oversold[p.sku] = max(oversold.get(p.sku, 0), over)
                final = snapshot.inventory.get(p.sku)
                if final is None:
                    continue
                delta = p.stock - final - ordered.get(p.sku, 0)
                if delta < 0:
                    counts["stock_created_units"] += -delta
                    find("stock_conservation", f"sku {p.sku}: initial {p.stock} < final {final}"
                         f" + ordered {ordered.get(p.sku, 0)}: {-delta} unit(s) given back or"
                         " ordered without a decrement", sku=p.sku)
                elif delta > 0:
                    counts["stock_leaked_units"] += delta
                    unexplained = delta - maybe_units.get(p.sku, 0)
                    if unexplained > 0:
                        counts["stock_leaked_unexplained"] += unexplained
                        find("stock_conservation", f"sku {p.sku}: {delta} unit(s) taken without"
                             f" an order, {unexplained} more than its indeterminate checkouts"
                             " could hold", sku=p.sku)
            self._judge_refusals(catalog, find)
        for sku in sorted(oversold):
            find("oversold", f"sku {sku} oversold by {oversold[sku]} units", sku=sku)

        lost = counts["lost_adds"] + counts["lost_orders"] + counts["order_shortfalls"]
        # resurrections are reported apart (a model may allow them: Dynamo's cart does)
        skip = ("oversold", "stock_conservation", "resurrected")
        anomalies = sum(counts[k] for k in KINDS if k not in skip)
        anomalies += counts["stock_created_units"] + counts["stock_leaked_unexplained"]
        anomalies += len(oversold)
        out: dict[str, Any] = {
            "acknowledged_writes_lost": lost,
            "oversold_skus": len(oversold),
            "oversold_units": sum(oversold.values()),
            "orders": len(self.orders),
            "checked_carts": len(self.touched - uncertain_carts),
            "uncertain_carts": len(uncertain_carts),
            "acknowledged_writes": self.acked_writes,
            "anomalies": anomalies,
        }
        for key in ("lost_adds", "lost_orders", "order_shortfalls", "order_content_mismatches",
                    "resurrected", "unacknowledged_lines", "stale_reads", "phantom_orders",
                    "duplicate_orders", "stock_created_units", "stock_leaked_units",
                    "stock_leaked_unexplained", "wrongful_refusals", "indeterminate_ops",
                    "cut_off_ops", "indeterminate_orders_applied", "reads_checked",
                    "reads_concurrent_unchecked", "concurrent_episodes"):
            out[key] = counts[key]
        out["checked_lines"] = checked
        out["uncertain_lines"] = uncertain
        out["refusals"] = len(self.refusals)
        order = {k: i for i, k in enumerate(KINDS)}
        findings.sort(key=lambda f: order.get(f["kind"], len(KINDS)))
        out["findings"] = findings[:MAX_DETAILS]
        out["details"] = [f["detail"] for f in out["findings"]]
        return out

    def _judge_refusals(self, catalog: Catalog, find: Any) -> None:
        """``out_of_stock`` answers the stock could have covered (see the module docstring)."""
        initial = {p.sku: p.stock for p in catalog.products}
        takes: dict[str, list[tuple[int, int]]] = defaultdict(list)  # sku -> (start, units)
        for start, items in self.order_starts:
            for s, q in items.items():
                takes[s].append((start, q))
        for _, start, maybe, _ in self.maybe_orders:
            for s, q in maybe.items():
                takes[s].append((start, q))
        holds: dict[str, list[tuple[int, int, int]]] = defaultdict(list)  # (start, end, units)
        for _, start, end, refused, _ in self.refusals:
            for s, q in (refused or {}).items():
                holds[s].append((start, end, q))
        prefix: dict[str, tuple[list[int], list[int]]] = {}
        for s, ev in takes.items():
            ev.sort()
            prefix[s] = ([t for t, _ in ev], list(itertools.accumulate(q for _, q in ev)))
        hold_idx: dict[str, tuple[list[int], list[int], list[int], list[int]]] = {}
        for s, hv in holds.items():
            by_start = sorted((st, q) for st, _, q in hv)
            by_end = sorted((en, q) for _, en, q in hv)
            hold_idx[s] = ([t for t, _ in by_start],
                           list(itertools.accumulate(q for _, q in by_start)),
                           [t for t, _ in by_end],
                           list(itertools.accumulate(q for _, q in by_end)))
        for cart_id, start, end, wanted, text in self.refusals:
            if not wanted:
                continue
            covered = True
            for s, q in wanted.items():
                taken = 0
                if s in prefix:
                    times, cum = prefix[s]
                    k = bisect.bisect_left(times, end)
                    taken += cum[k - 1] if k else 0
                if s in hold_idx:  # other refused checkouts holding stock meanwhile
                    st, stc, en, enc = hold_idx[s]
                    k1 = bisect.bisect_left(st, end)
                    k2 = bisect.bisect_right(en, start)
                    taken += (stc[k1 - 1] if k1 else 0) - (enc[k2 - 1] if k2 else 0) - q
                if initial.get(s, 0) - taken < q:
                    covered = False
                    break
            if covered:
                find("wrongful_refusals", f"cart {cart_id}: {text} although every line"
                     f" {wanted} was covered by stock nobody could have taken yet", cart=cart_id)
