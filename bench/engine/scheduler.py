"""The open-loop scheduler: operations start at their *intended* time, whatever came before.

Runs inside one gevent hub (one generator process):

* **arrivals**: intended start times come from the profile's *integrated* rate
  (``workloads/arrivals.py``: inversion of ``Λ(t)``, Poisson or uniform), so ramps, steps,
  zero-rate stages and stage boundaries offer exactly what the profile says.
* **common random numbers**: the intended sequence (times, operation, cart, SKU, quantity)
  is a pure function of seed and profile: every kind of draw has its own stream and every
  arrival consumes the same draws whatever happens to it (``_plan``).  Every target of a run
  is offered the same sequence; with ``--workers N`` process ``i`` offers its share ``i`` of
  that one sequence (``part``), from a shared t = 0 (``start_at``).
* **dispatch**: the scheduler greenlet sleeps until the next intended start, then handles
  every arrival that is due; a worker that finishes an operation also dispatches whatever
  has become due (never early), so a busy generator needs no greenlet switch per arrival.
* **in-flight cap**: at most ``in_flight_cap`` operations hold a slot at once (running,
  ready, or parked on a busy cart).  An arrival that finds no free slot waits in a bounded
  backlog, *keeping its intended start*; beyond ``backlog_cap`` it is counted ``dropped``.
* **lag vs queue wait**: between its intended start and its send an operation's time splits
  into the *generator's* lateness — *schedule lag* = (dispatch − intended) + (a worker takes
  it − slot granted), i.e. the event loop or CPU was busy — and the *target's* — *queue
  wait* = (slot granted − dispatch) + (cart free − cart found busy), i.e. every slot was
  held by an unfinished operation, or the cart's previous operation had not finished.
  Computed as lag = (send − intended) − queue wait, recorded at completion.  Lag is the
  evidence for ``generator_saturated``; queue wait is counted as ``queued``.
* **one operation per cart at a time**: the cart is one draw; if it has an operation in
  flight the new one is parked on the cart *keeping its in-flight slot* (so busy carts count
  against the cap and the backlog, and memory stays bounded) and waits for it (queue wait
  again).  This makes the ledger's expected cart contents exact (see ledger.py).

Operations run in ``in_flight_cap`` long-lived worker greenlets (one per slot; spawning a
greenlet per operation cost ~9 µs).  Granted operations wait in a ``ready`` deque; a worker
that takes one wakes one more idle worker (a gevent queue token) only if more are ready and
none is already waking, so a store that answers without yielding (the in-memory reference
store) runs a whole batch in one greenlet without a switch per operation, while a store that
yields on I/O gets one worker per operation.  A cart that is busy is not waited on by a
blocked greenlet: the operation is parked on the cart (keeping its slot) and the worker that
finishes the cart's current operation runs it next (``owned``: the cart stays busy).  Per
operation: ``call_store`` (the one timing wrapper: two clock reads) → recorder (one array
append) → ledger (writes and cart reads: ``begin`` before, ``apply`` after, so overlapping or
cut-off operations are known).
Random draws (operation, cart, SKU, quantity, Poisson gaps) come in numpy batches.
Locust's own stats are fed per interval by the recorder's sink (``locust_stats.py``).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Protocol

import gevent
import numpy as np
from gevent.event import Event
from gevent.queue import Queue

from bench.engine.ledger import Ledger
from bench.engine.recorder import Recorder
from bench.engine.timing import call_store, now_ns, store_methods
from bench.errors import Interrupted
from targets.base import CartStore
from workloads import OPERATIONS, OperationMix, Profile, SkuChooser
from workloads.arrivals import Arrivals

YIELD_AFTER_NS = 2_000_000  # workers chaining ops let the hub run every 2 ms
MAX_QTY = 3
NEVER = 2**62
BATCH = 4096  # random draws per numpy refill
BROWSE, ADD, REMOVE, SET_QTY, VIEW, CHECKOUT = (OPERATIONS.index(n) for n in (
    "browse", "add_item", "remove_item", "set_quantity", "view_cart", "checkout"))  # fmt: skip
WRITES = frozenset({ADD, REMOVE, SET_QTY, CHECKOUT})
LEDGER_OPS = WRITES | {VIEW}

# A planned operation: (op index, cart or None, store-call args, intended_ns, wait_ns).
# In the backlog ``wait_ns`` holds the dispatch time; once granted, the slot wait so far.
Op = tuple[int, str | None, tuple[Any, ...], int, int]


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


class Draws:
    """Seeded random draws, refilled ``BATCH`` at a time with numpy (a list ``pop`` per draw
    instead of a ``random.Random`` call + bisect).

    Every kind of draw has a stream of its own (``SeedSequence(seed).spawn``), and every
    arrival consumes the same draws whatever happens to it (see ``OpenLoopScheduler._plan``):
    the intended sequence is a pure function of the seed and the profile (common random
    numbers), never of the target's latency or outcomes."""

    def __init__(self, seed: int, mix: OperationMix, skus: SkuChooser, carts: int) -> None:
        streams = np.random.SeedSequence(seed).spawn(6)
        self._rng_op, self._rng_sku, self._rng_cart, self._rng_qty, self._rng_gap, \
            self._rng_unit = (np.random.default_rng(s) for s in streams)
        self.mix, self.skus, self.n_carts = mix, skus, carts
        self._ops: list[int] = []
        self._skus: list[int] = []
        self._carts: list[int] = []
        self._qty: list[int] = []
        self._gaps: list[float] = []
        self._unit: list[float] = []

    def op(self) -> int:
        if not self._ops:
            self._ops = self.mix.indices(self._rng_op, BATCH).tolist()
        return self._ops.pop()

    def sku(self) -> int:
        if not self._skus:
            self._skus = self.skus.indices(self._rng_sku, BATCH).tolist()
        return self._skus.pop()

    def cart(self) -> int:
        if not self._carts:
            self._carts = self._rng_cart.integers(0, self.n_carts, BATCH).tolist()
        return self._carts.pop()

    def qty(self) -> int:
        if not self._qty:
            self._qty = self._rng_qty.integers(1, MAX_QTY + 1, BATCH).tolist()
        return self._qty.pop()

    def exp_gap(self) -> float:
        """A standard exponential (mean 1)."""
        if not self._gaps:
            self._gaps = self._rng_gap.standard_exponential(BATCH).tolist()
        return self._gaps.pop()

    def unit(self) -> float:
        """Uniform on [0, 1)."""
        if not self._unit:
            self._unit = self._rng_unit.random(BATCH).tolist()
        return self._unit.pop()


class _Parked:
    """Marker returned by ``_execute`` for an operation parked on its busy cart."""


PARKED = _Parked()


class OpenLoopScheduler:
    def __init__(
        self,
        store: CartStore,
        profile: Profile,
        skus: list[str],
        carts: list[str],
        recorder: Recorder,
        ledger: Ledger,
        *,
        seed: int,
        in_flight_cap: int = 256,
        backlog_cap: int = 10_000,
        drain_timeout_s: float = 30.0,
        stop: StopFlag | None = None,
        part: tuple[int, int] = (0, 1),
        start_at: float | None = None,
    ) -> None:
        """``part=(i, n)``: this generator process offers the share ``i`` of ``n`` of the one
        intended sequence (cart ``j``'s operations if ``j % n == i``, browses by arrival
        number); every process draws the whole sequence.  ``start_at``: the ``time.time()``
        at which the profile's t = 0 is (all worker processes share it); default: now."""
        if in_flight_cap < 1:
            raise ValueError("in_flight_cap must be >= 1")
        if not carts:
            raise ValueError("no carts")
        if not 0 <= part[0] < part[1]:
            raise ValueError(f"bad part {part}")
        self.store = store
        self.profile = profile
        self.recorder = recorder
        self.ledger = ledger
        self.mix = OperationMix(profile.mix)
        self.sku_names = skus
        self.draws = Draws(seed, self.mix, SkuChooser(skus, profile.sku), len(carts))
        self.arrivals = Arrivals(
            profile, self.draws.exp_gap if profile.arrival == "poisson" else None
        )
        self.carts = carts
        self.part, self.parts = part
        self.start_at = start_at
        self.in_flight_cap = in_flight_cap
        self.backlog_cap = backlog_cap
        self.drain_timeout_s = drain_timeout_s
        self.stop = stop
        self.in_flight = 0  # operations holding a slot: running, ready, or parked on a cart
        self.backlog: deque[Op] = deque()
        self.abandoned = 0
        self.t0_ns = 0
        #: offered operations per second of *intended* time (identical for every target)
        self.offered_per_s: list[int] = [0] * (int(profile.duration_s) + 1)
        self._n_arrivals = 0
        self._intended: dict[str, dict[str, int]] = {}  # cart -> contents if all succeeded
        self._methods = store_methods(store)
        self._ready: deque[Op] = deque()
        self._busy: dict[str, deque[tuple[Op, int]] | None] = {}  # cart -> parked ops
        self._wake: Queue[bool] = Queue()
        self._sleeping = 0  # workers blocked on ``_wake``
        self._waking = 0  # wake tokens not yet taken
        self._idle = Event()
        self._idle.set()
        self._tick_ns = 0  # when arrivals were last dispatched
        self._nxt: float | None = None  # the next intended start (s), None: no more
        self._due_ns = NEVER  # the same on the perf_counter_ns clock
        self._yield_ns = 0  # when a worker last yielded to let it run
        self.finished = Event()
        self.interrupted: BaseException | None = None

    # -- arrivals ---------------------------------------------------------------------

    def _stopped(self) -> bool:
        return self.interrupted is not None or (self.stop is not None and self.stop.is_set())

    def run(self) -> None:
        """Offer the whole profile, then wait (bounded) for in-flight operations.

        A SIGINT/SIGTERM exception (``Interrupted``/``KeyboardInterrupt``) can be raised in
        whichever greenlet happens to run; here or in an operation greenlet it is kept in
        ``interrupted`` (offering stops) and the caller re-raises it in the main greenlet."""
        workers = [gevent.spawn(self._worker) for _ in range(self.in_flight_cap)]
        try:
            self._offer()
            self._drain()
        except (Interrupted, KeyboardInterrupt) as e:
            self.interrupted = e
        finally:
            self.finished.set()
            for _ in workers:
                self._wake.put(False)
            gevent.killall([w for w in workers if not w.dead], block=False)

    def _offer(self) -> None:
        """The scheduler greenlet: sleeps until the next intended start and dispatches what
        is due.  Workers that finish an operation dispatch due arrivals too
        (``_dispatch_due``), so a busy generator runs without a greenlet switch per
        operation; this loop covers the idle gaps and checks the stop flags."""
        self.t0_ns = now_ns()
        if self.start_at is not None:  # the shared t = 0, on this process's clock
            self.t0_ns += int((self.start_at - time.time()) * 1e9)
        self._set_next(self.arrivals.next())
        while self._nxt is not None:
            if self._stopped():
                self._set_next(None)
                break
            now = now_ns()
            if self._due_ns > now:
                gevent.sleep((self._due_ns - now) / 1e9)
                continue
            self._dispatch_due(now)
            if self._ready:
                self._wake_one()
            self._yield_ns = now
            gevent.sleep(0)

    def _set_next(self, nxt: float | None) -> None:
        self._nxt = nxt
        self._due_ns = self.t0_ns + int(nxt * 1e9) if nxt is not None else NEVER

    def _dispatch_due(self, now: int) -> None:
        """Handle every arrival due by ``now`` (never yields)."""
        self._tick_ns = now
        nxt, due, t0 = self._nxt, self._due_ns, self.t0_ns
        arrivals = self.arrivals
        while due <= now and nxt is not None:
            op = self._plan(due)
            if op is not None:
                self.offered_per_s[int(nxt)] += 1
                self._arrive(op, now)
            nxt = arrivals.next()
            due = t0 + int(nxt * 1e9) if nxt is not None else NEVER
        self._nxt, self._due_ns = nxt, due

    def _drain(self) -> None:
        timeout = 5.0 if self._stopped() else self.drain_timeout_s
        if self.in_flight or self.backlog:
            self._idle.wait(timeout)
        self.abandoned = self.in_flight + len(self.backlog)
        self.backlog.clear()

    # -- one arrival --------------------------------------------------------------------

    def _plan(self, intended_ns: int) -> Op | None:
        """The arrival's operation, or None if another generator process offers it.

        Every arrival consumes the same draws whatever its fate (dropped, another process's,
        a remove from an empty cart), so the sequence never depends on the target: the op,
        then browse: SKU; view/checkout: cart; add: cart, SKU, quantity; remove: cart, unit,
        SKU; set: cart, unit, SKU, quantity.  The SKU a remove/set picks comes from the cart's
        *intended* contents (every earlier planned write applied as if it succeeded), not
        from acknowledged state."""
        d = self.draws
        op = d.op()
        n = self._n_arrivals
        self._n_arrivals = n + 1
        if op == BROWSE:
            b = d.sku()
            if self.parts > 1 and n % self.parts != self.part:
                return None
            return (op, None, (self.sku_names[b],), intended_ns, 0)
        c = d.cart()
        mine = self.parts == 1 or c % self.parts == self.part
        cart = self.carts[c]
        if op == VIEW:
            return (op, cart, (cart,), intended_ns, 0) if mine else None
        if op == CHECKOUT:
            if not mine:
                return None
            self._intended.pop(cart, None)
            return (op, cart, (cart,), intended_ns, 0)
        if op == ADD:
            added, qty = self.sku_names[d.sku()], d.qty()
            if not mine:
                return None
            into = self._intended.setdefault(cart, {})
            into[added] = into.get(added, 0) + qty
            return (op, cart, (cart, added, qty), intended_ns, 0)
        u, k = d.unit(), d.sku()
        qty = d.qty() if op == SET_QTY else 0
        if not mine:
            return None
        contents = self._intended.get(cart)
        sku: str
        if contents:
            keys = list(contents)
            sku = keys[int(u * len(keys))]
        else:
            sku = self.sku_names[k]  # an empty cart: a SKU it does not hold (not_found)
        if op == SET_QTY:
            self._intended.setdefault(cart, {})[sku] = qty
            return (op, cart, (cart, sku, qty), intended_ns, 0)
        if contents:
            contents.pop(sku, None)
        return (op, cart, (cart, sku), intended_ns, 0)

    def _arrive(self, op: Op, now: int) -> None:
        rec = self.recorder
        rec.n_offered += 1
        if self.in_flight < self.in_flight_cap:
            self.in_flight += 1  # granted at dispatch: no slot wait
            self._ready.append(op)
            if self._idle.is_set():
                self._idle.clear()
        elif len(self.backlog) < self.backlog_cap:
            self.backlog.append((op[0], op[1], op[2], op[3], now))  # wait_ns = dispatch time
        else:
            rec.n_dropped += 1

    def _wake_one(self) -> None:
        """Wake one sleeping worker unless one is already on its way (it wakes the next one
        if more is ready when it takes its operation)."""
        if not self._waking and self._sleeping:
            self._waking += 1
            self._wake.put(True)

    def _worker(self) -> None:
        """One of ``in_flight_cap`` long-lived greenlets: takes ready operations until none
        is left, then sleeps until woken."""
        ready, backlog = self._ready, self.backlog
        while True:
            self._sleeping += 1
            try:
                go = self._wake.get()
            finally:
                self._sleeping -= 1
            self._waking -= 1
            if not go:
                return
            while ready:
                op: Op | None = ready.popleft()
                owned = False  # True: a parked op handed over, its cart already marked busy
                if ready:
                    self._wake_one()  # more is ready: another worker, in case this one blocks
                while op is not None:
                    end, nxt = self._execute(op, owned)
                    if nxt is PARKED:
                        op = None  # parked on its cart, keeping its slot
                    else:
                        self.in_flight -= 1  # the op finished: its slot is free
                        if backlog and self.in_flight < self.in_flight_cap:
                            o = backlog.popleft()
                            self.in_flight += 1
                            ready.append((o[0], o[1], o[2], o[3], end - o[4]))  # slot granted
                        elif not self.in_flight and not backlog:
                            self._idle.set()
                        op, owned = nxt, True  # type: ignore[assignment]
                    if self._due_ns <= end:
                        self._dispatch_due(end)  # more arrivals are due: dispatch them here
                    if end - self._yield_ns > YIELD_AFTER_NS:
                        # let the hub run (timers, the interval flush, Locust) every 2 ms;
                        # one yield per 2 ms over all workers, or a busy generator
                        # degenerates into round-robin switching, one op per switch
                        self._yield_ns = end
                        gevent.sleep(0)
                if self.finished.is_set():
                    return

    def _execute(self, op: Op, owned: bool = False) -> tuple[int, Op | _Parked | None]:
        """Run ``op`` unless its cart is busy (then park it on the cart: it keeps its slot
        and counts in ``in_flight``).  Returns the time it ended and, if it ran, the cart's
        next parked operation (None if none), which the caller runs next with
        ``owned=True`` (the cart stays marked busy in between); ``PARKED`` if it was
        parked."""
        cart = op[1]
        busy = self._busy
        if cart is not None and not owned:
            if cart in busy:
                parked = busy[cart]
                t = now_ns()
                if parked is None:
                    busy[cart] = deque(((op, t),))
                else:
                    parked.append((op, t))
                return t, PARKED
            busy[cart] = None
        try:
            end = self._call(op)
        except (Interrupted, KeyboardInterrupt) as e:
            self.interrupted = e
            end = now_ns()
        if cart is None:
            return end, None
        parked = busy[cart]
        if not parked:
            del busy[cart]
            return end, None
        o, t = parked.popleft()
        return end, (o[0], cart, o[2], o[3], o[4] + (end - t))  # waited for its cart

    def _call(self, op: Op) -> int:
        i, cart, args, intended, wait = op
        rec = self.recorder
        rec.n_started += 1
        if i in LEDGER_OPS:  # writes and cart reads: the audit's history
            name = OPERATIONS[i]
            sku, qty = (args[1], args[2] if len(args) > 2 else 0) if len(args) > 1 else (None, 0)
            token = self.ledger.begin(name, cart, sku, qty, now_ns())
            result, start, end = call_store(self._methods[i], args)
            rec.done(i, intended, start, end, result, start - intended - wait, wait)
            self.ledger.apply(name, cart, sku, qty, result, token, start, end)
            return end
        result, start, end = call_store(self._methods[i], args)
        rec.done(i, intended, start, end, result, start - intended - wait, wait)
        return end

    def stats(self) -> dict[str, Any]:
        return {"in_flight": self.in_flight, "backlog": len(self.backlog)}
