"""Walk ``bench.registry``: every entry resolves to a real store class and real launcher
modules offering the functions their launcher calls, and every per-target table the code uses is
derived from the registry (so adding a target is one store module, its launcher modules and one
entry)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from bench import registry
from bench.errors import UsageError
from targets.base import CartStore

#: What each launcher kind calls on a target's module.
LAUNCHER_API = {
    "native": ("up", "wait_node_ready"),
    "docker": ("containers", "endpoints", "settings", "wait_ready"),
    "reference": ("ReferenceLauncher",),
}


@pytest.mark.parametrize("name", list(registry.TARGETS))
def test_entry_resolves(name: str) -> None:
    entry = registry.get(name)
    assert entry.name == name and entry.architecture
    module, _, cls_name = entry.store.partition(":")
    cls = getattr(importlib.import_module(module), cls_name)
    assert inspect.isclass(cls)
    for method in ("prepare", "browse", "add_item", "remove_item", "set_quantity", "view_cart",
                   "checkout",
                   "snapshot", "settings", "close"):
        assert callable(getattr(cls, method, None)), f"{cls_name} lacks {method}"
    assert set(entry.durability) == set(registry.DURABILITY_PRESETS)
    assert entry.launchers, f"{name} has no launcher"
    for kind, path in entry.launchers.items():
        mod = importlib.import_module(path)
        for fn in LAUNCHER_API[kind]:
            assert callable(getattr(mod, fn, None)), f"{path} lacks {fn}()"
    assert set(entry.faults) <= set(registry.FAULTS)


def test_open_store_builds_the_registered_class() -> None:
    from targets import open_store
    from targets.reference import ReferenceStore

    store: CartStore = open_store("reference", {})
    assert isinstance(store, ReferenceStore)
    with pytest.raises(UsageError, match="unknown target 'nope'"):
        open_store("nope", {})


def test_docker_tables_are_the_registry() -> None:
    from bench.launchers.docker import compose, specs

    docker = registry.with_docker()
    assert set(compose.FILES) == set(docker)
    assert set(specs.DEFAULT_IMAGES) == {t.docker.image_key for t in docker.values() if t.docker}
    assert set(specs.OFFLINE_IMAGES) == set(specs.DEFAULT_IMAGES)
    for name, t in docker.items():
        assert t.docker is not None
        assert len(t.docker.compose_ports) in (1, t.default_nodes)
        assert specs.resolve_images({name: "x:1"})[t.docker.image_key] == "x:1"


def test_expand_and_node_rules() -> None:
    assert registry.expand("all") == list(registry.BENCHMARK_TARGETS)
    assert "reference" not in registry.BENCHMARK_TARGETS
    assert registry.expand("reference", allow_reference=True) == ["reference"]
    with pytest.raises(UsageError):
        registry.expand("reference")
    assert registry.get("redis-cluster").node_count(None) == 6
    with pytest.raises(UsageError, match="single primary"):
        registry.get("postgres").node_count(3)
    with pytest.raises(UsageError, match="at least 3"):
        registry.get("redis-cluster").node_count(2)


def test_durability_store_options() -> None:
    assert registry.get("redis-cluster").store_options_for("strict") == {"wait_replicas": 1}
    assert registry.get("redis-cluster").store_options_for("default") == {}
    assert registry.get("postgres").durability_keys == (
        "fsync", "synchronous_commit", "full_page_writes")
