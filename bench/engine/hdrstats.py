"""Fast read-outs of HdrHistograms (percentiles, mean, max) with numpy.

The ``hdrh`` package walks all ~23 000 buckets in Python for every
percentile query (milliseconds each); the engine reads a dozen histograms every second inside
the generator process, where a stall would show up as schedule lag.  These functions give the
*same* values as ``hdrh`` (``get_value_at_percentile``: highest equivalent value of the bucket
where the cumulative count reaches ``int(p/100 * total + 0.5)``; ``get_mean_value``: bucket
medians) — ``tests/unit/test_recorder.py`` checks the equality.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from hdrh.histogram import HdrHistogram


@lru_cache(maxsize=4)
def _geometry(
    lowest: int, highest: int, digits: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    h = HdrHistogram(lowest, highest, digits)
    low = np.empty(h.counts_len, dtype=np.int64)
    high = np.empty(h.counts_len, dtype=np.int64)
    mid = np.empty(h.counts_len, dtype=np.float64)
    for i in range(h.counts_len):
        v = h.get_value_from_index(i)
        low[i] = h.get_lowest_equivalent_value(v)
        high[i] = h.get_highest_equivalent_value(v)
        mid[i] = h._hdr_median_equiv_value(v)
    return low, high, mid


def _arrays(
    h: HdrHistogram,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    # the counts live in a ctypes c_uint64 array (word size 8); view it without copying
    counts = np.frombuffer(h.counts, dtype=np.uint64).view(np.int64)
    low, high, mid = _geometry(
        h.lowest_trackable_value, h.highest_trackable_value, h.significant_figures
    )
    return counts, low, high, mid


def warm_up(h: HdrHistogram) -> None:
    """Build the bucket geometry now (~0.3 s) rather than in the middle of a run."""
    _geometry(h.lowest_trackable_value, h.highest_trackable_value, h.significant_figures)


def percentiles(h: HdrHistogram, ps: Iterable[float]) -> dict[float, int]:
    """``{p: value}`` exactly as ``h.get_value_at_percentile(p)`` would give."""
    ps = list(ps)
    total = int(h.get_total_count())
    if total == 0:
        return dict.fromkeys(ps, 0)
    counts, low, high, _ = _arrays(h)
    cum = np.cumsum(counts)
    targets = [max(int(min(p, 100.0) * total / 100 + 0.5), 1) for p in ps]
    idx = np.minimum(np.searchsorted(cum, targets, side="left"), len(cum) - 1)
    return {p: int(high[i]) if p else int(low[i]) for p, i in zip(ps, idx.tolist(), strict=True)}


def mean(h: HdrHistogram) -> float:
    total = int(h.get_total_count())
    if total == 0:
        return 0.0
    counts, _, _, mid = _arrays(h)
    nz = np.flatnonzero(counts)
    return float(np.dot(counts[nz], mid[nz]) / total)


def record_many(h: HdrHistogram, values: npt.NDArray[np.int64]) -> None:
    """Record every value of ``values`` (already within the trackable range) at once.

    Same bucket arithmetic as ``HdrHistogram.record_value`` (``_get_bucket_index``,
    ``_get_sub_bucket_index``, ``_counts_index``), vectorised: the bit length comes from
    ``np.frexp``, exact for values below 2**53.
    """
    if values.size == 0:
        return
    v = values.astype(np.int64, copy=False)
    _, bit_length = np.frexp((v | h.sub_bucket_mask).astype(np.float64))
    bucket = bit_length.astype(np.int64) - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
    sub_bucket = v >> (bucket + h.unit_magnitude)
    index = ((bucket + 1) << h.sub_bucket_half_count_magnitude) + sub_bucket - h.sub_bucket_half_count
    counts = np.frombuffer(h.counts, dtype=np.uint64)
    counts += np.bincount(index, minlength=h.counts_len).astype(np.uint64)[: h.counts_len]
    h.total_count += int(v.size)
    h.min_value = min(h.min_value, int(v.min()))
    h.max_value = max(h.max_value, int(v.max()))
