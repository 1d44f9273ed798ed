"""The open-loop scheduler: operations start at their *intended* time, whatever came before.

Owned by the load engine.  Runs inside one gevent hub (one generator process):

* **arrivals**: intended start times come from the profile's rate at that moment, with
  exponential (``poisson``) or constant (``uniform``) gaps from a seeded RNG.  A gap never
  crosses a stage boundary: at a boundary the draw restarts at the new stage's rate (exact
  for Poisson on hold/step stages thanks to memorylessness).
* **dispatch**: the scheduler sleeps until the next intended start, then handles every
  arrival that is due.
* **in-flight cap**: at most ``in_flight_cap`` operations run at once.  An arrival that finds
  no free slot waits in a bounded backlog, *keeping its intended start*; beyond
  ``backlog_cap`` it is counted ``dropped``.
* **lag vs queue wait**: between its intended start and its send an operation's time splits
  into the *generator's* lateness — *schedule lag* = (dispatch − intended) + (greenlet first
  runs − slot granted), i.e. the event loop or CPU was busy — and the *target's* — *queue
  wait* = (slot granted − dispatch) + (cart free − greenlet runs), i.e. every slot was held
  by an unfinished operation, or the cart's previous operation had not finished.  Lag is the
  evidence for ``generator_saturated``; queue wait is counted as ``queued``.
* **one operation per cart at a time**: a cart is chosen among carts with nothing in flight
  (a few random draws); if every draw hits a busy cart the operation waits for that cart
  (queue wait again).  This makes the ledger's expected cart contents exact (see ledger.py).

Operations run in ``in_flight_cap`` long-lived worker greenlets (one per slot; spawning a
greenlet per operation cost ~9 µs, handing over through a gevent queue < 1 µs):
``call_store`` (the one timing wrapper) → recorder → ledger → ``on_request`` (Locust's
``events.request``).
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import gevent
from gevent.event import Event
from gevent.lock import Semaphore
from gevent.queue import Queue

from bench.engine.ledger import Ledger
from bench.engine.recorder import Recorder
from bench.engine.wrapper import PlannedOp, call_store, now_ns
from bench.errors import Interrupted
from targets.base import CartStore, OpResult
from workloads import OperationMix, Profile, SkuChooser

CART_DRAWS = 4
YIELD_AFTER_NS = 2_000_000  # a worker chaining backlog ops yields if the scheduler waited 2 ms
MAX_QTY = 3
RequestHook = Callable[[str, int, int, int, OpResult], None]


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


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
        on_request: RequestHook | None = None,
    ) -> None:
        if in_flight_cap < 1:
            raise ValueError("in_flight_cap must be >= 1")
        if not carts:
            raise ValueError("no carts")
        self.store = store
        self.profile = profile
        self.recorder = recorder
        self.ledger = ledger
        self.rng = random.Random(seed)
        self.mix = OperationMix(profile.mix)
        self.skus = SkuChooser(skus, profile.sku)
        self.carts = carts
        self.in_flight_cap = in_flight_cap
        self.backlog_cap = backlog_cap
        self.drain_timeout_s = drain_timeout_s
        self.stop = stop
        self.on_request = on_request
        self.in_flight = 0
        self.backlog: deque[PlannedOp] = deque()
        self.abandoned = 0
        self.t0_ns = 0
        self._cart_locks: dict[str, Semaphore] = {}
        self._idle = Event()
        self._idle.set()
        self._ready: Queue[PlannedOp | None] = Queue()
        self._tick_ns = 0  # when the scheduler loop last ran
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
            gap = self.rng.expovariate(rate) if poisson else 1.0 / rate
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
            for _ in workers:
                self._ready.put(None)
            gevent.killall([w for w in workers if not w.dead], block=False)
            self.finished.set()

    def _offer(self) -> None:
        self.t0_ns = t0 = now_ns()
        nxt = self._next_arrival(0.0)
        while nxt is not None and not self._stopped():
            due_ns = t0 + int(nxt * 1e9)
            self._tick_ns = now = now_ns()
            if due_ns > now:
                gevent.sleep((due_ns - now) / 1e9)
                continue
            # handle every arrival that is due, then yield once
            while nxt is not None and t0 + int(nxt * 1e9) <= now:
                self._arrive(t0 + int(nxt * 1e9), now)
                nxt = self._next_arrival(nxt)
            gevent.sleep(0)

    def _drain(self) -> None:
        timeout = 5.0 if self._stopped() else self.drain_timeout_s
        if self.in_flight or self.backlog:
            self._idle.wait(timeout)
        self.abandoned = self.in_flight + len(self.backlog)
        self.backlog.clear()

    # -- one arrival --------------------------------------------------------------------

    def _pick_cart(self) -> str:
        cart = self.carts[0]
        for _ in range(CART_DRAWS):
            cart = self.carts[self.rng.randrange(len(self.carts))]
            lock = self._cart_locks.get(cart)
            if lock is None or not lock.locked():
                return cart
        return cart

    def _plan(self, intended_ns: int, now: int) -> PlannedOp:
        name = self.mix.choose(self.rng)
        if name == "browse":
            return PlannedOp(name, None, self.skus.choose(self.rng), 0, intended_ns, now)
        cart = self._pick_cart()
        sku: str | None = None
        qty = 0
        if name in ("remove_item", "set_quantity"):
            contents = self.ledger.contents(cart)
            sku = self.rng.choice(list(contents)) if contents else self.skus.choose(self.rng)
            qty = self.rng.randint(1, MAX_QTY) if name == "set_quantity" else 0
        elif name == "add_item":
            sku = self.skus.choose(self.rng)
            qty = self.rng.randint(1, MAX_QTY)
        return PlannedOp(name, cart, sku, qty, intended_ns, now)

    def _arrive(self, intended_ns: int, now: int) -> None:
        rec = self.recorder
        rec.offered()
        if self.in_flight < self.in_flight_cap:
            self._start(self._plan(intended_ns, now))
        elif len(self.backlog) < self.backlog_cap:
            self.backlog.append(self._plan(intended_ns, now))
        else:
            rec.dropped()

    def _start(self, op: PlannedOp) -> None:
        """Grant ``op`` a slot: hand it to an idle worker greenlet."""
        op.granted_ns = now_ns()
        self.in_flight += 1
        self._idle.clear()
        self._ready.put(op)

    def _worker(self) -> None:
        """One of ``in_flight_cap`` long-lived greenlets (a slot each): far cheaper than a
        greenlet per operation.  After an operation it takes the next one from the backlog
        directly (slot granted now), else waits for the scheduler to hand one over."""
        while True:
            op: PlannedOp | None = self._ready.get()
            while op is not None:
                self._execute(op)
                if now_ns() - self._tick_ns > YIELD_AFTER_NS:
                    gevent.sleep(0)  # the scheduler has not run for a while: let it
                self.in_flight -= 1
                op = None
                if self.backlog and self.in_flight < self.in_flight_cap:
                    op = self.backlog.popleft()
                    op.granted_ns = now_ns()
                    self.in_flight += 1
                elif not self.in_flight and not self.backlog:
                    self._idle.set()
            if self.finished.is_set():
                return

    def _execute(self, op: PlannedOp) -> None:
        running = now_ns()
        try:
            if op.cart_id is None:
                self._call(op, running)
            else:
                lock = self._cart_locks.get(op.cart_id)
                if lock is None:
                    lock = self._cart_locks[op.cart_id] = Semaphore()
                with lock:
                    self._call(op, running)
        except (Interrupted, KeyboardInterrupt) as e:
            self.interrupted = e

    def _call(self, op: PlannedOp, running_ns: int) -> None:
        lag = (op.dispatched_ns - op.intended_ns) + (running_ns - op.granted_ns)
        queue_wait = (op.granted_ns - op.dispatched_ns) + (now_ns() - running_ns)
        self.recorder.started(lag, queue_wait)
        result, start, end = call_store(self.store, op)
        self.recorder.completed(op.name, op.intended_ns, start, end, result)
        self.ledger.apply(op.name, op.cart_id, op.sku, op.qty, result)
        if self.on_request is not None:
            self.on_request(op.name, op.intended_ns, start, end, result)

    def stats(self) -> dict[str, Any]:
        return {"in_flight": self.in_flight, "backlog": len(self.backlog)}
