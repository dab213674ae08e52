"""The tensor stats as tracker_core computed them before the bounded-memory rewrite (copy
of the finite values, partitioned in place), kept as the reference that the new code must
match bit for bit. Do not "fix" this file: its point is to stay what the numbers were."""
from __future__ import annotations

import math

import numpy as np

_PERCENTILES = (10, 25, 50, 75, 90)
_STAT_KEYS = ("min", "max", "mean", "var", "std") + tuple(f"{p}%" for p in _PERCENTILES)
_CHUNK = 1 << 16


def _numeric(arr):
    k = arr.dtype.kind
    if k in "biu" or (k == "f" and arr.dtype.itemsize <= 8):
        return arr
    return arr.astype(np.float64) if k == "f" else None


def _flat(arr):
    flat = _numeric(np.asarray(arr)).reshape(-1)
    return flat.view(np.uint8) if flat.dtype.kind == "b" else flat


def _finite(flat):
    if flat.dtype.kind != "f" or flat.size == 0:
        return flat, 0, 0, None, None
    with np.errstate(invalid="ignore"):
        lo, hi = flat.min(), flat.max()
    if np.isfinite(lo) and np.isfinite(hi):
        return flat, 0, 0, lo, hi
    finite = flat[np.isfinite(flat)]
    nan_count = int(np.count_nonzero(np.isnan(flat)))
    return finite, nan_count, flat.size - finite.size - nan_count, None, None


def reference_stats(arr, type_name, dtype_name):
    arr = np.asarray(arr)
    out = {"_type": type_name, "shape": [int(d) for d in arr.shape], "dtype": dtype_name, "size": int(arr.size)}
    finite, nan_count, inf_count, lo, hi = _finite(_flat(arr))
    n = int(finite.size)
    if n == 0:
        out.update(dict.fromkeys(_STAT_KEYS))
    else:
        if lo is None:
            lo, hi = finite.min(), finite.max()
        with np.errstate(over="ignore", invalid="ignore"):
            mean = float(np.add.reduce(finite, dtype=np.float64)) / n
            parts = []
            for i in range(0, n, _CHUNK):
                d = finite[i : i + _CHUNK].astype(np.float64)
                d -= mean
                np.multiply(d, d, out=d)
                parts.append(float(np.add.reduce(d)))
            var = math.fsum(parts) / n
        std = math.sqrt(var)
        if np.may_share_memory(finite, arr):
            finite = finite.copy()
        out.update(min=float(lo), max=float(hi), mean=mean, var=var, std=std)
        out.update(zip(_STAT_KEYS[5:], _percentiles(finite, n)))
    out["nan_count"] = nan_count
    out["inf_count"] = inf_count
    return out


def _percentiles(work, n):
    vidx = [(n - 1) * (p / 100) for p in _PERCENTILES]
    below = [math.floor(v) for v in vidx]
    work.partition(sorted({min(i, n - 1) for b in below for i in (b, b + 1)}))
    result = []
    for v, b in zip(vidx, below):
        if v >= n - 1:
            result.append(float(work[n - 1]))
            continue
        a, c, g = float(work[b]), float(work[b + 1]), v - b
        d = c - a
        result.append(c - d * (1.0 - g) if g >= 0.5 else a + d * g)
    return result
