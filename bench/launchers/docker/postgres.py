"""PostgreSQL 15 in one container: the same settings as the native launcher
(``bench.launchers.config.postgres.server_settings``), listening on the run network, published on
127.0.0.1 only.  The command initialises the data directory itself (no entrypoint magic) so the
official ``postgres:15`` and the offline image behave the same.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from bench.launchers.docker.specs import DATA_PATH, ContainerSpec, Plan, PortSpec

if TYPE_CHECKING:
    from bench.launchers.docker.probe import Readiness
from bench.launchers.config.postgres import DBNAME, USER, server_settings

PORT = 5432
PGDATA = f"{DATA_PATH}/pgdata"


def settings(plan: Plan) -> dict[str, str]:
    s = server_settings(plan.spec, PORT)
    s["listen_addresses"] = "*"
    s["unix_socket_directories"] = "/tmp"
    return s


def _script(settings: dict[str, str]) -> str:
    args = " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in settings.items())
    as_pg = "setpriv --reuid=postgres --regid=postgres --init-groups"
    return "\n".join([
        "set -e",
        f"mkdir -p {PGDATA} && chown postgres:postgres {PGDATA} && chmod 700 {PGDATA}",
        f'if [ ! -s {PGDATA}/PG_VERSION ]; then',
        '  printf "%s\\n" "$CARTBENCH_PASSWORD" > /tmp/pwfile && chmod 644 /tmp/pwfile',
        f"  {as_pg} initdb -N -D {PGDATA} -U {USER} --auth=scram-sha-256"
        " --pwfile=/tmp/pwfile -E UTF8 --locale=C.UTF-8 >/dev/null",
        "  rm -f /tmp/pwfile",
        f'  echo "CREATE DATABASE {DBNAME}" | {as_pg} postgres --single -D {PGDATA} postgres >/dev/null',
        f'  echo "host all all all scram-sha-256" >> {PGDATA}/pg_hba.conf',
        "fi",
        f"exec {as_pg} postgres -D {PGDATA} {args}",
    ])


def containers(plan: Plan) -> list[ContainerSpec]:
    return [
        ContainerSpec(
            node="postgres-1",
            role="primary",
            image=plan.image("postgres"),
            command=["/bin/sh", "-c", _script(settings(plan))],
            ip=plan.ip(1),
            ports=[PortSpec(PORT, "127.0.0.1", plan.host_ports[0])],
            environment={"CARTBENCH_PASSWORD": plan.password},
            stop_signal="SIGINT",  # fast shutdown
        )
    ]


def endpoints(plan: Plan, specs: list[ContainerSpec]) -> dict[str, Any]:
    port = plan.host_ports[0]
    return {
        "dsn": f"host=127.0.0.1 port={port} user={USER} password={plan.password} "
        f"dbname={DBNAME} connect_timeout=5",
        "host": "127.0.0.1",
        "port": port,
        "user": USER,
        "password": plan.password,
        "dbname": DBNAME,
    }


def _connect(endpoints: dict[str, Any], dbname: str) -> Any:
    import psycopg

    return psycopg.connect(
        host=endpoints["host"], port=endpoints["port"], user=endpoints["user"],
        password=endpoints["password"], dbname=dbname, connect_timeout=3, autocommit=True,
    )


def create_database(endpoints: dict[str, Any]) -> None:
    """The benchmark database (idempotent: a restarted container keeps its volume)."""
    with _connect(endpoints, "postgres") as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DBNAME,)).fetchone()
        if row is None:
            conn.execute(f"CREATE DATABASE {DBNAME}")


def server_up(endpoints: dict[str, Any]) -> bool:
    with _connect(endpoints, "postgres") as conn:
        conn.execute("SELECT 1")
    return True


def ready_query(endpoints: dict[str, Any]) -> bool:
    """Ready = an authenticated query on the benchmark database answers."""
    with _connect(endpoints, endpoints["dbname"]) as conn:
        conn.execute("SELECT 1")
    return True


def version(endpoints: dict[str, Any]) -> str:
    with _connect(endpoints, endpoints["dbname"]) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "unknown"


def wait_ready(ready: Readiness) -> None:
    """Accepting connections, the benchmark database created (first start), an authenticated
    query answered; records the server version."""
    ep = ready.topo.endpoints
    ready.until(lambda: server_up(ep), "server to accept connections")
    if ready.first_start:
        create_database(ep)
    ready.until(lambda: ready_query(ep), "an authenticated query")
    ready.topo.version = version(ep)
