"""Session-wide fixtures: each real target is started once per test session (by the native
launcher, in a private state directory) and stopped at the end, asserting nothing is left."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.launchers.base import TargetSpec, Topology


@pytest.fixture(scope="session")
def state_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cartbench-state")
    os.environ["CARTBENCH_STATE"] = str(root)
    return root


def _start(target: str, root: Path, **kw: object) -> Iterator[Topology]:
    from bench import osutil
    from bench.launchers.native import NativeLauncher

    launcher = NativeLauncher()
    spec = TargetSpec(target=target, run_id=f"test-{target}", base_dir=root / target, **kw)  # type: ignore[arg-type]
    topo = launcher.up(spec)
    try:
        yield topo
    finally:
        launcher.down(topo)
        leftovers = [n.name for n in topo.nodes if n.pid and osutil.group_members(n.pid)]
        assert not leftovers, f"{target}: processes left after down: {leftovers}"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """The Docker engine (started by setup/start-dockerd.sh if none answers) with the offline
    images (built by setup/build-images.sh if missing); shared by tests/docker and the contract
    suite's Docker variant."""
    from bench.errors import InfraError
    from bench.launchers.docker import engine
    from bench.launchers.docker.specs import OFFLINE_IMAGES

    root = Path(__file__).resolve().parents[1]
    try:
        client = engine.connect()
    except InfraError:
        subprocess.run([str(root / "setup/start-dockerd.sh")], check=True, timeout=120)
        client = engine.connect()
    if not all(engine.image_present(client, i) for i in OFFLINE_IMAGES.values()):
        subprocess.run([str(root / "setup/build-images.sh")], check=True, timeout=1800)
    yield client
    client.close()


@pytest.fixture(scope="session")
def postgres_topology(state_root: Path) -> Iterator[Topology]:
    yield from _start("postgres", state_root)


@pytest.fixture(scope="session")
def redis_topology(state_root: Path) -> Iterator[Topology]:
    yield from _start("redis-cluster", state_root)


@pytest.fixture(scope="session")
def cassandra_topology(state_root: Path) -> Iterator[Topology]:
    nodes = int(os.environ.get("CARTBENCH_TEST_CASSANDRA_NODES", "3"))
    yield from _start("cassandra", state_root, nodes=nodes)


# With ``CARTBENCH_NO_SKIP=1`` (set by ``.ci/run``), a test that would be skipped fails
# instead: in CI every prerequisite is installed, so a skip means a broken set-up, and a
# skipped acceptance test must never be reported as passing.

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CARTBENCH_NO_SKIP") == "1" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"skipped in CI (CARTBENCH_NO_SKIP=1): {reason}"
