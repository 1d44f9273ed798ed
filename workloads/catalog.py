"""The one catalogue: the products a run loads into every store, and the SKU/cart names.

Invariants: the same arguments give the same catalog on every machine; SKU ``i`` (0-based,
catalog order) is named ``sku_name(i)`` and index 0 is the hottest for the samplers; prices are
drawn from one seeded stream.  ``build_catalog`` is what ``bench run`` prepares (sized and
stocked by the profile); ``make_catalog`` is the same catalog by size and stock, for tests and
benchmarks.
"""

from __future__ import annotations

import random

from targets.base import Catalog, Product
from workloads.profile import CatalogSpec, Profile


def sku_name(i: int) -> str:
    return f"sku-{i:06d}"


def cart_name(i: int) -> str:
    return f"cart-{i:06d}"


def build_catalog(profile: Profile, seed: int) -> Catalog:
    """The catalog a run prepares: ``products`` SKUs; the hot set (if any) gets ``hot_stock``."""
    spec: CatalogSpec = profile.catalog
    hot = profile.sku.hot_skus if profile.sku.kind == "hot-set" else 0
    return make_catalog(spec.products, seed, spec.stock, hot=hot, hot_stock=spec.hot_stock)


def make_catalog(n: int = 10_000, seed: int = 42, stock: int = 100,
                 hot: int = 0, hot_stock: int | None = None) -> Catalog:
    """``n`` products with ``stock`` each (the first ``hot`` get ``hot_stock``), priced like
    ``build_catalog``'s.  Same arguments → same catalog."""
    if n < 1:
        raise ValueError(f"catalog size must be at least 1, got {n}")
    rng = random.Random(seed)
    products = []
    for i in range(n):
        level = hot_stock if (i < hot and hot_stock is not None) else stock
        products.append(Product(sku=sku_name(i), name=f"Product {i}",
                                price_cents=rng.randint(199, 49_999), stock=level))
    return Catalog(products=tuple(products), seed=seed)
