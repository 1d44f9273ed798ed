"""Where cartbench keeps caches, state and results (XDG-aware, overridable by env)."""

from __future__ import annotations

import os
from pathlib import Path

SETUP_COMMAND = "./bootstrap.sh install"


def cache_dir() -> Path:
    """Downloaded artefacts (Cassandra jars). ``CARTBENCH_CACHE`` overrides."""
    env = os.environ.get("CARTBENCH_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cartbench"


def state_dir() -> Path:
    """Running topologies (one JSON file each) and their data dirs. ``CARTBENCH_STATE`` overrides."""
    env = os.environ.get("CARTBENCH_STATE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cartbench"


def cassandra_lib_dir() -> Path:
    """The classpath directory resolved by ``setup/cassandra.pom.xml``."""
    env = os.environ.get("CARTBENCH_CASSANDRA_LIB")
    if env:
        return Path(env)
    return cache_dir() / "cassandra" / "lib"
