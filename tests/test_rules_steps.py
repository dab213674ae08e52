"""DESIGN.md section 3: step metrics (item 3), steps (item 6), resume (item 7), and the run
lifecycle of the "Precise details" (module-level calls, init after finish, writes after
finish, TRACKER_MODE=disabled). Public API only; summaries compared exactly after finish()
through a fresh ``tc.Api()``; history through ``scan_history()`` / ``history(pandas=False)``.
"""

from __future__ import annotations

import collections.abc
import math

import pytest

import tracker_core as tc

NAN = float("nan")
VOLATILE = ("_runtime", "_timestamp")


# -- helpers (same as test_rules.py) -------------------------------------------------------------

def plain(value):
    if isinstance(value, collections.abc.Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def user_view(summary) -> dict:
    return {k: plain(v) for k, v in summary.items() if k not in VOLATILE}


def stored(run) -> dict:
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
    check(user_view(run.summary), expected)
    run.finish()
    check(stored(run), expected)


def rows(run) -> list[dict]:
    """History rows via scan_history, without _timestamp, in the order the store returns them."""
    return [{k: v for k, v in r.items() if k != "_timestamp"} for r in tc.Api().run(run.path).scan_history()]


def row_set(run) -> list:
    """Order-independent form of the history (DESIGN.md does not fix the order of rows)."""
    return sorted((r["_step"], sorted(r.items())) for r in rows(run))


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


# -- rule 7: resume ------------------------------------------------------------------------------

def test_r7_resume_must_restores_aggregates_definitions_and_step():
    """3.7 (fix): resume='must' restores aggregation state and definitions (not re-defined here);
    _step continues from the largest stored step."""
    run = tc.init(project="p")
    rid = run.id
    run.define_metric("x", summary="min,max,mean,first,last")
    run.define_metric("acc", summary="best", objective="maximize")
    run.define_metric("g/*", summary="max")
    run.define_metric("val", step_metric="epoch")
    for x, acc in [(5, 0.2), (3, 0.9), (NAN, 0.4)]:
        run.log({"x": x, "acc": acc, "y": x})
    run.log({"epoch": 7})
    run.summary["note"] = "before-restart"
    run.finish()

    run2 = tc.init(project="p", id=rid, resume="must")
    assert run2.id == rid and run2.path == run.path
    check(user_view(run2.summary), {"x": {"min": 3, "max": 5, "mean": 4.0, "first": 5, "last": NAN},
                                    "acc": {"best": 0.9}, "y": NAN, "_step": 3, "epoch": 7,
                                    "note": "before-restart"})
    run2.log({"x": 4, "acc": 0.5})
    run2.log({"x": 10, "acc": 0.6, "g/a": 1, "val": 0.1})
    run2.log({"g/a": 2})
    finish_and_check(run2, {"x": {"min": 3, "max": 10, "mean": 5.5, "first": 5, "last": 10},
                            "acc": {"best": 0.9}, "y": NAN, "_step": 6, "epoch": 7, "note": "before-restart",
                            "g/a": {"max": 2}, "val": 0.1})
    s = tc.Api().run(run.path).summary
    check(s.details("x"), {"min": {"value": 3, "step": 1}, "max": {"value": 10, "step": 5},
                           "count": 5, "nan_count": 1})
    check(s.details("acc")["best"], {"value": 0.9, "step": 1})
    assert [r["_step"] for r in rows(run)] == [0, 1, 2, 3, 4, 5, 6]
    assert rows(run)[5] == {"_step": 5, "x": 10, "acc": 0.6, "g/a": 1, "val": 0.1, "epoch": 7}


def test_r7_resume_allow_existing_and_new():
    """3.7: resume='allow' continues an existing run (same id) or creates one with that id."""
    run = tc.init(project="p", id="allowrun")
    run.define_metric("loss", summary="min")
    run.log({"loss": 0.3})
    run.finish()
    run2 = tc.init(project="p", id="allowrun", resume="allow")
    run2.log({"loss": 0.5})
    finish_and_check(run2, {"loss": {"min": 0.3}, "_step": 1})
    fresh = tc.init(project="p", id="freshrun", resume="allow")
    fresh.log({"a": 1})
    assert fresh.id == "freshrun"
    finish_and_check(fresh, {"a": 1, "_step": 0})


def test_r7_resume_must_on_missing_run_raises():
    """3.7: resume='must' on a run that does not exist raises and creates nothing."""
    with pytest.raises(tc.RunNotFoundError):
        tc.init(project="p", id="nosuchrun", resume="must")
    run = tc.init(project="p")
    run.finish()
    with pytest.raises(tc.RunNotFoundError):
        tc.Api().run(f"{run.entity}/p/nosuchrun")


def test_r7_existing_id_without_resume_raises_and_keeps_run():
    """3.7: init(id=existing) without resume raises; the stored run is untouched."""
    run = tc.init(project="p", id="dupe1234")
    run.log({"a": 1})
    run.finish()
    with pytest.raises(tc.RunExistsError):
        tc.init(project="p", id="dupe1234")
    check(stored(run), {"a": 1, "_step": 0})


def test_r7_resume_keeps_deleted_and_written_leaves():
    """3.7 + 3.2: a deletion and an explicit write survive a restart; a deleted leaf starts afresh."""
    run = tc.init(project="p", id="delres01")
    run.define_metric("x", summary="min,first")
    run.log({"x": 1, "k": 1})
    run.log({"x": 2})
    del run.summary["x"]
    run.summary["k"] = "written"
    run.finish()
    run2 = tc.init(project="p", id="delres01", resume="must")
    assert "x" not in run2.summary
    run2.log({"x": 7})
    finish_and_check(run2, {"k": "written", "_step": 2, "x": {"min": 7, "first": 7}})


# -- lifecycle (Precise details: Run, module-level functions, init after finish) -----------------

def test_module_level_functions_act_on_current_run():
    """Details: tc.define_metric / tc.log / tc.summary act on the current run."""
    run = tc.init(project="p")
    assert tc.current_run() is run
    tc.define_metric("loss", summary="min")
    tc.define_metric("loss", summary="max")
    for v in [0.4, 0.2, 0.3]:
        tc.log({"loss": v})
    tc.summary["w"] = 1
    tc.summary.extra = 2
    assert tc.summary["loss"]["min"] == 0.2 and "w" in tc.summary
    tc.finish()
    assert run.finished
    check(stored(run), {"loss": {"min": 0.2, "max": 0.4}, "_step": 2, "w": 1, "extra": 2})


@pytest.mark.parametrize("call", [
    lambda: tc.log({"a": 1}),
    lambda: tc.define_metric("a", summary="min"),
    lambda: tc.summary["a"],
    lambda: tc.summary.__setitem__("a", 1),
    lambda: tc.summary.update({"a": 1}),
    lambda: len(tc.summary),
])
def test_module_level_calls_without_run_raise_no_active_run(call):
    """Details: module-level calls without init (or after finish) raise tc.NoActiveRunError."""
    with pytest.raises(tc.NoActiveRunError):
        call()
    tc.init(project="p")
    tc.finish()
    with pytest.raises(tc.NoActiveRunError):
        call()


@pytest.mark.parametrize("write", [
    lambda r: r.log({"a": 2}),
    lambda r: r.define_metric("a", summary="min"),
    lambda r: r.summary.__setitem__("a", 5),
    lambda r: setattr(r.summary, "a", 5),
    lambda r: r.summary.update({"a": 5}),
    lambda r: r.summary.__delitem__("a"),
])
def test_writes_after_finish_raise_pointing_to_api(write):
    """Details: a write after finish() raises; the message points to Api().run(...).summary.update()."""
    run = tc.init(project="p")
    run.log({"a": 1})
    run.finish()
    with pytest.raises(Exception) as err:
        write(run)
    msg = str(err.value)
    assert "Api().run(" in msg and "summary.update()" in msg
    check(stored(run), {"a": 1, "_step": 0})


def test_init_after_finish_starts_new_run():
    """Details: init() after finish() starts a new run with a new id; module calls go to it."""
    first = tc.init(project="p")
    tc.log({"a": 1})
    tc.finish()
    second = tc.init(project="p")
    assert second.id != first.id and tc.current_run() is second
    tc.log({"b": 2})
    tc.finish()
    check(stored(first), {"a": 1, "_step": 0})
    check(stored(second), {"b": 2, "_step": 0})


def test_disabled_mode_every_call_is_a_noop(monkeypatch):
    """DESIGN.md 9: TRACKER_MODE=disabled turns every call into a no-op that never fails; nothing is stored."""
    monkeypatch.setenv("TRACKER_MODE", "disabled")
    run = tc.init(project="p", config={"lr": 0.1})
    run.define_metric("", summary="bogus")
    tc.define_metric("loss", summary="best")
    run.log({"a": 1}, step=5)
    tc.log({"a": 2}, step=1)
    tc.log([1, 2])
    tc.summary["x"] = 1
    run.summary.update({"y": 2})
    run.summary.z = 3
    tc.finish()
    tc.finish()
    run.log({"after": 1})
    run.summary["after"] = 1
    monkeypatch.delenv("TRACKER_MODE")
    real = tc.init(project="p")
    real.finish()
    assert [r.id for r in tc.Api().runs(f"{real.entity}/p")] == [real.id]


def test_disabled_mode_module_calls_without_run_never_fail(monkeypatch):
    """DESIGN.md 9 ("every call ... a no-op that never fails"): also module-level calls after finish()."""
    monkeypatch.setenv("TRACKER_MODE", "disabled")
    tc.init(project="p")
    tc.finish()
    tc.log({"after": 1})
    tc.define_metric("after", summary="min")
    tc.summary["after"] = 1
