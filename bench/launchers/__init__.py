"""Launchers bring a datastore topology up and down. They know nothing about carts.

``get_launcher(name)`` is the single name → implementation mapping.
"""

from __future__ import annotations

from bench.errors import UsageError
from bench.launchers.base import Launcher

LAUNCHERS = ("native", "docker", "external")


def get_launcher(name: str, **options: object) -> Launcher:
    if name == "native":
        from bench.launchers.native import NativeLauncher

        return NativeLauncher(**options)  # type: ignore[arg-type]
    if name == "docker":
        from bench.launchers.docker import DockerLauncher

        return DockerLauncher(**options)  # type: ignore[arg-type]
    if name == "external":
        from bench.launchers.external import ExternalLauncher

        return ExternalLauncher(**options)  # type: ignore[arg-type]
    raise UsageError(f"unknown launcher {name!r}; choose one of: {', '.join(LAUNCHERS)}")
