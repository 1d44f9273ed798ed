"""CPU placement of generator vs datastores (bench/placement.py)."""

from __future__ import annotations

import os

import pytest

from bench import placement
from bench.errors import UsageError
from bench.osutil import machine_cpus, validate_cpuset


def test_nothing_given_is_shared_and_pins_nothing() -> None:
    p = placement.resolve(None, None)
    assert p.policy == "shared"
    assert p.datastore_cpuset is None and p.generator_cpuset is None
    assert set(p.generator) == set(p.datastores) == machine_cpus()


@pytest.mark.skipif(len(machine_cpus()) < 2, reason="needs two CPUs")
def test_one_side_given_gives_the_other_the_rest() -> None:
    cpus = sorted(machine_cpus())
    p = placement.resolve(str(cpus[-1]), None)
    assert p.policy == "disjoint"
    assert p.datastores == (cpus[-1],)
    assert set(p.generator) == set(cpus) - {cpus[-1]}
    q = placement.resolve(None, str(cpus[0]))
    assert q.generator == (cpus[0],) and cpus[0] not in q.datastores
    assert q.datastore_cpuset == placement.cpu_list(set(cpus) - {cpus[0]})
    assert "generator on 1 CPU(s)" in q.describe()
    assert q.to_json()["generator_cpus"] == [cpus[0]]


def test_all_cpus_for_one_side_leaves_the_other_everything() -> None:
    everything = placement.cpu_list(machine_cpus())
    p = placement.resolve(everything, None)
    assert set(p.generator) == machine_cpus()


def test_both_given_are_taken_as_given() -> None:
    cpu = str(min(machine_cpus()))
    p = placement.resolve(cpu, cpu)
    assert p.policy == "explicit" and p.generator == p.datastores == (int(cpu),)


@pytest.mark.skipif(len(machine_cpus()) < 2, reason="needs two CPUs")
def test_pinned_generator_does_not_shrink_what_datastores_may_get() -> None:
    """The bug of `--cpuset 1 --generator-cpuset 0`: the generator pinned itself first and the
    datastores' cpuset was then checked against (and inherited) its affinity."""
    cpus = sorted(machine_cpus())
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {cpus[0]})
        validate_cpuset(str(cpus[1]))  # must not raise
        p = placement.resolve(str(cpus[1]), str(cpus[0]))
        assert p.datastore_cpuset == str(cpus[1])
    finally:
        os.sched_setaffinity(0, before)


def test_cpus_the_machine_lacks_are_a_usage_error() -> None:
    with pytest.raises(UsageError, match="does not have"):
        placement.resolve(str(max(machine_cpus()) + 64), None)
