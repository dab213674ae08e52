"""DESIGN.md section 3: resume (item 7), and the run lifecycle of the "Precise details"
(module-level calls, init after finish, writes after finish, TRACKER_MODE=disabled).
Public API only; summaries compared exactly after finish() through a fresh ``tc.Api()``;
history through ``scan_history()``. Helpers are in helpers_rules.py.
"""

from __future__ import annotations

import pytest

import tracker_core as tc

from .helpers_rules import NAN, check, finish_and_check, rows, stored, user_view

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
