"""SIGINT/SIGTERM while the gevent hub runs: deliver them to the main greenlet.

``bench.cli`` installs a SIGTERM handler that raises
``Interrupted``; Python runs it in whichever greenlet happens to be executing — the hub or a
Locust or operation greenlet — where gevent prints and swallows it.  While a load runs,
``interrupts_to_main()`` routes both signals through gevent's own signal watcher instead: the
previously installed Python handler is called from a hub callback, the exception it raises is
kept in ``box``, and the engine's main loop (which polls at least every 100 ms) re-raises it
in the main greenlet.  The original handlers are restored afterwards.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class InterruptBox:
    """The first interrupt received; ``is_set()`` makes it usable as a scheduler stop flag."""

    def __init__(self) -> None:
        self.error: BaseException | None = None

    def is_set(self) -> bool:
        return self.error is not None

    def raise_if_set(self) -> None:
        if self.error is not None:
            raise self.error


class AnyFlag:
    """Set when any of its flags is set."""

    def __init__(self, *flags: Any) -> None:
        self.flags = [f for f in flags if f is not None]

    def is_set(self) -> bool:
        return any(f.is_set() for f in self.flags)


@contextlib.contextmanager
def interrupts_to_main() -> Iterator[InterruptBox]:
    import gevent

    box = InterruptBox()
    watchers: list[Any] = []
    originals: list[tuple[signal.Signals, Any]] = []
    for sig in SIGNALS:
        original = signal.getsignal(sig)
        if not callable(original):
            continue  # SIG_DFL / SIG_IGN: leave the default behaviour alone

        def on_signal(sig: signal.Signals = sig, original: Any = original) -> None:
            try:
                original(sig, None)
            except BaseException as e:  # the handler's way of saying "stop"
                if box.error is None:
                    box.error = e

        originals.append((sig, original))
        watchers.append(gevent.signal_handler(sig, on_signal))
    try:
        yield box
    finally:
        for watcher in watchers:
            watcher.cancel()
        for sig, original in originals:
            signal.signal(sig, original)
