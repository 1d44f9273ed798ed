"""The open-loop scheduler: operations start at their *intended* time, whatever came before.

Runs inside one gevent hub (one generator process):

* **arrivals**: intended start times come from the profile's rate at that moment, with
  exponential (``poisson``) or constant (``uniform``) gaps from a seeded RNG.  A gap never
  crosses a stage boundary: at a boundary the draw restarts at the new stage's rate (exact
  for Poisson on hold/step stages thanks to memorylessness).
* **dispatch**: the scheduler greenlet sleeps until the next intended start, then handles
  every arrival that is due; a worker that finishes an operation also dispatches whatever
  has become due (never early), so a busy generator needs no greenlet switch per arrival.
* **in-flight cap**: at most ``in_flight_cap`` operations run at once.  An arrival that finds
  no free slot waits in a bounded backlog, *keeping its intended start*; beyond
  ``backlog_cap`` it is counted ``dropped``.
* **lag vs queue wait**: between its intended start and its send an operation's time splits
  into the *generator's* lateness — *schedule lag* = (dispatch − intended) + (a worker takes
  it − slot granted), i.e. the event loop or CPU was busy — and the *target's* — *queue
  wait* = (slot granted − dispatch) + (cart free − cart found busy), i.e. every slot was
  held by an unfinished operation, or the cart's previous operation had not finished.
  Computed as lag = (send − intended) − queue wait, recorded at completion.  Lag is the
  evidence for ``generator_saturated``; queue wait is counted as ``queued``.
* **one operation per cart at a time**: a cart is chosen among carts with nothing in flight
  (a few random draws); if every draw hits a busy cart the operation waits for that cart
  (queue wait again).  This makes the ledger's expected cart contents exact (see ledger.py).

Operations run in ``in_flight_cap`` long-lived worker greenlets (one per slot; spawning a
greenlet per operation cost ~9 µs).  Granted operations wait in a ``ready`` deque; a worker
that takes one wakes one more idle worker (a gevent queue token) only if more are ready and
none is already waking, so a store that answers without yielding (the in-memory reference
store) runs a whole batch in one greenlet without a switch per operation, while a store that
yields on I/O gets one worker per operation.  A cart that is busy is not waited on by a
blocked greenlet: the operation is parked on the cart (keeping its slot) and the worker that
finishes the cart's current operation runs it next.  Per operation: ``call_store`` (the one
timing wrapper: two clock reads) → recorder (one array append) → ledger (writes and cart reads: ``begin`` before, ``apply``
after, so overlapping or cut-off operations are known).
Random draws (operation, cart, SKU, quantity, Poisson gaps) come in numpy batches.
Locust's own stats are fed per interval by the recorder's sink (``locust_stats.py``).
"""

from __future__ import annotations

import itertools
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

CART_DRAWS = 4
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
    instead of a ``random.Random`` call + bisect)."""

    def __init__(self, seed: int, mix: OperationMix, skus: SkuChooser, carts: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.mix, self.skus, self.n_carts = mix, skus, carts
        self._ops: list[int] = []
        self._skus: list[int] = []
        self._carts: list[int] = []
        self._qty: list[int] = []
        self._gaps: list[float] = []
        self._unit: list[float] = []

    def op(self) -> int:
        if not self._ops:
            self._ops = self.mix.indices(self.rng, BATCH).tolist()
        return self._ops.pop()

    def sku(self) -> int:
        if not self._skus:
            self._skus = self.skus.indices(self.rng, BATCH).tolist()
        return self._skus.pop()

    def cart(self) -> int:
        if not self._carts:
            self._carts = self.rng.integers(0, self.n_carts, BATCH).tolist()
        return self._carts.pop()

    def qty(self) -> int:
        if not self._qty:
            self._qty = self.rng.integers(1, MAX_QTY + 1, BATCH).tolist()
        return self._qty.pop()

    def exp_gap(self) -> float:
        """A standard exponential (mean 1): divide by the rate."""
        if not self._gaps:
            self._gaps = self.rng.standard_exponential(BATCH).tolist()
        return self._gaps.pop()

    def unit(self) -> float:
        """Uniform on [0, 1)."""
        if not self._unit:
            self._unit = self.rng.random(BATCH).tolist()
        return self._unit.pop()


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
    ) -> None:
        if in_flight_cap < 1:
            raise ValueError("in_flight_cap must be >= 1")
        if not carts:
            raise ValueError("no carts")
        self.store = store
        self.profile = profile
        self.recorder = recorder
        self.ledger = ledger
        self.mix = OperationMix(profile.mix)
        self.sku_names = skus
        self.draws = Draws(seed, self.mix, SkuChooser(skus, profile.sku), len(carts))
        self.carts = carts
        self.in_flight_cap = in_flight_cap
        self.backlog_cap = backlog_cap
        self.drain_timeout_s = drain_timeout_s
        self.stop = stop
        self.in_flight = 0
        self.backlog: deque[Op] = deque()
        self.abandoned = 0
        self.t0_ns = 0
        self._methods = store_methods(store)
        self._ready: deque[Op] = deque()
        self._busy: dict[str, list[tuple[Op, int]] | None] = {}  # cart -> parked ops
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
        self._stage_ends: list[float] = list(itertools.accumulate(s.duration_s for s in profile.stages))
        self._stage_i = 0

    # -- arrivals ---------------------------------------------------------------------

    def _next_arrival(self, t: float) -> float | None:
        """The intended start (seconds) after ``t``, or None past the profile's end.

        Same arithmetic as ``Profile.rate_at`` with the stage boundaries precomputed (this
        runs once per operation)."""
        stages, ends = self.profile.stages, self._stage_ends
        poisson = self.profile.arrival == "poisson"
        i = self._stage_i
        while True:
            while i < len(stages) and t >= ends[i]:
                i += 1
            if i == len(stages):
                self._stage_i = i
                return None
            stage = stages[i]
            if stage.kind == "ramp" and stage.duration_s > 0:
                frac = (t - (ends[i] - stage.duration_s)) / stage.duration_s
                rate = stage.rate_start + (stage.rate_end - stage.rate_start) * frac
            else:
                rate = stage.rate_start
            if rate <= 0:
                t = ends[i] if stage.kind != "ramp" else min(t + 0.01, ends[i])
                continue
            gap = self.draws.exp_gap() / rate if poisson else 1.0 / rate
            if t + gap >= ends[i] and poisson and stage.kind != "ramp":
                t = ends[i]  # memoryless: redraw at the next stage's rate
                continue
            self._stage_i = i
            return t + gap if t + gap < ends[-1] else None

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
        self._set_next(self._next_arrival(0.0))
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
        while due <= now and nxt is not None:
            self._arrive(due, now)
            nxt = self._next_arrival(nxt)
            due = t0 + int(nxt * 1e9) if nxt is not None else NEVER
        self._nxt, self._due_ns = nxt, due

    def _drain(self) -> None:
        timeout = 5.0 if self._stopped() else self.drain_timeout_s
        if self.in_flight or self.backlog:
            self._idle.wait(timeout)
        self.abandoned = self.in_flight + len(self.backlog)
        self.backlog.clear()

    # -- one arrival --------------------------------------------------------------------

    def _pick_cart(self) -> str:
        carts, busy, draw = self.carts, self._busy, self.draws.cart
        cart = carts[0]
        for _ in range(CART_DRAWS):
            cart = carts[draw()]
            if cart not in busy:
                return cart
        return cart

    def _plan(self, intended_ns: int, wait: int) -> Op:
        d = self.draws
        op = d.op()
        if op == BROWSE:
            return (op, None, (self.sku_names[d.sku()],), intended_ns, wait)
        cart = self._pick_cart()
        if op in (VIEW, CHECKOUT):
            return (op, cart, (cart,), intended_ns, wait)
        if op == ADD:
            return (op, cart, (cart, self.sku_names[d.sku()], d.qty()), intended_ns, wait)
        contents = self.ledger.contents(cart)
        if contents:
            keys = list(contents)
            sku = keys[int(d.unit() * len(keys))]
        else:
            sku = self.sku_names[d.sku()]
        if op == SET_QTY:
            return (op, cart, (cart, sku, d.qty()), intended_ns, wait)
        return (op, cart, (cart, sku), intended_ns, wait)

    def _arrive(self, intended_ns: int, now: int) -> None:
        rec = self.recorder
        rec.n_offered += 1
        if self.in_flight < self.in_flight_cap:
            self.in_flight += 1  # granted at dispatch: no slot wait
            self._ready.append(self._plan(intended_ns, 0))
            if self._idle.is_set():
                self._idle.clear()
        elif len(self.backlog) < self.backlog_cap:
            self.backlog.append(self._plan(intended_ns, now))  # wait_ns = dispatch time
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
                if ready:
                    self._wake_one()  # more is ready: another worker, in case this one blocks
                while op is not None:
                    end, op = self._execute(op)
                    if op is None:
                        self.in_flight -= 1
                        if backlog and self.in_flight < self.in_flight_cap:
                            o = backlog.popleft()
                            self.in_flight += 1
                            ready.append((o[0], o[1], o[2], o[3], end - o[4]))  # slot granted
                        elif not self.in_flight and not backlog:
                            self._idle.set()
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

    def _execute(self, op: Op) -> tuple[int, Op | None]:
        """Run ``op`` unless its cart is busy (then park it).  Returns the time it ended and
        the cart's next parked operation, which the caller runs next (it already holds a
        slot)."""
        cart = op[1]
        busy = self._busy
        if cart is not None:
            if cart in busy:
                parked = busy[cart]
                t = now_ns()
                if parked is None:
                    busy[cart] = [(op, t)]
                else:
                    parked.append((op, t))
                return t, None
            busy[cart] = None
        try:
            end = self._call(op)
        except (Interrupted, KeyboardInterrupt) as e:
            self.interrupted = e
            end = now_ns()
        if cart is None:
            return end, None
        parked = busy.pop(cart)
        if not parked:
            return end, None
        (o, t), rest = parked[0], parked[1:]
        busy[cart] = rest or None
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
