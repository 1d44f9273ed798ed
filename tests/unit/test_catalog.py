"""Catalog determinism and the Zipf sampler's distribution."""

from __future__ import annotations

import collections

import pytest

from targets.catalog import LOW_STOCK, ZipfSampler, make_catalog, sku_id


def test_catalog_is_deterministic_and_well_formed() -> None:
    a, b = make_catalog(n=1000, seed=3), make_catalog(n=1000, seed=3)
    assert a == b
    assert a != make_catalog(n=1000, seed=4)
    assert a.skus[0] == "sku-000001" and a.skus[-1] == "sku-001000"
    assert len(set(a.skus)) == 1000
    stocks = [p.stock for p in a.products]
    low = [s for s in stocks if s <= LOW_STOCK[1]]
    assert len(low) == 10  # every 100th SKU is a contention hot spot
    assert all(1 <= s <= 500 for s in stocks)


def test_fixed_stock_gives_every_sku_that_level() -> None:
    assert {p.stock for p in make_catalog(n=50, stock=10).products} == {10}


def test_sku_id_format() -> None:
    assert sku_id(0) == "sku-000001"
    assert sku_id(123455) == "sku-123456"


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        make_catalog(n=0)
    with pytest.raises(ValueError):
        ZipfSampler(0)
    with pytest.raises(ValueError):
        ZipfSampler(10, s=0)


def test_zipf_is_seeded_and_skewed() -> None:
    z = ZipfSampler(1000, s=1.1, seed=5)
    draws = z.sample_many(50_000)
    assert draws == ZipfSampler(1000, s=1.1, seed=5).sample_many(50_000)
    assert all(0 <= d < 1000 for d in draws)
    counts = collections.Counter(draws)
    # empirical frequency of the top index matches its probability within 3 %
    assert counts[0] / len(draws) == pytest.approx(z.probability(0), rel=0.03)
    assert counts[0] > counts[1] > counts[9] > counts[99]
    assert sum(z.probability(i) for i in range(1000)) == pytest.approx(1.0)


def test_fork_shares_cdf_with_own_stream() -> None:
    z = ZipfSampler(100, seed=1)
    f1, f2 = z.fork(9), z.fork(9)
    assert f1.sample_many(100) == f2.sample_many(100)
    assert z.fork(10).sample_many(100) != z.fork(9).sample_many(100)
