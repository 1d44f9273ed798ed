"""compose/*.yml parse and say what the Docker launcher does (same images, ports, settings)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench import registry
from bench.launchers.docker import compose
from bench.launchers.docker.specs import DEFAULT_IMAGES

ROOT = Path(__file__).resolve().parents[2] / "compose"
TARGETS = list(compose.FILES)


def _load(target: str) -> dict:
    return yaml.safe_load((ROOT / compose.FILES[target]).read_text())


def _unescape(value: str) -> str:
    return value.replace("$$", "$")


@pytest.mark.parametrize("target", TARGETS)
def test_file_is_current(target: str) -> None:
    text, files = compose.render_text(target)
    assert (ROOT / compose.FILES[target]).read_text() == text, (
        "compose file is stale: run python -m bench.launchers.docker.compose"
    )
    for rel, content in files.items():
        assert (ROOT / rel).read_text() == content, f"{rel} is stale"


@pytest.mark.parametrize("target", TARGETS)
def test_services_match_launcher_specs(target: str) -> None:
    doc = _load(target)
    assert doc["version"] == "2.4"
    specs = compose.compose_specs(target)
    assert len(specs) == registry.get(target).default_nodes
    for cs in specs:
        svc = doc["services"][cs.node]
        env = compose.env_var(target)
        assert svc["image"] == f"${{{env}:-{DEFAULT_IMAGES[registry.docker_info(target).image_key]}}}"
        assert cs.image == DEFAULT_IMAGES[registry.docker_info(target).image_key]
        argv = [_unescape(a) for a in svc["entrypoint"] + svc["command"]]
        assert argv == cs.command
        assert svc["ports"] == [f"{p.host_ip}:{p.host_port}:{p.container_port}" for p in cs.ports]
        assert all(p.startswith("127.0.0.") for p in svc["ports"]), "loopback only"
        assert svc["networks"]["net"]["ipv4_address"] == cs.ip
        assert svc["stop_signal"] == cs.stop_signal
        for path in cs.files:
            assert any(v.endswith(f":{path}:ro") for v in svc["volumes"])


def test_equal_resources_split_over_nodes() -> None:
    per_target = {}
    for target in TARGETS:
        doc = _load(target)
        nodes = [s for name, s in doc["services"].items() if "cpus" in s]
        per_target[target] = (round(sum(s["cpus"] for s in nodes), 2),
                              sum(s["mem_limit"] for s in nodes))
    assert len(set(per_target.values())) == 1, per_target


def test_settings_come_from_the_native_launcher() -> None:
    pg = " ".join(_load("postgres")["services"]["postgres-1"]["command"])
    for setting in ("max_connections=300", "synchronous_commit=on", "fsync=on"):
        assert setting in pg
    redis = _load("redis-cluster")["services"]["redis-cluster-1"]["command"]
    assert redis[redis.index("--cluster-enabled") + 1] == "yes"
    assert redis[redis.index("--repl-diskless-sync-delay") + 1] == "0"
    create = _load("redis-cluster")["services"]["redis-cluster-create"]["command"][1]
    assert "--cluster-replicas 1" in create
    conf = yaml.safe_load((ROOT / "cassandra/cassandra-2/cassandra.yaml").read_text())
    assert conf["broadcast_rpc_address"] == "127.0.0.2"
    assert conf["listen_address"] == "10.231.203.3"
    assert conf["native_transport_port"] == 29042
    assert conf["num_tokens"] == 1 and conf["auto_bootstrap"] is False
