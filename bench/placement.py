"""Where the load generator and the datastores run: CPU placement, resolved once per run.

Rules (``bench run --cpuset`` / ``--generator-cpuset``):

* neither given → ``shared``: nothing pinned, everyone may use every CPU of the machine;
* one given → ``disjoint``: the other side gets the machine's remaining CPUs (all of them if
  none remain), so the generator is never starved by datastore processes on its cores;
* both given → ``explicit``, as given (they may overlap).

The datastores' CPUs are always passed to the launcher explicitly (``taskset`` / Docker
``cpuset_cpus``) when anything is pinned: a process inherits its parent's affinity, so a
pinned generator would otherwise squeeze every datastore it launches onto its own cores.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from bench.osutil import machine_cpus, parse_cpuset, validate_cpuset


def cpu_list(cpus: set[int] | list[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


@dataclass(frozen=True)
class Placement:
    policy: str  # shared | disjoint | explicit
    machine: tuple[int, ...]
    generator: tuple[int, ...]
    datastores: tuple[int, ...]

    @property
    def datastore_cpuset(self) -> str | None:
        """What the launcher pins each target to (None: not pinned)."""
        return None if self.policy == "shared" else cpu_list(list(self.datastores))

    @property
    def generator_cpuset(self) -> str | None:
        return None if self.policy == "shared" else cpu_list(list(self.generator))

    def apply_to_generator(self) -> None:
        """Pin this process (and the Locust workers it will spawn) to the generator's CPUs."""
        if self.policy != "shared":
            os.sched_setaffinity(0, set(self.generator))

    def describe(self) -> str:
        if self.policy == "shared":
            return (f"placement: shared — generator and datastores share all "
                    f"{len(self.machine)} CPU(s) {cpu_list(list(self.machine))}")
        return (f"placement: {self.policy} — generator on {len(self.generator)} CPU(s) "
                f"[{cpu_list(list(self.generator))}], each datastore on {len(self.datastores)} "
                f"CPU(s) [{cpu_list(list(self.datastores))}] of {len(self.machine)}")

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "machine_cpus": list(self.machine),
            "generator_cpus": list(self.generator),
            "datastore_cpus": list(self.datastores),
        }


def resolve(cpuset: str | None, generator_cpuset: str | None) -> Placement:
    """The run's placement from the two options (UsageError for CPUs the machine lacks)."""
    validate_cpuset(cpuset)
    validate_cpuset(generator_cpuset)
    machine = machine_cpus()
    if not cpuset and not generator_cpuset:
        all_cpus = tuple(sorted(machine))
        return Placement("shared", all_cpus, all_cpus, all_cpus)
    if cpuset and generator_cpuset:
        return Placement("explicit", tuple(sorted(machine)),
                         tuple(sorted(parse_cpuset(generator_cpuset))),
                         tuple(sorted(parse_cpuset(cpuset))))
    given = parse_cpuset(cpuset or generator_cpuset or "")
    rest = (machine - given) or machine
    gen, stores = (rest, given) if cpuset else (given, rest)
    return Placement("disjoint", tuple(sorted(machine)), tuple(sorted(gen)), tuple(sorted(stores)))
