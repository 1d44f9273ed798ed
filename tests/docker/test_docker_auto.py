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


def test_docker_without_image_falls_back_to_the_offline_images(
        docker_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """After setup/build-images.sh on a machine without a registry, ``--launcher docker``
    with no ``--image`` uses the offline images and says so."""
    from bench.launchers.docker import engine
    from bench.lifecycle import select_launcher

    monkeypatch.delenv("CARTBENCH_IMAGES", raising=False)
    official = {"postgres:15", "cassandra:5.0", "redis:7.0"}
    if any(engine.image_present(docker_client, i) for i in official):
        pytest.skip("an official image is present: nothing to fall back from")
    launcher, reason = select_launcher("docker", None, None, ["postgres"])
    assert launcher.name == "docker"
    assert launcher.images == OFFLINE_IMAGES  # type: ignore[attr-defined]
    assert "offline images" in reason and "setup/build-images.sh" in reason
    # an explicit --image is never second-guessed
    launcher, reason = select_launcher("docker", None, {"redis": "x:1"}, ["postgres"])
    assert launcher.images["redis"] == "x:1" and reason == "--launcher docker"  # type: ignore[attr-defined]
