"""``bench findmax`` once against a real target (PostgreSQL, native launcher), through the CLI,
with small bounds: the search runs on the real store, everything is stored like ``bench run``,
and nothing is left running. The capacity figure itself is not asserted: on a shared machine
it is whatever the machine gave (docs/BENCHMARKS.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import findmax as fm
from bench import osutil

pytestmark = pytest.mark.integration
BENCH = [sys.executable, "-m", "bench.cli"]


def _env(tmp: Path) -> dict[str, str]:
    return dict(os.environ, CARTBENCH_STATE=str(tmp / "state"), COLUMNS="200")


@pytest.fixture(autouse=True)
def _no_leaks(tmp_path: Path):  # type: ignore[no-untyped-def]
    yield
    subprocess.run([*BENCH, "down"], env=_env(tmp_path), capture_output=True, timeout=120)
    osutil.kill_under(tmp_path)


def test_findmax_postgres_small_bounds(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    res = subprocess.run(
        [*BENCH, "findmax", "--target", "postgres", "--launcher", "native",
         "--start-rate", "100", "--max-rate", "800", "--step", "3", "--warmup", "1",
         "--max-steps", "5", "--max-time", "60", "--slo", "p99.9<=300ms",
         "--slo", "errors<=1%", "--out", str(out)],
        env=_env(tmp_path), capture_output=True, text=True, timeout=600, check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (run_dir,) = [p for p in out.iterdir() if (p / "results.json").exists()]
    data = json.loads((run_dir / "results.json").read_text())
    block = data["targets"]["postgres"]
    f = block["findmax"]
    assert block["status"] == "ok" and block["topology"]["launcher"] == "native"
    assert f["verdict"] in {fm.HELD, fm.AT_MAX_RATE, fm.GENERATOR_LIMIT, fm.NO_PASSING_STEP,
                            fm.CAPPED}
    assert 1 <= len(f["steps"]) <= 5 and f["load_seconds"] <= 60
    assert f["criteria"]["slo"] == ["p99.9<=300ms", "errors<=1%"]
    for st in f["steps"]:
        assert st["completed"] > 0  # the real store answered every step
        assert list((run_dir / st["dir"] / "hdr" / "postgres").glob("*.hlog"))
    if f["max_rate_ops_s"] is not None:
        assert f["steps"][-1]["phase"] == "repeat"
        assert block["operations"] and block["warmup"]["completed"] > 0
    assert "within p99.9<=300ms and errors<=1% on" in res.stdout
    assert "Highest sustainable rate" in (run_dir / "index.html").read_text()
    assert osutil.processes_under(tmp_path) == []
    assert osutil.processes_under(f"/var/tmp/cartbench-{data['run']['id']}") == []
