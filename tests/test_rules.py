"""DESIGN.md section 3 "Summary rules" (items 1-5 and the "Precise details"), public API only.

Step metrics, steps (item 6), resume (item 7) and the run lifecycle are in
test_rules_steps.py. Every summary is compared exactly (types included: 2.0 is not 2,
NaN equals NaN) after finish() through a fresh ``tc.Api()``, and in process where the
rule is about the live run.
"""

from __future__ import annotations

import collections.abc
import math

import numpy as np
import pytest

import tracker_core as tc

NAN, INF = float("nan"), float("inf")
VOLATILE = ("_runtime", "_timestamp")


# -- helpers ---------------------------------------------------------------------------------

def plain(value):
    """A summary (or a nested summary view) as plain nested dicts."""
    if isinstance(value, collections.abc.Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def user_view(summary) -> dict:
    return {k: plain(v) for k, v in summary.items() if k not in VOLATILE}


def stored(run) -> dict:
    """The summary read back through a fresh Api (the run must be finished)."""
    return user_view(tc.Api().run(run.path).summary)


def same(actual, expected) -> bool:
    """Exact equality: same types (int is not float, bool is not int), NaN equals NaN."""
    if isinstance(expected, float) and math.isnan(expected):
        return type(actual) is float and math.isnan(actual)
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(same(actual[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(same(a, e) for a, e in zip(actual, expected))
    return actual == expected


def check(actual, expected) -> None:
    assert same(actual, expected), f"\nactual:   {actual!r}\nexpected: {expected!r}"


def finish_and_check(run, expected: dict) -> None:
    """The live summary, then the stored one after finish(), are exactly ``expected``."""
    check(user_view(run.summary), expected)
    run.finish()
    check(stored(run), expected)


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


# -- rule 3: define_metric ops -------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["min,max,mean,first,last", " MIN , Max,mean ,FIRST,last ",
                                  ["min", "MAX", " mean", "first", "Last"]])
def test_r3_ops_string_list_case_and_spaces(spec):
    """3.3: comma string or list of ops, case-insensitive, spaces allowed; exactly those ops."""
    run = tc.init(project="p")
    run.define_metric("x", summary=spec)
    for v in [0.5, 0.25, 2.0, 1.25]:
        run.log({"x": v})
    finish_and_check(run, {"x": {"min": 0.25, "max": 2.0, "mean": 1.0, "first": 0.5, "last": 1.25},
                           "_step": 3})


def test_r3_single_ops_and_last_is_a_dict():
    """3.3: a defined leaf becomes a dict with exactly the requested ops; 'last' gives {'last': v}."""
    run = tc.init(project="p")
    for op in ("min", "max", "mean", "first", "last"):
        run.define_metric(op, summary=op)
    for v in [5, 3, 9, 7]:
        run.log({op: v for op in ("min", "max", "mean", "first", "last")})
    finish_and_check(run, {"min": {"min": 3}, "max": {"max": 9}, "mean": {"mean": 6.0},
                           "first": {"first": 5}, "last": {"last": 7}, "_step": 3})


def test_r3_none_removes_leaf_history_keeps_it():
    """3.3: 'none' removes the leaf from the summary; history keeps its values."""
    run = tc.init(project="p")
    run.define_metric("x", summary="none")
    for v in [5, 6]:
        run.log({"x": v, "y": v})
    finish_and_check(run, {"y": 6, "_step": 1})
    rows = tc.Api().run(run.path).history(pandas=False)
    assert [(r["_step"], r["x"], r["y"]) for r in rows] == [(0, 5, 5), (1, 6, 6)]


def test_r3_merge_overwrite_none_wins_and_reenable():
    """3.3: calls merge; overwrite=True replaces; 'none' wins within a call; later ops re-enable."""
    run = tc.init(project="p")
    run.define_metric("merged", summary="min")
    run.define_metric("merged", summary="max")
    run.define_metric("merged", summary="mean")
    run.define_metric("over", summary="best", objective="maximize")
    run.define_metric("over", summary="min", overwrite=True)
    run.define_metric("none_in_call", summary=["max", "None"])
    run.define_metric("off_later", summary="max")
    run.define_metric("off_later", summary="none")
    run.define_metric("reenabled", summary="none")
    run.define_metric("reenabled", summary="max")
    for v in [3, 1, 2]:
        run.log({k: v for k in ("merged", "over", "none_in_call", "off_later", "reenabled")})
    finish_and_check(run, {"merged": {"min": 1, "max": 3, "mean": 2.0}, "over": {"min": 1},
                           "reenabled": {"max": 3}, "_step": 2})


def test_r3_empty_summary_string_means_no_summary_argument():
    """Details: summary='' means no summary argument (undefined stays bare; a merge keeps ops)."""
    run = tc.init(project="p")
    run.define_metric("bare", summary="")
    run.define_metric("kept", summary="min")
    run.define_metric("kept", summary="")
    for v in [2, 1, 3]:
        run.log({"bare": v, "kept": v})
    finish_and_check(run, {"bare": 3, "kept": {"min": 1}, "_step": 2})


def test_r3_hidden_does_not_change_summary():
    """3.3: hidden=True is a display flag; the summary value is unchanged."""
    run = tc.init(project="p")
    run.define_metric("h", hidden=True)
    run.log({"h": 1})
    run.log({"h": 2})
    finish_and_check(run, {"h": 2, "_step": 1})


def test_r3_defined_but_never_logged_names_absent():
    """Details: names defined but never logged do not appear in the summary."""
    run = tc.init(project="p")
    run.define_metric("ghost", summary="min,max")
    run.define_metric("g/*", summary="max")
    run.log({"real": 1})
    finish_and_check(run, {"real": 1, "_step": 0})


def test_r3_late_define_metric_covers_earlier_values():
    """3.3: aggregates are kept from the first value, so a late define_metric covers them."""
    run = tc.init(project="p")
    for v in [4, 1, 7]:
        run.log({"x": v})
    run.define_metric("x", summary="min,max,mean,first")
    finish_and_check(run, {"x": {"min": 1, "max": 7, "mean": 4.0, "first": 4}, "_step": 2})
    check(tc.Api().run(run.path).summary.details("x"),
          {"min": {"value": 1, "step": 1}, "max": {"value": 7, "step": 2}, "count": 3, "nan_count": 0})


# -- rule 3: best / objective --------------------------------------------------------------------

def test_r3_best_not_last_with_steps_in_details():
    """3.3: best is the best value (not the last); details give min/max/best steps, in process and via Api."""
    run = tc.init(project="p")
    run.define_metric("loss", summary="best,min,max", objective="minimize")
    run.define_metric("acc", summary="best", goal="maximize")
    for loss, acc in [(0.5, 0.1), (0.1, 0.9), (0.3, 0.4), (0.2, 0.3)]:
        run.log({"loss": loss, "acc": acc})
    expected_loss = {"min": {"value": 0.1, "step": 1}, "max": {"value": 0.5, "step": 0},
                     "best": {"value": 0.1, "step": 1}, "count": 4, "nan_count": 0}
    expected_acc = {"min": {"value": 0.1, "step": 0}, "max": {"value": 0.9, "step": 1},
                    "best": {"value": 0.9, "step": 1}, "count": 4, "nan_count": 0}
    check(run.summary.details("loss"), expected_loss)
    check(run.summary.details("acc"), expected_acc)
    finish_and_check(run, {"loss": {"best": 0.1, "min": 0.1, "max": 0.5}, "acc": {"best": 0.9}, "_step": 3})
    s = tc.Api().run(run.path).summary
    check(s.details("loss"), expected_loss)
    check(s.details("acc"), expected_acc)


@pytest.mark.parametrize("objective,expected", [("minimize", 1), ("MIN", 1), (" Min ", 1),
                                                ("maximize", 9), ("Max", 9), ("MAXIMIZE", 9)])
def test_r3_objective_case_insensitive_aliases(objective, expected):
    """Details: objectives are case-insensitive: minimize/min, maximize/max."""
    run = tc.init(project="p")
    run.define_metric("m", summary="best", objective=objective)
    for v in [5, 1, 9, 4]:
        run.log({"m": v})
    finish_and_check(run, {"m": {"best": expected}, "_step": 3})


def test_r3_objective_without_best_adds_nothing():
    """Details: an objective without 'best' is kept and adds nothing to the summary."""
    run = tc.init(project="p")
    run.define_metric("plain", objective="maximize")
    run.define_metric("withmin", summary="min", objective="maximize")
    for v in [1, 3, 2]:
        run.log({"plain": v, "withmin": v})
    finish_and_check(run, {"plain": 2, "withmin": {"min": 1}, "_step": 2})


def test_r3_best_ties_report_first_step_reached():
    """3.3 (silent on ties; reasonable): the step recorded is the first one reaching the best."""
    run = tc.init(project="p")
    run.define_metric("loss", summary="best", objective="minimize")
    for v in [0.3, 0.1, 0.1]:
        run.log({"loss": v})
    run.finish()
    assert tc.Api().run(run.path).summary.details("loss")["best"] == {"value": 0.1, "step": 1}


def test_r3_best_objective_from_earlier_call_on_same_name():
    """3.3 merge (spec silent on best+merge; reasonable): objective from an earlier call satisfies best."""
    run = tc.init(project="p")
    run.define_metric("loss", objective="minimize")
    run.define_metric("loss", summary="best")
    for v in [0.3, 0.1, 0.2]:
        run.log({"loss": v})
    finish_and_check(run, {"loss": {"best": 0.1}, "_step": 2})


def test_r3_best_objective_from_matching_glob_field_by_field():
    """Details (field by field; reasonable): an exact 'best' takes the objective from the glob."""
    run = tc.init(project="p")
    run.define_metric("val/*", objective="maximize")
    run.define_metric("val/acc", summary="best")
    for v in [0.3, 0.9, 0.2]:
        run.log({"val/acc": v})
    finish_and_check(run, {"val/acc": {"best": 0.9}, "_step": 2})


# -- rule 3: names, globs, precedence ------------------------------------------------------------

def test_r3_glob_prefix_and_star_never_match_underscore_keys():
    """3.3: 'train/*' matches its prefix only; '*' matches everything except keys starting with '_'."""
    run = tc.init(project="p")
    run.define_metric("train/*", summary="max")
    run.define_metric("*", summary="min")
    run.define_metric("_*", summary="max")
    for v in [2, 5, 1]:
        run.log({"train/loss": v, "trainer": v, "val/loss": v, "_private": v, "n": {"x": v}})
    finish_and_check(run, {"train/loss": {"max": 5}, "trainer": {"min": 1}, "val/loss": {"min": 1},
                           "_private": 1, "n": {"x": {"min": 1}}, "_step": 2})


def test_r3_precedence_exact_then_longest_glob_independent_of_order():
    """3.3 (fix): exact name first, then the longest matching glob, whatever the definition order."""
    run = tc.init(project="p")
    run.define_metric("train/loss", summary="first")
    run.define_metric("train/l*", summary="min")
    run.define_metric("train/*", summary="max")
    run.define_metric("*", summary="mean")
    for v in [2, 5, 1]:
        run.log({"train/loss": v, "train/lr": v, "train/acc": v, "other": v})
    finish_and_check(run, {"train/loss": {"first": 2}, "train/lr": {"min": 1}, "train/acc": {"max": 5},
                           "other": {"mean": 8 / 3}, "_step": 2})


def test_r3_field_by_field_merge_across_globs():
    """Details: fields unset by a longer glob come from a shorter one (ops vs objective)."""
    run = tc.init(project="p")
    run.define_metric("train/l*", objective="minimize")
    run.define_metric("train/*", summary="best", objective="maximize")
    for v in [2, 5, 1, 3]:
        run.log({"train/loss": v, "train/acc": v})
    finish_and_check(run, {"train/loss": {"best": 1}, "train/acc": {"best": 5}, "_step": 3})


def test_r3_glob_redefinition_changes_keys_already_seen():
    """Details: globs are resolved against the current definitions each time."""
    run = tc.init(project="p")
    run.define_metric("m/*", summary="min")
    for v in [2, 5, 1]:
        run.log({"m/a": v, "m/b": v})
    check(user_view(run.summary), {"m/a": {"min": 1}, "m/b": {"min": 1}, "_step": 2})
    run.define_metric("m/*", summary="max", overwrite=True)
    check(user_view(run.summary), {"m/a": {"max": 5}, "m/b": {"max": 5}, "_step": 2})
    run.define_metric("m/*", summary="last")
    finish_and_check(run, {"m/a": {"max": 5, "last": 1}, "m/b": {"max": 5, "last": 1}, "_step": 2})


def test_r3_dotted_name_matches_flat_and_nested_separately():
    """3.3 (fix): 'a.b' matches the flat key 'a.b' and the nested path a->b; each leaf on its own."""
    run = tc.init(project="p")
    run.define_metric("a.b", summary="max")
    run.define_metric("val.loss", summary="min")
    run.define_metric("n.*", summary="min")
    for v in [1, 3, 2]:
        run.log({"a.b": v, "a": {"b": -v}, "val": {"loss": v}, "n": {"x": v}})
    finish_and_check(run, {"a.b": {"max": 3}, "a": {"b": {"max": -1}}, "val": {"loss": {"min": 1}},
                           "n": {"x": {"min": 1}}, "_step": 2})
    check(tc.Api().run(run.path).summary["a"].details("b"),
          {"min": {"value": -3, "step": 1}, "max": {"value": -1, "step": 0}, "count": 3, "nan_count": 0})


# -- rule 3: invalid input -----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,needles", [
    ({"name": 123}, ["123"]),
    ({"name": "x", "step_sync": 1}, ["step_sync", "1"]),
    ({"name": "x", "objective": 1}, ["objective", "1"]),
    ({"name": "x", "goal": 1}, ["1"]),
    ({"name": "x", "hidden": "yes"}, ["hidden", "yes"]),
    ({"name": "x", "step_metric": 5}, ["step_metric", "5"]),
    ({"name": "x", "overwrite": "y"}, ["overwrite", "y"]),
    ({"name": "x", "summary": 5}, ["summary"]),
    ({"name": "x", "summary": ["min", 3]}, ["3"]),
])
def test_r3_wrong_types_are_typeerror(kwargs, needles):
    """Details 'Errors': an argument of the wrong type is a TypeError naming the bad value."""
    run = tc.init(project="p")
    with pytest.raises(TypeError) as err:
        run.define_metric(**kwargs)
    for needle in needles:
        assert needle in str(err.value)


@pytest.mark.parametrize("kwargs,needles", [
    ({"name": ""}, ["name"]),
    ({"name": "a*b"}, ["a*b"]),
    ({"name": "*a*"}, ["*a*"]),
    ({"name": "x", "summary": "median"}, ["median", "min", "max", "mean", "first", "last", "best", "none"]),
    ({"name": "x", "summary": "min,bogus"}, ["bogus"]),
    ({"name": "x", "summary": "copy"}, ["copy", "last"]),
    ({"name": "x", "summary": "best"}, ["best", "objective"]),
    ({"name": "x", "summary": ["min", "BEST"]}, ["objective"]),
    ({"name": "x", "summary": "best", "objective": "upward"}, ["upward", "minimize", "maximize"]),
    ({"name": "x", "goal": "sideways"}, ["sideways", "minimize", "maximize"]),
])
def test_r3_disallowed_values_are_valueerror(kwargs, needles):
    """Details 'Errors': a disallowed value is a ValueError naming it (and the allowed ones)."""
    run = tc.init(project="p")
    with pytest.raises(ValueError) as err:
        run.define_metric(**kwargs)
    for needle in needles:
        assert needle in str(err.value)


def test_r3_rejected_define_metric_changes_nothing():
    """3.3: a rejected call defines nothing: the earlier definition (or none) stays."""
    run = tc.init(project="p")
    run.define_metric("acc", summary="max")
    for bad in ({"summary": "best"}, {"summary": "min,median"}, {"objective": "up"}, {"step_sync": 1}):
        with pytest.raises((TypeError, ValueError)):
            run.define_metric("acc", **bad)
        with pytest.raises((TypeError, ValueError)):
            run.define_metric("loss", **bad)
    for loss, acc in [(0.5, 0.1), (0.2, 0.9)]:
        run.log({"loss": loss, "acc": acc})
    finish_and_check(run, {"acc": {"max": 0.9}, "loss": 0.2, "_step": 1})


def test_r3_log_type_errors_and_rejected_log_adds_no_row():
    """Details 'Errors': a non-dict log / non-str key is a TypeError; nothing is recorded."""
    run = tc.init(project="p")
    for bad in ([1, 2], "x", 3):
        with pytest.raises(TypeError):
            run.log(bad)
    with pytest.raises(TypeError) as err:
        run.log({1: 2})
    assert "1" in str(err.value)
    with pytest.raises(TypeError) as err:
        run.log({"ok": 1, "bad": object()})
    assert "bad" in str(err.value)
    run.log({"x": 1.0})
    finish_and_check(run, {"x": 1.0, "_step": 0})
    assert [r["_step"] for r in tc.Api().run(run.path).scan_history()] == [0]


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
