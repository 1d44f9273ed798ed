"""PostgreSQL server settings, the same for the native and the Docker launcher.

Every setting is passed on the command line and recorded in the topology; the durability
preset's WAL settings come from ``bench.registry``.
"""

from __future__ import annotations

from bench import registry
from bench.launchers.base import TargetSpec

USER = "cartbench"
DBNAME = "cartbench"


def server_settings(spec: TargetSpec, port: int) -> dict[str, str]:
    """Every setting we pass on the command line (recorded in the topology)."""
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": "",
        "max_connections": str(spec.max_connections),
        "shared_buffers": str(spec.options.get("shared_buffers", "1GB")),
        "effective_cache_size": "4GB",
        "max_wal_size": "2GB",
        "checkpoint_timeout": "15min",
        "password_encryption": "scram-sha-256",
        "logging_collector": "off",
        "log_min_messages": "warning",
    }
    settings.update(registry.get("postgres").durability[spec.durability].settings)
    return settings
