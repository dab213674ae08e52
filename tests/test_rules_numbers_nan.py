"""DESIGN.md section 3 "Summary rules" items 4-5 (numbers; NaN, infinities, None) and their
"Precise details", public API only.

Every summary is compared exactly (types included: 2.0 is not 2, NaN equals NaN) after
finish() through a fresh ``tc.Api()``, and in process where the rule is about the live run.
Helpers are in helpers_rules.py.
"""

from __future__ import annotations

import numpy as np

import tracker_core as tc

from .helpers_rules import INF, NAN, check, finish_and_check

# -- rule 4: numbers -----------------------------------------------------------------------------

def test_r4_ints_stay_ints_floats_stay_floats_mean_is_float():
    """3.4 + details: no 2.0 -> 2; int min/max/first/last/best are ints, mean is a float."""
    run = tc.init(project="p")
    run.define_metric("i", summary="min,max,first,last,mean,best", objective="max")
    run.define_metric("f", summary="min,max,first,last,mean")
    for i, f in [(2, 2.0), (4, 1234567.0), (3, 3.0)]:
        run.log({"i": i, "f": f, "raw_f": f, "raw_i": i})
    expected = {"i": {"min": 2, "max": 4, "first": 2, "last": 3, "mean": 3.0, "best": 4},
                "f": {"min": 2.0, "max": 1234567.0, "first": 2.0, "last": 3.0, "mean": (2.0 + 1234567.0 + 3.0) / 3},
                "raw_f": 3.0, "raw_i": 3, "_step": 2}
    finish_and_check(run, expected)
    s = tc.Api().run(run.path).summary
    assert type(s["raw_f"]) is float and type(s["raw_i"]) is int and type(s["i"]["mean"]) is float
    d = s.details("i")
    assert type(d["min"]["value"]) is int and type(d["best"]["value"]) is int


def test_r4_big_ints_exact_everywhere():
    """3.4: big ints are exact (beyond int64 and 2**53) in last values, writes, aggregates, details."""
    run = tc.init(project="p")
    run.define_metric("big", summary="min,max,first,last,best", objective="maximize")
    for v in [2**64, 2**64 + 1, -(2**70)]:
        run.log({"big": v})
    run.log({"i53": 2**53 + 1})
    run.summary["huge"] = 10**30
    run.summary["neg"] = -(2**63) - 1
    run.summary["nested"] = {"b": 2**100 + 1}
    finish_and_check(run, {"big": {"min": -(2**70), "max": 2**64 + 1, "first": 2**64, "last": -(2**70),
                                   "best": 2**64 + 1},
                           "i53": 2**53 + 1, "_step": 3, "huge": 10**30, "neg": -(2**63) - 1,
                           "nested": {"b": 2**100 + 1}})
    d = tc.Api().run(run.path).summary.details("big")
    check(d["max"], {"value": 2**64 + 1, "step": 1})
    check(d["min"], {"value": -(2**70), "step": 2})


def test_r4_big_int_mean_is_float():
    """Details: for an int metric mean is a float, also for big ints."""
    run = tc.init(project="p")
    run.define_metric("big", summary="mean")
    run.log({"big": 2**64})
    run.log({"big": 2**64 + 2})
    finish_and_check(run, {"big": {"mean": float(2**64 + 1)}, "_step": 1})


def test_r4_bool_is_not_numeric():
    """3.4/3.5: bools are stored as bools, never as 0/1, and never enter min/max/mean."""
    run = tc.init(project="p")
    run.define_metric("flag", summary="min,max,mean,first,last")
    run.define_metric("mixed", summary="min,max,mean,last")
    for flag, mixed in [(True, 3), (False, True), (True, 1)]:
        run.log({"flag": flag, "mixed": mixed, "raw": flag})
    finish_and_check(run, {"flag": {"first": True, "last": True}, "mixed": {"min": 1, "max": 3, "mean": 2.0, "last": 1},
                           "raw": True, "_step": 2})
    s = tc.Api().run(run.path).summary
    assert type(s["raw"]) is bool and type(s["flag"]["first"]) is bool


def test_r4_numpy_scalars_and_0d_arrays_become_python_numbers():
    """3.4: numpy scalars and 0-d arrays become Python int/float/bool (logged and written)."""
    run = tc.init(project="p")
    run.define_metric("npi", summary="min,max")
    run.log({"npi": np.int64(7), "npf": np.float32(0.5), "np0d": np.array(2.5), "npb": np.bool_(True),
             "np0i": np.array(3, dtype=np.int32)})
    run.log({"npi": np.uint8(3)})
    run.summary["w_i"] = np.int16(-4)
    run.summary["w_f"] = np.float64(1.25)
    expected = {"npi": {"min": 3, "max": 7}, "npf": 0.5, "np0d": 2.5, "npb": True, "np0i": 3, "_step": 1,
                "w_i": -4, "w_f": 1.25}
    finish_and_check(run, expected)
    s = tc.Api().run(run.path).summary
    assert type(s["npi"]["max"]) is int and type(s["npf"]) is float and type(s["npb"]) is bool


def test_r4_torch_0d_tensors_become_python_numbers():
    """3.4: 0-d (and 1-element) torch tensors become Python numbers, also with requires_grad."""
    import torch

    run = tc.init(project="p")
    run.define_metric("ti", summary="min,max,mean")
    run.log({"ti": torch.tensor(3), "tf": torch.tensor(2.5), "tb": torch.tensor(True),
             "tg": torch.tensor([0.25], requires_grad=True)})
    run.log({"ti": torch.tensor(5, dtype=torch.int64)})
    run.summary["w"] = torch.tensor(7, dtype=torch.int32)
    finish_and_check(run, {"ti": {"min": 3, "max": 5, "mean": 4.0}, "tf": 2.5, "tb": True, "tg": 0.25,
                           "_step": 1, "w": 7})


def test_r4_key_order_is_first_appearance():
    """3.4 (fix) + details: key order is first appearance (logs and writes), in process and via Api."""
    run = tc.init(project="p")
    run.log({"zeta": 1, "alpha": 2, "m": {"y": 1, "b": 2}})
    run.summary["middle"] = 0
    run.log({"alpha": 3, "beta": 4, "m": {"a": 5}})
    run.log({"zeta": 5})
    order = ["zeta", "alpha", "m", "middle", "beta"]
    assert [k for k in run.summary if not k.startswith("_")] == order
    assert list(run.summary["m"]) == ["y", "b", "a"]
    run.finish()
    s = tc.Api().run(run.path).summary
    assert [k for k in s if not k.startswith("_")] == order
    assert list(s["m"]) == ["y", "b", "a"]


# -- rule 5: NaN, infinities, None ---------------------------------------------------------------

def test_r5_nan_skipped_by_aggregates_counted_kept_by_first_last():
    """3.5 (fix): min/max/mean/best skip NaN and count it; first/last keep the raw NaN."""
    run = tc.init(project="p")
    run.define_metric("x", summary="min,max,mean,best,first,last", objective="minimize")
    for v in [NAN, 0.5, np.nan, 0.2, 0.4, NAN]:
        run.log({"x": v, "raw": v})
    expected_details = {"min": {"value": 0.2, "step": 3}, "max": {"value": 0.5, "step": 1},
                        "best": {"value": 0.2, "step": 3}, "count": 6, "nan_count": 3}
    check(run.summary.details("x"), expected_details)
    finish_and_check(run, {"x": {"min": 0.2, "max": 0.5, "mean": (0.5 + 0.2 + 0.4) / 3, "best": 0.2,
                                 "first": NAN, "last": NAN}, "raw": NAN, "_step": 5})
    check(tc.Api().run(run.path).summary.details("x"), expected_details)


def test_r5_infinities_are_ordinary_numbers_mean_nan():
    """3.5 + details: ±inf take part in min/max/best; the mean of +inf and -inf is NaN."""
    run = tc.init(project="p")
    run.define_metric("x", summary="min,max,mean,best", objective="maximize")
    run.define_metric("up", summary="mean,max")
    for v in [1.0, INF, -INF, 2.0]:
        run.log({"x": v})
    run.log({"up": 1.0})
    run.log({"up": INF})
    finish_and_check(run, {"x": {"min": -INF, "max": INF, "mean": NAN, "best": INF},
                           "_step": 5, "up": {"mean": INF, "max": INF}})
    d = tc.Api().run(run.path).summary.details("x")
    check(d, {"min": {"value": -INF, "step": 2}, "max": {"value": INF, "step": 1},
              "best": {"value": INF, "step": 1}, "count": 4, "nan_count": 0})


def test_r5_leaf_without_numbers_has_no_min_max_mean():
    """3.5: a leaf that never saw a number has no min/max/mean (strings, None, all-NaN)."""
    run = tc.init(project="p")
    run.define_metric("*", summary="min,max,mean,best,first,last", objective="minimize")
    for s, n in [("a", None), ("b", None)]:
        run.log({"s": s, "n": n, "allnan": NAN})
    finish_and_check(run, {"s": {"first": "a", "last": "b"}, "n": {"first": None, "last": None},
                           "allnan": {"first": NAN, "last": NAN}, "_step": 1})
    check(tc.Api().run(run.path).summary.details("allnan"), {"count": 2, "nan_count": 2})


def test_r5_none_logged_and_written_stored_as_null():
    """3.5 + details: None is null whether logged (nested too) or written; first/last keep it, min skips it."""
    run = tc.init(project="p")
    run.define_metric("z", summary="first,last,min")
    run.log({"n": {"a": 1, "b": None}, "z": None})
    run.log({"z": 2})
    run.log({"z": None})
    run.summary.update({"u": None})
    run.summary.w = None
    run.summary["v"] = 1
    run.summary["v"] = None
    finish_and_check(run, {"n": {"a": 1, "b": None}, "z": {"first": None, "last": None, "min": 2}, "_step": 2,
                           "u": None, "w": None, "v": None})
    check(tc.Api().run(run.path).summary.details("z"),
          {"min": {"value": 2, "step": 1}, "max": {"value": 2, "step": 1}, "count": 3, "nan_count": 0})


def test_r5_explicit_nan_and_inf_kept():
    """Details: explicit NaN is kept as NaN (Python and numpy); infinities and NaN in lists too."""
    run = tc.init(project="p")
    run.summary["a"] = NAN
    run.summary["b"] = np.float32("nan")
    run.summary["c"] = -INF
    run.summary["d"] = [1.0, NAN, INF]
    finish_and_check(run, {"a": NAN, "b": NAN, "c": -INF, "d": [1.0, NAN, INF]})
