"""``bench.lifecycle`` without datastores: one spec builder for up and run, launcher selection
rules, ``--image`` parsing with CLI-syntax errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import lifecycle
from bench.errors import UsageError


def test_up_and_run_build_the_same_spec() -> None:
    opts = lifecycle.TopologyOptions(nodes=1, durability="strict", in_flight_cap=400)
    up = lifecycle.spec_for("cassandra", "r1", Path("/x"), opts)
    run = lifecycle.spec_for("cassandra", "r1", Path("/x"), opts, all_nodes=False)
    assert up == run and up.max_connections == 450 and up.nodes == 1
    # bench run --nodes is for the targets that say run_nodes in the registry
    assert lifecycle.spec_for("redis-cluster", "r1", Path("/x"), opts, all_nodes=False).nodes is None
    assert lifecycle.spec_for("postgres", "r", Path("/x"), lifecycle.TopologyOptions()
                              ).max_connections == 306


def test_parse_images() -> None:
    assert lifecycle.parse_images(()) is None
    assert lifecycle.parse_images(["redis=r:1"]) == {"redis": "r:1"}
    with pytest.raises(UsageError, match="KEY=NAME:TAG with KEY one of postgres, cassandra, redis"):
        lifecycle.parse_images(["mysql=m:1"])


def test_select_launcher_rules(tmp_path: Path) -> None:
    launcher, reason = lifecycle.select_launcher("docker", None, {"redis": "r:1"}, ["reference"])
    assert launcher.name == "reference" and "in-memory" in reason
    with pytest.raises(UsageError, match="--image is only valid"):
        lifecycle.select_launcher("native", None, {"redis": "r:1"}, ["postgres"])
    with pytest.raises(UsageError, match="needs --endpoints"):
        lifecycle.select_launcher("external", None, None, ["postgres"])
    with pytest.raises(UsageError, match="only valid with --launcher external"):
        lifecycle.select_launcher("native", tmp_path / "e.toml", None, ["postgres"])
    launcher, reason = lifecycle.select_launcher("native", None, None, ["postgres"])
    assert launcher.name == "native" and reason == "--launcher native"


def test_pull_error_suggests_cli_syntax() -> None:
    import inspect

    from bench.launchers.docker import engine

    source = inspect.getsource(engine.ensure_image)
    assert "--image postgres=cartbench/postgres:15-offline" in source
    assert "images={" not in source
