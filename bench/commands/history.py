"""``bench history``: the nightly benchmark's store of runs and its regression gate (storage in ``reports.history``, judgement and page in ``reports.trend``,
prose in docs/NIGHTLY.md).

    bench history add RUN_DIR --into HISTORY_DIR [--move]
    bench history check HISTORY_DIR [--threshold PCT] [--window N]   # exit 4 on a regression
    bench history list HISTORY_DIR
    bench history mark-baseline HISTORY_DIR RUN --note TEXT [--clear]

Everything reads stored results only; no datastore is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from bench.errors import RegressionFound


@click.group()
def history() -> None:
    """Keep a history of runs (nightly CI) and detect regressions over it."""


@history.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--into", "history_dir", required=True, type=click.Path(path_type=Path),
              help="The history directory (created if missing).")
@click.option("--move", is_flag=True, help="Move the run directory instead of copying it.")
def add(run_dir: Path, history_dir: Path, move: bool) -> None:
    """Validate RUN_DIR and store it in the history (refuses duplicates)."""
    from reports.history import add_run

    entry = add_run(history_dir, run_dir, move=move)
    click.echo(f"added {entry['name']} (run {entry['run_id']}, comparability key "
               f"{entry['key_id']}) to {history_dir}")


@history.command()
@click.argument("history_dir", type=click.Path(path_type=Path))
@click.option("--threshold", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Smallest relative change (%) that can count as a regression.")
@click.option("--window", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many previous usable comparable runs form the baseline.")
def check(history_dir: Path, threshold: float, window: int) -> None:
    """Judge the newest run against the previous comparable ones, write
    HISTORY_DIR/index.html; exit 4 on a regression."""
    from reports.trend import check_history, render_history

    result = check_history(history_dir, threshold=threshold, window=window)
    out = render_history(result)
    for note in result.notes:
        click.echo(f"note: {note}")
    for row in result.rows:
        j = row.judgement
        if row.metric == "status" and j.verdict != "regression":
            click.echo(f"warning: {row.target}: {j.note}")
    for row in result.regressions:
        j = row.judgement
        change = (f"{j.change_pct:+.1f} % (limit {j.limit_pct:.1f} %)"
                  if j.change_pct is not None else j.note)
        click.echo(f"regression: {row.target} {row.op} {row.metric}: {change}")
    click.echo(f"judged {result.newest['name']} against {len(result.previous)} previous "
               f"comparable run(s): {len(result.judged)} metric(s) judged, "
               f"{len(result.regressions)} regression(s), {len(result.improvements)} "
               "improvement(s)")
    click.echo(str(out))
    if result.regressions:
        raise RegressionFound(
            f"{len(result.regressions)} regression(s) in {result.newest['name']} beyond the "
            f"{threshold:g} % threshold and the run-to-run noise; see {out}")


def _cell(value: Any, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


@history.command("list")
@click.argument("history_dir", type=click.Path(path_type=Path))
def list_cmd(history_dir: Path) -> None:
    """Print the runs of the history, newest last."""
    from reports.history import ordered, read_index

    index = read_index(history_dir)
    runs = ordered(index["runs"])
    keys = list(dict.fromkeys(e["key_id"] for e in runs))
    table = Table(title=f"cartbench history {history_dir} — {len(runs)} run(s), "
                        f"{len(keys)} comparability group(s)")
    for col in ("run", "started", "commit", "group", "target", "status", "ops/s",
                "p99 ms", "p99.9 ms", "errors %", "dropped", "audit", "baseline"):
        table.add_column(col, justify="right" if col in (
            "ops/s", "p99 ms", "p99.9 ms", "errors %", "dropped") else "left")
    for e in runs:
        group = f"{keys.index(e['key_id']) + 1} ({e['key_id'][:6]})"
        first = True
        for name, t in e["targets"].items():
            status = t["status"] + (", saturated" if t["generator_saturated"] else "")
            audit = t.get("audit") or {}
            findings = sum(v or 0 for k, v in audit.items() if k in (
                "acknowledged_writes_lost", "oversold_skus"))
            mark = e.get("baseline")
            table.add_row(
                e["name"] if first else "", str(e.get("started_at")) if first else "",
                str((e.get("context") or {}).get("git_commit") or "—") if first else "",
                group if first else "", name, status, _cell(t.get("throughput_ops_s")),
                _cell((t.get("intended_ms") or {}).get("p99"), 1),
                _cell((t.get("intended_ms") or {}).get("p99_9"), 1),
                _cell(t.get("error_pct"), 2), _cell(t.get("dropped")), str(findings),
                f"new baseline: {mark['note']}" if mark and first else "")
            first = False
        table.add_section()
    Console(width=200).print(table)
    if len(keys) > 1:
        click.echo("note: runs in different groups (profile, launcher, machine, durability, "
                   "generator, resources or targets differ) are never compared")


@history.command("mark-baseline")
@click.argument("history_dir", type=click.Path(path_type=Path))
@click.argument("run", default="latest")
@click.option("--note", default="", help="Why the numbers changed on purpose (required).")
@click.option("--clear", is_flag=True, help="Remove the mark instead.")
def mark_baseline(history_dir: Path, run: str, note: str, clear: bool) -> None:
    """Bless RUN (a run name or id; default: latest) as a new baseline after an intended
    change: earlier comparable runs are no longer judged against."""
    from reports.history import mark_baseline as mark

    entry = mark(history_dir, run, note, clear=clear)
    verb = "cleared the baseline mark of" if clear else "marked as a new baseline:"
    click.echo(f"{verb} {entry['name']}")
