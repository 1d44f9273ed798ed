"""``compare_runs`` / ``compare_history`` on the golden fixtures, and both CLI commands."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reports import compare_history, compare_runs

FIXTURES = Path(__file__).parents[1] / "fixtures" / "results"
BENCH = Path(sys.executable).parent / "bench"


def test_noise_only_rerun_has_no_regression(tmp_path: Path) -> None:
    result = compare_runs(FIXTURES / "baseline", FIXTURES / "noisy", out=tmp_path / "c.html")
    assert result.regressions == []
    assert result.out == tmp_path / "c.html" and "No regression" in result.out.read_text()


def test_slower_postgres_is_a_regression_and_only_postgres(tmp_path: Path) -> None:
    result = compare_runs(FIXTURES / "baseline", FIXTURES / "regressed", out=tmp_path / "c.html")
    assert result.regressions
    assert {r.target for r in result.regressions} == {"postgres"}
    assert any(r.metric == "p99.9 intended (ms)" and r.op == "checkout"
               for r in result.regressions)
    html = result.out.read_text() if result.out else ""
    assert "regression(s) beyond the threshold" in html


def test_threshold_is_respected(tmp_path: Path) -> None:
    result = compare_runs(FIXTURES / "baseline", FIXTURES / "regressed",
                          out=tmp_path / "c.html", threshold=1e9)
    assert result.regressions == []


def test_target_that_broke_is_a_regression(tmp_path: Path) -> None:
    result = compare_runs(FIXTURES / "baseline", FIXTURES / "failed", out=tmp_path / "c.html")
    assert [(r.target, r.metric) for r in result.regressions] == [("cassandra", "status")]


def test_default_out_is_in_run_b(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(FIXTURES / "baseline", a)
    shutil.copytree(FIXTURES / "noisy", b)
    result = compare_runs(a, b)
    assert result.out == b / "compare-a.html" and result.out.is_file()


def test_history_flags_the_newest_run_only_when_it_regressed() -> None:
    calm = [FIXTURES / "baseline", FIXTURES / "noisy", FIXTURES / "saturated"]
    assert compare_history(calm).regressions == []
    result = compare_history([*calm, FIXTURES / "regressed"])
    assert result.regressions and {r.target for r in result.regressions} == {"postgres"}


# -- through the CLI: exit codes and one-line errors ----------------------------------------

def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BENCH), *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_cli_report_rerenders_and_prints_path(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "saturated", run)
    proc = bench("report", str(run))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(run / "index.html")
    assert (run / "index.html").stat().st_size > 1_000_000


def test_cli_compare_exit_codes(tmp_path: Path) -> None:
    ok = bench("compare", str(FIXTURES / "baseline"), str(FIXTURES / "noisy"),
               "--out", str(tmp_path / "ok.html"))
    bad = bench("compare", str(FIXTURES / "baseline"), str(FIXTURES / "regressed"),
                "--out", str(tmp_path / "bad.html"), "--threshold", "15")
    assert ok.returncode == 0, ok.stderr
    assert bad.returncode == 4, bad.stderr
    assert "regression: postgres" in bad.stdout
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("error: ")


def _broken(tmp_path: Path, kind: str) -> Path:
    run = tmp_path / kind
    if kind == "missing":
        return run
    shutil.copytree(FIXTURES / "baseline", run)
    results = run / "results.json"
    data = json.loads(results.read_text())
    if kind == "not-json":
        results.write_text("{ this is not json")
    elif kind == "schema":
        data["schema_version"] = 99
        results.write_text(json.dumps(data))
    elif kind == "no-targets":
        del data["targets"]
        results.write_text(json.dumps(data))
    elif kind == "no-totals":
        del data["targets"]["postgres"]["totals"]
        results.write_text(json.dumps(data))
    elif kind == "no-csv":
        (run / "timeseries.csv").unlink()
    elif kind == "bad-csv":
        (run / "timeseries.csv").write_text("a,b\n1,2\n")
    elif kind == "file":
        shutil.rmtree(run)
        run.write_text("not a directory")
    return run


@pytest.mark.parametrize(("kind", "needle"), [
    ("missing", "not a run directory"), ("file", "not a run directory"),
    ("not-json", "not valid JSON"), ("schema", "schema_version 99"),
    ("no-targets", "missing required key targets"),
    ("no-totals", "missing required key targets.postgres.totals"),
    ("no-csv", "timeseries.csv: missing"), ("bad-csv", "missing column(s)"),
])
def test_cli_bad_results_one_line_exit_2(tmp_path: Path, kind: str, needle: str) -> None:
    run = _broken(tmp_path, kind)
    for proc in (bench("report", str(run)),
                 bench("compare", str(FIXTURES / "baseline"), str(run),
                       "--out", str(tmp_path / "c.html"))):
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
        assert needle in lines[0]
        assert "Traceback" not in proc.stderr
