"""``bench report RUN_DIR`` and ``bench compare RUN_A RUN_B``.

Both read stored results only; no datastore is needed. ``compare`` exits 4
(``RegressionFound``) when a change beyond max(threshold, noise) is found.
"""

from __future__ import annotations

from pathlib import Path

import click

from bench.errors import RegressionFound, UsageError


def _run_dir(value: str) -> Path:
    path = Path(value)
    if not path.is_dir():
        raise UsageError(f"{value}: not a run directory (it does not exist or is a file)")
    return path


@click.command()
@click.argument("run_dir")
@click.option("--slo-ms", type=click.FloatRange(min=0, min_open=True), default=None,
              help="p99.9 intended-latency SLO in ms (default: the run's, else 300).")
def report(run_dir: str, slo_ms: float | None) -> None:
    """Re-render RUN_DIR/index.html from its stored results and print its path."""
    from reports import render_report

    out = render_report(_run_dir(run_dir), slo_ms=slo_ms)
    click.echo(str(out))


@click.command()
@click.argument("run_a")
@click.argument("run_b")
@click.option("--threshold", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Smallest relative change (%) that can count as a regression.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the comparison page (default: RUN_B/compare-<RUN_A>.html).")
def compare(run_a: str, run_b: str, threshold: float, out: Path | None) -> None:
    """Compare RUN_B against baseline RUN_A; exit 4 on a regression."""
    from reports import compare_runs

    result = compare_runs(_run_dir(run_a), _run_dir(run_b), out=out, threshold=threshold)
    for row in result.regressions:
        j = row.judgement
        change = f"{j.change_pct:+.1f} %" if j.change_pct is not None else j.note
        click.echo(f"regression: {row.target} {row.op} {row.metric}: {change} "
                   f"(limit {j.limit_pct:.1f} %)")
    click.echo(str(result.out))
    if result.regressions:
        raise RegressionFound(
            f"{len(result.regressions)} regression(s) beyond the {threshold:g} % threshold "
            f"and the run-to-run noise; see {result.out}")
