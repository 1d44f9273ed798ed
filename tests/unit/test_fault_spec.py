"""``--fault`` parsing and validation: every problem is one line, exit 2, before anything starts."""

from __future__ import annotations

import pytest

from bench.errors import UsageError
from bench.faults import nodes, spec
from bench.launchers.base import Node, Topology
from workloads import parse_profile

PROFILE = parse_profile(
    {"name": "t", "mix": {"browse": 1.0},
     "stages": [{"name": "warm", "duration_s": 10, "rate": 10},
                {"name": "plateau", "duration_s": 30, "rate": 20}]},
    label="t.toml",
)  # fmt: skip
ALL = ["postgres", "cassandra", "redis-cluster"]


def _plan(*terms: str, launcher: str = "native", targets: list[str] | None = None,
          partition_unavailable: str | None = None) -> dict[str, list[spec.FaultSpec]]:
    return spec.plan(terms, PROFILE, targets=targets or ALL, launcher=launcher,
                     node_counts={"cassandra": 3, "redis-cluster": 6},
                     partition_unavailable=partition_unavailable)


def test_each_kind_parses() -> None:
    out = _plan("kill:postgres-1@12", "restart:postgres-1@plateau+20s", "pause:cassandra-2@5+3",
                "partition:redis-cluster-master-any@plateau+1+500ms")
    pg = out["postgres"]
    assert [(f.kind, f.at_s, f.duration_s) for f in pg] == [("kill", 12.0, None), ("restart", 30.0, None)]
    [c] = out["cassandra"]
    assert (c.kind, c.node, c.at_s, c.duration_s) == ("pause", "cassandra-2", 5.0, 3.0)
    [r] = out["redis-cluster"]
    assert (r.at_s, r.duration_s, r.target) == (11.0, 0.5, "redis-cluster")


@pytest.mark.parametrize(("term", "fragment"), [
    ("explode:postgres-1@3", "KIND one of kill, restart, pause, partition"),
    ("kill:postgres-1", "expected kill:NODE@T"),
    ("pause:postgres-1@3", "needs a duration"),
    ("kill:postgres-1@soon", "neither seconds nor a stage"),
    ("kill:postgres-1@warmup+3", "not a stage of profile t"),
    ("pause:postgres-1@3+x", "is not a time"),
    ("kill:mongo-1@3", "unknown node 'mongo-1'"),
    ("kill:cassandra-4@3", "cassandra has 3 nodes"),
    ("kill:redis-cluster-master-4@3", "redis-cluster has 3 masters"),
    ("kill:postgres-1@40", "beyond the end of profile t (40 s)"),
    ("pause:postgres-1@35+10", "to 45 s is beyond the end"),
])
def test_bad_terms(term: str, fragment: str) -> None:
    with pytest.raises(UsageError) as exc:
        _plan(term)
    assert fragment in exc.value.message and "\n" not in exc.value.message


def test_launcher_that_cannot_and_targets_not_in_the_run() -> None:
    with pytest.raises(UsageError, match="external launcher cannot kill"):
        _plan("kill:postgres-1@3", launcher="external")
    with pytest.raises(UsageError, match="cannot partition here: no iptables"):
        _plan("partition:postgres-1@3+1", partition_unavailable="no iptables")
    with pytest.raises(UsageError, match="not a target of this run"):
        _plan("kill:cassandra-1@3", targets=["postgres"])


def test_profile_faults_follow_stretch_and_skip_absent_targets() -> None:
    prof = parse_profile(
        {"name": "f", "mix": {"browse": 1.0},
         "stages": [{"name": "warm", "duration_s": 10, "rate": 10},
                    {"name": "plateau", "duration_s": 30, "rate": 20}],
         "faults": [{"kind": "kill", "node": "postgres-1", "stage": "plateau"},
                    {"kind": "pause", "node": "cassandra-any", "at_s": 12, "duration_s": 4}]},
        label="f.toml")  # fmt: skip
    assert [(f.at_s, f.duration_s) for f in prof.faults] == [(10.0, None), (12.0, 4.0)]
    half = prof.stretched(20)
    assert [(f.at_s, f.duration_s) for f in half.faults] == [(5.0, None), (6.0, 2.0)]
    out = spec.plan((), half, targets=["postgres"], launcher="native")
    assert [(f.kind, f.source) for f in out["postgres"]] == [("kill", "profile")]
    with pytest.raises(UsageError, match="reference launcher cannot kill"):
        spec.plan((), half, targets=["postgres"], launcher="reference")


@pytest.mark.parametrize(("fault", "fragment"), [
    ({"kind": "nap", "node": "postgres-1"}, "faults[0].kind"),
    ({"kind": "kill"}, "faults[0].node"),
    ({"kind": "kill", "node": "postgres-1", "duration_s": 3}, "not a field of a kill fault"),
    ({"kind": "pause", "node": "postgres-1", "at_s": 1}, "faults[0].duration_s"),
    ({"kind": "kill", "node": "postgres-1", "stage": "nope"}, "no stage 'nope'"),
    ({"kind": "pause", "node": "postgres-1", "at_s": 8, "duration_s": 5}, "after the profile's end"),
])
def test_profile_fault_errors(fault: dict[str, object], fragment: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse_profile({"name": "f", "mix": {"browse": 1.0}, "stages": [{"duration_s": 10, "rate": 1}],
                       "faults": [fault]}, label="f.toml")
    assert fragment in exc.value.message


def _topo() -> Topology:
    ns = [Node(f"redis-{i}", "127.0.0.1", 30000 + i, "master" if i <= 3 else "replica") for i in range(1, 7)]
    return Topology("redis-cluster", "native", "r", ns, {}, "7", {}, {}, 0.0, "", "/tmp")


def test_symbolic_names_resolve_on_current_roles() -> None:
    topo = _topo()
    assert nodes.resolve("redis-2", topo, seed=1).name == "redis-2"
    assert nodes.resolve("redis-cluster-2", topo, seed=1).name == "redis-2"
    assert nodes.resolve("redis-cluster-master-3", topo, seed=1).name == "redis-3"
    assert nodes.resolve("redis-cluster-master-any", topo, seed=1).role == "master"
    # roles as the cluster sees them now: redis-4 was promoted
    now = {"redis-1": "replica", "redis-4": "master"}
    picked = nodes.resolve("redis-cluster-master-1", topo, seed=1, roles=lambda t: now)
    assert picked.name == "redis-4"
    a = nodes.resolve("redis-cluster-any", topo, seed=7).name
    assert a == nodes.resolve("redis-cluster-any", topo, seed=7).name  # seeded, reproducible
