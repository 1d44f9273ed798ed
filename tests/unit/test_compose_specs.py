"""Docker launcher inputs validated before any engine is touched: resources, images."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import UsageError
from bench.launchers.base import TargetSpec
from bench.launchers.docker.specs import (
    OFFLINE_IMAGES,
    env_image_overrides,
    parse_memory,
    resolve_images,
    resources_for,
)


def spec(**kw: object) -> TargetSpec:
    return TargetSpec(target="cassandra", run_id="t", base_dir=Path("/tmp"), **kw)  # type: ignore[arg-type]


def test_defaults_are_recorded_and_split_evenly() -> None:
    r = resources_for(spec(), 3)
    rec = r.record()
    assert rec["cpus"] == 1.0 and rec["memory"] == "6g"
    assert r.node_memory_bytes == 2 * 1024**3
    assert r.node_nano_cpus == 333_333_333


@pytest.mark.parametrize("memory, expected", [("512m", 512 * 1024**2), ("6g", 6 * 1024**3),
                                              ("1.5GiB", int(1.5 * 1024**3)), ("1024", 1024)])
def test_parse_memory(memory: str, expected: int) -> None:
    assert parse_memory(memory) == expected


@pytest.mark.parametrize("kw", [{"cpus": 0}, {"cpus": -1.0}, {"cpus": 999.0},
                                {"memory": "lots"}, {"memory": "0"}, {"memory": "100m"}])
def test_invalid_resources_are_usage_errors(kw: dict[str, object]) -> None:
    with pytest.raises(UsageError) as err:
        resources_for(spec(**kw), 3)
    assert err.value.exit_code == 2


def test_image_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARTBENCH_IMAGES", raising=False)
    images = resolve_images({"cassandra": "me/cass:1"})
    assert images["cassandra"] == "me/cass:1" and images["postgres"] == "postgres:15"
    with pytest.raises(UsageError):
        resolve_images({"mysql": "mysql:8"})
    assert env_image_overrides("offline") == OFFLINE_IMAGES
    assert env_image_overrides("redis=r:1") == {"redis": "r:1"}
    monkeypatch.setenv("CARTBENCH_IMAGES", "postgres=p:1")
    assert resolve_images(None)["postgres"] == "p:1"
    with pytest.raises(UsageError):
        env_image_overrides("postgres")
