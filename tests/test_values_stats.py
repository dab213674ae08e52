"""Tests for tracker_core.values: histograms and tensor stats (DESIGN.md section 4) compared
with numpy, edge cases (no finite value, NaN/inf) and the memory budget."""
from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from tracker_core.values import convert_summary_value, histogram, tensor_stats

from .helpers_values import same

PCTS = [10, 25, 50, 75, 90]


def test_histogram_equals_numpy_over_finite_values_and_has_no_counts_when_clean():
    rng = np.random.default_rng(1)
    for x in (rng.standard_normal(1000), rng.standard_normal(77).astype(np.float32), rng.integers(-5, 9, 500)):
        counts, edges = np.histogram(x, bins=32)
        same(histogram(x), {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}, rel=0)
    x = rng.standard_normal(300)
    x[::7], x[1::50], x[2::60] = np.nan, np.inf, -np.inf
    h = histogram(x)
    finite = x[np.isfinite(x)]
    assert h["values"] == np.histogram(finite, bins=32)[0].tolist()
    assert (h["nan_count"], h["inf_count"]) == (int(np.isnan(x).sum()), int(np.isinf(x).sum()))
    assert sum(h["values"]) == finite.size


@pytest.mark.parametrize("x", [
    np.full(40, np.nan), np.full(40, np.inf), np.full(40, 3.0), np.zeros(0),
    np.array([-1e308, 1e308] * 20), np.array([-3e38, 3e38] * 20, dtype=np.float32),
    np.array([np.nan, -np.inf, 1.0] * 20),
])
def test_histogram_never_raises_and_edges_are_finite(x):
    h = histogram(x)
    assert len(h["values"]) == 32 and len(h["bins"]) == 33
    assert all(math.isfinite(b) for b in h["bins"]) and h["bins"] == sorted(h["bins"])
    assert sum(h["values"]) == int(np.isfinite(x).sum())
    assert h.get("nan_count", 0) == int(np.isnan(x).sum()) and h.get("inf_count", 0) == int(np.isinf(x).sum())


def test_stats_with_no_finite_value_are_none():
    for x in (np.full(40, np.nan), np.array([np.inf, -np.inf, np.nan] * 20, dtype=np.float32)):
        s = tensor_stats(x, "numpy.ndarray", str(x.dtype))
        assert all(s[k] is None for k in ("min", "max", "mean", "var", "std", "10%", "25%", "50%", "75%", "90%"))
        assert s["size"] == x.size and s["nan_count"] + s["inf_count"] == x.size


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int16])
@pytest.mark.parametrize("n", [33, 1000, 65536 + 17, 300_001])
def test_stats_equal_numpy_on_random_data(dtype, n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 1000 + 5).astype(dtype) if dtype != np.int16 else rng.integers(-999, 999, n).astype(dtype)
    before = x.copy()
    s = tensor_stats(x, "numpy.ndarray", str(x.dtype))
    x64 = x.astype(np.float64)
    exp = [x64.min(), x64.max(), np.mean(x64), np.var(x, dtype=np.float64), np.std(x, dtype=np.float64),
           *np.percentile(x64, PCTS)]
    for k, e in zip(("min", "max", "mean", "var", "std", "10%", "25%", "50%", "75%", "90%"), exp):
        assert type(s[k]) is float and s[k] == pytest.approx(float(e), rel=1e-12, abs=0), k
    assert [s["10%"], s["50%"], s["90%"]] == np.percentile(x64, [10, 50, 90]).tolist()  # exact
    assert np.array_equal(x, before)  # the caller's array is not reordered
    assert (s["size"], s["nan_count"], s["inf_count"]) == (n, 0, 0)
    assert all(type(s[k]) is int for k in ("size", "nan_count", "inf_count"))


def test_stats_with_nan_inf_equal_numpy_over_finite_values():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((300, 500)).astype(np.float32).T  # non-contiguous too
    x[::3, ::7] = np.nan
    x[1::11, ::5] = -np.inf
    s = tensor_stats(x, "numpy.ndarray", "float32")
    f = x[np.isfinite(x)].astype(np.float64)
    assert s["shape"] == [500, 300] and s["size"] == x.size
    assert s["nan_count"] == int(np.isnan(x).sum()) and s["inf_count"] == int(np.isinf(x).sum())
    for k, e in zip(("min", "max", "mean", "var", "10%", "25%", "50%", "75%", "90%"),
                    [f.min(), f.max(), f.mean(), f.var(), *np.percentile(f, PCTS)]):
        assert s[k] == pytest.approx(float(e), rel=1e-12, abs=0), k


def test_stats_memory_budget():
    """Peak extra memory of stats + blob snapshot stays under 2x the tensor (speed: benchmarks/)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal(2_000_000).astype(np.float32)
    for arr in (x, np.where(np.arange(x.size) % 1000 == 0, np.float32(np.nan), x)):
        tracemalloc.start()
        try:
            convert_summary_value(arr, "w")  # stats plus the blob snapshot
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 2 * arr.nbytes, peak / arr.nbytes
