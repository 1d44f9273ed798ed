"""``bench history add/check/list/mark-baseline`` through the CLI, on copies of the golden
fixtures (no datastore). Each stored copy gets its own start time so the order is explicit:
a calm history of four runs (one with a saturated generator, one with a failed target), then
the run under test."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parents[1] / "fixtures" / "results"
CALM = ("baseline", "noisy", "saturated", "failed")


def bench(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300, check=False)


def stored(root: Path, fixture: str, hour: int, name: str | None = None,
           mutate: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """A copy of a golden run with its own start time (and optional edits)."""
    run = root / (name or fixture)
    shutil.copytree(FIXTURES / fixture, run)
    path = run / "results.json"
    results = json.loads(path.read_text())
    results["run"]["started_at"] = f"2026-12-01T{hour:02d}:00:00Z"
    if mutate is not None:
        mutate(results)
    path.write_text(json.dumps(results))
    return run


def add(run: Path, history: Path, *extra: str) -> None:
    proc = bench("history", "add", run, "--into", history, *extra)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def calm_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("calm")
    for hour, fixture in enumerate(CALM, start=1):
        add(stored(root, fixture, hour), root / "H", "--move")
    return root / "H"


@pytest.fixture()
def history(calm_history: Path, tmp_path: Path) -> Path:
    """A private copy of the calm history for one test."""
    copy = tmp_path / "H"
    shutil.copytree(calm_history, copy)
    return copy


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    return proc.stderr


def test_add_indexes_key_metrics_and_context(calm_history: Path) -> None:
    index = json.loads((calm_history / "index.json").read_text())
    assert index["schema_version"] == 1
    assert [e["name"] for e in index["runs"]] == list(CALM)
    entry = index["runs"][0]
    assert entry["context"]["git_commit"] == "1488c01"
    assert entry["context"]["launcher"] == "native" and entry["context"]["profile"]
    assert set(entry["key"]) >= {"profile", "launcher", "machine", "durability", "targets"}
    pg = entry["targets"]["postgres"]
    assert pg["status"] == "ok" and pg["generator_saturated"] is False
    assert pg["throughput_ops_s"] > 0 and pg["peak_ops_s"] > pg["throughput_ops_s"]
    assert 0 < pg["intended_ms"]["p50"] < pg["intended_ms"]["p99"] < pg["intended_ms"]["p99_9"]
    assert pg["at_peak_ms"]["p99_9"] is not None and pg["service_ms"]["p99_9"] is not None
    assert pg["audit"]["acknowledged_writes_lost"] == 0 and pg["dropped"] == 0
    assert pg["durability"] == "default" and pg["error_pct"] is not None
    saturated = index["runs"][2]["targets"]["redis-cluster"]
    assert saturated["generator_saturated"] is True
    failed = index["runs"][3]["targets"]["cassandra"]
    assert failed["status"] == "failed" and failed["throughput_ops_s"] is None
    # each run is stored whole, with its own report to link to
    for e in index["runs"]:
        assert (calm_history / e["path"] / "results.json").is_file()
        assert e["report"] and (calm_history / e["report"]).is_file()
    assert len({e["key_id"] for e in index["runs"]}) == 1


def test_noise_only_newest_run_passes(history: Path, tmp_path: Path) -> None:
    add(stored(tmp_path, "rerun", 5), history)
    proc = bench("history", "check", history)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 regression(s)" in proc.stdout and "judged rerun against 4" in proc.stdout
    html = (history / "index.html").read_text()
    assert "No regression in the newest run" in html
    assert html.count("Plotly.newPlot") == 1  # plotly inlined once, charts are data
    assert '"name":"regression"' not in html


def test_regressed_newest_run_exits_4_and_the_page_marks_it(history: Path,
                                                            tmp_path: Path) -> None:
    add(stored(tmp_path, "regressed", 5), history)
    proc = bench("history", "check", history)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "regression: postgres" in proc.stdout
    assert "regression: cassandra" not in proc.stdout
    assert "regression: redis-cluster" not in proc.stdout
    assert "regression(s) in regressed" in one_line_error(proc)
    html = (history / "index.html").read_text()
    assert "regression(s) in the newest run" in html
    assert '"name":"regression"' in html and "mark-baseline" in html


def test_threshold_option_is_honoured(history: Path, tmp_path: Path) -> None:
    add(stored(tmp_path, "regressed", 5), history)
    proc = bench("history", "check", history, "--threshold", "1e9")
    # only the threshold-free judgements remain: none of them fires for this run
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_target_that_failed_after_running_ok_is_a_regression(tmp_path: Path) -> None:
    h = tmp_path / "H"
    for hour, fixture in enumerate(("baseline", "noisy", "saturated", "failed"), start=1):
        add(stored(tmp_path, fixture, hour), h)
    proc = bench("history", "check", h)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "regression: cassandra (all) status: status ok → failed" in proc.stdout


def test_incomparable_runs_are_not_compared(history: Path, tmp_path: Path) -> None:
    def other_profile(results: dict[str, Any]) -> None:
        results["run"]["profile"]["name"] = "black-friday"

    add(stored(tmp_path, "regressed", 5, mutate=other_profile), history)
    proc = bench("history", "check", history)
    # the regressed run would fail against the calm runs; with another profile it has no
    # comparable history at all
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "judged regressed against 0 previous" in proc.stdout
    assert "different comparability key" in proc.stdout
    html = (history / "index.html").read_text()
    assert "Runs not compared (different comparability key)" in html
    listing = bench("history", "list", history)
    assert listing.returncode == 0 and "2 comparability group(s)" in listing.stdout


def test_saturated_newest_run_is_shown_not_judged(history: Path, tmp_path: Path) -> None:
    add(stored(tmp_path, "saturated", 5, name="saturated-again",
               mutate=lambda r: r["run"].update(id="fffff1")), history)
    proc = bench("history", "check", history)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning: redis-cluster: generator saturated" in proc.stdout


def test_broken_run_dir_is_one_line_exit_2(tmp_path: Path) -> None:
    run = stored(tmp_path, "baseline", 1)
    (run / "results.json").write_text("{not json")
    proc = bench("history", "add", run, "--into", tmp_path / "H")
    assert proc.returncode == 2
    assert "results.json: not valid JSON" in one_line_error(proc)
    assert not (tmp_path / "H" / "index.json").exists()
    assert not any((tmp_path / "H" / "runs").glob("*")) if (tmp_path / "H").exists() else True
    missing = bench("history", "add", tmp_path / "nope", "--into", tmp_path / "H")
    assert missing.returncode == 2 and "not a run directory" in one_line_error(missing)


def test_duplicate_add_is_refused(history: Path, tmp_path: Path) -> None:
    again = bench("history", "add", stored(tmp_path, "baseline", 1), "--into", history)
    assert again.returncode == 2 and "already in the history" in one_line_error(again)
    # the same run under another directory name is the same run
    renamed = stored(tmp_path, "noisy", 2, name="noisy-copy")
    proc = bench("history", "add", renamed, "--into", history)
    assert proc.returncode == 2 and "already in the history as noisy" in one_line_error(proc)
    index = json.loads((history / "index.json").read_text())
    assert len(index["runs"]) == len(CALM)


def test_move_removes_the_source_and_copy_keeps_it(tmp_path: Path) -> None:
    a, b = stored(tmp_path, "baseline", 1), stored(tmp_path, "noisy", 2)
    add(a, tmp_path / "H", "--move")
    add(b, tmp_path / "H")
    assert not a.exists() and b.exists()
    assert (tmp_path / "H" / "runs" / "baseline" / "timeseries.csv").is_file()
    assert not list((tmp_path / "H" / "runs").glob(".*partial"))


def test_mark_baseline_accepts_an_intended_change(history: Path, tmp_path: Path) -> None:
    add(stored(tmp_path, "regressed", 5), history)
    assert bench("history", "check", history).returncode == 4
    no_note = bench("history", "mark-baseline", history, "latest")
    assert no_note.returncode == 2 and "--note" in one_line_error(no_note)
    mark = bench("history", "mark-baseline", history, "latest", "--note",
                 "postgres pool halved on purpose")
    assert mark.returncode == 0, mark.stderr
    index = json.loads((history / "index.json").read_text())
    assert index["runs"][-1]["baseline"]["note"] == "postgres pool halved on purpose"
    proc = bench("history", "check", history)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = (history / "index.html").read_text()
    assert "The newest run is a new baseline" in html
    # the next run is judged from the new baseline on only: too little history, no verdict
    add(stored(tmp_path, "rerun", 6), history)
    later = bench("history", "check", history)
    assert later.returncode == 0 and "judged rerun against 1 previous" in later.stdout
    assert "Not enough comparable history" in later.stdout
    clear = bench("history", "mark-baseline", history, "regressed", "--clear")
    assert clear.returncode == 0
    index = json.loads((history / "index.json").read_text())
    assert all(e["baseline"] is None for e in index["runs"])
    # without the mark every comparable run is a baseline again
    assert "judged rerun against 5 previous" in bench("history", "check", history).stdout


def test_list_prints_every_run(history: Path) -> None:
    proc = bench("history", "list", history)
    assert proc.returncode == 0, proc.stderr
    for name in CALM:
        assert name in proc.stdout
    assert "ok, saturated" in proc.stdout and "failed" in proc.stdout
    assert "1 comparability group(s)" in proc.stdout


def test_check_and_list_need_a_history(tmp_path: Path) -> None:
    for cmd in ("check", "list"):
        proc = bench("history", cmd, tmp_path / "nothing")
        assert proc.returncode == 2 and "index.json: missing" in one_line_error(proc)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "index.json").write_text('{"schema_version": 99, "runs": []}')
    proc = bench("history", "check", tmp_path / "bad")
    assert proc.returncode == 2 and "schema_version 99" in one_line_error(proc)
