"""The endpoints file: validated with precise messages; fault operations refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import UsageError
from bench.launchers import get_launcher
from bench.launchers.base import Node, TargetSpec, Topology
from bench.launchers.external import ExternalLauncher

GOOD = """
[postgres]
dsn = "host=127.0.0.1 port=5433 user=u password=p"

[cassandra]
contact_points = ["10.0.0.1", "10.0.0.2"]
local_dc = "dc1"
keyspace = "bench_ks"
replication = { class = "NetworkTopologyStrategy", dc1 = 3 }
consistency = "local_quorum"

[redis-cluster]
startup_nodes = ["10.0.0.5:7000", "10.0.0.6"]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "endpoints.toml"
    p.write_text(text)
    return p


def test_parses_each_section(tmp_path: Path) -> None:
    launcher = get_launcher("external", endpoints_file=write(tmp_path, GOOD))
    assert isinstance(launcher, ExternalLauncher)
    pg = launcher.endpoints_for("postgres")
    assert (pg["host"], pg["port"], pg["dbname"]) == ("127.0.0.1", 5433, "cartbench")
    assert "dbname=cartbench" in pg["dsn"]
    cass = launcher.endpoints_for("cassandra")
    assert cass["keyspace"] == "bench_ks" and cass["replication_factor"] == 3
    assert cass["consistency"] == "LOCAL_QUORUM" and cass["port"] == 9042
    redis = launcher.endpoints_for("redis-cluster")
    assert redis["startup_nodes"] == [["10.0.0.5", 7000], ["10.0.0.6", 6379]]
    assert redis["key_prefix"] == "cartbench:"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[mysql]\nx = 1\n", "unknown section"),
        ("[postgres]\n", "needs dsn"),
        ('[postgres]\ndsn = "host=a port=x=y"\n', "bad port"),
        ('[postgres]\ndsn = "host=a \'unterminated"\n', "not a valid libpq"),
        ("[cassandra]\ncontact_points = []\n", "contact_points"),
        ('[cassandra]\ncontact_points = ["a"]\nkeyspace = "a b"\n', "keyspace"),
        ('[cassandra]\ncontact_points = ["a"]\nconsistency = "MOST"\n', "consistency"),
        ('[cassandra]\ncontact_points = ["a"]\nreplication = { class = "Other" }\n', "replication"),
        ('[redis-cluster]\nstartup_nodes = ["a:b"]\n', "bad port"),
        ("not toml = = \n", "not valid TOML"),
    ],
)
def test_bad_files_are_usage_errors(tmp_path: Path, text: str, message: str) -> None:
    launcher = None
    with pytest.raises(UsageError) as err:
        launcher = ExternalLauncher(write(tmp_path, text))
        for target in ("postgres", "cassandra", "redis-cluster"):
            if target in launcher.data:
                launcher.endpoints_for(target)
    assert message in str(err.value) and err.value.exit_code == 2


def test_missing_file_and_section(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        ExternalLauncher(tmp_path / "nope.toml")
    launcher = ExternalLauncher(write(tmp_path, '[postgres]\ndsn = "host=x"\n'))
    with pytest.raises(UsageError, match=r"no \[cassandra\] section"):
        launcher.up(TargetSpec(target="cassandra", run_id="r", base_dir=tmp_path))
    with pytest.raises(UsageError, match="needs --endpoints"):
        ExternalLauncher().up(TargetSpec(target="postgres", run_id="r", base_dir=tmp_path))


def test_faults_are_refused_and_down_touches_nothing(tmp_path: Path) -> None:
    topo = Topology(target="postgres", launcher="external", run_id="r",
                    nodes=[Node("postgres-1", "h", 1, "primary")], endpoints={}, version="15",
                    settings={}, resources={}, time_to_ready_s=0, started_at="", base_dir="")
    launcher = ExternalLauncher()
    launcher.down(topo)
    for op in (launcher.kill_node, launcher.pause_node, launcher.resume_node, launcher.restart_node):
        with pytest.raises(UsageError, match="not supported with external endpoints") as err:
            op(topo, "postgres-1")
        assert err.value.exit_code == 2
