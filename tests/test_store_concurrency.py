"""The store (DESIGN.md sections 5 and 6): concurrent writers -- two processes writing two
runs at once, processes opening a fresh store at once, per-key summary edits of one run.

Everything goes through the public API (``tracker_core``, ``tc.Api()``); the SQLite file
``<TRACKER_STORE>/tracker.db`` is opened read-only-in-spirit with the stdlib only to check
which rows exist (helpers_store.py). Tensor summaries and blobs are in ``test_tensors_store.py``.
"""

from __future__ import annotations

import time

import tracker_core as tc

from .helpers_store import CHILD_TIMEOUT, db_history_steps, read_line, release_together, spawn

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
    outputs = release_together(list(procs.values()), go)
    assert [out.strip() for out in outputs] == ["DONE"] * len(outputs)

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
    outputs = release_together(procs, go)
    assert [out.strip() for out in outputs] == ["DONE"] * len(outputs)

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
