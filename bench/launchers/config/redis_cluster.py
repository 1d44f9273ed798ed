"""Redis Cluster node settings, the same for the native and the Docker launcher.

The durability preset's settings (RDB/AOF) come from ``bench.registry``; the Docker launcher
only changes the bind address.
"""

from __future__ import annotations

from bench import registry
from bench.launchers.base import TargetSpec

HOST = "127.0.0.1"


def node_settings(spec: TargetSpec) -> dict[str, str]:
    settings = {
        "cluster-enabled": "yes",
        "cluster-node-timeout": str(spec.options.get("cluster_node_timeout_ms", 5000)),
        "repl-diskless-sync-delay": "0",
        "maxmemory-policy": "noeviction",
        "protected-mode": "no",
        "bind": HOST,
    }
    settings.update(registry.get("redis-cluster").durability[spec.durability].settings)
    return settings
