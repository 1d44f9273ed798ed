"""Nothing is left out of the failure count, and failures are measured apart from successes
(issue 11, items 4 and 5)."""

from __future__ import annotations

import inspect

import pytest

from bench.engine.recorder import Recorder, Totals, summarize
from bench.results import slo_block
from targets.base import OpResult, Outcome

OK = OpResult(Outcome.OK)
TIMEOUT = OpResult(Outcome.TIMEOUT, error=TimeoutError())


def test_fast_failures_do_not_pull_the_success_percentiles_down() -> None:
    """1,000 successes at 100 ms and 1,000 fast failures at 1 ms: the success percentiles are
    the successes' alone; the failures have a histogram of their own, by outcome."""
    rec = Recorder()
    for _ in range(1000):
        rec.completed("checkout", 0, 0, 100_000_000, OK)
        rec.completed("checkout", 0, 0, 1_000_000, TIMEOUT)
    iv = rec.rotate()
    op = iv.ops["checkout"]
    assert op.count == 2000 and op.errors == 1000
    assert op.intended.get_total_count() == 1000 == op.service.get_total_count()
    assert summarize(op.intended)["p50"] == pytest.approx(100.0, rel=1e-3)
    assert set(op.failed) == {"timeout"}
    assert op.failed["timeout"].get_total_count() == 1000
    assert summarize(op.failed["timeout"])["p50"] == pytest.approx(1.0, rel=1e-3)
    totals = Totals()
    totals.add(iv)
    block = totals.operations_json()["checkout"]
    assert block["latency_ms"]["intended"]["p50"] == pytest.approx(100.0, rel=1e-3)
    assert block["failed"]["timeout"]["count"] == 1000
    assert block["failed"]["timeout"]["latency_ms"]["p99"] == pytest.approx(1.0, rel=1e-3)


def test_failure_histograms_survive_the_worker_message() -> None:
    from bench.engine.recorder import Interval

    rec = Recorder()
    rec.completed("browse", 0, 0, 5_000_000, OpResult(Outcome.UNAVAILABLE))
    iv = Interval.from_message(rec.rotate().to_message())
    assert iv.ops["browse"].failed["unavailable"].get_total_count() == 1
    assert iv.ops["browse"].intended.get_total_count() == 0


def _block(completed: int, offered: int, dropped: int = 0, errors: int = 0,
           p99_9: float = 10.0, saturated: bool = False) -> dict[str, object]:
    ops = {"browse": {"count": completed, "latency_ms": {"intended": {"p99_9": p99_9}}}}
    return {
        "generator_saturated": saturated,
        "operations": ops if completed else {},
        "totals": {"offered": offered, "completed": completed, "errors": errors,
                   "dropped": dropped,
                   "abandoned": max(0, offered - completed - dropped)},
    }


def test_nothing_completed_never_meets_the_slo() -> None:
    slo = slo_block(_block(completed=0, offered=500), 300.0)
    assert slo["met"] is False
    assert any("nothing completed" in r for r in slo["reasons"])


def test_dropped_and_abandoned_count_against_the_slo() -> None:
    assert slo_block(_block(completed=1000, offered=1000), 300.0)["met"] is True
    dropped = slo_block(_block(completed=900, offered=1000, dropped=100), 300.0)
    assert dropped["met"] is False and dropped["failure_pct"] == 10.0
    abandoned = slo_block(_block(completed=950, offered=1000), 300.0)  # 50 never finished
    assert abandoned["met"] is False and abandoned["failure_pct"] == 5.0
    slow = slo_block(_block(completed=1000, offered=1000, p99_9=301.0), 300.0)
    assert slow["met"] is False


def test_report_failure_share_counts_abandoned_and_shows_clamped() -> None:
    from reports import stats

    assert stats.failure_share({"offered": 1000, "errors": 5, "dropped": 5,
                                "abandoned": 10}) == 2.0
    keys = {c.key for c in stats.SUMMARY_COLUMNS}
    assert {"abandoned", "clamped"} <= keys


def test_every_real_store_has_a_default_operation_timeout() -> None:
    from targets.cassandra import CassandraStore
    from targets.postgres import PostgresStore
    from targets.redis_cluster import RedisClusterStore

    defaults = {
        "postgres": inspect.signature(PostgresStore).parameters["statement_timeout_ms"].default,
        "cassandra": inspect.signature(CassandraStore).parameters["request_timeout_s"].default,
        "redis": inspect.signature(RedisClusterStore).parameters["socket_timeout_s"].default,
    }
    assert all(v and v > 0 for v in defaults.values()), defaults


def test_a_saturated_target_is_inconclusive_never_failed_or_met() -> None:
    slo = slo_block(_block(completed=1000, offered=1000, p99_9=900.0, saturated=True), 300.0)
    assert slo["met"] is None and slo["verdict"] == "inconclusive"


def test_headline_and_terminal_never_call_a_saturated_target_failed() -> None:
    """The main job's page read "postgres and redis-cluster survived ...; cassandra did not"
    while cassandra's card said inconclusive, and the terminal printed "SLO missed"."""
    import json
    from pathlib import Path

    from bench.commands.run import _summary_table
    from reports import stats
    from reports.load import load_run

    fixture = Path(__file__).parents[1] / "fixtures" / "results" / "baseline"
    run = load_run(fixture)
    cass = run.targets["cassandra"]
    cass["generator_saturated"] = True
    cass["saturation"] = {"evidence": ["schedule lag: 40 % of operations late by > 50 ms"]}
    summary = stats.summarize(run)
    assert "cassandra: inconclusive" in summary.headline
    assert "did not" not in summary.headline, summary.headline
    by = {t.name: t for t in summary.targets}
    assert by["cassandra"].verdict == "inconclusive" and by["cassandra"].slo_met is None
    data = json.loads((fixture / "results.json").read_text())
    data["targets"]["cassandra"]["generator_saturated"] = True
    from rich.console import Console

    console = Console(width=250, record=True)
    console.print(_summary_table(data))
    row = next(line for line in console.export_text().splitlines() if "cassandra" in line)
    assert "inconclusive" in row and "missed" not in row, row
