"""``bench up / status / down`` through the real CLI, in subprocesses: exit codes, one-line
errors, and no process left behind after ``down``, SIGINT or SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import osutil

pytestmark = pytest.mark.integration
BENCH = [sys.executable, "-m", "bench.cli"]


@pytest.fixture(autouse=True)
def _no_leaks(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Even when a test fails half-way, stop whatever it started."""
    yield
    subprocess.run([*BENCH, "down"], env=_env(tmp_path), capture_output=True, timeout=120)
    for pid in _pids_under(tmp_path):
        osutil.stop_group(os.getpgid(pid), signal.SIGKILL, timeout=10)


def _env(state: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, CARTBENCH_STATE=str(state), COLUMNS="200")
    env.update(extra)
    return env


def _pids_under(path: Path) -> list[int]:
    """Live processes whose command line or working directory is under ``path`` (servers
    rewrite their process titles, so the working directory is the reliable mark)."""
    needle = str(path).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd").encode()
        except OSError:
            continue
        if (
            (needle in cmd or cwd.startswith(needle))
            and osutil.pid_alive(int(entry.name))
            and int(entry.name) != os.getpid()
        ):
            found.append(int(entry.name))
    return found


def test_up_status_down_from_separate_processes(tmp_path: Path) -> None:
    env = _env(tmp_path)
    up = subprocess.run(
        [*BENCH, "up", "--launcher", "native", "--target", "redis-cluster"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert up.returncode == 0, up.stderr
    assert "redis-cluster" in up.stdout and "7." in up.stdout
    assert len(_pids_under(tmp_path)) == 6
    st = subprocess.run([*BENCH, "status"], env=env, capture_output=True, text=True, timeout=60)
    assert "6/6" in st.stdout
    again = subprocess.run(
        [*BENCH, "up", "--launcher", "native", "--target", "redis-cluster"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2 and "already up" in again.stderr
    down = subprocess.run([*BENCH, "down"], env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert _pids_under(tmp_path) == []
    st = subprocess.run([*BENCH, "status"], env=env, capture_output=True, text=True, timeout=60)
    assert "nothing is running" in st.stdout


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["up", "--launcher", "native", "--target", "mysql"], 2, "unknown target 'mysql'"),
        (["up", "--launcher", "native", "--target", "postgres", "--durability", "yolo"], 2, "yolo"),
        (["up", "--launcher", "native", "--target", "postgres", "--cpuset", "99"], 2, "CPUs [99]"),
        (["up", "--launcher", "native", "--target", "postgres", "--cpuset", "x"], 2, "invalid --cpuset"),
        (["up", "--launcher", "native", "--target", "redis-cluster", "--nodes", "3"], 2, "even number of nodes"),
        (["up", "--launcher", "native", "--target", "postgres", "--launcher", "external"], 2, "--endpoints"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], code: int, needle: str
) -> None:
    res = subprocess.run(
        [*BENCH, *args], env=_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert res.returncode == code, res.stderr
    assert needle in res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and sum("error" in ln for ln in lines) == 1, res.stderr
    assert _pids_under(tmp_path) == []


def test_missing_binaries_name_the_setup_command(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    res = subprocess.run(
        [*BENCH, "up", "--launcher", "native", "--target", "redis-cluster"],
        env=_env(tmp_path, PATH=str(empty)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 3
    assert "./bootstrap.sh install" in res.stderr and "Traceback" not in res.stderr


def test_postgres_takes_another_port_when_the_default_is_taken(tmp_path: Path) -> None:
    import socket

    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        blocker.bind(("127.0.0.1", 15432))
        blocker.listen()
    except OSError:
        pass  # someone else holds it already: the point stands either way
    try:
        env = _env(tmp_path)
        up = subprocess.run(
            [*BENCH, "up", "--launcher", "native", "--target", "postgres"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert up.returncode == 0, up.stderr
        assert ":15432" not in up.stdout
    finally:
        blocker.close()
        subprocess.run([*BENCH, "down"], env=env, capture_output=True, text=True, timeout=120)
    assert _pids_under(Path("/var/tmp")) == [] or all(
        str(tmp_path) not in str(p) for p in _pids_under(Path("/var/tmp"))
    )


@pytest.mark.parametrize("after_nodes", [1, 6])  # while spawning; while creating the cluster
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_up_leaves_nothing(tmp_path: Path, sig: int, after_nodes: int) -> None:
    env = _env(tmp_path)
    proc = subprocess.Popen(
        [*BENCH, "up", "--launcher", "native", "--target", "redis-cluster"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_pids_under(tmp_path)) < after_nodes:
        time.sleep(0.02)
    assert _pids_under(tmp_path), "redis nodes never started"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _pids_under(tmp_path):
        time.sleep(0.05)
    assert _pids_under(tmp_path) == []
    st = subprocess.run([*BENCH, "status"], env=env, capture_output=True, text=True, timeout=60)
    assert "nothing is running" in st.stdout
