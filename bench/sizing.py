"""``--workers auto``: how many generator processes a run needs, from measured cost.

A generator process is one Python interpreter: it can use one core, and the saturation
detector flags it above 90 % of one.  The processes a target needs follow from the measured
generator CPU per cart operation of that target's driver (``tests/benchmarks/
bench_driver_cost.py``, docs/BENCHMARKS.md "Generator cost per cart operation") times the
profile's peak rate, keeping each process at most ``BUDGET`` of a core; they are capped by the
CPUs the generator may use (its placement).  When the cap bites, the run says so before the
load starts and records it (``run.generator.sizing``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Generator CPU µs per cart operation at the holiday-rush plateau, measured with
#: ``bench_driver_cost.py`` on the project's 2-core machine (upper ends of the measured
#: ranges: figures move with machine load).  Unknown targets use ``DEFAULT_US_PER_OP``.
US_PER_OP: dict[str, float] = {
    "reference": 40.0,
    "postgres": 250.0,
    "redis-cluster": 300.0,
    "cassandra": 1000.0,
}
DEFAULT_US_PER_OP = 1000.0
#: Share of one core a generator process is planned to use (the detector flags > 90 %).
BUDGET = 0.7


@dataclass(frozen=True)
class Sizing:
    target: str
    us_per_op: float
    peak_rate: float
    needed_cores: float
    available_cores: int
    workers: int  # 0 = load generated in the main process

    @property
    def processes(self) -> int:
        return max(1, self.workers)

    @property
    def short(self) -> bool:
        return self.needed_cores > self.available_cores * BUDGET + 1e-9

    def warning(self) -> str | None:
        if not self.short:
            return None
        scale = self.available_cores * BUDGET / self.needed_cores
        return (
            f"generator: {self.target} needs ~{self.needed_cores:.1f} cores at "
            f"{self.peak_rate:.0f} ops/s ({self.us_per_op:.0f} µs CPU/op), the generator has "
            f"{self.available_cores}: expect generator_saturated; use --scale {scale:.2f}, "
            "--remote-workers with `bench worker` on other machines, or a larger machine"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "us_per_op": self.us_per_op,
            "peak_rate": self.peak_rate,
            "needed_cores": round(self.needed_cores, 2),
            "available_cores": self.available_cores,
            "workers": self.workers,
            "short": self.short,
            "warning": self.warning(),
        }


def size(target: str, peak_rate: float, generator_cpus: int) -> Sizing:
    us = US_PER_OP.get(target, DEFAULT_US_PER_OP)
    cores = peak_rate * us / 1e6  # CPU the load needs, in cores
    processes = min(max(1, math.ceil(cores / BUDGET - 1e-9)), max(1, generator_cpus))
    return Sizing(target, us, peak_rate, cores, max(1, generator_cpus),
                  0 if processes == 1 else processes)


def parse_workers(value: str) -> int | None:
    """``auto`` → None; an integer ≥ 0 → itself."""
    from bench.errors import UsageError

    if value.strip().lower() == "auto":
        return None
    try:
        n = int(value)
    except ValueError:
        raise UsageError(f"--workers must be 'auto' or a number >= 0, got {value!r}") from None
    if n < 0:
        raise UsageError(f"--workers must be >= 0, got {n}")
    return n
