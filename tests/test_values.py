"""Tests for tracker_core.values: DESIGN.md section 4 and rules 3.4/3.5 on single values."""
from __future__ import annotations

import datetime
import enum
import math
import os
import subprocess
import sys
import tracemalloc
from collections import OrderedDict
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tracker_core import values as V
from tracker_core.values import (
    SMALL_MAX,
    array_info,
    convert_log_value,
    convert_summary_value,
    histogram,
    tensor_stats,
)

ROOT = Path(__file__).resolve().parents[1]
PCTS = [10, 25, 50, 75, 90]


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


# --- plain Python values --------------------------------------------------------------

@pytest.mark.parametrize("v", [None, True, False, 0, -3, 2**64 + 1, -(2**70), 10**30, 2.0,
                               1234567.0, 1e-05, 100000.0, "abc", ""])
def test_plain_values_pass_through_unchanged(v):
    assert convert_log_value(v, "k") is v
    out, blob = convert_summary_value(v, "k")
    assert out is v and blob is None


def test_ints_stay_ints_floats_stay_floats_and_big_ints_exact():
    same(convert_log_value([3, 3.0, 2**53 + 1, -(2**63) - 1], "k"), [3, 3.0, 2**53 + 1, -(2**63) - 1])
    assert convert_log_value(9007199254740993, "k") == 9007199254740993


def test_explicit_nan_inf_kept():
    same(convert_summary_value(float("nan"), "k")[0], math.nan)
    same(convert_summary_value(np.float64("nan"), "k")[0], math.nan)
    same(convert_summary_value(np.float32("nan"), "k")[0], math.nan)
    same(convert_summary_value(-math.inf, "k")[0], -math.inf)
    same(convert_log_value([1.0, float("nan")], "k"), [1.0, math.nan])


def test_containers_tuples_and_mappings_in_lists():
    same(convert_log_value((1, "a", None, (2.5, True)), "k"), [1, "a", None, [2.5, True]])
    out = convert_log_value([{"a": np.int64(1), 2: [np.float32(0.5)]}, OrderedDict(b=None)], "k")
    same(out, [{"a": 1, "2": [0.5]}, {"b": None}])


def test_subclasses_of_plain_types_become_plain():
    class Color(enum.IntEnum):
        RED = 3

    class Name(str, enum.Enum):
        A = "alpha"

    same(convert_log_value(Color.RED, "k"), 3)
    same(convert_log_value(Name.A, "k"), "alpha")
    same(convert_log_value(np.str_("s"), "k"), "s")


# --- numpy scalars and arrays -----------------------------------------------------------

def test_numpy_scalars_become_python_numbers():
    same(convert_log_value(np.float32(0.1), "k"), 0.10000000149011612, rel=0)
    same(convert_log_value(np.float64(2.5), "k"), 2.5)
    same(convert_log_value(np.float16(0.5), "k"), 0.5)
    same(convert_log_value(np.int32(7), "k"), 7)
    same(convert_log_value(np.uint64(2**64 - 1), "k"), 2**64 - 1)
    same(convert_log_value(np.bool_(True), "k"), True)
    same(convert_log_value(np.longdouble(0.25), "k"), 0.25)


def test_ml_dtypes_bfloat16_numpy_values_become_exact_float32():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    same(convert_log_value(ml_dtypes.bfloat16(0.1), "k"), 0.10009765625, rel=0)
    same(convert_log_value(np.array([0.1, 2], dtype=ml_dtypes.bfloat16), "k"), [0.10009765625, 2.0], rel=0)
    s, blob = convert_summary_value(np.arange(40).astype(ml_dtypes.bfloat16), "w")
    assert s["dtype"] == "bfloat16" and blob.dtype == np.float32 and s["mean"] == 19.5


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


# --- errors -----------------------------------------------------------------------------

class Custom:
    pass


@pytest.mark.parametrize("value, type_name", [
    ({1, 2}, "set"), (b"ab", "bytes"), (1 + 2j, "complex"), (Custom(), "Custom"),
    (datetime.datetime(2024, 1, 1), "datetime.datetime"), (Fraction(1, 3), "fractions.Fraction"),
    (np.complex64(1), "numpy.complex64"), (np.zeros(3, dtype=np.complex128), "numpy.ndarray with dtype complex128"),
    (np.array(["2024-01-01"], dtype="datetime64[D]"), "numpy.ndarray with dtype datetime64[D]"),
])
def test_unsupported_values_raise_type_error_naming_key_and_type(value, type_name):
    with pytest.raises(TypeError) as err:
        convert_log_value(value, "x")
    msg = str(err.value)
    assert msg.startswith("tracker_core: cannot log key 'x': value of type ") and type_name in msg
    assert msg.endswith("(expected a number, str, bool, None, list, dict, numpy/torch/tensorflow/jax array)")
    with pytest.raises(TypeError, match=r"cannot set summary key 'x'"):
        convert_summary_value(value, "x")


def test_type_error_message_exact_and_path_inside_containers():
    with pytest.raises(TypeError) as err:
        convert_log_value({1}, "x")
    assert str(err.value) == ("tracker_core: cannot log key 'x': value of type set is not supported "
                              "(expected a number, str, bool, None, list, dict, numpy/torch/tensorflow/jax array)")
    with pytest.raises(TypeError, match=r"cannot log key 'x' \(at \[1\]\['a'\]\[0\]\): value of type bytes"):
        convert_log_value([1, {"a": (b"z",)}], "x")


# --- torch --------------------------------------------------------------------------------

def test_conformance_torch_tensors():
    torch = pytest.importorskip("torch")
    same(convert_log_value(torch.tensor(0.5), "t0"), 0.5)
    same(convert_log_value(torch.tensor(0.1), "t0"), 0.10000000149011612, rel=0)
    same(convert_log_value(torch.tensor([0.25]), "t1"), 0.25)
    same(convert_log_value(torch.arange(5), "t5"), [0, 1, 2, 3, 4])
    same(convert_log_value(torch.arange(40, dtype=torch.float32), "t40"), H40)
    same(convert_log_value(torch.tensor(1.5, requires_grad=True), "tgrad"), 1.5)
    same(convert_log_value(torch.tensor(0.1, dtype=torch.bfloat16), "tbf16"), 0.10009765625, rel=0)
    same(convert_summary_value(torch.tensor(3), "s0"), (3, None))
    same(convert_summary_value(torch.arange(5) * 1.5, "s5"), ([0.0, 1.5, 3.0, 4.5, 6.0], None))
    s40, blob = convert_summary_value(torch.arange(40, dtype=torch.float64).reshape(4, 10), "s40")
    same(s40, {**S40, "_type": "torch.Tensor", "shape": [4, 10], "dtype": "torch.float64"})
    assert blob.dtype == np.float64 and blob.shape == (4, 10)
    same(convert_summary_value(torch.ones(3, requires_grad=True), "sgrad")[0], [1.0, 1.0, 1.0])


def test_torch_bfloat16_blob_is_exact_float32():
    torch = pytest.importorskip("torch")
    t = torch.randn(7, 9, dtype=torch.bfloat16, requires_grad=True)
    s, blob = convert_summary_value(t, "w")
    assert s["dtype"] == "torch.bfloat16" and s["shape"] == [7, 9]
    assert blob.dtype == np.float32 and blob.shape == (7, 9)
    assert np.array_equal(blob, t.detach().float().numpy())
    assert s["mean"] == pytest.approx(float(t.detach().double().mean()), rel=1e-12)
    same(convert_log_value(t[0, :3], "k"), t[0, :3].float().tolist())
    arr, type_name, dtype_name = array_info(t)
    assert (arr.dtype, type_name, dtype_name) == (np.float32, "torch.Tensor", "torch.bfloat16")


def test_torch_requires_grad_nan_inf_and_snapshot():
    torch = pytest.importorskip("torch")
    w = torch.nn.Parameter(torch.arange(48, dtype=torch.float32).reshape(6, 8))
    s, blob = convert_summary_value(w, "w")
    assert (s["_type"], s["dtype"], s["mean"]) == ("torch.Tensor", "torch.float32", 23.5)
    with torch.no_grad():
        w.add_(1)  # an optimizer step after the write must not change the stored blob
    assert blob[0, 0] == 0.0
    h = convert_log_value(torch.tensor([float("nan"), float("inf")] + [1.0] * 40, requires_grad=True), "g")
    assert (h["nan_count"], h["inf_count"], sum(h["values"])) == (1, 1, 40)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64", "bool", "float16", "float8_e4m3fn", "uint16"])
def test_torch_dtypes(dtype):
    torch = pytest.importorskip("torch")
    dt = getattr(torch, dtype, None)
    if dt is None:
        pytest.skip(f"torch has no {dtype}")
    small = torch.ones(3).to(dt)
    expected = [True] * 3 if dtype == "bool" else ([1] * 3 if not dt.is_floating_point else [1.0] * 3)
    same(convert_log_value(small, "k"), expected)
    s, blob = convert_summary_value(torch.ones(40).to(dt), "k")
    assert s["dtype"] == f"torch.{dtype}" and s["mean"] == 1.0 and blob.shape == (40,)


def test_torch_sparse_complex_and_size():
    torch = pytest.importorskip("torch")
    same(convert_log_value(torch.eye(3).to_sparse(), "k"), torch.eye(3).tolist())
    same(convert_log_value(torch.Size([2, 3]), "k"), [2, 3])
    with pytest.raises(TypeError, match="torch.Tensor with dtype torch.complex64"):
        convert_log_value(torch.zeros(2, dtype=torch.complex64), "k")


def test_torch_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    t = torch.arange(40, dtype=torch.bfloat16, device="cuda", requires_grad=True)
    same(convert_log_value(t[:3], "k"), [0.0, 1.0, 2.0])
    s, blob = convert_summary_value(t, "k")
    assert s["dtype"] == "torch.bfloat16" and s["mean"] == 19.5 and blob.dtype == np.float32


# --- JAX and TensorFlow ---------------------------------------------------------------------

def test_jax_arrays():
    pytest.importorskip("jax")
    import jax.numpy as jnp

    same(convert_log_value(jnp.float32(2.5), "k"), 2.5)
    same(convert_log_value(jnp.arange(3), "k"), [0, 1, 2])
    same(convert_log_value(jnp.array([0.1], dtype=jnp.bfloat16), "k"), 0.10009765625, rel=0)
    same(convert_log_value(jnp.arange(33), "k"), hist([1] * 31 + [2], range(33)))
    b = jnp.arange(40, dtype=jnp.float32) / 3
    s, blob = convert_summary_value(b.astype(jnp.bfloat16), "w")
    assert (s["_type"], s["dtype"], s["shape"]) == ("jax.Array", "bfloat16", [40])
    assert blob.dtype == np.float32 and np.array_equal(blob, np.asarray(b.astype(jnp.bfloat16).astype(jnp.float32)))
    s, blob = convert_summary_value(jnp.arange(40.0).reshape(8, 5), "w")
    same(s, {**S40, "_type": "jax.Array", "dtype": "float32"})


def test_jax_tracer_gives_type_error_naming_the_key():
    jax = pytest.importorskip("jax")

    @jax.jit
    def step(x):
        convert_log_value(x, "inside_jit")
        return x

    with pytest.raises(TypeError, match=r"cannot log key 'inside_jit': value of type .*Tracer"):
        step(jax.numpy.ones(3))


class _FakeTFDType:
    name = "float32"

    def __str__(self):
        return "<dtype: 'float32'>"


class FakeEagerTensor:
    """Mimics tf.EagerTensor's surface, so the TF path is tested without TensorFlow."""

    dtype = _FakeTFDType()

    def __init__(self, arr):
        self._arr = arr

    def numpy(self):
        return self._arr


FakeEagerTensor.__module__ = "tensorflow.python.framework.ops"


def test_tensorflow_path_without_tensorflow():
    same(convert_log_value(FakeEagerTensor(np.float32(0.5)), "k"), 0.5)  # 0-d .numpy() is a scalar
    same(convert_log_value(FakeEagerTensor(np.arange(3, dtype=np.float32)), "k"), [0.0, 1.0, 2.0])
    s, blob = convert_summary_value(FakeEagerTensor(np.arange(40, dtype=np.float32).reshape(8, 5)), "w")
    same(s, {**S40, "_type": "tensorflow.Tensor", "dtype": "float32"})
    assert blob.dtype == np.float32


def test_tensorflow_eager_tensors():
    tf = pytest.importorskip("tensorflow")
    same(convert_log_value(tf.constant(0.5), "k"), 0.5)
    same(convert_log_value(tf.constant([1, 2, 3]), "k"), [1, 2, 3])
    s, blob = convert_summary_value(tf.Variable(tf.reshape(tf.range(40, dtype=tf.float32), (8, 5))), "w")
    same(s, {**S40, "_type": "tensorflow.Tensor", "dtype": "float32"})
    s, blob = convert_summary_value(tf.cast(tf.range(40), tf.bfloat16), "w")
    assert s["dtype"] == "bfloat16" and blob.dtype == np.float32 and s["mean"] == 19.5


# --- import cost ------------------------------------------------------------------------------

def test_import_does_not_load_frameworks():
    code = ("import sys, tracker_core.values\n"
            "bad = [m for m in ('torch', 'tensorflow', 'jax', 'pandas') if m in sys.modules]\n"
            "assert not bad, bad\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=str(ROOT))


def test_small_max_constant():
    assert SMALL_MAX == 32 and V.SMALL_MAX == 32
