"""The store (DESIGN.md sections 5 and 6): lazy logging, flush on finish/exit, writes after
finish, resume across processes.

Everything goes through the public API (``tracker_core``, ``tc.Api()``); the SQLite file
``<TRACKER_STORE>/tracker.db`` is opened read-only-in-spirit with the stdlib only to check
which rows exist (helpers_store.py). Tensor summaries and blobs are in ``test_tensors_store.py``.
"""

from __future__ import annotations

import json

import pytest

import tracker_core as tc

from .helpers_store import db_history_steps, db_rows, db_state, run_child, uid_of

# -- 5. log() never waits on disk; finish() and exit flush ----------------------------

def test_log_does_not_touch_disk_until_flush(monkeypatch, store_dir):
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "30")
    run = tc.init(project="lazy", id="lazy1")
    tc.define_metric("x", summary="max")
    uid = uid_of(store_dir, "lazy1")
    for i in range(20):
        tc.log({"x": i, "y": {"z": i * 0.5}})
    assert db_history_steps(store_dir, "lazy1") == []
    assert db_rows(store_dir, "SELECT COUNT(*) FROM summary_leaves WHERE uid=?", (uid,)) == [(0,)]
    assert db_state(store_dir, "lazy1") == "running"
    run.finish()
    assert db_history_steps(store_dir, "lazy1") == list(range(20))
    rows = [{k: v for k, v in row.items() if k != "_timestamp"} for row in tc.Api().run(run.path).scan_history()]
    assert rows == [{"_step": i, "x": i, "y.z": i * 0.5} for i in range(20)]
    assert db_state(store_dir, "lazy1") == "finished"
    s = tc.Api().run(run.path).summary
    assert s["x"] == {"max": 19} and s["y"]["z"] == 9.5 and s["_step"] == 19


EXIT_CHILD = r"""
import sys
import tracker_core as tc
mode = sys.argv[1]
run = tc.init(project="exit", id="exit_" + mode)
tc.define_metric("loss", summary="min")
for i in range(100):
    tc.log({"loss": 1.0 / (i + 1), "i": i})
run.summary["extra"] = "written"
if mode == "raise":
    raise RuntimeError("boom")
"""


@pytest.mark.parametrize("mode, state", [("plain", "finished"), ("raise", "failed")])
def test_interpreter_exit_flushes(child_env, store_dir, mode, state):
    env = dict(child_env, TRACKER_FLUSH_INTERVAL="30")  # only the exit flush can write
    res = run_child(EXIT_CHILD, env, mode)
    if mode == "raise":
        assert res.returncode == 1 and "boom" in res.stderr
    else:
        assert res.returncode == 0, res.stderr
    r = tc.Api().run("exit/exit_" + mode)
    assert r.state == state
    assert db_state(store_dir, "exit_" + mode) == state
    rows = [{k: v for k, v in row.items() if k != "_timestamp"} for row in r.scan_history()]
    assert rows == [{"_step": i, "loss": 1.0 / (i + 1), "i": i} for i in range(100)]
    s = r.summary
    assert s["loss"] == {"min": 1.0 / 100} and s["i"] == 99 and s["extra"] == "written" and s["_step"] == 99


def test_context_manager_exception_marks_failed_with_rows(store_dir):
    with pytest.raises(ValueError):
        with tc.init(project="ctx", id="ctx1") as run:
            run.log({"a": 1})
            run.log({"a": 2})
            raise ValueError("x")
    r = tc.Api().run("ctx/ctx1")
    assert r.state == "failed"
    assert [row["a"] for row in r.scan_history()] == [1, 2]


# -- 6. writes after finish ------------------------------------------------------------

def test_log_after_finish_raises_pointing_at_summary_update():
    run = tc.init(project="done")
    run.log({"a": 1})
    run.finish()
    with pytest.raises(tc.RunFinishedError) as info:
        run.log({"a": 2})
    assert "summary.update()" in str(info.value)
    assert [row["a"] for row in tc.Api().run(run.path).scan_history()] == [1]


# -- 7. resume across processes --------------------------------------------------------

RESUME_CHILD = r"""
import json, sys
import tracker_core as tc
session = int(sys.argv[1])
values = json.loads(sys.argv[2])
if session == 1:
    run = tc.init(project="res", id="resumed")
    tc.define_metric("loss", summary="min,max,mean,first")
    tc.define_metric("acc", summary="best", objective="maximize")
else:
    run = tc.init(project="res", id="resumed", resume="must")
    assert run.resumed
    tc.define_metric("loss", summary="min")   # re-running the same setup code merges
print(json.dumps({"start_step": run.step}), flush=True)
for loss, acc in values:
    tc.log({"loss": loss, "acc": acc})
print(json.dumps({"summary": run.summary.to_dict()}), flush=True)
tc.finish()
"""


def test_resume_across_processes_keeps_aggregates_and_steps(child_env, store_dir):
    first = [[0.75, 0.25], [0.5, 0.5], [1.25, 0.125], [0.625, 0.375], [0.875, 0.25]]
    second = [[0.375, 0.125], [2.5, 0.875], [0.25, 0.5], [0.5, 0.25]]
    outs = []
    for session, values in ((1, first), (2, second)):
        res = run_child(RESUME_CHILD, child_env, session, json.dumps(values))
        assert res.returncode == 0, res.stderr
        outs.append([json.loads(line) for line in res.stdout.splitlines()])
    assert outs[0][0] == {"start_step": 0}
    assert outs[1][0] == {"start_step": len(first)}

    losses = [v[0] for v in first + second]
    accs = [v[1] for v in first + second]
    expected = {"min": min(losses), "max": max(losses), "mean": sum(losses) / len(losses), "first": losses[0]}
    assert outs[1][1]["summary"]["loss"] == expected  # in the resumed process already
    assert outs[1][1]["summary"]["acc"] == {"best": max(accs)}

    r = tc.Api().run("res/resumed")
    assert r.state == "finished"
    s = r.summary
    assert s["loss"] == expected
    assert s["acc"] == {"best": 0.875}
    assert s["_step"] == len(losses) - 1
    d = s.details("loss")
    assert d["min"] == {"value": 0.25, "step": 7} and d["max"] == {"value": 2.5, "step": 6}
    assert d["count"] == len(losses)
    assert s.details("acc")["best"] == {"value": 0.875, "step": 6}
    rows = list(r.scan_history())
    assert [row["_step"] for row in rows] == list(range(len(losses)))
    assert [(row["loss"], row["acc"]) for row in rows] == [tuple(v) for v in first + second]
    assert db_history_steps(store_dir, "resumed") == list(range(len(losses)))
