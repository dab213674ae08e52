"""Shared runs (issue 6): several processes writing one run at once, on both backends.

Through the public API: ``tc.init(id=..., shared=True)`` in child processes, read back
with ``tc.Api``. The summary the store merged must equal the one replayed from the stored
history (``recompute_summary``) exactly, every row must be there once, and the run's state
must follow its writers (finished when the last one finishes, crashed if one was killed).
"""

from __future__ import annotations

import random
import signal

import pytest

import tracker_core as tc
from tracker_core.store import WriteBatch
from tracker_core.store.shared_runs import SharedWrite

from .helpers_store import finish_child, read_line, release_together, spawn
from .test_store_backends import backend, env, open_store, store_url  # noqa: F401 - fixtures

WRITER = r"""
import os, random, sys, time
import tracker_core as tc
k, n, go = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
run = tc.init(project="shared", id="s1", shared=True, config={f"writer{k}": k}, tags=["multi"])
print("joined", flush=True)
while not os.path.exists(go):  # all writers join before any logs: one session, steps from 0
    time.sleep(0.01)
tc.define_metric("loss", summary="min,max,mean,first,last")
tc.define_metric("acc", summary="best", objective="maximize")
rnd = random.Random(k)
for i in range(n):
    row = {"loss": rnd.random() * 10 - k, "acc": rnd.random(), "writer": k, "i": i, "big": 10**20 + i}
    if i == 7:
        row["nan"] = float("nan")
    tc.log(row, step=i)
    if k == 1 and i == n // 2:
        run.summary["note"] = "set by writer 1"
        run.summary["gone"] = 1
    if k == 2 and i == n // 2 + 5:
        tc.log({"extra": 0.5}, step=i)  # the same step: added to the open row
tc.finish()
"""


def _without_runtime(summary) -> dict:
    return {k: v for k, v in dict(summary).items() if k != "_runtime"}


def test_four_processes_write_one_run(store_url, env, tmp_path):
    n = 300
    go = tmp_path / "go"
    procs = [spawn(WRITER, env, k, n, go) for k in range(4)]
    release_together(procs, go, ready="joined")
    api = tc.Api(store=store_url)
    (run,) = list(api.runs("shared"))
    assert run.state == "finished" and run.id == "s1"
    rows = list(run.scan_history())
    assert len(rows) == 4 * n
    assert [r["_step"] for r in rows if "extra" in r] == [n // 2 + 5]
    for k in range(4):  # each writer's rows, once each, in the order it logged them
        mine = [r["i"] for r in rows if r.get("writer") == k]
        assert mine == list(range(n)), k
    losses = [r["loss"] for r in rows if "loss" in r]
    summary = run.summary
    assert summary["loss"]["min"] == min(losses) and summary["loss"]["max"] == max(losses)
    assert summary["loss"]["first"] == losses[0] and summary["loss"]["last"] == losses[-1]
    assert summary["note"] == "set by writer 1" and summary["gone"] == 1
    assert summary["_step"] == n - 1
    assert dict(run.config) == {f"writer{k}": k for k in range(4)}
    assert run.tags == ["multi"]
    assert run.summary.details("nan")["nan_count"] == 4
    before = _without_runtime(summary)
    run.recompute_summary()
    after = _without_runtime(tc.Api(store=store_url).run("/".join(run.path)).summary)
    assert after == before  # the merged summary is the replay of the stored history, to the bit


WAITER = r"""
import sys, time
import tracker_core as tc
run = tc.init(project="shared", id="s2", shared=True)
tc.define_metric("loss", summary="min")
for i in range(20):
    tc.log({"loss": 100.0 - i, "w": int(sys.argv[1])})
run.flush()
print("ready", flush=True)
if sys.argv[1] == "0":
    while True:  # killed by the test
        time.sleep(0.05)
tc.finish()
"""


def test_killed_writer_makes_the_run_crashed_once_the_others_are_done(store_url, env):
    victim = spawn(WAITER, env, 0)
    assert read_line(victim) == "ready"
    other = spawn(WAITER, env, 1)
    assert read_line(other) == "ready"
    finish_child(other)
    run = tc.Api(store=store_url).run(_path(store_url, "s2"))
    assert run.state == "running"  # one writer still runs
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    victim.stdout.close()
    victim.stderr.close()
    run = tc.Api(store=store_url).run(_path(store_url, "s2"))
    assert run.state == "crashed"
    assert len(list(run.scan_history())) == 40  # the flushed rows of both writers
    assert run.summary["loss"]["min"] == 81.0
    # it can be joined again, and finishes when its new writer does
    tc.init(project="shared", id="s2", shared=True, store=store_url)
    tc.log({"loss": 1.0})
    tc.finish()
    run = tc.Api(store=store_url).run(_path(store_url, "s2"))
    assert run.state == "crashed"  # a writer of this run crashed: that stays visible
    assert run.summary["loss"]["min"] == 1.0


def _path(store_url, run_id):
    (rec,) = [r for r in open_store(store_url).list_all_runs("shared") if r.run_id == run_id]
    return f"{rec.entity}/shared/{run_id}"


LATE = r"""
import tracker_core as tc
tc.init(project="shared", id="s3", shared=True)
tc.log({"loss": -7.0, "other": "x"}, step=50)
tc.finish()
"""


def test_a_writer_sees_the_others_values_after_its_flush(store_url, env):
    run = tc.init(project="shared", id="s3", shared=True, store=store_url)
    tc.define_metric("loss", summary="min,max")
    tc.log({"loss": 3.0})
    run.flush()
    finish_child(spawn(LATE, env))
    tc.log({"loss": 4.0})
    run.flush()
    assert run.summary["loss"] == {"min": -7.0, "max": 4.0}
    assert run.summary["other"] == "x" and run.summary["_step"] == 50
    run.summary["best_note"] = "kept"  # an explicit write alone, no row: flush() stores it
    run.flush()
    assert tc.Api(store=store_url).run(run.path).summary["best_note"] == "kept"
    tc.finish()
    stored = tc.Api(store=store_url).run(run.path)
    assert stored.state == "finished" and stored.summary["loss"] == {"min": -7.0, "max": 4.0}


PLAIN_RESUME = r"""
import sys
import tracker_core as tc
from tracker_core.store import RunExistsError
try:
    tc.init(project="shared", id=sys.argv[1], resume="allow", shared=sys.argv[2] == "1")
except RunExistsError as exc:
    print("refused:", exc)
"""


def test_shared_and_single_process_runs_do_not_mix(store_url, env):
    with pytest.raises(ValueError, match="needs id"):
        tc.init(project="shared", shared=True, store=store_url)
    with pytest.raises(TypeError, match="shared must be True or False"):
        tc.init(project="shared", id="x", shared="yes", store=store_url)
    single = tc.init(project="shared", id="one", store=store_url)
    out = finish_child(spawn(PLAIN_RESUME, env, "one", 1))  # joining a running single-process run
    assert "refused:" in out and "not shared" in out
    single.finish()
    joined = tc.init(project="shared", id="one", shared=True, store=store_url)  # finished: may be joined
    tc.log({"a": 1})
    joined.flush()
    out = finish_child(spawn(PLAIN_RESUME, env, "one", 0))  # a plain resume of a running shared run
    assert "refused:" in out and "still running" in out
    joined.finish()
    rec = tc.Api(store=store_url).run(joined.path)
    assert rec.state == "finished" and rec.summary["a"] == 1


def test_env_var_turns_shared_on_and_bad_values_are_named(store_url, monkeypatch):
    monkeypatch.setenv("TRACKER_SHARED", "maybe")
    with pytest.raises(ValueError, match="TRACKER_SHARED must be 0 or 1, got 'maybe'"):
        tc.init(project="shared", id="e", store=store_url)
    monkeypatch.setenv("TRACKER_SHARED", "1")
    run = tc.init(project="shared", id="e", store=store_url)
    assert open_store(store_url).get_run(run.entity, "shared", "e").shared is True
    run.finish()


def test_a_retried_shared_batch_is_applied_once(store_url):
    run = tc.init(project="shared", id="r", shared=True, store=store_url)
    st = open_store(store_url)
    writer = run._shared_writer
    token = "t" * 32

    def batch():
        return WriteBatch(uid=run._uid, rows=[(0, 0, 1.0, {("x",): 1.5}), (1, 1, 2.0, {("x",): -2.5})],
                          shared=SharedWrite(writer=writer, token=token))

    st.write_batch(batch())
    st.write_batch(batch())  # as after a COMMIT whose answer was lost
    run.finish()
    r = tc.Api(store=store_url).run(run.path)
    assert [row["x"] for row in r.scan_history()] == [1.5, -2.5]
    assert r.summary["x"] == -2.5 and r.summary.details("x")["count"] == 2


def test_random_interleaving_matches_replay(store_url):
    """Batches from three writers in a random order, with explicit writes between rows."""
    run = tc.init(project="shared", id="rand", shared=True, store=store_url)
    st = open_store(store_url)
    rnd = random.Random(5)
    for b in range(30):
        rows = [(i, rnd.randrange(100), float(b), {("v",): rnd.choice([rnd.random(), rnd.randrange(-5, 5)]),
                                                    ("s",): rnd.choice(["a", "b", None])}) for i in range(5)]
        ops = [(3, ("set", ("v",), {("v",): (99.0, None)}))] if b % 7 == 0 else []
        st.write_batch(WriteBatch(uid=run._uid, rows=rows,
                                  shared=SharedWrite(writer=run._shared_writer, token=f"b{b}", ops=ops)))
    run.finish()
    r = tc.Api(store=store_url).run(run.path)
    before = _without_runtime(r.summary)
    r.recompute_summary()
    after = _without_runtime(tc.Api(store=store_url).run(run.path).summary)
    # an explicit write is kept by recompute only if it is the leaf's current state
    assert after == before
