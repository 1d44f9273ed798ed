"""``--fault`` terms and profile faults: parse, then validate against the run before anything
starts.  Pure (no I/O); every problem is one ``UsageError`` line (exit 2).

Grammar::

    kill:NODE@T          SIGKILL the node (docker: container kill); it stays down
    restart:NODE@T       stop the node (if running) and start it again; returns once ready
    pause:NODE@T+D       SIGSTOP the node's processes (docker: cgroup freezer) for D, then resume
    partition:NODE@T+D   cut the node off clients and peers for D, then heal

    T := SECONDS | STAGE | STAGE+SECONDS      seconds since the target's load began
    D := SECONDS                              SECONDS := NUMBER [s | ms | m]

``STAGE`` is a stage name of the profile (``kill:postgres-1@plateau`` = at the plateau's
start).  NODE is a node name as ``bench status`` shows it (``postgres-1``, ``cassandra-2``,
``redis-3``) or a symbolic one (``bench.faults.nodes``): ``cassandra-any``,
``redis-cluster-master-any``, ``redis-cluster-master-2``, ``redis-cluster-replica-any``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bench.errors import UsageError
from bench.faults import nodes as node_names
from workloads.profile import FAULT_KINDS, WINDOWED_FAULTS, Profile, ProfileFault

_SECONDS_RE = re.compile(r"^(?P<num>[0-9]*\.?[0-9]+)(?P<unit>ms|s|m)?$")

#: fault kinds each launcher can carry out (``reference``/``external``: none)
LAUNCHER_FAULTS: dict[str, tuple[str, ...]] = {
    "native": FAULT_KINDS,
    "docker": FAULT_KINDS,
    "external": (),
    "reference": (),
}


@dataclass(frozen=True)
class FaultSpec:
    """One fault to inject, times in seconds since the target's load began."""

    kind: str
    node: str  # as given (may be symbolic)
    target: str
    at_s: float
    duration_s: float | None = None
    source: str = "cli"  # "cli" | "profile"
    text: str = ""

    @property
    def end_s(self) -> float:
        return self.at_s + (self.duration_s or 0.0)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "node": self.node, "target": self.target,
                "planned_at_s": round(self.at_s, 3),
                "planned_duration_s": None if self.duration_s is None else round(self.duration_s, 3),
                "source": self.source, "spec": self.text}  # fmt: skip


def _seconds(text: str, what: str, spec: str) -> float:
    m = _SECONDS_RE.match(text)
    if not m:
        raise UsageError(f"bad --fault {spec!r}: {what} {text!r} is not a time like 30, 30s, 500ms, 2m")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[m.group("unit")]
    return float(m.group("num")) * scale


def _time(text: str, profile: Profile, spec: str) -> float:
    stage_starts: dict[str, float] = {}
    t = 0.0
    for stage in profile.stages:
        stage_starts.setdefault(stage.name, t)
        t += stage.duration_s
    base, plus, offset = text.partition("+")
    if base in stage_starts:
        return stage_starts[base] + (_seconds(offset, "offset", spec) if plus else 0.0)
    if plus:
        raise UsageError(
            f"bad --fault {spec!r}: {base!r} is not a stage of profile {profile.name} "
            f"(stages: {', '.join(stage_starts)})"
        )
    if _SECONDS_RE.match(base):
        return _seconds(base, "time", spec)
    raise UsageError(
        f"bad --fault {spec!r}: time {base!r} is neither seconds nor a stage of profile "
        f"{profile.name} (stages: {', '.join(stage_starts)})"
    )


def parse_fault(text: str, profile: Profile) -> FaultSpec:
    """One ``--fault`` term (syntax only; ``validate`` checks it against the run)."""
    spec = text.strip()
    kind, colon, rest = spec.partition(":")
    if not colon or kind not in FAULT_KINDS:
        raise UsageError(
            f"bad --fault {text!r}: expected KIND:NODE@T with KIND one of {', '.join(FAULT_KINDS)} "
            "(e.g. kill:postgres-1@30, pause:cassandra-2@plateau+5+10)"
        )
    node, at, when = rest.rpartition("@")
    if not at or not node:
        raise UsageError(f"bad --fault {text!r}: expected {kind}:NODE@T")
    duration: float | None = None
    if kind in WINDOWED_FAULTS:
        when, plus, dur = when.rpartition("+")
        if not plus or not when:
            raise UsageError(f"bad --fault {text!r}: {kind} needs a duration: {kind}:NODE@T+D")
        duration = _seconds(dur, "duration", text)
        if duration <= 0:
            raise UsageError(f"bad --fault {text!r}: duration must be > 0")
    at_s = _time(when, profile, text)
    target = node_names.target_of(node)
    if target is None:
        raise UsageError(
            f"bad --fault {text!r}: unknown node {node!r}; nodes look like "
            + ", ".join(node_names.EXAMPLES)
        )
    return FaultSpec(kind, node, target, at_s, duration, "cli", spec)


def from_profile(fault: ProfileFault) -> FaultSpec:
    target = node_names.target_of(fault.node)
    text = f"{fault.kind}:{fault.node}@{fault.at_s:g}" + (
        f"+{fault.duration_s:g}" if fault.duration_s is not None else ""
    )
    if target is None:
        raise UsageError(
            f"profile fault {text!r}: unknown node {fault.node!r}; nodes look like "
            + ", ".join(node_names.EXAMPLES)
        )
    return FaultSpec(fault.kind, fault.node, target, fault.at_s, fault.duration_s, "profile", text)


def plan(
    cli_terms: tuple[str, ...] | list[str],
    profile: Profile,
    *,
    targets: list[str],
    launcher: str,
    node_counts: dict[str, int] | None = None,
    partition_unavailable: str | None = None,
) -> dict[str, list[FaultSpec]]:
    """Every fault of the run, per target, validated. ``--fault`` terms naming a target that
    is not in the run are an error; profile faults for targets not in the run are skipped
    (a scenario profile names all three). ``partition_unavailable``: why the native launcher
    cannot partition on this machine (None = it can)."""
    cli = [parse_fault(t, profile) for t in cli_terms]
    from_prof = [from_profile(f) for f in profile.faults]
    out: dict[str, list[FaultSpec]] = {t: [] for t in targets}
    for f in cli:
        if f.target not in targets:
            raise UsageError(
                f"bad --fault {f.text!r}: {f.node} belongs to {f.target}, which is not a target "
                f"of this run ({', '.join(targets)})"
            )
    for f in [*from_prof, *cli]:
        if f.target not in targets:
            continue
        label = f"--fault {f.text!r}" if f.source == "cli" else f"profile {profile.name}: fault {f.text!r}"
        supported = LAUNCHER_FAULTS.get(launcher, ())
        if f.kind not in supported:
            can = ", ".join(supported) if supported else "none"
            raise UsageError(f"{label}: the {launcher} launcher cannot {f.kind} a node (it can: {can})")
        if f.kind == "partition" and launcher == "native" and partition_unavailable:
            raise UsageError(f"{label}: the native launcher cannot partition here: {partition_unavailable}")
        count = (node_counts or {}).get(f.target)
        problem = node_names.check(f.node, f.target, count)
        if problem:
            raise UsageError(f"{label}: {problem}")
        if f.at_s >= profile.duration_s or f.end_s > profile.duration_s:
            raise UsageError(
                f"{label}: at {f.at_s:g} s" + (f" to {f.end_s:g} s" if f.duration_s else "")
                + f" is beyond the end of profile {profile.name} ({profile.duration_s:g} s)"
            )
        out[f.target].append(f)
    for faults in out.values():
        faults.sort(key=lambda f: f.at_s)
    return out
