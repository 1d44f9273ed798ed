"""The load profile as data: stages of *offered* operations per second over time.

A ``Profile`` is immutable.  ``rate_at(t)`` and ``stage_at(t)`` are pure functions of the
elapsed time ``t`` (seconds since the target's load began), in the spirit of Locust's
``LoadTestShape.tick()``: the scheduler asks them, tests drive them with a fake clock.

Stage kinds:

``hold``   constant ``rate`` for ``duration_s``
``step``   same as hold, named for an instantaneous jump from the previous rate
``ramp``   linear from ``rate_start`` (default: the previous stage's end rate) to ``rate_end``
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

OPERATIONS: tuple[str, ...] = (
    "browse",
    "add_item",
    "remove_item",
    "set_quantity",
    "view_cart",
    "checkout",
)
"""Every operation the engine can issue, in report order."""

STAGE_KINDS = ("hold", "step", "ramp")
FAULT_KINDS = ("kill", "restart", "pause", "partition")
#: fault kinds that last a while (``duration_s``) and are healed at its end
WINDOWED_FAULTS = ("pause", "partition")
ARRIVALS = ("poisson", "uniform")
SKU_DISTRIBUTIONS = ("zipf", "uniform", "hot-set")


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    kind: str
    duration_s: float
    rate_start: float
    rate_end: float
    warmup: bool = False
    """A warm-up stage: offered like any other, recorded in the HDR logs and the time series,
    but kept out of the target's totals, operations and verdicts (reported as ``warmup``)."""

    def rate_at(self, dt: float) -> float:
        """Offered rate ``dt`` seconds into this stage."""
        if self.kind != "ramp" or self.duration_s <= 0:
            return self.rate_start
        frac = min(max(dt / self.duration_s, 0.0), 1.0)
        return self.rate_start + (self.rate_end - self.rate_start) * frac

    @property
    def peak(self) -> float:
        return max(self.rate_start, self.rate_end)

    @property
    def expected_ops(self) -> float:
        return (self.rate_start + self.rate_end) / 2.0 * self.duration_s


@dataclass(frozen=True, slots=True)
class SkuDistribution:
    """How SKUs are drawn: ``zipf`` (exponent ``s``), ``uniform``, or ``hot-set`` (a fraction
    ``hot_fraction`` of draws goes to the first ``hot_skus`` SKUs of the catalog)."""

    kind: str = "zipf"
    s: float = 1.0
    hot_skus: int = 0
    hot_fraction: float = 0.0

    def to_json(self) -> dict[str, Any]:
        if self.kind == "zipf":
            return {"distribution": "zipf", "s": self.s}
        if self.kind == "hot-set":
            return {
                "distribution": "hot-set",
                "hot_skus": self.hot_skus,
                "hot_fraction": self.hot_fraction,
            }
        return {"distribution": self.kind}


@dataclass(frozen=True, slots=True)
class CatalogSpec:
    """Catalog size and initial stock; hot SKUs may get their own (scarce) stock."""

    products: int = 10_000
    stock: int = 1_000
    hot_stock: int | None = None


@dataclass(frozen=True, slots=True)
class ProfileFault:
    """A fault the profile schedules, as data: ``kind`` on ``node`` at ``at_s`` seconds into
    the load (already resolved from ``stage`` + offset), lasting ``duration_s`` (pause and
    partition only).  Node names are checked against the launcher by ``bench.faults``."""

    kind: str
    node: str
    at_s: float
    duration_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "node": self.node, "at_s": round(self.at_s, 3),
                "duration_s": None if self.duration_s is None else round(self.duration_s, 3)}


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    stages: tuple[Stage, ...]
    mix: dict[str, float]
    sku: SkuDistribution = field(default_factory=SkuDistribution)
    carts: int = 5_000
    catalog: CatalogSpec = field(default_factory=CatalogSpec)
    arrival: str = "poisson"
    source: str = "builtin"
    scale: float = 1.0
    #: faults as data (``[[faults]]`` in the TOML); times follow ``stretched``
    faults: tuple[ProfileFault, ...] = ()
    #: settings the scenario needs recorded/applied, e.g. redis cluster_node_timeout_ms
    target_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.stages)

    @property
    def peak_rate(self) -> float:
        return max((s.peak for s in self.stages), default=0.0)

    @property
    def expected_ops(self) -> float:
        return sum(s.expected_ops for s in self.stages)

    @property
    def warmup_s(self) -> float:
        return sum(s.duration_s for s in self.stages if s.warmup)

    def stage_index_at(self, t: float) -> int:
        """Index of the stage active at ``t``; the last stage for ``t`` past the end."""
        start = 0.0
        for i, stage in enumerate(self.stages):
            if t < start + stage.duration_s:
                return i
            start += stage.duration_s
        return len(self.stages) - 1

    def stage_start(self, index: int) -> float:
        return sum(s.duration_s for s in self.stages[:index])

    def stage_at(self, t: float) -> Stage:
        return self.stages[self.stage_index_at(t)]

    def rate_at(self, t: float) -> float:
        """Offered operations per second at elapsed time ``t``; 0 outside ``[0, duration)``."""
        if t < 0 or t >= self.duration_s:
            return 0.0
        i = self.stage_index_at(t)
        return self.stages[i].rate_at(t - self.stage_start(i))

    def scaled(self, factor: float) -> Profile:
        """Every rate multiplied by ``factor``."""
        stages = tuple(
            replace(s, rate_start=s.rate_start * factor, rate_end=s.rate_end * factor)
            for s in self.stages
        )
        return replace(self, stages=stages, scale=self.scale * factor)

    def stretched(self, total_s: float) -> Profile:
        """Stage durations stretched or compressed proportionally to sum to ``total_s``."""
        factor = total_s / self.duration_s
        stages = tuple(replace(s, duration_s=s.duration_s * factor) for s in self.stages)
        faults = tuple(
            replace(f, at_s=f.at_s * factor,
                    duration_s=None if f.duration_s is None else f.duration_s * factor)
            for f in self.faults
        )  # fmt: skip
        return replace(self, stages=stages, faults=faults)

    def divided(self, parts: int) -> Profile:
        """The share one of ``parts`` generator processes offers (rates / parts)."""
        stages = tuple(
            replace(s, rate_start=s.rate_start / parts, rate_end=s.rate_end / parts)
            for s in self.stages
        )
        return replace(self, stages=stages)

    def stage_table(self) -> list[dict[str, Any]]:
        """Stages with absolute start/end times, as in ``results.json`` ``targets.<t>.stages``."""
        rows: list[dict[str, Any]] = []
        start = 0.0
        for s in self.stages:
            rows.append(
                {
                    "name": s.name,
                    "kind": s.kind,
                    "start_s": round(start, 3),
                    "end_s": round(start + s.duration_s, 3),
                    "rate_start": round(s.rate_start, 3),
                    "rate_end": round(s.rate_end, 3),
                    **({"warmup": True} if s.warmup else {}),
                }
            )
            start += s.duration_s
        return rows

    def to_json(self) -> dict[str, Any]:
        """The profile as recorded in ``results.json`` ``run.profile`` (the lead adds ``seed``)."""
        return {
            "name": self.name,
            "source": self.source,
            "description": self.description,
            "stages": self.stage_table(),
            "mix": dict(self.mix),
            "sku": self.sku.to_json(),
            "carts": self.carts,
            "catalog": {
                "products": self.catalog.products,
                "stock": self.catalog.stock,
                "hot_stock": self.catalog.hot_stock,
            },
            "scale": self.scale,
            "duration_s": round(self.duration_s, 3),
            "peak_rate": round(self.peak_rate, 3),
            "arrival": self.arrival,
            **({"faults": [f.to_json() for f in self.faults]} if self.faults else {}),
            **({"target_options": self.target_options} if self.target_options else {}),
        }


def is_finite_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def profile_to_dict(p: Profile) -> dict[str, Any]:
    """Lossless plain-data form (for sending a profile to worker processes)."""
    return asdict(p)


def profile_from_dict(d: dict[str, Any]) -> Profile:
    return Profile(
        name=d["name"],
        description=d["description"],
        stages=tuple(Stage(**s) for s in d["stages"]),
        mix=dict(d["mix"]),
        sku=SkuDistribution(**d["sku"]),
        carts=d["carts"],
        catalog=CatalogSpec(**d["catalog"]),
        arrival=d["arrival"],
        source=d["source"],
        scale=d["scale"],
        faults=tuple(ProfileFault(**f) for f in d.get("faults", ())),
        target_options={k: dict(v) for k, v in d.get("target_options", {}).items()},
    )
