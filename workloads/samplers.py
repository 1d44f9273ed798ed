"""Key choosers: which SKU and which operation an arrival gets (the catalog is
``workloads.catalog``).

All draws come from a caller-supplied ``random.Random`` so a run is reproducible from its seed.
"""

from __future__ import annotations

import bisect
import itertools
import random

import numpy as np
import numpy.typing as npt

from workloads.profile import OPERATIONS, SkuDistribution


class SkuChooser:
    """Draws SKUs from a catalog's SKU list by a ``SkuDistribution``.

    zipf: rank ``k`` (1-based, catalog order) has weight ``1 / k**s``; hot-set: the first
    ``hot_skus`` SKUs get ``hot_fraction`` of draws (uniform within), the rest uniform.
    """

    def __init__(self, skus: list[str], dist: SkuDistribution) -> None:
        if not skus:
            raise ValueError("empty catalog")
        self.skus = skus
        self.dist = dist
        self._cum: list[float] | None = None
        self._hi = len(skus) - 1
        if dist.kind == "zipf":
            weights = (1.0 / (k**dist.s) for k in range(1, len(skus) + 1))
            self._cum = list(itertools.accumulate(weights))
        self._hot = min(dist.hot_skus, len(skus) - 1) if dist.kind == "hot-set" else 0

    def choose(self, rng: random.Random) -> str:
        if self._cum is not None:  # what rng.choices(cum_weights=...) does, minus overhead
            return self.skus[bisect.bisect(self._cum, rng.random() * self._cum[-1], 0, self._hi)]
        if self._hot:
            if rng.random() < self.dist.hot_fraction:
                return self.skus[rng.randrange(self._hot)]
            return self.skus[rng.randrange(self._hot, len(self.skus))]
        return self.skus[rng.randrange(len(self.skus))]

    def indices(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
        """``n`` draws at once (indices into ``skus``), same distribution as ``choose``."""
        size = len(self.skus)
        if self._cum is not None:
            cum = np.asarray(self._cum)
            out: npt.NDArray[np.int64] = np.minimum(
                np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), self._hi
            )
            return out
        if self._hot:
            hot = rng.random(n) < self.dist.hot_fraction
            return np.where(hot, rng.integers(0, self._hot, n), rng.integers(self._hot, size, n))
        return rng.integers(0, size, n)


class OperationMix:
    """Draws operation names by the profile's weights."""

    def __init__(self, mix: dict[str, float]) -> None:
        self.ops = [op for op in OPERATIONS if mix.get(op, 0.0) > 0]
        self._cum = list(itertools.accumulate(mix[op] for op in self.ops))
        self._hi = len(self.ops) - 1

    def choose(self, rng: random.Random) -> str:
        return self.ops[bisect.bisect(self._cum, rng.random() * self._cum[-1], 0, self._hi)]

    def indices(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
        """``n`` draws at once, as indices into ``OPERATIONS`` (same weights as ``choose``)."""
        cum = np.asarray(self._cum)
        pick = np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), self._hi)
        index: npt.NDArray[np.int64] = np.asarray([OPERATIONS.index(o) for o in self.ops])[pick]
        return index
