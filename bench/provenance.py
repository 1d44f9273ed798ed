"""Where and with what a run was produced (asv ``machine.py`` style): host, versions, commit.

Recorded under ``run`` in results.json so a report can be trusted — or distrusted — later.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import __version__

DRIVERS = (
    "locust",
    "psycopg",
    "psycopg-pool",
    "cassandra-driver",
    "redis",
    "hdrhistogram",
    "gevent",
    "docker",
    "plotly",
)


def host_info() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        mem = 0
    os_name = ""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        os_name = platform.system()
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_bytes": mem,
        "os": os_name,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def driver_versions() -> dict[str, str]:
    out = {}
    for dist in DRIVERS:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit() -> str | None:
    """The commit of the cartbench checkout, with ``-dirty`` if it has local changes."""
    here = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("-dirty" if dirty else "")


def run_context() -> dict[str, Any]:
    return {
        "cartbench_version": __version__,
        "git_commit": git_commit(),
        "host": host_info(),
        "drivers": driver_versions(),
        "command": " ".join(["bench", *sys.argv[1:]]),
    }
