"""ExternalLauncher against servers the native launcher started, addressed only through an
endpoints file: versions read from the servers, nothing stopped by ``down``, faults refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.errors import UsageError
from bench.launchers.base import TargetSpec, Topology
from bench.launchers.external import ExternalLauncher
from bench.launchers.native import NativeLauncher

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Topology]]:
    base = tmp_path_factory.mktemp("native")
    launcher = NativeLauncher()
    started: dict[str, Topology] = {}
    try:
        for target in ("postgres", "redis-cluster"):
            started[target] = launcher.up(TargetSpec(target=target, run_id="ext",
                                                     base_dir=base / target))
        yield started
    finally:
        for topo in started.values():
            launcher.down(topo)


def test_external_endpoints_reach_native_servers(native: dict[str, Topology],
                                                 tmp_path: Path) -> None:
    import psycopg
    import redis

    pg = native["postgres"].endpoints
    nodes = ", ".join(f'"{h}:{p}"' for h, p in native["redis-cluster"].endpoints["startup_nodes"][:2])
    file = tmp_path / "endpoints.toml"
    file.write_text(
        f'[postgres]\ndsn = "host={pg["host"]} port={pg["port"]} user={pg["user"]} '
        f'password={pg["password"]} dbname={pg["dbname"]}"\n\n'
        f'[redis-cluster]\nstartup_nodes = [{nodes}]\nkey_prefix = "ext:"\n'
    )
    launcher = ExternalLauncher(file)
    topo = launcher.up(TargetSpec(target="postgres", run_id="x", base_dir=tmp_path))
    assert topo.launcher == "external" and topo.version == native["postgres"].version
    assert topo.settings["synchronous_commit"] == "on"
    with psycopg.connect(topo.endpoints["dsn"]) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("cartbench",)

    rtopo = launcher.up(TargetSpec(target="redis-cluster", run_id="x", base_dir=tmp_path))
    assert rtopo.version == native["redis-cluster"].version
    assert sorted(n.role for n in rtopo.nodes) == ["master"] * 3 + ["replica"] * 3
    assert rtopo.endpoints["key_prefix"] == "ext:"

    with pytest.raises(UsageError, match="not supported with external endpoints"):
        launcher.kill_node(rtopo, rtopo.nodes[0].name)
    launcher.down(topo)
    launcher.down(rtopo)
    # the user's servers are untouched
    host, port = native["redis-cluster"].endpoints["startup_nodes"][0]
    assert redis.Redis(host=host, port=port).ping()
    with psycopg.connect(topo.endpoints["dsn"]) as conn:
        conn.execute("SELECT 1")


def test_unreachable_external_endpoint_is_infra_error(tmp_path: Path) -> None:
    from bench.errors import InfraError
    from bench.osutil import free_port

    file = tmp_path / "endpoints.toml"
    file.write_text(f'[postgres]\ndsn = "host=127.0.0.1 port={free_port()} user=u connect_timeout=2"\n')
    with pytest.raises(InfraError, match="cannot reach the external endpoints"):
        ExternalLauncher(file).up(TargetSpec(target="postgres", run_id="x", base_dir=tmp_path))
