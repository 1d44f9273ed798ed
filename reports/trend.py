"""``bench history check``: judge the newest run of a history against the previous comparable
ones and write the trend page ``HISTORY_DIR/index.html``.

Which runs are judged (docs/NIGHTLY.md has the prose):

* only runs with the newest run's comparability key (``reports.history``);
* only runs from the newest run marked as a new baseline on (``mark-baseline``), if any;
* per target, the up to ``window`` previous runs whose target ran ok with a generator that
  kept up — saturated or failed runs are shown but never a baseline;
* the judgement itself is ``reports.compare.compare_history`` (``reports.regression``); this
  module adds one row per target for its status (ok before, failed now: a regression).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from reports import history, regression, trend_plots
from reports.compare import ALL_OPS, LATENCY_METRICS, THROUGHPUT, HistoryRow, compare_history
from reports.history import Entry
from reports.regression import Judgement

STATUS = "status"
ERRORS = "errors (% of offered)"
DROPPED = "dropped (% of offered)"
FINDINGS = "audit findings (writes lost + oversold SKUs)"


@dataclass
class CheckResult:
    history_dir: Path
    threshold_pct: float
    window: int
    newest: Entry
    group: list[Entry]  # every run comparable with the newest, oldest first
    baseline_mark: Entry | None  # the newest run marked as a new baseline, if any
    previous: list[Entry]  # the runs the newest was judged against
    rows: list[HistoryRow]
    others: dict[str, list[Entry]]  # incomparable runs by comparability key id
    notes: list[str] = field(default_factory=list)
    out: Path | None = None

    @property
    def regressions(self) -> list[HistoryRow]:
        return [r for r in self.rows if r.judgement.verdict == regression.REGRESSION]

    @property
    def improvements(self) -> list[HistoryRow]:
        return [r for r in self.rows if r.judgement.verdict == regression.IMPROVEMENT]

    @property
    def judged(self) -> list[HistoryRow]:
        return [r for r in self.rows if r.judgement.verdict != regression.NOT_COMPARABLE]

    @property
    def accepted(self) -> bool:
        return self.baseline_mark is self.newest


def _select_previous(candidates: list[Entry], targets: list[str], window: int) -> list[Entry]:
    """Walking back from the newest: keep a run while some target still needs usable runs
    to fill its window; oldest first."""
    need = dict.fromkeys(targets, window)
    chosen: list[Entry] = []
    for entry in reversed(candidates):
        useful = [t for t in targets if need[t] > 0 and history.usable(entry, t)]
        if useful:
            chosen.append(entry)
            for t in useful:
                need[t] -= 1
        if all(n <= 0 for n in need.values()):
            break
    return chosen[::-1]


def _status_rows(newest: Entry, previous: list[Entry], threshold: float) -> list[HistoryRow]:
    rows = []
    for name, t in newest["targets"].items():
        before = [e["targets"][name]["status"] for e in previous if name in e["targets"]]
        if t["status"] != "ok":
            was_ok = bool(before) and before[-1] == "ok"
            verdict = regression.REGRESSION if was_ok else regression.NOT_COMPARABLE
            note = (f"status {before[-1] if before else '—'} → {t['status']}"
                    + ("" if was_ok else " (no ok run before it to compare with)"))
        elif t["generator_saturated"]:
            verdict, note = regression.NOT_COMPARABLE, (
                "generator saturated: its numbers measure the generator; not judged")
        else:
            continue
        rows.append(HistoryRow(name, ALL_OPS, STATUS, (), Judgement(
            None, None, None, 0.0, threshold, None, verdict, note), None))
    return rows


def _findings(target: dict[str, Any]) -> float | None:
    audit = target.get("audit") or {}
    values = [audit.get("acknowledged_writes_lost"), audit.get("oversold_skus")]
    known = [float(v) for v in values if isinstance(v, int | float)]
    return sum(known) if known else None


def _failure_rows(newest: Entry, previous: list[Entry], threshold: float,
                  window: int) -> list[HistoryRow]:
    """Errors and dropped shares (``judge_share_history``) and audit findings
    (``judge_findings_history``) from the index, per target."""
    rows = []
    for name, t in newest["targets"].items():
        if t["status"] != "ok":
            continue
        before = [e["targets"][name] for e in previous if history.usable(e, name)][-window:]
        for metric, key in ((ERRORS, "error_pct"), (DROPPED, "dropped_pct")):
            values = [b.get(key) for b in before] + [t.get(key)]
            if not history.usable(newest, name) or any(v is None for v in values):
                continue
            rows.append(HistoryRow(name, ALL_OPS, metric, tuple(values),
                                   regression.judge_share_history(
                                       values, threshold_pct=threshold, window=window),
                                   None))
        counts = [_findings(b) for b in before] + [_findings(t)]
        if all(v is not None for v in counts):
            known = [float(v) for v in counts if v is not None]
            rows.append(HistoryRow(name, ALL_OPS, FINDINGS, tuple(known),
                                   regression.judge_findings_history(known, window), None))
    return rows


def check_history(history_dir: Path, *,
                  threshold: float = regression.DEFAULT_THRESHOLD_PCT,
                  window: int = 10) -> CheckResult:
    """Judge the newest run (see the module docstring); no page is written here."""
    history_dir = Path(history_dir)
    index = history.read_index(history_dir)
    entries = history.ordered(index["runs"])
    if not entries:
        raise UsageError(f"{history_dir}: the history is empty (add a run with: bench "
                         f"history add RUN_DIR --into {history_dir})")
    newest = entries[-1]
    group = [e for e in entries if e["key_id"] == newest["key_id"]]
    others: dict[str, list[Entry]] = {}
    for e in entries:
        if e["key_id"] != newest["key_id"]:
            others.setdefault(e["key_id"], []).append(e)
    marks = [e for e in group if e.get("baseline")]
    mark = marks[-1] if marks else None
    start = group.index(mark) if mark is not None else 0
    candidates = group[start:-1]
    targets = list(newest["targets"])
    previous = _select_previous(candidates, targets, window)
    notes = []
    if others:
        notes.append(f"{sum(len(v) for v in others.values())} run(s) in the history have a "
                     "different comparability key and are not compared with the newest run.")
    if mark is newest:
        notes.append(f"The newest run is marked as a new baseline ({mark['baseline']['note']}): "
                     "it is not judged; later runs are judged against it and its successors.")
        previous = []
    elif mark is not None:
        notes.append(f"Baseline restarted at {mark['name']} ({mark['baseline']['note']}); "
                     "earlier runs are shown but not used.")
    rows: list[HistoryRow] = []
    if previous:
        result = compare_history(
            [history_dir / e["path"] for e in [*previous, newest]], threshold=threshold,
            window=window, skip_saturated=True)
        rows = result.rows
    short = [t for t in targets
             if sum(history.usable(e, t) for e in previous) < regression.MIN_HISTORY]
    if short and mark is not newest:
        notes.append(f"Not enough comparable history for {', '.join(short)}: a verdict needs "
                     f"at least {regression.MIN_HISTORY} previous runs that ran ok with an "
                     "unsaturated generator.")
    rows = (_status_rows(newest, previous if mark is not newest else [], threshold) + rows
            + _failure_rows(newest, previous, threshold, window))
    return CheckResult(history_dir=history_dir, threshold_pct=threshold, window=window,
                       newest=newest, group=group, baseline_mark=mark, previous=previous,
                       rows=rows, others=others, notes=notes)


# -- the page ---------------------------------------------------------------------------------

def _chart_kind(metric: str) -> str:
    if metric in (THROUGHPUT, STATUS):
        return "throughput"
    if metric in (ERRORS, DROPPED):
        return "errors"
    if metric == FINDINGS:
        return "audit"
    return "latency" if metric in LATENCY_METRICS else metric


def page_context(result: CheckResult) -> dict[str, Any]:
    newest = result.newest
    regressed = {(r.target, _chart_kind(r.metric)) for r in result.regressions}
    baseline_at = result.baseline_mark["name"] if result.baseline_mark else None
    charts: list[tuple[str, dict[str, Any]]] = []

    def add(spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        charts.append((f"trend-{len(charts) + 1}", spec))
        return charts[-1]

    sections = []
    names = list(dict.fromkeys(t for e in result.group for t in e["targets"]))
    for i, name in enumerate(names):
        tput = next((r.judgement for r in result.rows if r.target == name
                     and r.op == ALL_OPS and r.metric == THROUGHPUT), None)
        band = None
        if tput is not None and tput.before is not None and tput.verdict != (
                regression.NOT_COMPARABLE):
            band = (tput.before, tput.limit_pct)
        sections.append({
            "name": name,
            "rows": [r for r in result.rows if r.target == name],
            "excluded": [(e["name"], history.unusable_reason(e, name)) for e in result.group
                         if history.unusable_reason(e, name) not in (None, "not in this run")],
            "charts": [
                add(trend_plots.throughput_trend(
                    name, i, result.group, regressed=(name, "throughput") in regressed,
                    baseline=band, baseline_at=baseline_at)),
                add(trend_plots.latency_trend(
                    name, i, result.group, regressed=(name, "latency") in regressed,
                    baseline_at=baseline_at)),
                add(trend_plots.errors_trend(
                    name, i, result.group, regressed=(name, "errors") in regressed,
                    baseline_at=baseline_at)),
                add(trend_plots.audit_trend(
                    name, i, result.group, regressed=(name, "audit") in regressed,
                    baseline_at=baseline_at)),
            ],
        })
    previous = {e["name"] for e in result.previous}
    return {
        "result": result, "newest": newest, "sections": sections,
        "key_fields": history.KEY_FIELDS, "previous_names": previous,
        "regression": regression, "chart_count": len(charts),
        "other_groups": list(result.others.values()),
    }


def render_history(result: CheckResult) -> Path:
    """Write ``HISTORY_DIR/index.html`` (self-contained, like the run report)."""
    from reports.render import environment  # jinja/plotly only for the page

    html = environment().get_template("history.html.j2").render(**page_context(result))
    out = result.history_dir / "index.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    result.out = out
    return out
