"""Config generation for the native Cassandra launcher: no Cassandra, no JVM needed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bench.errors import InfraError, UsageError
from bench.launchers.base import TargetSpec
from bench.launchers.config import cassandra as cc
from bench.launchers.native import cassandra


def _node(tmp_path: Path, index: int = 1, address: str = "127.0.0.1") -> cc.NodeConfig:
    return cc.NodeConfig(index, address, cc.balanced_tokens(3)[index - 1], 7199, tmp_path / "n1")


# --------------------------------------------------------------------------- tokens


@pytest.mark.parametrize("nodes", [1, 2, 3, 5])
def test_tokens_are_balanced_over_the_murmur3_ring(nodes: int) -> None:
    tokens = cc.balanced_tokens(nodes)
    assert len(tokens) == nodes
    assert tokens[0] == -(2**63)
    assert all(-(2**63) <= t < 2**63 for t in tokens)
    # ownership of each node = gap to the next token (wrapping): equal within rounding
    ring = [*tokens, tokens[0] + 2**64]
    shares = [ring[i + 1] - ring[i] for i in range(nodes)]
    assert max(shares) - min(shares) <= nodes


def test_three_node_tokens_are_the_ccm_values() -> None:
    assert cc.balanced_tokens(3) == [
        -9223372036854775808,
        -3074457345618258603,
        3074457345618258602,
    ]


def test_tokens_reject_zero_nodes() -> None:
    with pytest.raises(ValueError):
        cc.balanced_tokens(0)


# --------------------------------------------------------------------------- yaml


def test_yaml_has_every_node_as_seed_and_its_own_addresses(tmp_path: Path) -> None:
    node = _node(tmp_path, 2, "127.0.0.2")
    seeds = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    y = cc.cassandra_yaml(node, seeds, cc.DURABILITY["default"], cc.Tuning())
    assert y["seed_provider"][0]["parameters"][0]["seeds"] == (
        "127.0.0.1:7000,127.0.0.2:7000,127.0.0.3:7000"
    )
    assert y["listen_address"] == y["rpc_address"] == "127.0.0.2"
    assert y["num_tokens"] == 1
    assert y["initial_token"] == str(cc.balanced_tokens(3)[1])
    assert y["auto_bootstrap"] is False
    assert y["endpoint_snitch"] == "SimpleSnitch"
    assert "crypto_provider" not in y
    for key in ("commitlog_directory", "hints_directory", "saved_caches_directory"):
        assert Path(y[key]).parent == node.node_dir
    assert [Path(p).parent for p in y["data_file_directories"]] == [node.node_dir]


def test_durability_presets_set_commitlog_sync(tmp_path: Path) -> None:
    node = _node(tmp_path)
    default = cc.cassandra_yaml(node, ["127.0.0.1"], cc.DURABILITY["default"], cc.Tuning())
    strict = cc.cassandra_yaml(node, ["127.0.0.1"], cc.DURABILITY["strict"], cc.Tuning())
    assert default["commitlog_sync"] == "periodic"
    assert default["commitlog_sync_period"] == "10000ms"
    assert strict["commitlog_sync"] == "batch"
    assert "commitlog_sync_period" not in strict


def test_durability_presets_cover_the_spec_presets() -> None:
    from bench.registry import DURABILITY_PRESETS

    assert set(cc.DURABILITY) == set(DURABILITY_PRESETS)


def test_settings_record_what_changes_results() -> None:
    s = cc.settings(cc.DURABILITY["strict"], cc.Tuning(), "1G", 1)
    assert s["commitlog_sync"] == "batch"
    assert s["heap"] == "-Xms1G -Xmx1G"
    assert s["num_tokens"] == 1
    assert s["concurrent_reads"] == cc.Tuning().concurrent_reads
    assert s["concurrent_writes"] == cc.Tuning().concurrent_writes
    assert "AllowAllAuthenticator" in s["authenticator"]
    json.dumps(s)  # must be JSON-able for the topology file


def test_rendered_yaml_is_one_json_flow_value_per_key(tmp_path: Path) -> None:
    """Each value is rendered as JSON (a YAML flow subset SnakeYAML reads); parse it back."""
    config = cc.cassandra_yaml(_node(tmp_path), ["127.0.0.1"], cc.DURABILITY["default"], cc.Tuning())
    parsed = {}
    for line in cc.render_yaml(config).splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.partition(": ")
        parsed[key] = json.loads(value)
    assert parsed == config
    # a big negative token must stay a string: SnakeYAML would otherwise read a long
    assert isinstance(parsed["initial_token"], str)


# --------------------------------------------------------------------------- JVM flags


def test_jvm_args_include_the_java17_module_flags_and_main_class(tmp_path: Path) -> None:
    node = _node(tmp_path)
    args = cc.jvm_args(node, "/lib/a.jar:/lib/b.jar", heap="1G", processors=1)
    pairs = {(args[i], args[i + 1]) for i in range(len(args) - 1)}
    assert ("--add-opens", "java.base/java.lang=ALL-UNNAMED") in pairs
    assert ("--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED") in pairs
    assert ("--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED") in pairs
    assert ("-cp", "/lib/a.jar:/lib/b.jar") in pairs
    assert args[-1] == cc.MAIN_CLASS
    for flag in (
        "-Xms1G",
        "-Xmx1G",
        "-Djdk.attach.allowAttachSelf=true",
        "-Dcassandra-foreground=yes",
        "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        "-Dcassandra.superuser_setup_delay_ms=0",
        "-XX:ActiveProcessorCount=1",
        f"-Dcassandra.config=file://{node.yaml_path}",
        f"-Dcassandra.storagedir={node.node_dir}",
        "-Dcassandra.jmx.local.port=7199",
    ):
        assert flag in args


def test_every_add_flag_is_followed_by_a_module_spec() -> None:
    flags = cc.JDK17_MODULE_FLAGS
    assert len(flags) % 2 == 0
    for opt, value in zip(flags[::2], flags[1::2], strict=True):
        assert opt in ("--add-exports", "--add-opens")
        assert value.endswith("=ALL-UNNAMED") and "/" in value


def test_launch_argv_echoes_the_marker_with_the_pid_then_execs() -> None:
    argv = cc.launch_argv("/usr/bin/java", ["-version"])
    # replace java by a command that prints its own pid: exec keeps the shell's pid
    argv = [*argv[:3], "/bin/sh", "-c", "echo ran=$$"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=10)
    assert out.splitlines() == [f"{cc.START_MARKER} pid={proc.pid}", f"ran={proc.pid}"]


def test_ready_line_counts_only_after_the_last_start() -> None:
    first = f"{cc.START_MARKER} pid=10\nINFO ... {cc.READY_LINE} on /127.0.0.1:9042\n"
    assert cc.ready_in_log(first)
    assert cc.ready_in_log(first, 10)
    restarted = first + f"{cc.START_MARKER} pid=20\nINFO  still starting\n"
    assert not cc.ready_in_log(restarted)
    assert not cc.ready_in_log(restarted, 20)
    assert cc.ready_in_log(restarted + f"INFO {cc.READY_LINE}\n", 20)


def test_ready_needs_the_marker_of_the_new_process() -> None:
    """Right after a restart the new process may not have written its marker yet."""
    old = f"{cc.START_MARKER} pid=10\nINFO {cc.READY_LINE}\n"
    assert not cc.ready_in_log(old, 20)
    assert not cc.ready_in_log(f"{cc.START_MARKER} pid=200\nINFO {cc.READY_LINE}\n", 20)


def test_processors_per_node_never_below_one() -> None:
    assert cc.processors_per_node(3, 2) == 1
    assert cc.processors_per_node(1, 2) == 2
    assert cc.processors_per_node(2, 8) == 4


# --------------------------------------------------------------------------- addresses


def test_default_addresses_are_127_0_0_1_to_3_when_free() -> None:
    assert cc.choose_addresses(3, lambda host, port: True) == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]


def test_busy_storage_port_on_one_address_moves_the_whole_group() -> None:
    def free(host: str, port: int) -> bool:
        return not (host == "127.0.0.2" and port == cc.STORAGE_PORT)

    assert cc.choose_addresses(3, free) == ["127.0.10.1", "127.0.10.2", "127.0.10.3"]


def test_claimed_groups_are_skipped() -> None:
    claimed = {"127.0.0", "127.0.10"}
    addrs = cc.choose_addresses(1, lambda h, p: True, claim=lambda prefix: prefix not in claimed)
    assert addrs == ["127.0.11.1"]


def test_no_free_group_is_a_clear_error() -> None:
    with pytest.raises(LookupError, match=r"0\.0\.0\.0"):
        cc.choose_addresses(3, lambda h, p: False)


def test_claims_keep_two_launches_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cassandra, "claims_dir", lambda: tmp_path / "claims")
    monkeypatch.setattr(cassandra.osutil, "port_is_free", lambda host, port: True)
    a, jmx_a, claim_a = cassandra.claim_addresses(3)
    b, jmx_b, claim_b = cassandra.claim_addresses(3)  # our own pid keeps claim a alive
    assert a[0].rsplit(".", 1)[0] != b[0].rsplit(".", 1)[0]
    assert not set(jmx_a) & set(jmx_b)
    # a claim whose processes are gone is stale and is reused
    claim_a.write_text(json.dumps({"pids": [2**22 + 12345], "jmx_ports": jmx_a}))
    c, _, claim_c = cassandra.claim_addresses(3)
    assert c == a
    assert claim_c == claim_a and claim_b.exists()


# --------------------------------------------------------------------------- prerequisites


def test_missing_jars_name_the_setup_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTBENCH_CASSANDRA_LIB", str(tmp_path / "nope"))
    spec = TargetSpec(target="cassandra", run_id="r", base_dir=tmp_path / "run")
    with pytest.raises(InfraError, match=r"Cassandra jars not found in .*nope; run ./bootstrap.sh"):
        cassandra.up(spec, lambda message: None)


def test_classpath_reads_the_version_from_the_jar_name(tmp_path: Path) -> None:
    for name in ("cassandra-all-5.0.9.jar", "guava-32.0.1-jre.jar", "cassandra-driver-core-3.12.1.jar"):
        (tmp_path / name).write_bytes(b"")
    cp, version = cassandra.classpath(tmp_path)
    assert version == "5.0.9"
    assert len(cp.split(":")) == 3


def test_bad_heap_option_is_a_usage_error(tmp_path: Path) -> None:
    spec = TargetSpec(target="cassandra", run_id="r", base_dir=tmp_path, options={"heap": "lots"})
    with pytest.raises(UsageError, match="heap"):
        cassandra.up(spec, lambda message: None)


def test_java_that_is_not_17_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n')
    fake.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(fake.parent))
    monkeypatch.setattr(cassandra, "JAVA_DIRS", ())
    with pytest.raises(InfraError, match=r"needs Java 17.*\(11\)"):
        cassandra.find_java()


def test_no_java_at_all_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(cassandra, "JAVA_DIRS", ())
    with pytest.raises(InfraError, match="java not found"):
        cassandra.find_java()


def test_java_version_parsing() -> None:
    assert cassandra.parse_java_major('openjdk version "17.0.15" 2025-04-15') == 17
    assert cassandra.parse_java_major('openjdk version "21" 2023-09-19') == 21
    assert cassandra.parse_java_major('java version "1.8.0_402"') == 8
    assert cassandra.parse_java_major("no version here") is None


def test_bad_startup_order_is_a_usage_error(tmp_path: Path) -> None:
    spec = TargetSpec(
        target="cassandra", run_id="r", base_dir=tmp_path, options={"startup_order": "random"}
    )
    with pytest.raises(UsageError, match="startup_order"):
        cassandra.up(spec, lambda message: None)
