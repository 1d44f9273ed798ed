"""``choose_launcher``: docker only when an engine answers and the images are available."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.launchers.auto import choose_launcher
from bench.launchers.docker.specs import OFFLINE_IMAGES

pytestmark = pytest.mark.docker


def test_docker_when_images_present(docker_client: Any) -> None:
    name, reason = choose_launcher(OFFLINE_IMAGES)
    assert name == "docker" and "present" in reason


def test_native_when_an_image_is_unavailable(docker_client: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARTBENCH_IMAGES", raising=False)
    name, reason = choose_launcher({**OFFLINE_IMAGES, "postgres": "cartbench/none:0"})
    assert name == "native" and "cartbench/none:0" in reason


def test_native_when_no_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    name, reason = choose_launcher(OFFLINE_IMAGES)
    assert name == "native" and "setup/start-dockerd.sh" in reason
