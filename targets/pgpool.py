"""A fixed-size psycopg connection pool for the load generator's hot path, and a gevent wait.

Why not ``psycopg_pool``: under Locust's gevent its ``connection()`` costs ~70-100 µs of CPU
per checkout (locks, maintenance-task bookkeeping, reset checks) — more than the ``SELECT``
it wraps (docs/BENCHMARKS.md "Generator cost per cart operation").  This pool is a deque of
idle connections behind a semaphore (gevent's once monkey-patched, a thread semaphore
otherwise): a checkout is a pop and a push.  Broken connections (server restarted, killed
backend) are closed on return and replaced on demand by the next checkout, so a datastore
that comes back is used again without a restart of the run.

``GeventWaitConnection`` replaces psycopg's wait function, which under gevent is
``wait_poll`` on gevent's emulated ``select.poll`` (a Python poll object, a watcher and a
timeout per call, ~20-40 µs per wait), by one cached libev io watcher per connection and
direction, waited on with the hub directly.  It is only chosen when gevent has patched
``select`` (psycopg's own C wait is used otherwise).
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import pq
from psycopg.abc import RV, PQGen
from psycopg.waiting import READY_R, READY_W, WAIT_R, WAIT_RW, WAIT_W

PgConn = psycopg.Connection[tuple[Any, ...]]

_LIBEV_READ, _LIBEV_WRITE = 1, 2
_EVENTS = {WAIT_R: _LIBEV_READ, WAIT_W: _LIBEV_WRITE, WAIT_RW: _LIBEV_READ | _LIBEV_WRITE}
_READY = {_LIBEV_READ: READY_R, _LIBEV_WRITE: READY_W, _LIBEV_READ | _LIBEV_WRITE: READY_R | READY_W}


class PoolTimeout(Exception):
    """No connection became free within the pool's timeout."""


def gevent_patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey is not None and monkey.is_module_patched("select"))


def _semaphore(size: int) -> Any:
    """gevent's (Cython) semaphore once gevent has patched the process: ``threading``'s is
    Python code over a patched lock and a condition, several times the cost per checkout."""
    if gevent_patched():
        from gevent.lock import Semaphore

        return Semaphore(size)
    return threading.Semaphore(size)


class GeventWaitConnection(psycopg.Connection[tuple[Any, ...]]):
    """A psycopg connection whose waits go straight to gevent's hub (see module doc)."""

    _watchers: dict[int, Any]

    def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        if timeout is None:
            return self._wait(gen)
        import gevent

        with gevent.Timeout(timeout, pgerrors._WaitTimeout("wait timeout expired")):
            return self._wait(gen)

    def _wait(self, gen: PQGen[RV]) -> RV:
        from gevent.hub import get_hub

        hub = get_hub()
        fileno = self.pgconn.socket
        watchers = self.__dict__.setdefault("_watchers", {})
        try:
            state = next(gen)
            while True:
                events = _EVENTS[state]
                watcher = watchers.get(events)
                if watcher is None or watcher.fd != fileno:
                    watcher = watchers[events] = hub.loop.io(fileno, events)
                hub.wait(watcher)
                # libev reports what happened only to the callback; answering with what the
                # generator asked for is what psycopg's poll-based wait does for a ready fd
                state = gen.send(_READY[events])
        except StopIteration as stop:
            result: RV = stop.value
            return result


class ConnectionPool:
    """``size`` autocommit connections; ``connection()`` lends one (see module doc)."""

    def __init__(self, conninfo: str, size: int, timeout_s: float, connect_timeout_s: float,
                 **kwargs: Any) -> None:
        self._conninfo = conninfo
        self._kwargs = kwargs
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._cls: type[PgConn] = GeventWaitConnection if gevent_patched() else psycopg.Connection
        self._idle: deque[PgConn] = deque()
        self._slots: Any = _semaphore(size)
        self._closed = False
        self.size = size
        for _ in range(size):
            self._idle.append(self._connect())

    def _connect(self) -> PgConn:
        return self._cls.connect(self._conninfo, connect_timeout=max(1, int(self._connect_timeout_s)),
                                 **self._kwargs)

    @contextmanager
    def connection(self) -> Iterator[PgConn]:
        if not self._slots.acquire(timeout=self._timeout_s):
            raise PoolTimeout(f"no connection free within {self._timeout_s:.0f} s")
        conn: PgConn | None = None
        try:
            conn = self._idle.pop() if self._idle else self._connect()
            yield conn
        finally:
            if conn is not None:
                self._give_back(conn)
            self._slots.release()

    def _give_back(self, conn: PgConn) -> None:
        if self._closed or conn.broken or conn.closed:
            conn.close()
            return
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            try:
                conn.rollback()
            except psycopg.Error:
                conn.close()
                return
        self._idle.append(conn)

    def drain(self) -> None:
        """Replace the idle connections by new ones (their prepared statements refer to
        dropped tables)."""
        n = len(self._idle)
        while self._idle:
            self._idle.pop().close()
        for _ in range(n):
            self._idle.append(self._connect())

    def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()
