"""The live view of a running benchmark: one panel per target on a terminal, a compact line
every few seconds otherwise (CI logs, pipes).

``bench run`` and ``bench findmax`` create one ``LiveView`` around the whole run and pass
``view.progress`` (one-off messages: starting, seeding, stopping …) and ``view.interval``
(the engine's per-second ``IntervalStats``) to the orchestrator.

On a terminal the panels are redrawn once per interval from the engine's callback — never
from a refresh thread, which under gevent would compete with the load generator.  Without a
terminal, each target prints one line per ``every_s`` seconds of load summarising that
window: mean offered and achieved rate, the worst intended p99, errors and dropped summed,
worst generator lag p99 and CPU.  Window boundaries follow the load's own clock (``t_s``),
so the output is the same however fast the machine is.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

DEFAULT_EVERY_S = 5.0
log = logging.getLogger("cartbench")


class Stats(Protocol):
    """What the view reads from ``bench.engine.IntervalStats``."""

    t_s: float
    stage: str
    offered_rate: float
    offered: int
    completed: int
    errors: int
    dropped: int
    in_flight: int
    intended_p99_ms: float
    service_p99_ms: float
    lag_p99_ms: float
    cpu_pct: float
    duration_s: float


@dataclass
class _Window:
    """Intervals of one target since its last compact line."""

    start_s: float = 0.0
    seconds: float = 0.0
    offered: int = 0
    completed: int = 0
    errors: int = 0
    dropped: int = 0
    p99_ms: float = 0.0
    lag_ms: float = 0.0
    cpu_pct: float = 0.0
    stage: str = ""

    def add(self, s: Stats, width_s: float) -> None:
        if self.seconds == 0.0:
            self.start_s = s.t_s
        self.seconds += width_s
        self.offered += s.offered
        self.completed += s.completed
        self.errors += s.errors
        self.dropped += s.dropped
        self.p99_ms = max(self.p99_ms, s.intended_p99_ms)
        self.lag_ms = max(self.lag_ms, s.lag_p99_ms)
        self.cpu_pct = max(self.cpu_pct, s.cpu_pct)
        self.stage = s.stage


@dataclass
class _TargetState:
    last: Any = None
    prev_t_s: float | None = None
    window: _Window | None = None
    next_line_s: float = 0.0
    total_errors: int = 0
    total_dropped: int = 0
    label: str = ""


class LiveView:
    """``with LiveView(console) as view: run(progress=view.progress, on_interval=view.interval)``.

    ``live``: panels (True) or compact lines (False); default: panels if ``console`` is a
    terminal.  ``every_s``: seconds of load per compact line.
    """

    def __init__(
        self, console: Console, *, live: bool | None = None, every_s: float = DEFAULT_EVERY_S
    ) -> None:
        if every_s <= 0:
            raise ValueError(f"every_s must be > 0, got {every_s}")
        self.console = console
        self.live = console.is_terminal if live is None else live
        self.every_s = every_s
        self._targets: dict[str, _TargetState] = {}
        self._live: Live | None = None
        self._broken = False

    # -- context: the rich Live display (terminal mode only) --------------------------------

    def __enter__(self) -> LiveView:
        if self.live:
            self._live = Live(
                self._render(), console=self.console, auto_refresh=False, transient=False
            )
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.update(self._render(), refresh=True)
            self._live.stop()
            self._live = None
        for target, st in self._targets.items():
            self._flush(target, st)

    # -- what the orchestrator calls ---------------------------------------------------------

    def progress(self, message: str) -> None:
        """A one-off message, printed above the panels (or as a plain line)."""
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")

    def label(self, target: str, text: str) -> None:
        """A caption for a target's panel (``findmax``: the step being run)."""
        st = self._targets.setdefault(target, _TargetState())
        self._flush(target, st)  # the window so far belongs to the previous caption
        st.label = text
        if self._live is not None:
            self._live.update(self._render(), refresh=True)

    def interval(self, target: str, stats: Stats) -> None:
        """One closed interval of ``target``. Never raises: a display bug must not stop the
        load (it is logged to run.log and the view goes quiet)."""
        if self._broken:
            return
        try:
            self._interval(target, stats)
        except Exception:
            self._broken = True
            log.exception("live view failed; no more progress is shown for this run")

    def _interval(self, target: str, stats: Stats) -> None:
        st = self._targets.setdefault(target, _TargetState())
        if st.prev_t_s is not None and stats.t_s < st.prev_t_s:
            # a new load on the same target (findmax's next step): its clock restarted
            self._flush(target, st)
            st.prev_t_s = None
            st.next_line_s = 0.0
        width = 1.0 if st.prev_t_s is None else max(stats.t_s - st.prev_t_s, 1e-3)
        st.prev_t_s = stats.t_s
        st.last = stats
        st.total_errors += stats.errors
        st.total_dropped += stats.dropped
        if self._live is not None:
            self._live.update(self._render(), refresh=True)
            return
        if not self.live:
            if st.window is None:
                st.window = _Window()
                st.next_line_s = stats.t_s + self.every_s
            st.window.add(stats, width)
            if stats.t_s + width >= st.next_line_s or stats.t_s + width >= stats.duration_s:
                self._flush(target, st)

    # -- compact lines ---------------------------------------------------------------------

    def _flush(self, target: str, st: _TargetState) -> None:
        w = st.window
        st.window = None
        if w is None or w.seconds <= 0 or st.last is None:
            return
        end = w.start_s + w.seconds
        label = f" {st.label}" if st.label else ""
        self.console.print(
            f"{target}{label} t={end:.0f}/{st.last.duration_s:.0f}s {w.stage}: "
            f"offered {w.offered / w.seconds:.0f}/s achieved {w.completed / w.seconds:.0f}/s "
            f"p99 {w.p99_ms:.1f} ms err {w.errors} drop {w.dropped} "
            f"lag {w.lag_ms:.1f} ms cpu {w.cpu_pct:.0f}%",
            highlight=False,
            markup=False,
        )

    # -- panels ------------------------------------------------------------------------------

    def _render(self) -> Group:
        panels = [self._panel(name, st) for name, st in self._targets.items()]
        return Group(*panels) if panels else Group()

    def _panel(self, target: str, st: _TargetState) -> Panel:
        s = st.last
        grid = Table.grid(padding=(0, 2))
        for _ in range(4):
            grid.add_column()
        if s is None:
            grid.add_row("waiting for the first interval", "", "", "")
        else:
            red, yellow = "bold red", "bold yellow"
            grid.add_row(
                "stage", f"[bold]{s.stage}[/bold]",
                "time", f"{s.t_s:.0f} / {s.duration_s:.0f} s",
            )  # fmt: skip
            grid.add_row(
                "offered", f"{s.offered:,}/s (profile {s.offered_rate:,.0f}/s)",
                "achieved", f"{s.completed:,}/s",
            )  # fmt: skip
            grid.add_row(
                "intended p99", f"{s.intended_p99_ms:,.1f} ms",
                "service p99", f"{s.service_p99_ms:,.1f} ms",
            )  # fmt: skip
            grid.add_row(
                "errors", _mark(f"{s.errors}", red, s.errors > 0) + f" (total {st.total_errors})",
                "dropped", _mark(f"{s.dropped}", red, s.dropped > 0)
                + f" (total {st.total_dropped})",
            )  # fmt: skip
            grid.add_row(
                "generator lag p99", _mark(f"{s.lag_p99_ms:,.1f} ms", yellow, s.lag_p99_ms > 100),
                "generator CPU", _mark(f"{s.cpu_pct:.0f}%", yellow, s.cpu_pct > 90)
                + f"  in flight {s.in_flight}",
            )  # fmt: skip
        title = f"[bold]{target}[/bold]" + (f" — {st.label}" if st.label else "")
        return Panel(grid, title=title, title_align="left", expand=False)


def _mark(text: str, style: str, on: bool) -> str:
    return f"[{style}]{text}[/{style}]" if on else text
