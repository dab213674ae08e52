"""DESIGN.md section 3 "Summary rules" item 3 (define_metric: ops, best/objective, names,
globs and precedence, invalid input) and its "Precise details", public API only.

Step metrics are in test_rules_steps.py. Every summary is compared exactly (types included:
2.0 is not 2, NaN equals NaN) after finish() through a fresh ``tc.Api()``, and in process
where the rule is about the live run. Helpers are in helpers_rules.py.
"""

from __future__ import annotations

import pytest

import tracker_core as tc

from .helpers_rules import check, finish_and_check, user_view

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
