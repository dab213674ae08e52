"""The store (DESIGN.md sections 5 and 6): crash safety, concurrent writers, per-key
summary edits, lazy logging, flush on finish/exit, resume across processes.

Everything goes through the public API (``tracker_core``, ``tc.Api()``); the SQLite file
``<TRACKER_STORE>/tracker.db`` is opened read-only-in-spirit with the stdlib only to check
which rows exist. Tensor summaries and blobs are in ``test_tensors_store.py``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time

import pytest

import tracker_core as tc

PYTHON = sys.executable
CHILD_TIMEOUT = 60


# -- helpers -------------------------------------------------------------------------

def db_rows(store, sql, args=()):
    con = sqlite3.connect(os.path.join(str(store), "tracker.db"), timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def uid_of(store, run_id):
    (uid,) = db_rows(store, "SELECT uid FROM runs WHERE run_id=?", (run_id,))[0]
    return uid


def db_state(store, run_id):
    return db_rows(store, "SELECT state FROM runs WHERE run_id=?", (run_id,))[0][0]


def _tables(store):
    return {name for (name,) in db_rows(store, "SELECT name FROM sqlite_master WHERE type='table'")}


def db_history_steps(store, run_id):
    """The steps of a run's stored history rows, in program order, read with sqlite3 only.

    Works with either documented layout: one row per step (``history(hid, uid, step, ts,
    row)``) or typed chunks (``history_rows(uid, seq0, n, ..., steps int64 LE, ts)``)."""
    uid = uid_of(store, run_id)
    tables = _tables(store)
    if "history" in tables:
        return [s for (s,) in db_rows(store, "SELECT step FROM history WHERE uid=? ORDER BY hid", (uid,))]
    if "history_rows" in tables:
        out = []
        for _seq0, n, blob in db_rows(store, "SELECT seq0, n, steps FROM history_rows WHERE uid=? ORDER BY seq0",
                                      (uid,)):
            out.extend(struct.unpack(f"<{n}q", blob))
        return out
    pytest.fail(f"no history table in the store: {sorted(tables)}")


def run_child(code, env, *args, timeout=CHILD_TIMEOUT):
    return subprocess.run([PYTHON, "-c", code, *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=timeout)


def spawn(code, env, *args):
    return subprocess.Popen([PYTHON, "-c", code, *map(str, args)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def read_line(proc, timeout=30.0):
    """The child's next stdout line; the child is killed if it does not come in time."""
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        line = proc.stdout.readline()
    finally:
        timer.cancel()
    if not line:
        proc.kill()
        _, err = proc.communicate(timeout=CHILD_TIMEOUT)
        pytest.fail(f"child exited / timed out before printing a line; stderr:\n{err}")
    return line.strip()


def finish_child(proc):
    try:
        out, err = proc.communicate(timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"child did not finish in {CHILD_TIMEOUT}s; stderr:\n{err}")
    assert proc.returncode == 0, err
    return out


# -- 1. a killed writer --------------------------------------------------------------

CRASH_CHILD = r"""
import sys, time
import tracker_core as tc
n = int(sys.argv[1])
run = tc.init(project="crash", id="victim")
tc.define_metric("loss", summary="min,max")
print(run.path, flush=True)
for i in range(n):
    tc.log({"loss": 10.0 - i * 0.25, "i": i, "nested": {"v": i * 3}})
time.sleep(1.2)   # > 2 flush intervals (default 0.5 s)
print("FLUSHED", flush=True)
j = 0
while True:       # keeps logging, slowly, until it is killed
    tc.log({"loss": 100.0 + j, "i": n + j, "nested": {"v": (n + j) * 3}})
    j += 1
    time.sleep(0.02)
"""


def _crash_expected(i, n):
    loss = 10.0 - i * 0.25 if i < n else 100.0 + (i - n)
    return {"_step": i, "loss": loss, "i": i, "nested.v": i * 3}


def test_killed_process_run_is_crashed_and_flushed_rows_survive(child_env, store_dir):
    n = 50
    proc = spawn(CRASH_CHILD, child_env, n)
    try:
        path = read_line(proc)
        assert read_line(proc) == "FLUSHED"
        time.sleep(0.3)  # let it log (and maybe flush) a few more rows
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=CHILD_TIMEOUT)  # reaped: not a zombie
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    assert db_state(store_dir, "victim") == "running"  # nobody has looked yet
    r = tc.Api().run(path)
    assert r.state == "crashed"
    assert db_state(store_dir, "victim") == "crashed"  # marked for good, in the store
    assert [x.state for x in tc.Api().runs("crash")] == ["crashed"]
    assert tc.Api().run(path).state == "crashed"

    rows = list(r.scan_history())
    assert len(rows) >= n  # every row logged before the marker
    for i, row in enumerate(rows):  # what survived is an exact prefix of what was logged
        assert {k: v for k, v in row.items() if k != "_timestamp"} == _crash_expected(i, n)
    assert db_history_steps(store_dir, "victim") == list(range(len(rows)))

    s = r.summary
    assert s["loss"]["min"] == 10.0 - (n - 1) * 0.25
    assert s["loss"]["max"] == max(row["loss"] for row in rows)  # summary and history agree
    assert s.details("loss")["min"] == {"value": 10.0 - (n - 1) * 0.25, "step": n - 1}
    assert s["i"] == rows[-1]["i"]
    assert s["nested"]["v"] == rows[-1]["nested.v"]
    assert s["_step"] == rows[-1]["_step"]


SLEEPER_CHILD = r"""
import time
import tracker_core as tc
run = tc.init(project="crash", id="sleeper")
for i in range(10):
    tc.log({"x": i})
time.sleep(1.2)
print("FLUSHED", flush=True)
time.sleep(120)
"""


def _proc_state(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[0]


def test_zombie_counts_as_dead_and_crashed_run_resumes(child_env, store_dir):
    proc = spawn(SLEEPER_CHILD, child_env)
    try:
        assert read_line(proc) == "FLUSHED"
        assert tc.Api().run("crash/sleeper").state == "running"  # alive: not crashed
        os.kill(proc.pid, signal.SIGKILL)
        deadline = time.time() + 10
        while _proc_state(proc.pid) != b"Z" and time.time() < deadline:
            time.sleep(0.01)
        assert _proc_state(proc.pid) == b"Z"  # not reaped yet
        assert tc.Api().run("crash/sleeper").state == "crashed"
        assert db_state(store_dir, "sleeper") == "crashed"
    finally:
        proc.kill()
        proc.wait(timeout=CHILD_TIMEOUT)
        proc.stdout.close()
        proc.stderr.close()

    run = tc.init(project="crash", id="sleeper", resume="allow")
    assert run.step == 10
    run.log({"x": 10})
    run.finish()
    r = tc.Api().run("crash/sleeper")
    assert r.state == "finished"
    assert [(row["_step"], row["x"]) for row in r.scan_history()] == [(i, i) for i in range(11)]
    assert r.summary["x"] == 10 and r.summary["_step"] == 10


# -- 2. two processes writing two runs at once ---------------------------------------

WRITER_CHILD = r"""
import os, sys, time
import tracker_core as tc
tag, n, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
off = 1_000_000 if tag == "b" else 0
run = tc.init(project="conc", id="run_" + tag, config={"tag": tag})
tc.define_metric("loss", summary="min,max,mean")
print("READY", flush=True)
deadline = time.time() + 30
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.002)
for i in range(n):
    tc.log({"loss": (i % 97) * 0.5 + off, "i": i + off, "tag": tag,
            "grp": {"x": 2 * i, "y": i / 4}, "flag": i % 2 == 0})
    if i % 10 == 0:
        time.sleep(0.002)
tc.finish()
print("DONE", flush=True)
"""


def _writer_row(tag, i):
    off = 1_000_000 if tag == "b" else 0
    return {"loss": (i % 97) * 0.5 + off, "i": i + off, "tag": tag, "grp.x": 2 * i, "grp.y": i / 4,
            "flag": i % 2 == 0}


def test_two_processes_write_two_runs_at_once(child_env, store_dir, tmp_path):
    n = 3000
    env = dict(child_env, TRACKER_FLUSH_INTERVAL="0.05")
    tc.Api()  # the store exists already (opening a fresh one at once: the test below)
    go = tmp_path / "go"
    procs = {tag: spawn(WRITER_CHILD, env, tag, n, go) for tag in "ab"}
    try:
        for p in procs.values():
            assert read_line(p) == "READY"
        go.touch()
        for p in procs.values():
            assert finish_child(p).strip() == "DONE"
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=CHILD_TIMEOUT)

    api = tc.Api()
    ts = {}
    for tag in "ab":
        r = api.run(f"conc/run_{tag}")
        assert r.state == "finished"
        assert r.config == {"tag": tag}
        rows = list(r.scan_history())
        assert len(rows) == n
        ts[tag] = [row["_timestamp"] for row in rows]
        for i, row in enumerate(rows):
            assert row.pop("_step") == i
            row.pop("_timestamp")
            assert row == _writer_row(tag, i)
        losses = [_writer_row(tag, i)["loss"] for i in range(n)]
        s = r.summary
        assert s["loss"] == {"min": min(losses), "max": max(losses), "mean": sum(losses) / n}
        assert s["i"] == _writer_row(tag, n - 1)["i"]
        assert s["grp"].to_dict() == {"x": 2 * (n - 1), "y": (n - 1) / 4}
        assert s["flag"] is False and s["tag"] == tag and s["_step"] == n - 1
        assert s.details("loss")["count"] == n
        assert db_history_steps(store_dir, f"run_{tag}") == list(range(n))

    # the two writers really were logging (and flushing every 0.05 s) at the same time
    spans = {tag: (min(ts[tag]), max(ts[tag])) for tag in "ab"}
    overlap = min(spans["a"][1], spans["b"][1]) - max(spans["a"][0], spans["b"][0])
    assert overlap > 0.2, spans


OPENER_CHILD = r"""
import os, sys, time
import tracker_core as tc
go, tag = sys.argv[1], sys.argv[2]
print("READY", flush=True)
deadline = time.time() + 30
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.0002)
run = tc.init(project="open", id="r" + tag)
run.log({"tag": tag})
run.finish()
"""


def test_processes_opening_a_fresh_store_at_once(child_env, tmp_path):
    """Many processes may write one store at once (DESIGN.md 5) -- including the first
    moments, when they all open a store that does not exist yet. Rounds of 4 processes
    released together on a fresh store; every one must get its run stored."""
    for rnd in range(10):
        store = tmp_path / f"fresh{rnd}"
        env = dict(child_env, TRACKER_STORE=str(store))
        go = tmp_path / f"go{rnd}"
        procs = [spawn(OPENER_CHILD, env, go, i) for i in range(4)]
        try:
            for p in procs:
                assert read_line(p) == "READY"
            go.touch()
            errors = []
            for p in procs:
                _, err = p.communicate(timeout=CHILD_TIMEOUT)
                if p.returncode:
                    errors.append(err.strip().splitlines()[-1])
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=CHILD_TIMEOUT)
        assert errors == [], f"round {rnd}: {errors}"
        runs = tc.Api(store=str(store)).runs("open")
        assert sorted((r.id, r.state, r.summary["tag"]) for r in runs) == [
            (f"r{i}", "finished", str(i)) for i in range(4)]


# -- 3. two processes editing different summary keys of one finished run --------------

EDITOR_CHILD = r"""
import os, sys, time
import tracker_core as tc
path, key, go = sys.argv[1:4]
print("READY", flush=True)
deadline = time.time() + 30
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.002)
r = tc.Api().run(path)
for i in range(50):
    r.summary[key] = i
    r.summary.update()
    r.summary[key + "_d"] = {"i": i, "who": key}
    r.summary.update()
    if i % 10 == 9:
        r = tc.Api().run(path)   # fresh handles too
print("DONE", flush=True)
"""


def test_two_processes_edit_different_summary_keys(child_env, tmp_path):
    run = tc.init(project="edit", id="shared")
    run.define_metric("loss", summary="min,max")
    for v in (0.5, 0.25, 0.75):
        run.log({"loss": v, "acc": v * 2})
    run.summary["note"] = "keep me"
    run.summary["cfg"] = {"a": 1, "b": [1, 2]}
    run.finish()
    before = tc.Api().run(run.path).summary.to_dict()
    assert before["loss"] == {"min": 0.25, "max": 0.75}

    go = tmp_path / "go"
    procs = [spawn(EDITOR_CHILD, child_env, run.path, key, go) for key in ("ka", "kb")]
    try:
        for p in procs:
            assert read_line(p) == "READY"
        go.touch()
        for p in procs:
            assert finish_child(p).strip() == "DONE"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=CHILD_TIMEOUT)

    s = tc.Api().run(run.path).summary
    assert s["ka"] == 49 and s["kb"] == 49
    assert s["ka_d"].to_dict() == {"i": 49, "who": "ka"}
    assert s["kb_d"].to_dict() == {"i": 49, "who": "kb"}
    after = s.to_dict()
    for key, value in before.items():  # nothing else was touched
        if key != "_timestamp":  # see test_api_summary_edit_keeps_timestamp
            assert after[key] == value, key
    assert set(after) == set(before) | {"ka", "kb", "ka_d", "kb_d"}
    user_keys = [k for k in after if not k.startswith("_")]
    assert user_keys[:4] == [k for k in before if not k.startswith("_")]  # key order kept
    assert sorted(user_keys[4:]) == ["ka", "ka_d", "kb", "kb_d"]
    assert s.details("loss")["min"] == {"value": 0.25, "step": 1}
    assert tc.Api().run(run.path).state == "finished"


def test_api_summary_edit_keeps_timestamp():
    """``_timestamp`` is the time of the last logged row; editing another key through the
    Api must not move it (it is a pre-existing key like any other)."""
    run = tc.init(project="edit", id="ts")
    run.log({"a": 1})
    run.finish()
    before = tc.Api().run(run.path).summary.to_dict()
    (row,) = tc.Api().run(run.path).scan_history()
    assert before["_timestamp"] == row["_timestamp"]
    time.sleep(0.05)
    r = tc.Api().run(run.path)
    r.summary["b"] = 2
    r.summary.update()
    after = tc.Api().run(run.path).summary.to_dict()
    assert after == {**before, "b": 2}


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
