"""``bench.results``: one writer, one timestamp format, one validation; a target that never got
to its load (interrupted or failed during start) is a valid block that the report renders."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from bench import results
from bench.errors import UsageError
from reports import render_report

FIXTURES = Path(__file__).parents[1] / "fixtures" / "results"


def test_timestamp_format_sorts_as_text() -> None:
    a, b = results.utc_iso(1_700_000_000.0), results.utc_iso(1_700_000_000.5)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", a)
    assert a < b


def test_run_results_round_trip(tmp_path: Path) -> None:
    rr = results.RunResults(tmp_path, {"schema_version": results.SCHEMA_VERSION,
                                       "run": {"id": "abc", "started_at": results.utc_iso()}})
    assert rr.target("postgres")["status"] == "pending"
    rr.flush()
    assert results.read_results(rr.path)["targets"]["postgres"]["status"] == "pending"
    assert not list(tmp_path.glob(".*.tmp"))  # the temp file was renamed, not left behind


def test_ok_block_needs_its_measurements(tmp_path: Path) -> None:
    doc = {"schema_version": 1, "run": {"id": "x", "started_at": "t"},
           "targets": {"postgres": {"status": "ok"}}}
    with pytest.raises(UsageError, match=r"missing required key targets\.postgres\.totals"):
        results.validate(tmp_path / "results.json", doc)
    doc["targets"]["postgres"] = {"status": "interrupted", "totals": []}
    with pytest.raises(UsageError, match="totals must be a dict"):
        results.validate(tmp_path / "results.json", doc)


def test_worst_op_and_slo() -> None:
    ops = {"browse": {"count": 10, "latency_ms": {"intended": {"p99_9": 12.0}}},
           "checkout": {"count": 5, "latency_ms": {"intended": {"p99_9": 450.0}}},
           "view_cart": {"count": 0, "latency_ms": {"intended": {"p99_9": 999.0}}}}
    assert results.worst_op(ops) == ("checkout", 450.0)
    slo = results.slo_block({"operations": ops})
    assert slo["p99_9_ms"] == 300.0 and slo["worst_op_p99_9_ms"] == 450.0
    assert slo["met"] is False and slo["worst_op"] == "checkout" and slo["verdict"] == "missed"
    assert results.worst_op({}) == (None, None)


@pytest.mark.parametrize("status", ["interrupted", "failed", "pending"])
def test_target_stopped_before_its_load_renders(tmp_path: Path, status: str) -> None:
    """Ctrl-C while Cassandra starts: its block has no totals/operations, yet the report
    renders and says what happened."""
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "baseline", run)
    path = run / "results.json"
    data = json.loads(path.read_text())
    data["targets"]["cassandra"] = {"status": status, "error": "interrupted by the user",
                                    "started_at": results.utc_iso(), "ended_at": None}
    results.write_json_atomic(path, data)
    html = render_report(run).read_text(encoding="utf-8")
    assert "cassandra" in html and status in html
