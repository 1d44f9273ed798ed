""".ci/nightly end to end against the in-memory reference store (a real ``bench run``, no
datastore), and the example GitHub workflow parses and calls it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
NIGHTLY = ROOT / ".ci" / "nightly"
SHORT_RUN = "--target reference --duration 3 --rate 150"


def nightly(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "CARTBENCH_SKIP_INSTALL": "1", "CARTBENCH_STATE": str(tmp_path / "s"),
            "CARTBENCH_HISTORY": str(tmp_path / "history"), "TMPDIR": str(tmp_path),
            "CARTBENCH_NIGHTLY_ARGS": SHORT_RUN, **env}
    return subprocess.run([str(NIGHTLY)], capture_output=True, text=True, timeout=300,
                          env=full, cwd=tmp_path, check=False)


def test_nightly_runs_adds_and_checks(tmp_path: Path) -> None:
    proc = nightly(tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    history = tmp_path / "history"
    index = json.loads((history / "index.json").read_text())
    assert len(index["runs"]) == 1
    entry = index["runs"][0]
    assert entry["targets"]["reference"]["status"] == "ok"
    assert entry["targets"]["reference"]["throughput_ops_s"] > 0
    assert (history / entry["path"] / "timeseries.csv").is_file()
    assert (history / "index.html").is_file() and "Nothing judged yet" in (
        history / "index.html").read_text()
    # the run was moved, and the temporary output directory is gone
    assert not list(tmp_path.glob("cartbench-nightly.*"))


def test_nightly_propagates_the_failing_step(tmp_path: Path) -> None:
    bad_run = nightly(tmp_path, CARTBENCH_NIGHTLY_ARGS="--target nosuchstore")
    assert bad_run.returncode == 2, bad_run.stdout[-2000:] + bad_run.stderr[-2000:]
    assert not (tmp_path / "history" / "index.json").exists()
    bad_check = nightly(tmp_path, CARTBENCH_THRESHOLD="-1")
    assert bad_check.returncode == 2, bad_check.stdout[-2000:] + bad_check.stderr[-2000:]
    # the run itself was fine and is kept; only the check refused its option
    assert len(json.loads((tmp_path / "history" / "index.json").read_text())["runs"]) == 1


def test_github_workflow_is_valid_yaml_and_calls_the_nightly() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"][0]["cron"].count(" ") == 4
    job = workflow["jobs"]["benchmark"]
    runs = [s.get("run", "") for s in job["steps"]]
    assert ".ci/nightly" in runs
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("actions/cache@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    cache = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/cache@"))
    assert "~/.cache/cartbench" in cache["with"]["path"] and "~/.m2" in cache["with"]["path"]
    upload = next(s for s in job["steps"]
                  if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"  # a regressed night's history is kept too
    assert job["env"]["CARTBENCH_HISTORY"].endswith("/history")
