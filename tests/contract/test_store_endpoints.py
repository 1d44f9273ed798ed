"""How the stores read launcher endpoints, without a datastore: Redis key layout under a prefix
and the ``address_remap`` table, Cassandra keyspace/replication, the PostgreSQL connection string.
The same rules run against real servers in test_contract_docker.py / test_contract_external.py."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict
from redis.crc import key_slot

from bench.errors import InfraError
from targets.cassandra import keyspace_of, replication_cql
from targets.postgres import conninfo_of
from targets.redis_cluster import KeyLayout, address_remapper


def test_prefix_goes_before_the_hash_tag_so_slots_do_not_change() -> None:
    plain, prefixed = KeyLayout(), KeyLayout("shop:")
    assert prefixed.cart("c1") == "shop:cart:{c1}"
    assert prefixed.order("c1", "ab") == "shop:order:{c1}:ab"
    assert prefixed.product("sku-1") == "shop:product:{sku-1}"
    for layout in (plain, prefixed):
        cart_keys = [layout.cart("c1"), layout.claim("c1"), layout.order("c1", "ab")]
        assert {key_slot(k.encode()) for k in cart_keys} == {key_slot(b"c1")}
        assert key_slot(layout.product("sku-1").encode()) == key_slot(b"sku-1")


def test_keys_parse_back_to_ids() -> None:
    layout = KeyLayout("a:b:")
    assert layout.tag_of(layout.cart("c:1"), "cart") == "c:1"
    assert layout.tag_of(layout.order("c:1", "ff00"), "order") == "c:1"
    assert layout.tag_of(layout.product("sku-9"), "product") == "sku-9"


def test_glob_characters_in_the_prefix_are_escaped_for_scan() -> None:
    assert KeyLayout("x*[y]?:").pattern("cart:") == "x\\*\\[y\\]\\?:cart:*"
    assert KeyLayout().pattern("order:") == "order:*"


@pytest.mark.parametrize("prefix", ["{shop}:", "shop{", "}x"])
def test_prefix_with_braces_is_refused(prefix: str) -> None:
    with pytest.raises(InfraError, match="must not contain"):
        KeyLayout(prefix)


def test_address_remap_table_becomes_a_callable() -> None:
    remap = address_remapper({"10.1.0.2:6379": ["127.0.0.1", 27001]})
    assert remap is not None
    assert remap(("10.1.0.2", 6379)) == ("127.0.0.1", 27001)
    assert remap(("10.1.0.3", 6379)) == ("10.1.0.3", 6379)  # unknown: unchanged
    assert address_remapper(None) is None and address_remapper({}) is None
    with pytest.raises(InfraError, match="bad address_remap entry"):
        address_remapper({"10.1.0.2": ["127.0.0.1", 1]})


def test_cassandra_keyspace_and_replication_from_endpoints() -> None:
    assert keyspace_of({}) == "cartbench"
    assert keyspace_of({"keyspace": "shop_1"}) == "shop_1"
    for bad in ("1shop", "shop-1", "a" * 49, "x; DROP"):
        with pytest.raises(InfraError, match="not a plain identifier"):
            keyspace_of({"keyspace": bad})
    assert replication_cql({}, "dc1", 3) == "{'class': 'NetworkTopologyStrategy', 'dc1': '3'}"
    given = {"replication": {"class": "SimpleStrategy", "replication_factor": 2}}
    assert replication_cql(given, "dc1", 3) == "{'class': 'SimpleStrategy', 'replication_factor': '2'}"
    with pytest.raises(InfraError, match="bad replication option"):
        replication_cql({"replication": {"class": "x'y"}}, "dc1", 3)


def test_postgres_dbname_from_endpoints_wins_over_the_dsn() -> None:
    dsn = "host=db port=6432 user=u password=p dbname=other sslmode=require"
    params = conninfo_to_dict(conninfo_of({"dsn": dsn, "dbname": "bench"}))
    assert params["dbname"] == "bench" and params["sslmode"] == "require" and params["port"] == "6432"
    assert conninfo_to_dict(conninfo_of({"dsn": dsn}))["dbname"] == "other"
    built = conninfo_of({"host": "h", "port": 5, "user": "u", "password": "p", "dbname": "d"})
    assert conninfo_to_dict(built)["dbname"] == "d"
