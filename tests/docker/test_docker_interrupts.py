"""Ctrl-C / SIGTERM in the middle of ``up`` leave zero containers, networks and volumes; bad
input fails with one-line errors; ``cleanup_leftovers`` removes what crashed runs left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench.errors import InfraError
from bench.launchers.base import TargetSpec
from bench.launchers.docker import DockerLauncher, cleanup_leftovers, engine
from bench.launchers.docker.specs import LABEL_RUN, OFFLINE_IMAGES

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]
BENCH = Path(sys.executable).parent / "bench"

SCRIPT = """
import signal, sys
from pathlib import Path
from bench.errors import Interrupted
from bench.launchers.base import TargetSpec
from bench.launchers.docker import DockerLauncher
from bench.launchers.docker.specs import OFFLINE_IMAGES

def on_term(signum, frame):
    raise Interrupted("SIGTERM")

signal.signal(signal.SIGTERM, on_term)
DockerLauncher(images=OFFLINE_IMAGES, pull=False).up(
    TargetSpec(target="redis-cluster", run_id=sys.argv[1], base_dir=Path(sys.argv[2])))
print("UP-FINISHED", flush=True)
"""


def _first_container_run(client: Any, target: str, before: set[str], timeout: float) -> str:
    """Wait until a new container of ``target`` exists; return its run id label."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for c in client.api.containers(all=True, filters={"label": f"cartbench.target={target}"}):
            if c["Id"] not in before:
                return str(c["Labels"][LABEL_RUN])
        time.sleep(0.05)
    pytest.fail(f"no {target} container appeared within {timeout} s")


def _existing(client: Any) -> set[str]:
    return {c["Id"] for c in client.api.containers(all=True)}


def test_sigint_during_bench_up_leaves_nothing(docker_client: Any, tmp_path: Path,
                                               leftovers: Any) -> None:
    before = _existing(docker_client)
    env = {**os.environ, "CARTBENCH_STATE": str(tmp_path / "state"), "CARTBENCH_IMAGES": "offline"}
    proc = subprocess.Popen(
        [str(BENCH), "up", "--launcher", "docker", "--target", "redis-cluster"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        run = _first_container_run(docker_client, "redis-cluster", before, timeout=60)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "Traceback" not in out
    assert leftovers(run) == [], out


def test_sigterm_during_up_leaves_nothing(docker_client: Any, tmp_path: Path, run_id: str,
                                          leftovers: Any) -> None:
    before = _existing(docker_client)
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, run_id, str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert _first_container_run(docker_client, "redis-cluster", before, 60) == run_id
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "UP-FINISHED" not in out
    assert proc.returncode != 0
    assert leftovers(run_id) == [], out


def test_missing_image_names_the_build_script(docker_client: Any, tmp_path: Path, run_id: str,
                                              leftovers: Any) -> None:
    launcher = DockerLauncher(images={"postgres": "cartbench/does-not-exist:1"})
    with pytest.raises(InfraError) as err:
        launcher.up(TargetSpec(target="postgres", run_id=run_id, base_dir=tmp_path))
    assert "setup/build-images.sh" in str(err.value) and err.value.exit_code == 3
    assert leftovers(run_id) == []


def test_cleanup_leftovers_removes_crashed_runs(docker_client: Any, run_id: str,
                                                leftovers: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTBENCH_STATE", str(tmp_path))
    labels = engine.labels(run_id, "redis-cluster")
    other = engine.labels(run_id + "o", "postgres")
    other["cartbench.state"] = str(tmp_path / "another-session")
    docker_client.networks.create(f"cartbench-{run_id}-other", labels=other)
    docker_client.networks.create(f"cartbench-{run_id}-x", labels=labels)
    volume = docker_client.volumes.create(f"cartbench-{run_id}-x", labels=labels)
    docker_client.containers.run(
        OFFLINE_IMAGES["redis"], ["sleep", "300"], detach=True, labels=labels,
        name=f"cartbench-{run_id}-x", volumes={volume.name: {"bind": "/data", "mode": "rw"}},
    )
    assert len(leftovers(run_id)) == 3
    # this state directory's runs only: another session's objects survive
    removed = cleanup_leftovers()
    assert f"container cartbench-{run_id}-x" in removed
    assert leftovers(run_id) == []
    assert leftovers(run_id + "o") == [f"network cartbench-{run_id}-other"]
    assert cleanup_leftovers(runs=[run_id + "o"]) == [f"network cartbench-{run_id}-other"]
    assert leftovers(run_id + "o") == []


def test_unreachable_engine_says_how_to_start_one(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no.sock"}
    code = (
        "from pathlib import Path\n"
        "from bench.launchers.base import TargetSpec\n"
        "from bench.launchers.docker import DockerLauncher\n"
        "from bench.errors import InfraError\n"
        "try:\n"
        "    DockerLauncher().up(TargetSpec(target='postgres', run_id='x', base_dir=Path('/tmp')))\n"
        "except InfraError as e:\n"
        "    print(e.exit_code, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.startswith("3 no Docker engine answers") and "setup/start-dockerd.sh" in out
