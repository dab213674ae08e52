"""The store (DESIGN.md sections 5 and 6): crash safety -- a killed (or zombie) writer's run
is crashed, its flushed rows survive, and it resumes.

Everything goes through the public API (``tracker_core``, ``tc.Api()``); the SQLite file
``<TRACKER_STORE>/tracker.db`` is opened read-only-in-spirit with the stdlib only to check
which rows exist (helpers_store.py). Tensor summaries and blobs are in ``test_tensors_store.py``.
"""

from __future__ import annotations

import os
import signal
import time

import tracker_core as tc

from .helpers_store import CHILD_TIMEOUT, db_history_steps, db_state, read_line, spawn

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
