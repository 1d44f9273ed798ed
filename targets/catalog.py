"""Deterministic catalogs and the seeded Zipf popularity sampler.

``make_catalog`` builds the same products for the same
arguments on every machine (SKU ids ``sku-000001``...); a few SKUs get deliberately low stock
so checkouts contend on them.  ``ZipfSampler`` draws SKU *indices* (0-based) with a Zipf(s)
popularity: index 0 is the most popular.  The load engine uses it for key distributions.
"""

from __future__ import annotations

import bisect
import itertools
import random

from targets.base import Catalog, Product

#: Default stock range for ordinary SKUs.
DEFAULT_STOCK = (50, 500)
#: Every ``LOW_STOCK_EVERY``-th SKU gets a stock in ``LOW_STOCK`` (contention hot spots).
LOW_STOCK_EVERY = 100
LOW_STOCK = (1, 10)


def sku_id(index: int) -> str:
    """The SKU id of a 0-based catalog index: ``sku_id(0) == "sku-000001"``."""
    return f"sku-{index + 1:06d}"


def make_catalog(
    n: int = 10_000,
    seed: int = 42,
    stock: int | tuple[int, int] = DEFAULT_STOCK,
    low_stock_every: int = LOW_STOCK_EVERY,
) -> Catalog:
    """``n`` products.  ``stock`` is either one level for every SKU (no low-stock SKUs) or an
    inclusive range drawn per SKU, with every ``low_stock_every``-th SKU (0 = none) drawn from
    ``LOW_STOCK`` instead.  Same arguments → same catalog."""
    if n < 1:
        raise ValueError(f"catalog size must be at least 1, got {n}")
    rng = random.Random(seed)
    products = []
    for i in range(n):
        price = rng.randint(99, 99_999)
        if isinstance(stock, int):
            level = stock
        elif low_stock_every and i % low_stock_every == low_stock_every - 1:
            level = rng.randint(*LOW_STOCK)
        else:
            level = rng.randint(*stock)
        products.append(
            Product(sku=sku_id(i), name=f"Product {i + 1}", price_cents=price, stock=level)
        )
    return Catalog(products=tuple(products), seed=seed)


class ZipfSampler:
    """Seeded Zipf(s) sampler over ``range(n)``: P(k) ∝ 1 / (k + 1) ** s.

    The CDF is precomputed once (O(n)); each draw is one uniform variate and a bisect
    (O(log n)).  Not thread-safe: give each greenlet/thread its own sampler (cheap to copy
    with ``fork``)."""

    def __init__(self, n: int, s: float = 1.1, seed: int = 42) -> None:
        if n < 1:
            raise ValueError(f"Zipf population must be at least 1, got {n}")
        if s <= 0:
            raise ValueError(f"Zipf exponent must be positive, got {s}")
        self.n = n
        self.s = s
        self.seed = seed
        weights = (1.0 / (k + 1) ** s for k in range(n))
        cdf = list(itertools.accumulate(weights))
        total = cdf[-1]
        self._cdf: list[float] = [c / total for c in cdf]
        self._rng: random.Random = random.Random(seed)

    def fork(self, seed: int) -> ZipfSampler:
        """A sampler sharing this one's CDF with its own random stream."""
        twin = object.__new__(ZipfSampler)
        twin.n, twin.s, twin.seed = self.n, self.s, seed
        twin._cdf = self._cdf
        twin._rng = random.Random(seed)
        return twin

    def probability(self, index: int) -> float:
        lower = self._cdf[index - 1] if index > 0 else 0.0
        return self._cdf[index] - lower

    def sample(self) -> int:
        """One 0-based index."""
        i = bisect.bisect_left(self._cdf, self._rng.random())
        return min(i, self.n - 1)  # guard against float rounding at the top of the CDF

    def sample_many(self, k: int) -> list[int]:
        return [self.sample() for _ in range(k)]
