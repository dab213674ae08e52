"""Shared helpers for the tracker_core.values tests (test_values*.py): strict comparison and
expected stats / histogram dicts."""
from __future__ import annotations

import math

import pytest


def same(actual, expected, rel=1e-9):
    """Strict comparison: equal types (an int never equals a float, a tuple never a list),
    NaN equals NaN, floats within `rel`."""
    assert type(actual) is type(expected), (actual, expected)
    if isinstance(expected, float):
        if math.isnan(expected):
            assert math.isnan(actual)
        else:
            assert actual == pytest.approx(expected, rel=rel, abs=0), (actual, expected)
    elif isinstance(expected, dict):
        assert list(actual) == list(expected)  # key order is part of the contract
        for k in expected:
            same(actual[k], expected[k], rel)
    elif isinstance(expected, list):
        assert len(actual) == len(expected), (actual, expected)
        for a, e in zip(actual, expected):
            same(a, e, rel)
    else:
        assert actual == expected


def stats(type_name, shape, dtype, size, mn, mx, mean, var, std, p, nan=0, inf=0):
    return {"_type": type_name, "shape": shape, "dtype": dtype, "size": size, "min": mn,
            "max": mx, "mean": mean, "var": var, "std": std, "10%": p[0], "25%": p[1],
            "50%": p[2], "75%": p[3], "90%": p[4], "nan_count": nan, "inf_count": inf}


def hist(values, bins):
    return {"_type": "histogram", "values": values, "bins": [float(b) for b in bins]}


# Histogram of 0..39 (conformance a2d_large / t40): 32 bins of width 39/32.
H40 = hist([2, 1, 1, 1, 2, 1, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1, 1, 2, 1, 1, 1, 2],
           [i * 39 / 32 for i in range(33)])
S40 = stats("numpy.ndarray", [8, 5], "int64", 40, 0.0, 39.0, 19.5, 133.25, 11.543396380615196,
            [3.9000000000000004, 9.75, 19.5, 29.25, 35.1])
