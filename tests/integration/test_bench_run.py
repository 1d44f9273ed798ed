"""``bench run`` end to end on real datastores, through the CLI in subprocesses: results on
disk, a failed target does not stop the others, and Ctrl-C keeps what was measured and leaves
no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import osutil

pytestmark = pytest.mark.integration
BENCH = [sys.executable, "-m", "bench.cli"]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, CARTBENCH_STATE=str(tmp / "state"), COLUMNS="200")
    env.update(extra)
    return env


def _run_dir(out: Path) -> Path:
    runs = [p for p in out.iterdir() if (p / "results.json").exists()]
    assert len(runs) == 1, runs
    return runs[0]


def _leftovers(tmp: Path, run_id: str) -> list[int]:
    """Processes of the run: under the state dir, or (postgres as root) under /var/tmp."""
    return osutil.processes_under(tmp) + osutil.processes_under(f"/var/tmp/cartbench-{run_id}")


@pytest.fixture(autouse=True)
def _no_leaks(tmp_path: Path):  # type: ignore[no-untyped-def]
    yield
    subprocess.run([*BENCH, "down"], env=_env(tmp_path), capture_output=True, timeout=120)
    osutil.kill_under(tmp_path)


def test_failed_target_is_recorded_and_the_next_one_runs(tmp_path: Path) -> None:
    """redis-server is missing from PATH: redis-cluster fails, postgres (found in its own bin
    dir) still runs; exit 3; results.json and index.html say so."""
    empty = tmp_path / "bin"
    empty.mkdir()
    path = f"{empty}:{os.path.dirname(sys.executable)}"
    out = tmp_path / "results"
    res = subprocess.run(
        [*BENCH, "run", "--launcher", "native", "--target", "redis-cluster,postgres",
         "--rate", "100", "--duration", "6", "--out", str(out)],
        env=_env(tmp_path, PATH=path + ":/usr/sbin:/sbin"), capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 3, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    run_dir = _run_dir(out)
    data = json.loads((run_dir / "results.json").read_text())
    assert data["schema_version"] == 1
    redis, pg = data["targets"]["redis-cluster"], data["targets"]["postgres"]
    assert redis["status"] == "failed" and "redis-server" in redis["error"]
    assert pg["status"] == "ok", pg.get("error")
    assert pg["totals"]["completed"] > 300
    assert pg["topology"]["settings"]["synchronous_commit"] == "on"
    assert "password" not in pg["topology"]["endpoints"]  # the generated secret stays in state
    assert "password=" not in json.dumps(data)
    assert pg["audit"]["acknowledged_writes_lost"] == 0
    assert (run_dir / "index.html").stat().st_size > 100_000
    assert (run_dir / "timeseries.csv").exists()


def test_ctrl_c_keeps_results_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.Popen(
        [*BENCH, "run", "--launcher", "native", "--target", "postgres",
         "--rate", "200", "--duration", "120", "--out", str(out)],
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        completed = 0
        while time.monotonic() < deadline and completed < 500:  # wait until load is flowing
            time.sleep(0.2)
            try:
                data = json.loads((_run_dir(out) / "results.json").read_text())
                completed = data["targets"]["postgres"].get("totals", {}).get("completed", 0)
            except (AssertionError, FileNotFoundError, ValueError, KeyError):
                continue
        assert completed >= 500, "load never started"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    run_dir = _run_dir(out)
    data = json.loads((run_dir / "results.json").read_text())
    pg = data["targets"]["postgres"]
    assert pg["status"] == "interrupted"
    assert pg["totals"]["completed"] >= completed  # what was measured is kept
    assert data["run"]["ended_at"]
    assert (run_dir / "index.html").exists()  # the report of what was gathered
    run_id = data["run"]["id"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _leftovers(tmp_path, run_id):
        time.sleep(0.1)
    assert _leftovers(tmp_path, run_id) == []
    assert not list((tmp_path / "state").glob("topologies/*.json"))


def test_ctrl_c_while_cassandra_starts_gives_a_renderable_report(tmp_path: Path) -> None:
    """Interrupted before its load began, the target's block has no totals; the report of the
    run still renders (at the end of `bench run` and again with `bench report`)."""
    out = tmp_path / "results"
    proc = subprocess.Popen(
        [*BENCH, "run", "--launcher", "native", "--target", "cassandra", "--nodes", "1",
         "--rate", "50", "--duration", "5", "--out", str(out)],
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not osutil.processes_under(tmp_path / "state"):
            time.sleep(0.05)  # the JVM exists: Cassandra is starting, not yet loaded
        assert osutil.processes_under(tmp_path / "state"), "cassandra never started"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "report not rendered" not in err, err[-2000:]
    run_dir = _run_dir(out)
    data = json.loads((run_dir / "results.json").read_text())
    block = data["targets"]["cassandra"]
    assert block["status"] == "interrupted" and "totals" not in block
    assert (run_dir / "index.html").exists()
    rep = subprocess.run([*BENCH, "report", str(run_dir)], env=_env(tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert rep.returncode == 0, rep.stderr
    assert _leftovers(tmp_path, data["run"]["id"]) == []
