"""The one catalogue (``workloads.catalog``): deterministic, named in catalog order, and what
``bench run`` prepares is ``make_catalog`` with the profile's size and stock."""

from __future__ import annotations

import pytest

from workloads import build_catalog, load_profile, make_catalog, sku_name


def test_catalog_is_deterministic_and_well_formed() -> None:
    a, b = make_catalog(n=1000, seed=3), make_catalog(n=1000, seed=3)
    assert a == b
    assert a != make_catalog(n=1000, seed=4)
    assert a.skus[0] == "sku-000000" and a.skus[-1] == "sku-000999"
    assert len(set(a.skus)) == 1000
    assert all(199 <= p.price_cents <= 49_999 for p in a.products)


def test_stock_levels() -> None:
    assert {p.stock for p in make_catalog(n=50, stock=10).products} == {10}
    hot = make_catalog(n=50, stock=10, hot=5, hot_stock=2)
    assert [p.stock for p in hot.products[:6]] == [2, 2, 2, 2, 2, 10]


def test_sku_name_format() -> None:
    assert sku_name(0) == "sku-000000"
    assert sku_name(123456) == "sku-123456"


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        make_catalog(n=0)


@pytest.mark.parametrize("name", ["holiday-rush", "flash-sale"])
def test_run_catalog_is_the_same_catalogue(name: str) -> None:
    profile = load_profile(name, scale=1.0, duration=None, rate=None)
    spec = profile.catalog
    hot = profile.sku.hot_skus if profile.sku.kind == "hot-set" else 0
    assert build_catalog(profile, 42) == make_catalog(
        spec.products, 42, spec.stock, hot=hot, hot_stock=spec.hot_stock)
