"""Render the launcher's container specs as hand-runnable compose files (``compose/*.yml``).

    python -m bench.launchers.docker.compose [DIR]     # (re)writes DIR (default ./compose)

The files come from the same ``containers(plan)`` functions the launcher uses, with a fixed plan
(documented ports and subnets, default resources and durability, password ``cartbench``), so
``tests/unit/test_compose_files.py`` can check they are current.  Images default to the official
ones and can be overridden per file with environment variables (e.g.
``CARTBENCH_CASSANDRA_IMAGE=cartbench/cassandra:5.0-offline docker-compose -f compose/cassandra.yml up``).
Files the containers need (Cassandra's yaml/logback) are written next to the compose file and
bind-mounted read-only.  Compose format 2.4: understood by Debian's docker-compose 1.29 and by
Compose v2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bench.launchers.base import TargetSpec
from bench.launchers.docker import cassandra, postgres, redis_cluster
from bench.launchers.docker.specs import (
    DATA_PATH,
    DEFAULT_IMAGES,
    IMAGE_KEYS,
    ContainerSpec,
    Plan,
    resources_for,
)

FILES = {"postgres": "postgres.yml", "redis-cluster": "redis-cluster.yml",
         "cassandra": "cassandra.yml"}
SUBNETS = {"postgres": "10.231.201", "redis-cluster": "10.231.202", "cassandra": "10.231.203"}
NODES = {"postgres": 1, "redis-cluster": 6, "cassandra": 3}
HOST_PORTS = {"postgres": [25432], "redis-cluster": [27001 + i for i in range(6)],
              "cassandra": [29042]}
PASSWORD = "cartbench"
MODULES: dict[str, Any] = {"postgres": postgres, "redis-cluster": redis_cluster,
                           "cassandra": cassandra}


def env_var(target: str) -> str:
    return f"CARTBENCH_{IMAGE_KEYS[target].upper()}_IMAGE"


def compose_plan(target: str) -> Plan:
    spec = TargetSpec(target=target, run_id="compose", base_dir=Path("/nonexistent"),
                      nodes=NODES[target])
    return Plan(spec=spec, images=dict(DEFAULT_IMAGES), subnet_prefix=SUBNETS[target],
                host_ports=HOST_PORTS[target], resources=resources_for(spec, NODES[target]),
                password=PASSWORD)


def compose_specs(target: str) -> list[ContainerSpec]:
    specs: list[ContainerSpec] = MODULES[target].containers(compose_plan(target))
    return specs


def _escape(value: str) -> str:
    return value.replace("$", "$$")  # compose interpolates $VAR


def _file_name(cs: ContainerSpec, path: str) -> str:
    return f"{cs.node}/{Path(path).name}"


def render(target: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(compose document, {relative file path: content}) for ``target``."""
    plan = compose_plan(target)
    specs = compose_specs(target)
    labels = {"cartbench.compose": target, "cartbench.target": target}
    services: dict[str, Any] = {}
    files: dict[str, str] = {}
    volumes: dict[str, Any] = {}
    for cs in specs:
        image_default = cs.image
        service: dict[str, Any] = {
            "image": f"${{{env_var(target)}:-{image_default}}}",
            "hostname": cs.node,
            "entrypoint": [_escape(cs.command[0])],
            "command": [_escape(a) for a in cs.command[1:]],
            "labels": {**labels, "cartbench.node": cs.node},
            "ports": [f"{p.host_ip}:{p.host_port}:{p.container_port}" for p in cs.ports],
            "networks": {"net": {"ipv4_address": cs.ip, "aliases": [cs.node]}},
            "volumes": [f"{cs.node}-data:{DATA_PATH}"],
            "cpus": round(plan.resources.cpus / plan.resources.nodes, 4),
            "mem_limit": plan.resources.node_memory_bytes,
            "memswap_limit": plan.resources.node_memory_bytes,
            "stop_signal": cs.stop_signal,
            "stop_grace_period": f"{cs.stop_timeout}s",
        }
        if cs.user:
            service["user"] = cs.user
        if cs.environment:
            service["environment"] = {k: _escape(v) for k, v in cs.environment.items()}
        for path, content in cs.files.items():
            rel = _file_name(cs, path)
            files[f"{FILES[target].removesuffix('.yml')}/{rel}"] = content
            service["volumes"].append(f"./{FILES[target].removesuffix('.yml')}/{rel}:{path}:ro")
        services[cs.node] = service
        volumes[f"{cs.node}-data"] = {"labels": labels}
    if target == "redis-cluster":
        first = specs[0]
        create = " ".join(redis_cluster.create_command(specs))
        pings = " && ".join(f"redis-cli -h {c.ip} -p {redis_cluster.PORT} ping" for c in specs)
        services["redis-cluster-create"] = {
            "image": f"${{{env_var(target)}:-{first.image}}}",
            "entrypoint": ["/bin/sh"],
            "command": ["-c", f"for i in $$(seq 60); do ({pings}) >/dev/null 2>&1 && break; "
                              f"sleep 1; done; {create}"],
            "labels": {**labels, "cartbench.node": "cluster-create"},
            "networks": {"net": {"ipv4_address": plan.ip(len(specs) + 1)}},
            "depends_on": [c.node for c in specs],
            "restart": "no",
        }
    doc = {
        "version": "2.4",
        "services": services,
        "networks": {"net": {
            "driver": "bridge",
            "labels": labels,
            "ipam": {"config": [{"subnet": f"{plan.subnet_prefix}.0/24",
                                 "gateway": f"{plan.subnet_prefix}.1"}]},
        }},
        "volumes": volumes,
    }
    return doc, files


HEADER = """\
# Generated by `python -m bench.launchers.docker.compose` from the Docker launcher's container
# specs (bench/launchers/docker/) — do not edit by hand; tests/unit/test_compose_files.py checks
# it is current.  Equivalent to `bench up --launcher docker --target {target}` with the default
# resources ({cpus} CPUs, {memory} per target, split evenly over the nodes) and durability, and
# fixed host ports/subnet.  Offline: {env}=cartbench/{key}:...-offline (setup/build-images.sh).
"""


def _dump(doc: dict[str, Any]) -> str:
    """Block style for multi-line strings (shell scripts stay readable), no YAML aliases."""
    import yaml

    class Dumper(yaml.SafeDumper):  # type: ignore[misc]
        def ignore_aliases(self, data: Any) -> bool:
            return True

    def str_presenter(dumper: Any, data: str) -> Any:
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Dumper.add_representer(str, str_presenter)
    return str(yaml.dump(doc, Dumper=Dumper, sort_keys=False, width=100))


def render_text(target: str) -> tuple[str, dict[str, str]]:
    doc, files = render(target)
    plan = compose_plan(target)
    header = HEADER.format(target=target, cpus=plan.resources.cpus, memory=plan.resources.memory,
                           env=env_var(target), key=IMAGE_KEYS[target])
    return header + _dump(doc), files


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for target, name in FILES.items():
        text, files = render_text(target)
        path = directory / name
        path.write_text(text)
        written.append(path)
        for rel, content in files.items():
            fp = directory / rel
            fp.parent.mkdir(parents=True, exist_ok=True)
            fp.write_text(content)
            written.append(fp)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("compose")
    for p in write_all(out):
        print(p)
