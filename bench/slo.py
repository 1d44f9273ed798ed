"""Service-level objectives: parse ``--slo`` terms and judge a target's results block.

Pure: no I/O, no datastore, no engine import. ``bench run --slo`` and ``bench findmax`` share it.

Grammar (one term per ``--slo``; several terms may also be joined with commas)::

    term       := [OPERATION ":"] metric COMPARATOR number [unit]
    metric     := "p" PERCENTILE | "errors" | "availability"
    COMPARATOR := "<=" | "<" | ">=" | ">"
    unit       := "ms" | "s" | "us"          (latency; default ms)   |  "%"  (errors, availability)

Examples: ``p99.9<=300ms`` (the default: Dynamo's SLA), ``checkout:p99<=500ms``,
``errors<=0.1%``, ``availability>=99.9%``, ``add_item:errors<1%``.

What each metric is measured on (``evaluate``):

* ``pN`` — the *intended* latency percentile (from the intended start: coordinated-omission
  corrected).  Without an operation the term must hold for **every** operation; the value
  reported is the worst operation's.  Percentiles available: those in ``latency_ms.intended``
  (50, 90, 99, 99.9, 99.99, max as ``p100``) and the spectrum points (0 … 100).
* ``errors`` — failed operations / operations that completed (a *failure* outcome:
  conflict, unavailable, timeout, error).  Whole target: totals; with an operation: that
  operation's counts.
* ``availability`` — operations that succeeded / operations offered: failures, operations
  dropped by the generator's backlog and operations abandoned at the drain all count
  against the target.  With an operation: succeeded / completed for that operation (the
  generator does not attribute drops to operations).

A term whose value cannot be computed (no operations completed, unknown operation in the
results) is *not met*, with the reason in ``detail`` — missing evidence never passes a gate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from bench.errors import UsageError

DEFAULT_SLO = "p99.9<=300ms"

COMPARATORS = ("<=", ">=", "<", ">")
_TERM_RE = re.compile(
    r"^(?:(?P<op>[a-z_]+):)?(?P<metric>p[0-9.]+|errors|availability)"
    r"(?P<cmp><=|>=|<|>)(?P<num>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?P<unit>ms|us|s|%)?$"
)
#: percentile → key in ``latency_ms.intended``
_SUMMARY_KEYS = {50.0: "p50", 90.0: "p90", 99.0: "p99", 99.9: "p99_9", 99.99: "p99_99",
                 100.0: "max"}  # fmt: skip
_SPECTRUM = (0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999,
             100.0)  # fmt: skip
PERCENTILES = tuple(sorted(set(_SUMMARY_KEYS) | set(_SPECTRUM)))


@dataclass(frozen=True)
class SloTerm:
    """One parsed term. ``threshold`` is in ms for latency, a fraction (0..1) otherwise."""

    text: str
    metric: str  # "latency" | "errors" | "availability"
    comparator: str
    threshold: float
    operation: str | None = None
    percentile: float | None = None

    def holds(self, value: float) -> bool:
        return {
            "<=": value <= self.threshold,
            "<": value < self.threshold,
            ">=": value >= self.threshold,
            ">": value > self.threshold,
        }[self.comparator]

    def to_json(self) -> dict[str, Any]:
        return {
            "term": self.text,
            "metric": self.metric,
            "operation": self.operation,
            "percentile": self.percentile,
            "comparator": self.comparator,
            "threshold": self.threshold,
            "unit": "ms" if self.metric == "latency" else "fraction",
        }


@dataclass(frozen=True)
class SloVerdict:
    term: SloTerm
    value: float | None  # ms or fraction; None = could not be computed
    met: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {**self.term.to_json(), "value": self.value, "met": self.met,
                "detail": self.detail}  # fmt: skip


def parse_slo(text: str, operations: tuple[str, ...] | None = None) -> SloTerm:
    """One term; ``UsageError`` naming the problem on anything malformed."""
    raw = text.strip().replace(" ", "")
    m = _TERM_RE.match(raw)
    if not m:
        raise UsageError(
            f"bad --slo term {text!r}: expected e.g. p99.9<=300ms, checkout:p99<=500ms, "
            "errors<=0.1%, availability>=99.9%"
        )
    op, metric, cmp, unit = m.group("op"), m.group("metric"), m.group("cmp"), m.group("unit")
    number = float(m.group("num"))
    if not math.isfinite(number):
        raise UsageError(f"bad --slo term {text!r}: threshold must be a finite number")
    if op is not None and operations is not None and op not in operations:
        raise UsageError(
            f"bad --slo term {text!r}: unknown operation {op!r} (one of {', '.join(operations)})"
        )
    if metric.startswith("p"):
        try:
            pct = float(metric[1:])
        except ValueError:
            raise UsageError(f"bad --slo term {text!r}: {metric!r} is not a percentile") from None
        if pct not in PERCENTILES:
            raise UsageError(
                f"bad --slo term {text!r}: percentile {metric[1:]} not recorded; use one of "
                + ", ".join(f"p{p:g}" for p in PERCENTILES)
            )
        if unit == "%":
            raise UsageError(f"bad --slo term {text!r}: a latency needs ms, s or us, not %")
        ms = number * {"ms": 1.0, "s": 1000.0, "us": 0.001, None: 1.0}[unit]
        return SloTerm(raw, "latency", cmp, ms, op, pct)
    if unit not in ("%", None):
        raise UsageError(f"bad --slo term {text!r}: {metric} is a share: give it in % (e.g. 0.1%)")
    fraction = number / 100.0 if unit == "%" else number
    if not 0.0 <= fraction <= 1.0:
        raise UsageError(f"bad --slo term {text!r}: {metric} must be between 0% and 100%")
    return SloTerm(raw, metric, cmp, fraction, op, None)


def parse_slos(texts: tuple[str, ...] | list[str], operations: tuple[str, ...] | None = None
               ) -> list[SloTerm]:  # fmt: skip
    """Every term of every ``--slo`` value (commas split terms); the default if none."""
    terms: list[SloTerm] = []
    for text in texts or (DEFAULT_SLO,):
        for part in text.split(","):
            if not part.strip():
                raise UsageError(f"bad --slo value {text!r}: empty term")
            terms.append(parse_slo(part, operations))
    return terms


# ----------------------------------------------------------------------------- evaluation


def _percentile_ms(op: dict[str, Any], pct: float) -> float | None:
    intended = op.get("latency_ms", {}).get("intended", {})
    key = _SUMMARY_KEYS.get(pct)
    if key is not None and key in intended:
        return float(intended[key])
    for p, value in op.get("spectrum", {}).get("intended", []):
        if float(p) == pct:
            return float(value)
    return None


def _counts(block: dict[str, Any]) -> dict[str, int]:
    t = block.get("totals", {})
    offered = int(t.get("offered", 0))
    completed = int(t.get("completed", 0))
    errors = int(t.get("failed", t.get("errors", 0)))
    succeeded = int(t.get("succeeded", completed - errors))
    return {"offered": offered, "completed": completed, "errors": errors, "succeeded": succeeded}


def _fmt(term: SloTerm, value: float) -> str:
    return f"{value:.1f} ms" if term.metric == "latency" else f"{value * 100:.3g}%"


def evaluate_term(term: SloTerm, block: dict[str, Any]) -> SloVerdict:
    ops: dict[str, Any] = block.get("operations", {})
    if term.operation is not None and term.operation not in ops:
        return SloVerdict(term, None, False, f"no {term.operation} operations in the results")
    if term.metric == "latency":
        assert term.percentile is not None
        chosen = {term.operation: ops[term.operation]} if term.operation else ops
        values = {name: _percentile_ms(op, term.percentile) for name, op in chosen.items()
                  if int(op.get("count", 0)) > 0}  # fmt: skip
        known = {k: v for k, v in values.items() if v is not None}
        if not known:
            return SloVerdict(term, None, False, "no completed operations to measure")
        worst_op = max(known, key=lambda k: known[k])
        worst = known[worst_op]
        met = all(term.holds(v) for v in known.values())
        return SloVerdict(term, worst, met, f"{worst_op} {_fmt(term, worst)}")
    if term.operation is not None:
        op = ops[term.operation]
        completed = int(op.get("count", 0))
        errors = int(op.get("errors", 0))
        if completed == 0:
            return SloVerdict(term, None, False, f"no {term.operation} operations completed")
        value = errors / completed if term.metric == "errors" else (completed - errors) / completed
        return SloVerdict(term, value, term.holds(value), f"{errors} of {completed} failed")
    c = _counts(block)
    if term.metric == "errors":
        if c["completed"] == 0:
            return SloVerdict(term, None, False, "no operations completed")
        value = c["errors"] / c["completed"]
        detail = f"{c['errors']} of {c['completed']} completed operations failed"
    else:
        if c["offered"] == 0:
            return SloVerdict(term, None, False, "no operations offered")
        value = c["succeeded"] / c["offered"]
        detail = f"{c['succeeded']} of {c['offered']} offered operations succeeded"
    return SloVerdict(term, value, term.holds(value), detail)


def evaluate(terms: list[SloTerm], block: dict[str, Any]) -> dict[str, Any]:
    """The ``slo`` block of a target in results.json: every term's verdict and ``met``
    (all terms met). Keeps the older keys ``p99_9_ms`` / ``worst_op_p99_9_ms`` for readers
    of schema 1 when the default term is among the terms."""
    verdicts = [evaluate_term(t, block) for t in terms]
    out: dict[str, Any] = {
        "met": all(v.met for v in verdicts),
        "terms": [v.to_json() for v in verdicts],
    }
    for v in verdicts:
        if v.term.metric == "latency" and v.term.percentile == 99.9 and v.term.operation is None:
            out["p99_9_ms"] = v.term.threshold
            out["worst_op_p99_9_ms"] = v.value if v.value is not None else 0.0
            break
    return out


def summary(slo_block: dict[str, Any]) -> str:
    """``met`` / ``missed: errors<=0.1% (0.4%)`` — one cell of the terminal table."""
    if slo_block.get("met"):
        return "met"
    missed = [t for t in slo_block.get("terms", []) if not t.get("met")]
    if not missed:
        return "missed"
    parts = []
    for t in missed:
        v = t.get("value")
        if v is None:
            shown = "n/a"
        elif t.get("metric") == "latency":
            shown = f"{v:.1f} ms"
        else:
            shown = f"{v * 100:.3g}%"
        parts.append(f"{t['term']} ({shown})")
    return "missed: " + "; ".join(parts)
