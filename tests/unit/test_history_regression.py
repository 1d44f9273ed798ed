"""The pure parts of the nightly history: failure-share and audit judgements, the
comparability key, and which previous runs form the baseline (no subprocess, no datastore)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from reports import regression as rg
from reports.history import comparability_key, key_id
from reports.load import Run, load_run
from reports.trend import _select_previous

FIXTURES = Path(__file__).parents[1] / "fixtures" / "results"


def test_share_needs_an_absolute_change_beyond_the_floor() -> None:
    tiny = [0.010, 0.012, 0.011, 0.010]
    # +200 % relative, but 0.02 percentage points: not a regression
    j = rg.judge_share_history([*tiny, 0.033])
    assert j.verdict == rg.WITHIN_NOISE and "pp" in j.note
    assert rg.judge_share_history([*tiny, 2.5]).verdict == rg.REGRESSION
    assert rg.judge_share_history([1.0, 1.1, 0.9, 1.0, 1.02]).verdict == rg.WITHIN_NOISE


def test_share_from_zero() -> None:
    assert rg.judge_share_history([0.0, 0.0, 0.0, 1.5]).verdict == rg.REGRESSION
    assert rg.judge_share_history([0.0, 0.0, 0.0, 0.05]).verdict == rg.WITHIN_NOISE
    assert rg.judge_share_history([0.0, 0.0, 0.0]).verdict == rg.NOT_COMPARABLE


def test_findings_are_judged_against_zero() -> None:
    assert rg.judge_findings_history([0, 0, 3]).verdict == rg.REGRESSION
    assert rg.judge_findings_history([0, 2, 3]).verdict == rg.WITHIN_NOISE
    assert rg.judge_findings_history([0, 2, 0]).verdict == rg.IMPROVEMENT
    assert rg.judge_findings_history([0, 0, 0]).verdict == rg.WITHIN_NOISE
    assert rg.judge_findings_history([5]).verdict == rg.NOT_COMPARABLE
    # outside the window, old findings no longer excuse new ones
    assert rg.judge_findings_history([9, 0, 0, 1], window=2).verdict == rg.REGRESSION


def _variant(run: Run, edit: Any) -> Run:
    results = copy.deepcopy(run.results)
    edit(results)
    return Run(path=run.path, results=results, timeseries=run.timeseries)


def test_comparability_key_separates_what_changes_the_numbers() -> None:
    run = load_run(FIXTURES / "baseline")
    base = key_id(comparability_key(run))
    same = [
        lambda r: r["run"]["host"].update(hostname="fv-az42-7"),  # CI runners rename
        lambda r: r["run"]["profile"].update(seed=7),
        lambda r: r["run"].update(git_commit="deadbee", cartbench_version="0.2.0"),
    ]
    for edit in same:
        assert key_id(comparability_key(_variant(run, edit))) == base
    different = [
        lambda r: r["run"]["profile"].update(name="black-friday"),
        lambda r: r["run"]["profile"].update(scale=2.0),  # same name, other load
        lambda r: r["run"].update(launcher="docker"),
        lambda r: r["run"]["host"].update(cpu_count=8),
        lambda r: r["targets"]["postgres"]["topology"].update(durability="strict"),
        lambda r: r["targets"].pop("cassandra"),
        lambda r: r["run"]["generator"].update(workers=2),
    ]
    for edit in different:
        assert key_id(comparability_key(_variant(run, edit))) != base


def _entry(name: str, **status: str) -> dict[str, Any]:
    targets = {}
    for target, state in status.items():
        targets[target] = {"status": "failed" if state == "failed" else "ok",
                           "generator_saturated": state == "saturated"}
    return {"name": name, "targets": targets}


def test_baseline_window_counts_usable_runs_per_target() -> None:
    runs = [_entry("r1", a="ok", b="ok"), _entry("r2", a="ok", b="ok"),
            _entry("r3", a="saturated", b="ok"), _entry("r4", a="ok", b="failed"),
            _entry("r5", a="failed", b="failed")]
    chosen = [e["name"] for e in _select_previous(runs, ["a", "b"], 2)]
    # r5 helps nobody; a needs r4 and r2 (r3 saturated); b needs r3 and r2
    assert chosen == ["r2", "r3", "r4"]
    assert [e["name"] for e in _select_previous(runs, ["a"], 10)] == ["r1", "r2", "r4"]
