"""PostgreSQL 15 (Debian's apt package) as one local primary.

Loopback only, a free port, its own data directory, password (SCRAM) authentication with a
generated password, run as the ``postgres`` OS user when invoked as root (initdb refuses root).
The postmaster is a direct child in its own session (``pg_ctl`` daemonizes and can leave a
zombie when PID 1 does not reap); it is stopped with SIGINT (fast shutdown).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import osutil
from bench.errors import InfraError
from bench.launchers.base import Node, ProgressFn, TargetSpec, Topology
from bench.launchers.config.postgres import DBNAME, USER, server_settings
from bench.paths import SETUP_COMMAND
from bench.results import utc_iso

PG_BIN_DIRS = (
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
)


def find_bin(name: str) -> str:
    found = osutil.which(name, PG_BIN_DIRS)
    if not found:
        raise InfraError(f"PostgreSQL binary {name!r} not found; run {SETUP_COMMAND}")
    return found


def _run_as() -> tuple[str | None, int | None, int | None]:
    """(user, uid, gid) to run the server as: ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return None, None, None
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        raise InfraError(
            f"running as root but there is no 'postgres' OS user; run {SETUP_COMMAND}"
        ) from None
    return "postgres", pw.pw_uid, pw.pw_gid


def _data_root(spec: TargetSpec, uid: int | None) -> Path:
    """The run's postgres directory. As root, the state dir usually lives in /root (mode 700)
    which the postgres user cannot enter, so the data goes to /var/tmp/cartbench-<run>."""
    if uid is None:
        return spec.base_dir / "postgres"
    return Path("/var/tmp") / f"cartbench-{spec.run_id}" / "postgres"


def _version(postgres_bin: str) -> str:
    out = subprocess.run([postgres_bin, "--version"], capture_output=True, text=True, check=False)
    # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    parts = out.stdout.split()
    return parts[2] if len(parts) >= 3 else out.stdout.strip()


def up(spec: TargetSpec, progress: ProgressFn) -> Topology:
    t0 = time.monotonic()
    initdb = find_bin("initdb")
    postgres = find_bin("postgres")
    user, uid, gid = _run_as()
    root = _data_root(spec, uid)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    datadir = root / "data"
    log_path = root / "postgres.log"
    password = secrets.token_urlsafe(18)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if uid is not None and gid is not None:
        for p in (root.parent, root, pwfile):
            os.chown(p, uid, gid)
        os.chmod(root.parent, 0o755)
    os.chmod(pwfile, 0o600)

    progress("postgres: initdb")
    res = subprocess.run(
        [
            initdb,
            "-N",
            "-D",
            str(datadir),
            "-U",
            USER,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        capture_output=True,
        text=True,
        user=user,
        group=user,
        check=False,
    )
    pwfile.unlink()
    if res.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        tail = " | ".join((res.stderr or res.stdout).strip().splitlines()[-3:])
        raise InfraError(f"postgres: initdb failed: {tail}")

    port = osutil.free_port(start=int(spec.options.get("port", 15432)))
    settings = server_settings(spec, port)
    argv = [postgres, "-D", str(datadir)]
    for key, value in settings.items():
        argv += ["-c", f"{key}={value}"]

    node = Node(
        name="postgres-1",
        host="127.0.0.1",
        port=port,
        role="primary",
        data_dir=str(datadir),
        log_path=str(log_path),
    )
    node.extra = {"argv": argv, "user": user, "stop_signal": int(signal.SIGINT), "cwd": str(root)}
    dsn = f"host=127.0.0.1 port={port} user={USER} password={password} dbname={DBNAME} connect_timeout=5"
    endpoints: dict[str, Any] = {
        "dsn": dsn,
        "host": "127.0.0.1",
        "port": port,
        "user": USER,
        "password": password,
        "dbname": DBNAME,
    }
    topo = Topology(
        target="postgres",
        launcher="native",
        run_id=spec.run_id,
        nodes=[node],
        endpoints=endpoints,
        version=_version(postgres),
        settings=settings,
        resources={"cpuset": spec.cpuset},
        time_to_ready_s=0.0,
        started_at=utc_iso(),
        base_dir=str(root),
        durability=spec.durability,
        extra={"cleanup_dirs": [str(root.parent)], "os_user": user},
    )
    try:
        progress(f"postgres: starting on 127.0.0.1:{port}")
        proc = osutil.spawn(argv, log_path, user=user, cpuset=spec.cpuset, cwd=root)
        node.pid = proc.pid
        _create_database(topo, node, proc)
        topo.version = _server_version(endpoints) or topo.version
    except BaseException:
        osutil.stop_group(node.pid, signal.SIGINT)
        osutil.kill_under(root)
        shutil.rmtree(root.parent, ignore_errors=True)
        raise
    topo.time_to_ready_s = round(time.monotonic() - t0, 3)
    progress(f"postgres: ready in {topo.time_to_ready_s:.1f} s")
    return topo


def _connect(endpoints: dict[str, Any], dbname: str) -> Any:
    import psycopg

    return psycopg.connect(
        host=endpoints["host"],
        port=endpoints["port"],
        user=endpoints["user"],
        password=endpoints["password"],
        dbname=dbname,
        connect_timeout=3,
        autocommit=True,
    )


def _create_database(topo: Topology, node: Node, proc: subprocess.Popen[bytes]) -> None:
    def can_connect() -> bool:
        with _connect(topo.endpoints, "postgres") as conn:
            conn.execute("SELECT 1")
        return True

    osutil.wait_until(
        can_connect,
        timeout=60,
        what="postgres to accept connections",
        alive=lambda: proc.poll() is None,
        on_dead=lambda: f"postgres exited during start-up: {osutil.log_tail(node.log_path)}",
    )
    with _connect(topo.endpoints, "postgres") as conn:
        conn.execute(f"CREATE DATABASE {DBNAME}")
    wait_node_ready(topo, node)


def _server_version(endpoints: dict[str, Any]) -> str | None:
    with _connect(endpoints, endpoints["dbname"]) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else None


def wait_node_ready(topology: Topology, node: Node) -> None:
    """Ready = accepts an authenticated query on the benchmark database."""

    def ready() -> bool:
        with _connect(topology.endpoints, topology.endpoints["dbname"]) as conn:
            conn.execute("SELECT 1")
        return True

    osutil.wait_until(
        ready,
        timeout=60,
        what="postgres to accept an authenticated query",
        alive=lambda: osutil.pid_alive(node.pid),
        on_dead=lambda: f"postgres exited: {osutil.log_tail(node.log_path)}",
    )
