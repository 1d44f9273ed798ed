"""The layering of docs/ARCHITECTURE.md, checked on every import statement (also the lazy ones
inside functions): cli → orchestrator → {launchers, engine, results} → reports; stores never
import launchers or the engine and never time themselves; launchers never import stores;
reports read stored results only; the engine never starts or stops datastores; the registry,
results and OS helpers are leaves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bench", "targets", "workloads", "reports")

#: module prefix → prefixes it must never import.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # commands parse, call the orchestration layer and print; Topology (launchers.base) is the
    # data they print
    "bench.commands": ("bench.launchers.native", "bench.launchers.docker", "bench.launchers.auto",
                       "bench.launchers.external", "bench.launchers.reference", "targets",
                       "bench.engine."),
    "bench.launchers": ("targets", "bench.engine", "bench.orchestrator", "bench.lifecycle",
                        "bench.commands", "reports", "workloads"),
    "bench.engine": ("bench.launchers", "bench.lifecycle", "bench.orchestrator",
                     "bench.commands", "bench.state", "reports"),
    "targets": ("bench.launchers", "bench.engine", "bench.orchestrator", "bench.lifecycle",
                "bench.commands", "reports", "workloads"),
    "reports": ("bench.launchers", "bench.engine", "bench.orchestrator", "bench.lifecycle",
                "bench.commands", "targets", "workloads.loader"),
    "workloads": ("bench.launchers", "bench.engine", "bench.orchestrator", "bench.lifecycle",
                  "bench.commands", "reports"),
}
#: Leaves: cartbench modules they may import (nothing else of cartbench).
LEAVES: dict[str, tuple[str, ...]] = {
    "bench.registry": ("bench.errors",),
    "bench.results": ("bench.errors",),
    "bench.osutil": ("bench.errors",),
    "bench.errors": (),
    "bench.paths": (),
}


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the package
                base = name.split(".")[: -node.level + (1 if path.name == "__init__.py" else 0)
                                        or None]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{a.name}" for a in node.names)
    return {m for m in out if m.split(".")[0] in PACKAGES}


def _under(module: str, prefix: str) -> bool:
    if prefix.endswith("."):
        return module.startswith(prefix)
    return module == prefix or module.startswith(prefix + ".")


MODULES = _modules()


def test_the_walk_sees_the_tree() -> None:
    assert {"bench.cli", "bench.registry", "targets.postgres", "reports.render"} <= set(MODULES)
    assert "bench.launchers.docker.specs" in _imports("bench.launchers.docker.launcher",
                                                      MODULES["bench.launchers.docker.launcher"])


@pytest.mark.parametrize("layer", list(FORBIDDEN))
def test_layer_never_imports_what_it_must_not(layer: str) -> None:
    bad = []
    for name, path in MODULES.items():
        if not _under(name, layer):
            continue
        for imported in _imports(name, path):
            bad += [f"{name} imports {imported}" for p in FORBIDDEN[layer] if _under(imported, p)]
    assert not bad, "\n".join(sorted(set(bad)))


@pytest.mark.parametrize("leaf", list(LEAVES))
def test_leaves_import_nothing_of_cartbench(leaf: str) -> None:
    imported = {m for m in _imports(leaf, MODULES[leaf]) if not _under(m, leaf)}
    allowed = LEAVES[leaf]
    assert {m for m in imported if not any(_under(m, a) for a in allowed)} == set()


def test_cli_imports_commands_lazily_only() -> None:
    assert _imports("bench.cli", MODULES["bench.cli"]) <= {"bench", "bench.__version__",
                                                           "bench.errors", "bench.errors.EXIT_INTERRUPTED",
                                                           "bench.errors.CartbenchError",
                                                           "bench.errors.Interrupted"}


@pytest.mark.parametrize("store", [n for n in MODULES if n.startswith("targets.")])
def test_stores_never_time_themselves(store: str) -> None:
    text = MODULES[store].read_text()
    assert "perf_counter" not in text, f"{store} times itself; the engine's timing does"
