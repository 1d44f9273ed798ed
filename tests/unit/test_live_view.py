"""The live view: panels on a terminal, a compact line every few seconds otherwise."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bench.live import LiveView


@dataclass
class FakeStats:
    t_s: float
    stage: str = "steady"
    offered_rate: float = 100.0
    offered: int = 100
    completed: int = 100
    errors: int = 0
    dropped: int = 0
    in_flight: int = 3
    intended_p99_ms: float = 2.0
    service_p99_ms: float = 1.0
    lag_p99_ms: float = 0.5
    cpu_pct: float = 20.0
    duration_s: float = 12.0


def plain_console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=False, width=200), buf


def test_without_a_terminal_one_line_per_window_summarising_it() -> None:
    console, buf = plain_console()
    with LiveView(console, every_s=5) as view:
        assert not view.live
        for t in range(12):
            view.interval("postgres", FakeStats(
                t_s=float(t), offered=100 + t, completed=90, errors=1 if t == 7 else 0,
                intended_p99_ms=50.0 if t == 3 else 2.0, stage="ramp" if t >= 10 else "steady"))
    lines = buf.getvalue().splitlines()
    assert len(lines) == 3, lines  # t=0..4, 5..9, 10..11 (the end of the load)
    first, second, last = lines
    assert first.startswith("postgres t=5/12s steady:")
    assert "offered 102/s achieved 90/s" in first  # mean of 100..104
    assert "p99 50.0 ms" in first  # the worst interval of the window
    assert "err 0" in first and "err 1" in second
    assert "ramp" in last and last.startswith("postgres t=12/12s")


def test_a_restarted_clock_starts_a_new_window_and_flushes_the_old_one() -> None:
    console, buf = plain_console()
    view = LiveView(console, every_s=5)
    with view:
        view.label("redis-cluster", "step 1 @ 100/s")
        for t in range(3):
            view.interval("redis-cluster", FakeStats(t_s=float(t), duration_s=30))
        view.label("redis-cluster", "step 2 @ 200/s")
        for t in range(2):
            view.interval("redis-cluster", FakeStats(t_s=float(t), duration_s=30, offered=200))
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert "step 1 @ 100/s" in lines[0] and "offered 100/s" in lines[0]
    assert "step 2 @ 200/s" in lines[1] and "offered 200/s" in lines[1]


def test_on_a_terminal_one_panel_per_target_redrawn_in_place() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120, color_system=None)
    with LiveView(console) as view:
        assert view.live
        for t in range(3):
            view.interval("postgres", FakeStats(t_s=float(t), errors=2, dropped=1))
            view.interval("cassandra", FakeStats(t_s=float(t), intended_p99_ms=812.5,
                                                 lag_p99_ms=150.0, cpu_pct=95.0))
        view.progress("postgres: stopping")
    out = buf.getvalue()
    final = out[out.rindex("postgres: stopping"):]
    for text in ("postgres", "cassandra", "stage", "offered", "achieved", "intended p99",
                 "812.5 ms", "errors", "2 (total 6)", "dropped", "1 (total 3)",
                 "generator lag p99", "150.0 ms", "generator CPU", "95%"):
        assert text in final, text
    # redrawn in place (cursor movement), not a line per interval
    assert "\x1b[" in out
    assert out.count("postgres t=") == 0


def test_a_display_failure_never_stops_the_load() -> None:
    console, buf = plain_console()
    with LiveView(console) as view:
        view.interval("postgres", object())  # type: ignore[arg-type]
        view.interval("postgres", FakeStats(t_s=0.0))  # quiet from now on, no exception
    assert buf.getvalue() == ""


def test_bench_run_without_a_terminal_prints_compact_lines(tmp_path: Path) -> None:
    env = dict(os.environ, CARTBENCH_STATE=str(tmp_path / "state"))
    res = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", "--target", "reference", "--profile", "smoke",
         "--duration", "11", "--out", str(tmp_path / "runs"), "--no-report"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("reference t=")]
    # 11 s of load (+ drain) in 5 s windows: 3 lines, not one per second
    assert 2 <= len(lines) <= 4, res.stderr
    assert all("offered" in ln and "lag" in ln and "cpu" in ln for ln in lines)
