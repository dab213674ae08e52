"""Tests for tracker_core.values: plain Python values (DESIGN.md section 4, rules 3.4/3.5 on
single values) and the TypeError for unsupported values."""
from __future__ import annotations

import datetime
import enum
import math
from collections import OrderedDict
from fractions import Fraction

import numpy as np
import pytest

from tracker_core.values import convert_log_value, convert_summary_value

from .helpers_values import same

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
