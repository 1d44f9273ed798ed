"""``bench findmax`` end to end against the reference store, through the CLI (fast).

The real-datastore run is tests/integration/test_findmax_postgres.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import findmax as fm

VERDICTS = {fm.HELD, fm.AT_MAX_RATE, fm.GENERATOR_LIMIT, fm.NO_PASSING_STEP, fm.CAPPED}


def bench(tmp_path: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CARTBENCH_STATE=str(tmp_path / "state"))
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True,
                          text=True, env=env, timeout=timeout, check=False)


def only_run(parent: Path) -> Path:
    (run_dir,) = [p for p in parent.iterdir() if (p / "results.json").exists()]
    return run_dir


def test_findmax_reference_end_to_end(tmp_path: Path) -> None:
    res = bench(tmp_path, "findmax", "--target", "reference", "--start-rate", "40",
                "--max-rate", "160", "--step", "2", "--warmup", "1", "--max-steps", "5",
                "--out", str(tmp_path / "runs"))
    assert res.returncode == 0, res.stderr[-3000:]
    run_dir = only_run(tmp_path / "runs")
    data = json.loads((run_dir / "results.json").read_text())
    block = data["targets"]["reference"]
    f = block["findmax"]
    assert f["verdict"] in VERDICTS
    assert 1 <= len(f["steps"]) <= 5
    if f["steps"][0]["passed"]:  # then it grew (or reached --max-rate) and repeated
        assert len(f["steps"]) >= 2
    else:  # a busy machine may fail the lowest rate already: a verdict, never a crash
        assert f["verdict"] in (fm.NO_PASSING_STEP, fm.GENERATOR_LIMIT), f["steps"][0]
    assert f["steps"][0]["rate_ops_s"] == 40 and f["steps"][0]["phase"] == "grow"
    assert f["bounds"]["max_steps"] == 5 and f["criteria"]["slo"] == ["p99.9<=300ms"]
    for st in f["steps"]:
        assert st["offered_ops_s"] > 0 and "intended" in st["latency_ms"]
        step_dir = run_dir / st["dir"]
        assert (step_dir / "timeseries.csv").exists()
        assert list((step_dir / "hdr" / "reference").glob("*.intended.hlog"))
    if f["max_rate_ops_s"] is not None:
        rep = f["steps"][-1]
        assert rep["phase"] == "repeat" and rep["rate_ops_s"] == f["max_rate_ops_s"]
        assert rep["dir"] == "."  # the repeat is the target's block, like bench run
        assert list((run_dir / "hdr" / "reference").glob("*.intended.hlog"))
        assert block["totals"]["offered_ops_s"] > 0 and block["warmup"]["offered"] > 0
    assert block["slo"]["terms"][0]["term"] == "p99.9<=300ms"
    # the terminal: a summary table and the headline sentence
    assert "cartbench findmax" in res.stdout and "within p99.9<=300ms on" in res.stdout
    html = (run_dir / "index.html").read_text()
    assert "Highest sustainable rate within the SLO" in html
    assert "latency against offered rate" in html and "achieved against offered" in html
    # readable by report, compare and history like a bench run
    assert bench(tmp_path, "report", str(run_dir)).returncode == 0
    cmp = bench(tmp_path, "compare", str(run_dir), str(run_dir))
    assert cmp.returncode == 0, cmp.stderr[-2000:]
    hist = bench(tmp_path, "history", "add", str(run_dir), "--into", str(tmp_path / "hist"))
    assert hist.returncode == 0, hist.stderr[-2000:]
    # never comparable with a bench run of the same profile
    assert data["run"]["profile"]["name"] == "findmax:steady"
    assert data["run"]["profile"]["stages"][0]["name"] == "findmax search"


def test_an_unsatisfiable_slo_is_a_clear_no_passing_step_verdict(tmp_path: Path) -> None:
    # a checkout SLO on a mix without checkouts can never be met, on any machine
    prof = tmp_path / "browse.toml"
    prof.write_text('name = "browse"\ncarts = 50\n[mix]\nbrowse = 1.0\n[catalog]\n'
                    'products = 50\n[[stages]]\nduration_s = 1\nrate = 1\n')
    res = bench(tmp_path, "findmax", "--target", "reference", "--slo", "checkout:p99<=300ms",
                "--profile", str(prof), "--start-rate", "20", "--step", "1", "--warmup", "0",
                "--out", str(tmp_path / "runs"), "--no-report")
    assert res.returncode == 0, res.stderr[-3000:]
    data = json.loads((only_run(tmp_path / "runs") / "results.json").read_text())
    f: dict[str, Any] = data["targets"]["reference"]["findmax"]
    assert f["verdict"] == fm.NO_PASSING_STEP and f["max_rate_ops_s"] is None
    assert len(f["steps"]) == 1
    assert "reference: no passing step (lowest rate tried 20 ops/s)" in res.stdout


@pytest.mark.parametrize(("args", "msg"), [
    (["--start-rate", "500", "--max-rate", "100"], "the search range is empty"),
    (["--slo", "p99.9<=fast"], "bad --slo term"),
    (["--max-errors", "200%"], "errors must be between 0% and 100%"),
    (["--target", "mongodb"], "mongodb"),
    (["--max-time", "5"], "shorter than one step"),
])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, args: list[str], msg: str) -> None:
    res = bench(tmp_path, "findmax", "--target", "reference", *args,
                "--out", str(tmp_path / "runs"))
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and msg in lines[0], lines
    assert "Traceback" not in res.stderr


def test_ctrl_c_keeps_the_steps_measured_and_exits_130(tmp_path: Path) -> None:
    import signal
    import time

    env = dict(os.environ, CARTBENCH_STATE=str(tmp_path / "state"))
    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.cli", "findmax", "--target", "reference",
         "--start-rate", "20", "--max-rate", "10000", "--step", "2", "--warmup", "0",
         "--slo", "p99.9<=60s",  # lax: the first steps pass on any machine, more follow
         "--out", str(out), "--no-report"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        steps: list[Any] = []
        while time.monotonic() < deadline and not steps:  # until one step is on disk
            for p in out.glob("*/results.json") if out.exists() else []:
                try:
                    doc = json.loads(p.read_text())
                except json.JSONDecodeError:
                    continue
                steps = doc["targets"].get("reference", {}).get("findmax", {}).get("steps", [])
            time.sleep(0.2)
        assert steps, "no step recorded within 90 s"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    data = json.loads((only_run(out) / "results.json").read_text())
    block = data["targets"]["reference"]
    assert block["status"] == "interrupted"
    assert len(block["findmax"]["steps"]) >= 1


def test_a_target_that_fails_to_start_is_recorded_and_exits_3(tmp_path: Path) -> None:
    endpoints = tmp_path / "ep.toml"
    endpoints.write_text('[postgres]\nhost = "127.0.0.1"\nport = 1\n')  # no dsn: refused
    res = bench(tmp_path, "findmax", "--target", "postgres", "--launcher", "external",
                "--endpoints", str(endpoints), "--out", str(tmp_path / "runs"), "--no-report")
    assert res.returncode == 3, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert "no findmax results: postgres failed (" in res.stdout
    data = json.loads((only_run(tmp_path / "runs") / "results.json").read_text())
    assert data["targets"]["postgres"]["status"] == "failed"
