"""Docker integration tests: a running engine (setup/start-dockerd.sh) and the offline images
(setup/build-images.sh, built here when missing).  Every test asserts zero leftovers by label."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.launchers.docker import DockerLauncher, engine
from bench.launchers.docker.specs import OFFLINE_IMAGES

ROOT = Path(__file__).resolve().parents[2]


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
