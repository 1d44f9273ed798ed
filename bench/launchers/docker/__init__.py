"""The Docker launcher: the same three topologies as the native launcher, in containers.

``DockerLauncher`` (lifecycle + faults) lives in ``launcher.py``; container specs as data in
``specs.py`` and the per-target modules; engine plumbing (connect, images, labels, cleanup) in
``engine.py``; ``compose.py`` renders the specs as the hand-runnable ``compose/*.yml``.
"""

from bench.launchers.docker.launcher import DockerLauncher, cleanup_leftovers

__all__ = ["DockerLauncher", "cleanup_leftovers"]
