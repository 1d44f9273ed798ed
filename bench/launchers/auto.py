"""``--launcher auto``: Docker when an engine answers and every image is present or pullable,
otherwise the native launcher.  The decision and its reason are recorded by the caller.
"""

from __future__ import annotations

from typing import Any

from bench.errors import InfraError
from bench.launchers.docker import engine
from bench.launchers.docker.specs import OFFLINE_IMAGES, env_image_overrides, resolve_images


def _pullable(client: Any, name: str) -> bool:
    """Ask the registry for the manifest (no download)."""
    try:
        client.images.get_registry_data(name)
    except Exception:  # docker raises APIError/NotFound/DockerException for "no registry"
        return False
    return True


def choose_launcher(images: dict[str, str] | None = None,
                    connect_timeout: int = 5) -> tuple[str, str]:
    """``("docker"|"native", reason)`` for the given image overrides (``None`` = defaults)."""
    wanted = resolve_images(images)
    try:
        client = engine.connect(timeout=connect_timeout)
    except InfraError:
        return "native", "no Docker engine answers (start one with setup/start-dockerd.sh)"
    try:
        missing = [name for name in sorted(set(wanted.values()))
                   if not engine.image_present(client, name)]
        unavailable = [name for name in missing if not _pullable(client, name)]
    finally:
        client.close()
    if not unavailable:
        how = "present" if not missing else f"present or pullable ({', '.join(missing)} to pull)"
        return "docker", f"Docker engine answers and the images are {how}"
    hint = ""
    if unavailable and images is None:
        hint = ("; the offline images can be built with setup/build-images.sh and chosen with "
                + " ".join(f"--image {k}={v}" for k, v in OFFLINE_IMAGES.items()))
    return "native", f"image(s) {', '.join(unavailable)} neither present nor pullable{hint}"


def docker_images(images: dict[str, str] | None,
                  connect_timeout: int = 5) -> tuple[dict[str, str] | None, str]:
    """The images ``--launcher docker`` uses, and a note when they are not what was asked.

    With no ``--image`` (and no ``CARTBENCH_IMAGES``): the official images when each is present
    or pullable; otherwise, when every offline image of ``setup/build-images.sh`` exists, those
    (the note says so).  Anything else is left to the launcher, whose error names the fix."""
    if images or env_image_overrides():
        return images, ""
    try:
        client = engine.connect(timeout=connect_timeout)
    except InfraError:
        return images, ""  # DockerLauncher.up says how to start an engine
    try:
        unavailable = [name for name in sorted(set(resolve_images(None).values()))
                       if not engine.image_present(client, name) and not _pullable(client, name)]
        offline_ok = all(engine.image_present(client, name) for name in OFFLINE_IMAGES.values())
    finally:
        client.close()
    if unavailable and offline_ok:
        return dict(OFFLINE_IMAGES), (
            f"official image(s) {', '.join(unavailable)} neither present nor pullable: using "
            "the offline images of setup/build-images.sh (" + ", ".join(OFFLINE_IMAGES.values())
            + ")")
    return images, ""
