"""DESIGN.md section 3: step metrics (item 3) and steps (item 6). Public API only; summaries
compared exactly after finish() through a fresh ``tc.Api()``; history through
``scan_history()`` / ``history(pandas=False)``. Resume (item 7) and the run lifecycle are in
test_rules_resume_lifecycle.py; helpers are in helpers_rules.py.
"""

from __future__ import annotations

import pytest

import tracker_core as tc

from .helpers_rules import check, finish_and_check, row_set, rows, stored

# -- rule 3: step metrics ------------------------------------------------------------------------

def test_r3_step_metric_inserts_latest_value_nothing_before_first_log():
    """3.3 (fix): rows with the metric get the latest 'epoch' (step_sync defaults to true);
    nothing is inserted before 'epoch' was ever logged, nor in rows without the metric."""
    run = tc.init(project="p")
    run.define_metric("val_loss", step_metric="epoch", summary="min")
    run.log({"val_loss": 0.9})
    run.log({"epoch": 0})
    run.log({"train_loss": 0.5})
    run.log({"val_loss": 0.8})
    run.log({"epoch": 1})
    run.log({"val_loss": 0.85, "epoch": 2})
    run.log({"val_loss": 0.7})
    finish_and_check(run, {"val_loss": {"min": 0.7}, "_step": 6, "epoch": 2, "train_loss": 0.5})
    assert rows(run) == [
        {"_step": 0, "val_loss": 0.9},
        {"_step": 1, "epoch": 0},
        {"_step": 2, "train_loss": 0.5},
        {"_step": 3, "val_loss": 0.8, "epoch": 0},
        {"_step": 4, "epoch": 1},
        {"_step": 5, "val_loss": 0.85, "epoch": 2},
        {"_step": 6, "val_loss": 0.7, "epoch": 2},
    ]
    # the inserted copies are not logged values of 'epoch' (reasonable; DESIGN.md is silent)
    assert tc.Api().run(run.path).summary.details("epoch")["count"] == 3


def test_r3_step_sync_false_inserts_nothing():
    """3.3: step_sync=False: rows are left as logged."""
    run = tc.init(project="p")
    run.define_metric("val_loss", step_metric="epoch", step_sync=False)
    run.log({"epoch": 3})
    run.log({"val_loss": 0.5})
    finish_and_check(run, {"epoch": 3, "val_loss": 0.5, "_step": 1})
    assert rows(run) == [{"_step": 0, "epoch": 3}, {"_step": 1, "val_loss": 0.5}]


def test_r3_step_metric_never_logged_is_not_invented():
    """3.3 (fix): a step metric never logged appears neither in history nor in the summary."""
    run = tc.init(project="p")
    run.define_metric("acc", step_metric="custom_step")
    run.define_metric("loss", step_metric="written_step")
    run.summary["written_step"] = 5  # written, never logged: not a logged value to insert
    run.log({"acc": 0.1})
    run.log({"acc": 0.2, "loss": 1.0})
    finish_and_check(run, {"written_step": 5, "acc": 0.2, "_step": 1, "loss": 1.0})
    assert rows(run) == [{"_step": 0, "acc": 0.1}, {"_step": 1, "acc": 0.2, "loss": 1.0}]


def test_r3_glob_step_metric_merged_field_by_field_with_exact_ops():
    """Details: define_metric('*', step_metric=...) + define_metric('val_loss', summary='min')
    gives val_loss both; '_' keys and the step metric's own rows get nothing extra."""
    run = tc.init(project="p")
    run.define_metric("*", step_metric="trainer/global_step")
    run.define_metric("val_loss", summary="min")
    run.log({"loss": 1.0, "_extra": 0})
    run.log({"trainer/global_step": 10, "loss": 0.9})
    run.log({"val_loss": 0.5})
    run.log({"trainer/global_step": 20})
    run.log({"val_loss": 0.3, "loss": 0.8})
    run.log({"val_loss": 0.4, "_extra": 1})
    finish_and_check(run, {"loss": 0.8, "_extra": 1, "_step": 5, "trainer/global_step": 20,
                           "val_loss": {"min": 0.3}})
    assert rows(run) == [
        {"_step": 0, "loss": 1.0, "_extra": 0},
        {"_step": 1, "trainer/global_step": 10, "loss": 0.9},
        {"_step": 2, "val_loss": 0.5, "trainer/global_step": 10},
        {"_step": 3, "trainer/global_step": 20},
        {"_step": 4, "val_loss": 0.3, "loss": 0.8, "trainer/global_step": 20},
        {"_step": 5, "val_loss": 0.4, "_extra": 1, "trainer/global_step": 20},
    ]
    check(tc.Api().run(run.path).summary.details("val_loss"),
          {"min": {"value": 0.3, "step": 4}, "max": {"value": 0.5, "step": 2}, "count": 3, "nan_count": 0})


def test_r3_dotted_step_metric_matches_nested_path():
    """3.3 (dotted names match nested paths; reasonable for step_metric): 'trainer.step' -> {'trainer': {'step'}}."""
    run = tc.init(project="p")
    run.define_metric("val/*", step_metric="trainer.step")
    run.log({"trainer": {"step": 5}})
    run.log({"val/acc": 0.5})
    run.finish()
    assert rows(run) == [{"_step": 0, "trainer.step": 5}, {"_step": 1, "val/acc": 0.5, "trainer.step": 5}]


def test_r3_step_metric_definition_merges_with_later_ops():
    """3.3 merge: a later call adding ops keeps the step_metric of the first."""
    run = tc.init(project="p")
    run.define_metric("val_loss", step_metric="epoch")
    run.define_metric("val_loss", summary="max")
    run.log({"epoch": 1})
    run.log({"val_loss": 0.5})
    finish_and_check(run, {"epoch": 1, "_step": 1, "val_loss": {"max": 0.5}})
    assert rows(run)[1] == {"_step": 1, "val_loss": 0.5, "epoch": 1}


# -- rule 6: steps -------------------------------------------------------------------------------

def test_r6_log_adds_row_at_next_step_empty_dict_too():
    """3.6: each log(d) is a row at the next step; log({}) still adds a row; _step is the largest."""
    run = tc.init(project="p")
    run.log({"a": 1})
    run.log({})
    run.log({"a": 2})
    assert run.summary["_step"] == 2
    finish_and_check(run, {"a": 2, "_step": 2})
    assert [r["_step"] for r in rows(run)] == [0, 1, 2]
    assert tc.Api().run(run.path).history(pandas=False)[2]["a"] == 2


def test_r6_commit_false_and_same_step_share_a_row():
    """3.6 (W&B): commit=False merges into the pending row; two logs with step=7 share one row."""
    run = tc.init(project="p")
    run.log({"a": 1}, commit=False)
    run.log({"b": 2}, commit=False)
    run.log({"c": 3})
    run.log({"a": 4})
    run.log({"a": 5}, step=7)
    run.log({"d": 6}, step=7)
    run.log({"e": 7}, step=8, commit=True)
    run.log({"f": 8})
    finish_and_check(run, {"a": 5, "b": 2, "c": 3, "_step": 9, "d": 6, "e": 7, "f": 8})
    assert rows(run) == [
        {"_step": 0, "a": 1, "b": 2, "c": 3},
        {"_step": 1, "a": 4},
        {"_step": 7, "a": 5, "d": 6},
        {"_step": 8, "e": 7},
        {"_step": 9, "f": 8},
    ]


def test_r6_step_keeps_row_open_until_higher_step_then_plain_log_commits():
    """3.6 (W&B): log(d, step=s) keeps the row open; a plain log() merges into it and commits."""
    run = tc.init(project="p")
    run.log({"a": 1}, step=5)
    run.log({"b": 2}, step=5)
    run.log({"a": 3}, commit=False)
    run.log({"c": 4})
    run.log({"d": 1})
    finish_and_check(run, {"a": 3, "b": 2, "_step": 6, "c": 4, "d": 1})
    assert rows(run) == [{"_step": 5, "a": 3, "b": 2, "c": 4}, {"_step": 6, "d": 1}]


def test_r6_pending_row_committed_by_finish():
    """3.6: a commit=False row is committed when the run finishes."""
    run = tc.init(project="p")
    run.log({"a": 1})
    run.log({"b": 2}, commit=False)
    run.finish()
    check(stored(run), {"a": 1, "_step": 1, "b": 2})
    assert rows(run) == [{"_step": 0, "a": 1}, {"_step": 1, "b": 2}]


def test_r6_lower_step_row_kept_as_own_row_current_step_unchanged():
    """3.6 (fix) + details: a row for a lower step is stored as its own row and does not move the
    current step; the last value is the last logged in program order; aggregates include it."""
    run = tc.init(project="p")
    run.define_metric("y", summary="min,max,first,last")
    run.log({"x": 1, "y": 5}, step=10, commit=True)
    run.log({"x": 2, "y": 1}, step=5)
    run.log({"x": 0, "y": 0.5}, step=10)  # 10 is below the current step 11: own row
    run.log({"x": 3, "y": 9})
    run.log({"z": 1}, step=0)
    finish_and_check(run, {"x": 3, "y": {"min": 0.5, "max": 9, "first": 5, "last": 9}, "_step": 11, "z": 1})
    assert row_set(run) == sorted([
        (10, sorted({"_step": 10, "x": 1, "y": 5}.items())),
        (5, sorted({"_step": 5, "x": 2, "y": 1}.items())),
        (11, sorted({"_step": 11, "x": 3, "y": 9}.items())),
        (0, sorted({"_step": 0, "z": 1}.items())),
        (10, sorted({"_step": 10, "x": 0, "y": 0.5}.items())),
    ])
    check(tc.Api().run(run.path).summary.details("y"),
          {"min": {"value": 0.5, "step": 10}, "max": {"value": 9, "step": 11}, "count": 4, "nan_count": 0})


def test_r6_lower_step_with_plain_rows():
    """3.6: after plain rows 0..3, log(step=1) is kept; the next plain log is step 4."""
    run = tc.init(project="p")
    run.define_metric("loss", summary="min")
    for v in [0.5, 0.4, 0.3, 0.2]:
        run.log({"loss": v})
    run.log({"loss": 0.1}, step=1)
    run.log({"loss": 0.6})
    finish_and_check(run, {"loss": {"min": 0.1}, "_step": 4})
    assert sorted(r["_step"] for r in rows(run)) == [0, 1, 1, 2, 3, 4]
    assert tc.Api().run(run.path).summary.details("loss")["min"] == {"value": 0.1, "step": 1}


def test_r6_strict_rejects_lower_step_and_records_nothing():
    """3.6: init(strict=True) makes a lower step an error; nothing is recorded."""
    run = tc.init(project="p", strict=True)
    run.define_metric("a", summary="min,last")
    run.log({"a": 4}, step=5)
    run.log({"b": 1}, step=5)  # the same step is fine
    with pytest.raises(ValueError):
        run.log({"a": 1, "b": 0}, step=2)
    run.log({"a": 6}, step=6, commit=True)
    finish_and_check(run, {"a": {"min": 4, "last": 6}, "b": 1, "_step": 6})
    assert rows(run) == [{"_step": 5, "a": 4, "b": 1}, {"_step": 6, "a": 6}]
    check(tc.Api().run(run.path).summary.details("a"),
          {"min": {"value": 4, "step": 5}, "max": {"value": 6, "step": 6}, "count": 2, "nan_count": 0})


def test_r6_aggregates_follow_the_row_when_a_pending_value_is_overwritten():
    """3.6 + 3.3 (DESIGN.md silent; W&B baseline): a value overwritten inside one pending row
    is not in history, so it does not enter min/max/mean either."""
    run = tc.init(project="p")
    run.define_metric("x", summary="min,max,mean")
    run.log({"x": 5}, commit=False)
    run.log({"x": 1})
    run.log({"x": 3})
    finish_and_check(run, {"x": {"min": 1, "max": 3, "mean": 2.0}, "_step": 1})
    assert rows(run) == [{"_step": 0, "x": 1}, {"_step": 1, "x": 3}]


def test_r6_bad_step_and_commit_types():
    """Details 'Errors' (reasonable for log): step must be a non-negative int, commit a bool."""
    run = tc.init(project="p")
    with pytest.raises(TypeError):
        run.log({"a": 1}, step="3")
    with pytest.raises(TypeError):
        run.log({"a": 1}, step=1.5)
    with pytest.raises(TypeError):
        run.log({"a": 1}, commit="yes")
    with pytest.raises(ValueError):
        run.log({"a": 1}, step=-1)
    finish_and_check(run, {})
