"""Docker integration tests: a running engine (setup/start-dockerd.sh) and the offline images
(setup/build-images.sh, built here when missing).  Every test asserts zero leftovers by label."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.errors import InfraError
from bench.launchers.docker import DockerLauncher, engine
from bench.launchers.docker.specs import OFFLINE_IMAGES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    try:
        client = engine.connect()
    except InfraError:
        subprocess.run([str(ROOT / "setup/start-dockerd.sh")], check=True, timeout=120)
        client = engine.connect()
    if not all(engine.image_present(client, i) for i in OFFLINE_IMAGES.values()):
        subprocess.run([str(ROOT / "setup/build-images.sh")], check=True, timeout=1800)
    yield client
    client.close()


@pytest.fixture
def launcher(docker_client: Any) -> DockerLauncher:
    return DockerLauncher(images=OFFLINE_IMAGES, pull=False)


@pytest.fixture
def run_id() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def leftovers(docker_client: Any) -> Callable[[str], list[str]]:
    """``leftovers(run_id)``: containers/networks/volumes still labelled with the run."""

    def find(run_id: str) -> list[str]:
        return engine.leftovers(docker_client, f"cartbench.run={run_id}")

    return find
