"""``bench.slo``: term parsing (one-line errors) and verdicts on a results block."""

from __future__ import annotations

from typing import Any

import pytest

from bench import slo
from bench.errors import UsageError


def _op(count: int, errors: int, p99: float, p999: float) -> dict[str, Any]:
    return {"count": count, "errors": errors,
            "latency_ms": {"intended": {"p50": 1.0, "p90": 2.0, "p99": p99, "p99_9": p999,
                                        "p99_99": p999, "max": p999}},
            "spectrum": {"intended": [[95.0, 3.0], [99.0, p99], [99.9, p999]]}}


def _block() -> dict[str, Any]:
    return {"totals": {"offered": 1000, "completed": 990, "errors": 5, "dropped": 10},
            "operations": {"browse": _op(600, 1, 4.0, 20.0), "checkout": _op(390, 4, 50.0, 400.0)}}


@pytest.mark.parametrize(("text", "metric", "op", "pct", "cmp", "threshold"), [
    ("p99.9<=300ms", "latency", None, 99.9, "<=", 300.0),
    ("checkout:p99<=500ms", "latency", "checkout", 99.0, "<=", 500.0),
    ("p99<0.5s", "latency", None, 99.0, "<", 500.0),
    ("p95<=800us", "latency", None, 95.0, "<=", 0.8),
    ("errors<=0.1%", "errors", None, None, "<=", 0.001),
    ("availability>=99.9%", "availability", None, None, ">=", 0.999),
    ("add_item:errors<1%", "errors", "add_item", None, "<", 0.01),
])
def test_parse_terms(text: str, metric: str, op: str | None, pct: float | None, cmp: str,
                     threshold: float) -> None:
    t = slo.parse_slo(text, ("browse", "add_item", "checkout"))
    assert (t.metric, t.operation, t.percentile, t.comparator) == (metric, op, pct, cmp)
    assert t.threshold == pytest.approx(threshold)


@pytest.mark.parametrize(("text", "fragment"), [
    ("p99.9=300ms", "expected e.g."),
    ("p42<=3ms", "percentile 42 not recorded"),
    ("errors<=5ms", "give it in %"),
    ("p99<=5%", "needs ms"),
    ("availability>=120%", "between 0% and 100%"),
    ("pay:p99<=5ms", "unknown operation 'pay'"),
    ("", "expected e.g."),
])
def test_bad_terms_are_one_line_usage_errors(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as exc:
        slo.parse_slo(text, ("browse", "checkout"))
    assert fragment in exc.value.message
    assert "\n" not in exc.value.message


def test_default_and_comma_lists() -> None:
    assert [t.text for t in slo.parse_slos(())] == [slo.DEFAULT_SLO]
    assert [t.text for t in slo.parse_slos(("p99<=5ms, errors<=1%",))] == ["p99<=5ms", "errors<=1%"]
    with pytest.raises(UsageError):
        slo.parse_slos(("p99<=5ms,,errors<=1%",))


def test_latency_term_holds_for_every_operation_and_reports_the_worst() -> None:
    out = slo.evaluate(slo.parse_slos(("p99.9<=300ms",)), _block())
    [term] = out["terms"]
    assert term["value"] == 400.0 and not term["met"] and "checkout" in term["detail"]
    assert out["met"] is False and out["p99_9_ms"] == 300.0 and out["worst_op_p99_9_ms"] == 400.0
    ok = slo.evaluate(slo.parse_slos(("browse:p99.9<=300ms", "p95<=3ms")), _block())
    assert ok["met"] is True


def test_errors_and_availability_count_against_the_target() -> None:
    block = _block()
    errors = slo.evaluate_term(slo.parse_slo("errors<=0.1%"), block)
    assert errors.value == pytest.approx(5 / 990) and not errors.met
    # availability: succeeded / offered: 985 of 1000 (dropped + failed count against it)
    avail = slo.evaluate_term(slo.parse_slo("availability>=98%"), block)
    assert avail.value == pytest.approx(0.985) and avail.met
    assert not slo.evaluate_term(slo.parse_slo("availability>=99%"), block).met
    per_op = slo.evaluate_term(slo.parse_slo("checkout:errors<=1%"), block)
    assert per_op.value == pytest.approx(4 / 390) and not per_op.met


def test_missing_evidence_never_passes() -> None:
    empty = {"totals": {"offered": 0, "completed": 0, "errors": 0}, "operations": {}}
    for text in ("p99<=1000ms", "errors<=100%", "availability>=0%", "checkout:p99<=1s"):
        verdict = slo.evaluate_term(slo.parse_slo(text), empty)
        assert verdict.met is False and verdict.value is None, text


def test_summary_names_missed_terms() -> None:
    out = slo.evaluate(slo.parse_slos(("p99.9<=300ms", "errors<=1%")), _block())
    assert slo.summary(out) == "missed: p99.9<=300ms (400.0 ms)"
    assert slo.summary({"met": True, "terms": []}) == "met"
