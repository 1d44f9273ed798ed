"""Numbers for the ``bench findmax`` part of the report and the terminal (pure, no I/O).

Reads ``targets.<t>.findmax`` (docs/RESULTS.md): the steps in the order they ran, each with
its offered and achieved rate, worst-operation intended and service p50/p99/p99.9, pass/fail
and reasons; the verdict and the highest passing rate.  The *knee* is the highest passing
rate of the search (the capacity at this SLO on this machine); the SLO line is each latency
term's threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.findmax import AT_MAX_RATE, CAPPED, GENERATOR_LIMIT, NO_PASSING_STEP


@dataclass(frozen=True)
class FindmaxTarget:
    name: str
    verdict: str
    max_rate: float | None
    repeat_held: bool | None
    steps: list[dict[str, Any]]  # sorted by offered rate (the search order is in "index")
    slo_lines: list[tuple[str, float]]  # (term, threshold ms) for latency terms

    @property
    def phrase(self) -> str:
        """``postgres holds 4,100 ops/s`` and its qualifiers."""
        if self.max_rate is None:
            return f"{self.name}: {self.verdict}"
        rate = f"{self.max_rate:,.0f} ops/s"
        if self.verdict == GENERATOR_LIMIT:
            text = f"{self.name} ≥ {rate} (limit of this generator, not of {self.name})"
        elif self.verdict in (AT_MAX_RATE, CAPPED):
            text = f"{self.name} ≥ {rate} ({self.verdict})"
        else:
            text = f"{self.name} {rate}"
        if self.repeat_held is False:
            text += " (did not hold on repeat)"
        return text


def targets(data: dict[str, Any]) -> list[FindmaxTarget]:
    out = []
    for name, block in (data.get("targets") or {}).items():
        fm = block.get("findmax")
        if not isinstance(fm, dict) or "steps" not in fm:
            continue
        lines = []
        for t in (block.get("slo") or {}).get("terms") or []:
            if t.get("metric") == "latency":
                lines.append((str(t["term"]), float(t["threshold"])))
        steps = sorted(fm["steps"], key=lambda s: (s["rate_ops_s"], s["index"]))
        out.append(FindmaxTarget(name, str(fm.get("verdict")), fm.get("max_rate_ops_s"),
                                 fm.get("repeat_held"), steps, lines))  # fmt: skip
    return out


def placement(data: dict[str, Any]) -> str:
    """``2 cores, 7.8 GiB, native processes, generator on the same host`` from the run."""
    run = data.get("run") or {}
    host = run.get("host") or {}
    parts = []
    cores = host.get("cpus_usable") or host.get("cpu_count")
    if cores:
        parts.append(f"{cores} cores")
    mem = host.get("memory_bytes")
    if mem:
        parts.append(f"{mem / 2**30:.1f} GiB")
    launcher = run.get("launcher")
    if launcher:
        parts.append({"native": "native processes", "docker": "Docker containers",
                      "external": "external endpoints"}.get(launcher, str(launcher)))
    cpusets = {str((b.get("topology") or {}).get("resources", {}).get("cpuset"))
               for b in (data.get("targets") or {}).values()
               if (b.get("topology") or {}).get("resources", {}).get("cpuset")}  # fmt: skip
    if cpusets:
        parts.append("datastore on CPUs " + "/".join(sorted(cpusets)))
    gen = (run.get("generator") or {}).get("cpuset")
    parts.append(f"generator on CPUs {gen}" if gen else "generator on the same host")
    return ", ".join(parts)


def headline(data: dict[str, Any]) -> str:
    """"postgres holds N ops/s, redis-cluster M within p99.9<=300ms on <placement>"."""
    found = targets(data)
    failed = [f"{n} failed ({b.get('error') or b.get('status')})"
              for n, b in (data.get("targets") or {}).items()
              if b.get("status") in ("failed", "interrupted")]
    if not found:
        return "no findmax results" + (f": {'; '.join(failed)}" if failed else "")
    terms: list[str] = []
    for name in (t.name for t in found):
        for term in (data["targets"][name].get("findmax", {}).get("criteria", {}).get("slo")
                     or []):  # fmt: skip
            if term not in terms:
                terms.append(term)
    passing = [t for t in found if t.max_rate is not None]
    failing = [t for t in found if t.max_rate is None]
    text = ""
    if passing:
        first, *rest = passing
        text = first.phrase.replace(f"{first.name} ", f"{first.name} holds ", 1)
        if rest:
            text += ", " + ", ".join(t.phrase for t in rest)
        text += f" within {' and '.join(terms) or 'the SLO'}"
    if failing:
        text += ("; " if text else "") + ", ".join(
            f"{t.name}: {t.verdict if t.verdict == GENERATOR_LIMIT else NO_PASSING_STEP} "
            f"(lowest rate tried {t.steps[0]['rate_ops_s']:,.0f} ops/s)" if t.steps
            else f"{t.name}: no step ran"
            for t in failing)
        if not passing:
            text += f" within {' and '.join(terms) or 'the SLO'}"
    if failed:
        text += "; " + "; ".join(failed)
    return f"{text} on {placement(data)}."
