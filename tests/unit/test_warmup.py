"""Warm-up stages: offered and recorded, but kept out of totals and verdicts."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.errors import UsageError
from workloads import load_profile, parse_profile

PROFILE = """
name = "warm"
carts = 200
[mix]
browse = 0.5
view_cart = 0.5
[catalog]
products = 200
[[stages]]
name = "warm-up"
duration_s = 3
rate = 300
warmup = true
[[stages]]
name = "measure"
duration_s = 4
rate = 40
"""


def test_builtins_declare_a_brief_warm_up() -> None:
    for name in ("holiday-rush", "flash-sale", "steady", "diurnal", "smoke"):
        p = load_profile(name)
        assert p.stages[0].warmup and p.stages[0].name == "warm-up"
        assert 0 < p.warmup_s <= 5
        assert not any(s.warmup for s in p.stages[1:])
        assert p.stage_table()[0]["warmup"] is True and "warmup" not in p.stage_table()[1]


def test_warmup_must_be_a_boolean() -> None:
    data = {"mix": {"browse": 1.0}, "stages": [{"rate": 1, "duration_s": 1, "warmup": "yes"}]}
    with pytest.raises(UsageError, match=r"stages\[0\]\.warmup: must be true or false"):
        parse_profile(data, label="p.toml")


def test_warm_up_is_recorded_but_kept_out_of_totals(tmp_path: Path) -> None:
    prof = tmp_path / "warm.toml"
    prof.write_text(PROFILE)
    env = dict(os.environ, CARTBENCH_STATE=str(tmp_path / "state"))
    res = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", "--target", "reference", "--profile",
         str(prof), "--out", str(tmp_path / "runs"), "--no-report"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    block = json.loads((run_dir / "results.json").read_text())["targets"]["reference"]
    # ~900 warm-up arrivals vs ~160 measured: the totals must be the measured stage only
    assert block["warmup"]["offered"] == pytest.approx(900, rel=0.25)
    assert block["totals"]["offered"] == pytest.approx(160, rel=0.4)
    assert block["totals"]["duration_s"] == pytest.approx(4, abs=1.5)
    ops = block["operations"]
    warm_ops = block["warmup"]["operations"]
    assert sum(o["count"] for o in ops.values()) == block["totals"]["completed"]
    assert sum(o["count"] for o in warm_ops.values()) == block["warmup"]["completed"]
    assert block["stages"][0]["warmup"] is True
    with open(run_dir / "timeseries.csv") as f:
        stages = {row["stage"] for row in csv.DictReader(f)}
    assert {"warm-up", "measure"} <= stages  # the warm-up is still in the time series
    from reports import render_report
    from reports.plots import WARMUP_FILL

    html = render_report(run_dir).read_text()
    assert "Blue band: warm-up (3.0 s" in html and "excluded from the totals" in html
    assert WARMUP_FILL in html  # the warm-up band is shaded apart on the time plots
