"""Tests for tracker_core.values: numpy scalars and arrays (DESIGN.md section 4 and rules
3.4/3.5 on single values): conformance of logged / summary values, blobs, array_info.
Histogram and stats math is in test_values_stats.py."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tracker_core import values as V
from tracker_core.values import (
    SMALL_MAX,
    array_info,
    convert_log_value,
    convert_summary_value,
    tensor_stats,
)

from .helpers_values import H40, S40, hist, same, stats

# --- numpy scalars and arrays -----------------------------------------------------------

def test_numpy_scalars_become_python_numbers():
    same(convert_log_value(np.float32(0.1), "k"), 0.10000000149011612, rel=0)
    same(convert_log_value(np.float64(2.5), "k"), 2.5)
    same(convert_log_value(np.float16(0.5), "k"), 0.5)
    same(convert_log_value(np.int32(7), "k"), 7)
    same(convert_log_value(np.uint64(2**64 - 1), "k"), 2**64 - 1)
    same(convert_log_value(np.bool_(True), "k"), True)
    same(convert_log_value(np.longdouble(0.25), "k"), 0.25)


def test_masked_arrays_count_masked_entries_as_nan():
    m = np.ma.masked_array(np.arange(40), mask=np.arange(40) < 4)
    s = convert_summary_value(m, "w")[0]
    assert (s["nan_count"], s["min"], s["dtype"]) == (4, 4.0, "int64")
    same(convert_log_value(np.ma.masked_array([1.0, 2.0], mask=[0, 1]), "k"), [1.0, math.nan])
    same(convert_log_value(np.ma.masked_array([1, 2]), "k"), [1, 2])  # nothing masked: ints stay
    same(convert_summary_value(np.int64(3), "k"), (3, None))


def test_conformance_numpy_arrays_logged():
    got = {k: convert_log_value(v, k) for k, v in {
        "a1": np.array([0.5]), "a5": np.arange(5), "a32": np.arange(32) / 2, "a33": np.arange(33),
        "a100": np.linspace(0.0, 1.0, 100), "a2d_small": np.arange(6).reshape(2, 3),
        "a2d_large": np.arange(40).reshape(8, 5)}.items()}
    same(got["a1"], 0.5)
    same(got["a5"], [0, 1, 2, 3, 4])
    same(got["a32"], [i / 2 for i in range(32)])
    same(got["a33"], hist([1] * 31 + [2], range(33)))
    same(got["a100"], hist([4] + [3] * 9 + [4] + [3] * 10 + [4] + [3] * 9 + [4], [i / 32 for i in range(33)]))
    same(got["a2d_small"], [[0, 1, 2], [3, 4, 5]])
    same(got["a2d_large"], H40)


def test_conformance_numpy_arrays_summary():
    same(convert_summary_value(np.array([0.5]), "k"), (0.5, None))
    same(convert_summary_value(np.arange(5), "k"), ([0, 1, 2, 3, 4], None))
    same(convert_summary_value(np.arange(32) / 2, "k"), ([i / 2 for i in range(32)], None))
    same(convert_summary_value(np.arange(6).reshape(2, 3), "k")[0], [[0, 1, 2], [3, 4, 5]])
    same(convert_summary_value(np.arange(33), "k")[0], stats(
        "numpy.ndarray", [33], "int64", 33, 0.0, 32.0, 16.0, 90.66666666666667, 9.521904571390467,
        [3.2, 8.0, 16.0, 24.0, 28.8]))
    same(convert_summary_value(np.arange(1000, dtype=np.float32), "k")[0], stats(
        "numpy.ndarray", [1000], "float32", 1000, 0.0, 999.0, 499.5, 83333.25, 288.6749902572095,
        [99.9, 249.75, 499.5, 749.25, 899.1]))
    same(convert_summary_value(np.arange(40).reshape(8, 5), "k")[0], S40)
    same(convert_summary_value(np.arange(50), "k")[0], stats(
        "numpy.ndarray", [50], "int64", 50, 0.0, 49.0, 24.5, 208.25, 14.430869689661812,
        [4.9, 12.25, 24.5, 36.75, 44.1]))


def test_conformance_arrays_2d_shape_kept():
    same(convert_log_value(np.arange(32).reshape(4, 8), "k"), np.arange(32).reshape(4, 8).tolist())
    same(convert_log_value(np.array([[2.5]]), "k"), 2.5)
    same(convert_log_value(np.array(7), "k"), 7)
    same(convert_summary_value(np.arange(48, dtype=np.float64).reshape(6, 8) / 4, "k")[0], stats(
        "numpy.ndarray", [6, 8], "float64", 48, 0.0, 11.75, 5.875, 11.994791666666666, 3.463349775386059,
        [1.175, 2.9375, 5.875, 8.8125, 10.575000000000001]))
    same(convert_summary_value(np.arange(42, dtype=np.int32).reshape(2, 3, 7), "k")[0], stats(
        "numpy.ndarray", [2, 3, 7], "int32", 42, 0.0, 41.0, 20.5, 146.91666666666666, 12.120918557051139,
        [4.1000000000000005, 10.25, 20.5, 30.75, 36.9]))
    same(convert_summary_value(np.ones((2, 2), dtype=np.float32), "k")[0], [[1.0, 1.0], [1.0, 1.0]])
    same(convert_summary_value(np.array([[0.25]]), "k")[0], 0.25)


def test_conformance_float32_array_stats_in_float64():
    same(convert_summary_value(np.linspace(0, 1, 101, dtype=np.float32), "k")[0], stats(
        "numpy.ndarray", [101], "float32", 101, 0.0, 1.0, 0.49999999996311595, 0.08500000032015384,
        0.29154759529132435, [0.10000000149011612, 0.25, 0.5, 0.75, 0.8999999761581421]))


def test_conformance_nan_inf_summary_stats():
    a = np.arange(50, dtype=np.float64)
    a[[0, 10]] = np.nan
    a[1], a[2] = np.inf, -np.inf
    same(convert_summary_value(a, "w")[0], stats(
        "numpy.ndarray", [50], "float64", 50, 3.0, 49.0, 26.347826086956523, 182.31379962192818,
        13.502362742199166, [7.5, 15.25, 26.5, 37.75, 44.5], nan=2, inf=2))


def test_conformance_array_with_nan_logged_gives_finite_histogram():
    a = np.arange(40, dtype=np.float64)
    a[3] = np.nan
    h = convert_log_value(a, "big_nan")
    assert sum(h["values"]) == 39 and len(h["bins"]) == 33 and h["nan_count"] == 1
    assert "inf_count" not in h and all(math.isfinite(b) for b in h["bins"])
    b = np.arange(40, dtype=np.float64)
    b[0] = np.inf
    h = convert_log_value(b, "big_inf")
    assert sum(h["values"]) == 39 and h["inf_count"] == 1 and "nan_count" not in h
    same(h["bins"], np.histogram(np.arange(1, 40.0), bins=32)[1].tolist(), rel=0)
    same(convert_log_value(np.array([1.0, np.nan, 3.0]), "k"), [1.0, math.nan, 3.0])


def test_int_arrays_keep_ints_in_lists_and_bools_stay_bools():
    same(convert_log_value(np.array([[1, 2], [3, 4]], dtype=np.uint8), "k"), [[1, 2], [3, 4]])
    same(convert_log_value(np.array([2**63 - 1, -(2**63)]), "k"), [2**63 - 1, -(2**63)])
    same(convert_log_value(np.array([2**64 - 1, 0], dtype=np.uint64), "k"), [2**64 - 1, 0])
    same(convert_log_value(np.array([True, False]), "k"), [True, False])
    same(convert_log_value(np.array([0.5, 1.0], dtype=np.float16), "k"), [0.5, 1.0])
    s = tensor_stats(np.arange(40) % 2 == 0, "numpy.ndarray", "bool")
    assert (s["mean"], s["min"], s["max"]) == (0.5, 0.0, 1.0)


def test_empty_arrays_are_empty_lists_and_str_arrays_small_only():
    same(convert_log_value(np.zeros(0), "k"), [])
    same(convert_log_value(np.zeros((2, 0)), "k"), [[], []])
    same(convert_log_value(np.array(["a", "b"]), "k"), ["a", "b"])
    same(convert_log_value(np.array([1, None], dtype=object), "k"), [1, None])
    with pytest.raises(TypeError, match=r"'k'.*numpy.ndarray with dtype <U1 and more than 32"):
        convert_log_value(np.array(["a"] * 33), "k")


def test_summary_blob_is_a_lossless_snapshot():
    a = np.arange(40, dtype=np.int16).reshape(5, 8)
    stats_dict, blob = convert_summary_value(a, "w")
    a[0, 0] = 99  # the user keeps training after the write
    assert blob.dtype == np.int16 and blob.shape == (5, 8) and blob[0, 0] == 0
    assert stats_dict["dtype"] == "int16"
    ld = np.arange(40, dtype=np.longdouble) / 3
    assert np.array_equal(convert_summary_value(ld, "w")[1], ld)  # long double kept as is


def test_nested_large_arrays_in_summary_lists_become_stats_without_blob():
    out, blob = convert_summary_value([np.arange(40).reshape(8, 5), {"h": np.arange(3)}], "k")
    assert blob is None
    same(out, [S40, {"h": [0, 1, 2]}])
    same(convert_log_value([np.arange(40).reshape(8, 5)], "k"), [H40])


def test_array_info():
    arr, t, d = array_info(np.arange(3, dtype=np.int8))
    assert (t, d, arr.tolist()) == ("numpy.ndarray", "int8", [0, 1, 2])
    for v in (1, 2.0, "x", [1, 2], np.float32(1), {"a": 1}, None):
        assert array_info(v) is None


def test_small_max_constant():
    assert SMALL_MAX == 32 and V.SMALL_MAX == 32
