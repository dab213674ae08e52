"""DESIGN.md section 3 "Summary rules" items 1-2 (default = last value, explicit writes) and
their "Precise details", public API only.

Every summary is compared exactly (types included: 2.0 is not 2, NaN equals NaN) after
finish() through a fresh ``tc.Api()``, and in process where the rule is about the live run.
Helpers are in helpers_rules.py.
"""

from __future__ import annotations

import collections.abc

import pytest

import tracker_core as tc

from .helpers_rules import check, finish_and_check, stored, user_view

# -- rule 1: default = last value ----------------------------------------------------------------

def test_r1_each_leaf_holds_last_value_absent_leaves_kept():
    """3.1: last value per leaf; nested dicts create leaves; leaves absent from a row keep theirs."""
    run = tc.init(project="p")
    run.log({"loss": 0.9, "acc": 0.1, "m": {"a": 1, "b": 2}})
    run.log({"loss": 0.5, "m": {"b": 3}})
    run.log({"loss": 0.7, "other": "x"})
    finish_and_check(run, {"loss": 0.7, "acc": 0.1, "m": {"a": 1, "b": 3}, "_step": 2, "other": "x"})


def test_r1_runtime_timestamp_present_and_step_absent_without_logs():
    """3.1 + details: _runtime/_timestamp present; _step absent when nothing was logged."""
    run = tc.init(project="p")
    run.summary["only"] = 1
    assert "_step" not in run.summary
    run.finish()
    s = tc.Api().run(run.path).summary
    assert "_step" not in s
    assert isinstance(s["_runtime"], float) and s["_runtime"] >= 0
    assert isinstance(s["_timestamp"], float) and s["_timestamp"] > 1.5e9
    check(stored(run), {"only": 1})


def test_r1_slash_dot_and_nested_keys_are_distinct():
    """3.1/3.3: 'a/b' and 'a.b' are flat keys, {'a': {'b'}} is a nested leaf; all coexist."""
    run = tc.init(project="p")
    run.log({"a/b": 1, "a.b": 2, "a": {"b": 3}})
    finish_and_check(run, {"a/b": 1, "a.b": 2, "a": {"b": 3}, "_step": 0})


# -- rule 2: explicit writes ---------------------------------------------------------------------

def test_r2_program_order_last_write_wins_against_logs():
    """3.2: writes and logs apply in program order (item, attribute and update forms)."""
    run = tc.init(project="p")
    run.log({"x": 1, "y": 1, "z": 1})
    run.summary["x"] = 5
    run.summary.y = 6
    run.summary.update({"z": 7})
    check(user_view(run.summary), {"x": 5, "y": 6, "z": 7, "_step": 0})
    run.log({"x": 2})
    finish_and_check(run, {"x": 2, "y": 6, "z": 7, "_step": 1})


def test_r2_write_between_pending_log_and_commit_wins():
    """3.2: program order holds for a commit=False log followed by a write."""
    run = tc.init(project="p")
    run.log({"x": 1}, commit=False)
    run.summary["x"] = 5
    run.log({"y": 2})
    finish_and_check(run, {"x": 5, "y": 2, "_step": 0})


def test_r2_update_replaces_whole_subtree():
    """3.2: update(d) replaces the value at each top-level key (dict semantics)."""
    run = tc.init(project="p")
    run.log({"m": {"a": 1, "b": 2}, "k": 0})
    run.summary.update({"m": {"c": 3}}, k=9)
    finish_and_check(run, {"m": {"c": 3}, "k": 9, "_step": 0})


def test_r2_nested_assignment_keeps_siblings_logged_written_and_deep():
    """3.2 (fix): summary['m']['b'] = v changes one leaf and keeps its siblings, at any depth."""
    run = tc.init(project="p")
    run.log({"m": {"a": 1, "b": 2}})
    run.summary["m"]["b"] = 20
    run.summary["w"] = {"a": 1}
    run.summary["w"]["b"] = 2
    run.summary["d"] = {"x": {"y": 1, "z": 2}}
    run.summary["d"]["x"]["z"] = 3
    finish_and_check(run, {"m": {"a": 1, "b": 20}, "_step": 0, "w": {"a": 1, "b": 2},
                           "d": {"x": {"y": 1, "z": 3}}})


def test_r2_logging_nested_after_written_dict_keeps_other_leaves():
    """Details: an explicitly written dict is a subtree; logging {'m': {'b': 2}} keeps m.a."""
    run = tc.init(project="p")
    run.summary["m"] = {"a": 1}
    run.log({"m": {"b": 2}})
    finish_and_check(run, {"m": {"a": 1, "b": 2}, "_step": 0})


def test_r2_nested_edit_through_api_after_finish_keeps_siblings():
    """3.2 + 6: Api().run(path).summary['m']['b'] = v; update() persists one leaf, keeps siblings."""
    run = tc.init(project="p")
    run.log({"m": {"a": 1, "b": 2}, "k": 1})
    run.finish()
    r = tc.Api().run(run.path)
    r.summary["m"]["b"] = 5
    r.summary.update()
    check(stored(run), {"m": {"a": 1, "b": 5}, "k": 1, "_step": 0})


def test_r2_del_resets_all_state_and_keeps_definition():
    """3.2 (fix) + details: del removes the leaf and all its state; the definition stays."""
    run = tc.init(project="p")
    run.define_metric("x", summary="min,max,mean,first,last")
    run.define_metric("b", summary="best", objective="minimize")
    run.log({"x": 1, "b": 0.1, "n": {"a": 1, "b": 2}})
    run.log({"x": 5, "b": 0.2})
    del run.summary["x"]
    del run.summary.b
    del run.summary["n"]["a"]
    assert "x" not in run.summary and "b" not in run.summary
    run.log({"x": 3, "b": 0.5})
    run.log({"x": 4, "b": 0.7})
    finish_and_check(run, {"n": {"b": 2}, "_step": 3,
                           "x": {"min": 3, "max": 4, "mean": 3.5, "first": 3, "last": 4},
                           "b": {"best": 0.5}})
    d = tc.Api().run(run.path).summary.details("x")
    check(d, {"min": {"value": 3, "step": 2}, "max": {"value": 4, "step": 3}, "count": 2, "nan_count": 0})


def test_r2_del_missing_key_is_keyerror():
    """Details: deleting a missing key is a KeyError (also nested, also through the Api)."""
    run = tc.init(project="p")
    run.log({"m": {"a": 1}})
    with pytest.raises(KeyError):
        del run.summary["nope"]
    with pytest.raises(KeyError):
        del run.summary["m"]["nope"]
    with pytest.raises(KeyError):
        run.summary["nope"]
    run.finish()
    with pytest.raises(KeyError):
        del tc.Api().run(run.path).summary["nope"]


def test_r2_summary_is_mutable_mapping_with_attribute_access():
    """3.2: a real MutableMapping: len, in, iteration, get, pop, setdefault, attributes."""
    run = tc.init(project="p")
    s = run.summary
    assert isinstance(s, collections.abc.MutableMapping)
    s["a"] = 1
    s.b = 2
    s.update({"c": 3}, d=4)
    assert [k for k in s if not k.startswith("_")] == ["a", "b", "c", "d"]
    assert len(s) == len(list(s)) == len(s.keys())
    assert "a" in s and "zz" not in s
    assert s.get("zz", -1) == -1 and s.c == 3
    assert s.pop("d") == 4 and "d" not in s
    assert s.setdefault("e", 5) == 5 and s.setdefault("a", 99) == 1
    assert sorted((k, v) for k, v in s.items() if not k.startswith("_")) == [("a", 1), ("b", 2), ("c", 3), ("e", 5)]
    with pytest.raises(AttributeError):
        s.missing_attr
    finish_and_check(run, {"a": 1, "b": 2, "c": 3, "e": 5})


def test_r2_explicit_write_does_not_enter_aggregates():
    """Details: an explicit write is not a logged value: min/max/mean/best and details ignore it."""
    run = tc.init(project="p")
    run.define_metric("loss", summary="min,max,mean,best", objective="minimize")
    run.log({"loss": 0.5})
    run.log({"loss": 0.2})
    run.summary["loss"] = 99
    check(user_view(run.summary), {"loss": 99, "_step": 1})
    run.log({"loss": 0.7})
    finish_and_check(run, {"loss": {"min": 0.2, "max": 0.7, "mean": (0.5 + 0.2 + 0.7) / 3, "best": 0.2},
                           "_step": 2})
    check(tc.Api().run(run.path).summary.details("loss"),
          {"min": {"value": 0.2, "step": 1}, "max": {"value": 0.7, "step": 2},
           "best": {"value": 0.2, "step": 1}, "count": 3, "nan_count": 0})


def test_r2_explicit_write_to_defined_leaf_is_final_if_not_logged_again():
    """3.3: an explicit write overrides a defined leaf until its next log; persisted as written."""
    run = tc.init(project="p")
    run.define_metric("loss", summary="min")
    run.log({"loss": 0.3})
    run.summary["loss"] = {"custom": 1}
    finish_and_check(run, {"loss": {"custom": 1}, "_step": 0})


def test_derived_summary_keys_cannot_be_written_or_deleted():
    """_step, _runtime and _timestamp are kept by the tracker: a write would make the summary
    disagree with the filters (which read the run's columns) and with history."""
    run = tc.init(project="derived", system_metrics=False)
    run.log({"loss": 1.0})
    for key in ("_step", "_runtime", "_timestamp"):
        with pytest.raises(ValueError, match=key):
            run.summary[key] = 99
        with pytest.raises(ValueError, match=key):
            del run.summary[key]
        with pytest.raises(ValueError, match=key):
            run.summary.update({key: 1})
    run.summary["nested"] = {"_step": 3}  # only the top-level keys are the tracker's
    assert run.summary["_step"] == 0 and run.summary["nested"]["_step"] == 3
    run.finish()
    stored_run = tc.Api().run(run.path)
    with pytest.raises(ValueError, match="_step"):
        stored_run.summary["_step"] = 99
    assert stored_run.summary["_step"] == 0
