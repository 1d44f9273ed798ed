"""``workers=2``: two Locust worker processes offer half the rate each; the master merges
their per-interval HdrHistograms exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hdrh.log import HistogramLogReader

from bench.engine.recorder import new_histogram

SCENARIOS = Path(__file__).resolve().with_name("test_engine.py")


def test_two_workers_merge_exactly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCENARIOS), "workers", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    res = doc["result"]
    totals = res["totals"]
    assert res["status"] == "ok", res["error"]
    assert len(totals["workers"]) == 2
    assert all(sum(w.values()) > 0 for w in totals["workers"])  # both workers offered load
    for op, summary in res["operations"].items():
        worker_sum = sum(w.get(op, 0) for w in totals["workers"])
        assert summary["count"] == worker_sum, op
        merged = new_histogram()
        reader = HistogramLogReader(str(tmp_path / "hdr" / "ref" / f"{op}.service.hlog"), new_histogram())
        while (h := reader.get_next_interval_histogram()) is not None:
            merged.add(h)
        assert merged.get_total_count() == worker_sum, op
    assert totals["completed"] == sum(sum(w.values()) for w in totals["workers"])
    assert totals["completed"] == pytest.approx(doc["expected_ops"], rel=0.02)
    assert totals["locust"]["requests"] > 0  # Locust's own stats (reported every 3 s by workers)
    assert doc["ledger_orders"] > 0  # ledgers came back from both workers
    logs = sorted((tmp_path / "workers").glob("*.log"))
    assert len(logs) == 2
