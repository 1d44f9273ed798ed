"""Process plumbing for the native launcher: spawn in a new session, stop whole groups,
find free ports, poll with deadlines, show log tails.

Processes outlive ``bench up`` (``bench down`` runs from another shell), so liveness is read
from ``/proc`` and a zombie counts as gone: PID 1 on minimal machines may never reap it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.errors import InfraError


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(
    host: str = "127.0.0.1", start: int | None = None, avoid: set[int] | None = None
) -> int:
    """A free TCP port on ``host``: the first free one from ``start`` upwards, or any."""
    avoid = avoid or set()
    if start is not None:
        for port in range(start, min(start + 2000, 65535)):
            if port not in avoid and port_is_free(host, port):
                return port
        raise InfraError(f"no free TCP port on {host} in {start}..{start + 2000}")
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port not in avoid:
            return port
    raise InfraError(f"no free TCP port on {host}")


def cpuset_prefix(cpuset: str | None) -> list[str]:
    """``taskset -c CPUS`` so the process and all its threads/children stay on those CPUs."""
    if not cpuset:
        return []
    return ["taskset", "-c", cpuset]


def parse_cpuset(cpuset: str) -> set[int]:
    """``"0,2-3"`` → ``{0, 2, 3}``; UsageError on anything else."""
    from bench.errors import UsageError

    cpus: set[int] = set()
    try:
        for part in cpuset.split(","):
            if "-" in part:
                lo, hi = part.split("-", 1)
                cpus.update(range(int(lo), int(hi) + 1))
            else:
                cpus.add(int(part))
    except ValueError:
        raise UsageError(f"invalid --cpuset {cpuset!r}; expected a CPU list like '1' or '0-1'") from None
    return cpus


def _cgroup_cpus() -> set[int] | None:
    for path in ("/sys/fs/cgroup/cpuset.cpus.effective",
                 "/sys/fs/cgroup/cpuset/cpuset.effective_cpus",
                 "/sys/fs/cgroup/cpuset/cpuset.cpus"):  # fmt: skip
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text:
            try:
                return parse_cpuset(text)
            except Exception:
                return None
    return None


def machine_cpus() -> set[int]:
    """The CPUs this machine lets cartbench's processes use: the cgroup's cpuset (or every CPU),
    *not* this process's affinity — pinning the generator (``--generator-cpuset``) must not
    shrink what the datastores it launches may be given (``taskset`` sets theirs explicitly)."""
    everything = set(range(os.cpu_count() or 1))
    cgroup = _cgroup_cpus()
    cpus = (cgroup & everything) if cgroup else everything
    return cpus or set(os.sched_getaffinity(0))


def validate_cpuset(cpuset: str | None) -> None:
    """The CPUs must exist and be usable by cartbench (``machine_cpus``)."""
    from bench.errors import UsageError

    if not cpuset:
        return
    available = machine_cpus()
    missing = sorted(parse_cpuset(cpuset) - available)
    if missing:
        raise UsageError(
            f"--cpuset {cpuset!r} names CPUs {missing} that this machine does not have "
            f"(available: {sorted(available)})"
        )


def spawn(
    argv: Sequence[str],
    log_path: Path,
    *,
    user: str | None = None,
    cpuset: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session (so its whole group can be signalled) with output
    appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full = [*cpuset_prefix(cpuset), *argv]
    with open(log_path, "ab") as log:
        try:
            return subprocess.Popen(
                full,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=user,
                env=env,
                cwd=cwd,
            )
        except FileNotFoundError as exc:
            raise InfraError(f"cannot start {full[0]}: {exc.strerror}") from None


def proc_state(pid: int) -> str | None:
    """The /proc state letter (R, S, T, Z, ...) or None if the process does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name is in parentheses and may contain spaces
    return stat.rsplit(")", 1)[1].split()[0]


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    state = proc_state(pid)
    return state is not None and state not in ("Z", "X")


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            continue
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def reap(pid: int) -> None:
    """Collect a child's exit status if it is ours and has exited (never blocks)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_group(pgid: int | None, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Signal the whole process group, wait for it, escalate to SIGKILL. Idempotent."""
    if not pgid:
        return
    if not group_members(pgid):
        reap(pgid)
        return
    signal_group(pgid, signal.SIGCONT)  # a paused group cannot shut down
    signal_group(pgid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap(pgid)
        if not group_members(pgid):
            return
        time.sleep(0.05)
    signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        reap(pgid)
        if not group_members(pgid):
            return
        time.sleep(0.05)
    raise InfraError(f"process group {pgid} survived SIGKILL")


def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    alive: Callable[[], bool] | None = None,
    on_dead: Callable[[], str] | None = None,
) -> None:
    """Poll ``predicate`` until true. Raises InfraError on timeout, or as soon as ``alive()``
    says the process died (with ``on_dead()`` as the message)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:
            pass
        if alive is not None and not alive():
            raise InfraError(on_dead() if on_dead else f"{what}: process exited")
        if time.monotonic() >= deadline:
            raise InfraError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def log_tail(path: Path | str | None, lines: int = 8) -> str:
    if not path:
        return ""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    tail = [ln.strip() for ln in text.strip().splitlines()[-lines:] if ln.strip()]
    return " | ".join(tail)


def which(binary: str, extra_dirs: Sequence[str] = ()) -> str | None:
    import shutil

    for d in extra_dirs:
        candidate = Path(d) / binary
        if candidate.exists():
            return str(candidate)
    return shutil.which(binary)


def processes_under(path: Path | str) -> list[int]:
    """Live processes whose working directory lies under ``path``.

    Every native node runs with its working directory inside the run's data directory, so
    this finds a node even when an interrupt landed between ``fork`` and our bookkeeping.
    Servers rewrite their process titles, so the working directory is the reliable mark.
    """
    root = str(Path(path).resolve())
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        inside = cwd.removesuffix(" (deleted)").startswith(root + "/") or cwd == root
        if inside and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def kill_under(path: Path | str) -> list[int]:
    """SIGKILL every process found by ``processes_under`` (the backstop after a failed start)."""
    victims = processes_under(path)
    for pid in victims:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(pid_alive(p) for p in victims):
        for p in victims:
            reap(p)
        time.sleep(0.05)
    return victims
