"""The store test-suite, once, over every backend (DESIGN.md section 5): SQLite and PostgreSQL.

Every test takes the ``store_url`` fixture, parametrised ``sqlite`` / ``postgres``; the
PostgreSQL variant needs ``TRACKER_TEST_POSTGRES_URL`` (``.ci/postgres.sh`` prints one; CI
sets it) and is skipped only when that variable is unset. Each PostgreSQL test gets a
fresh schema (``?options=-csearch_path%3D<schema>`` on the URL), dropped afterwards.

Tests go through the public API (``tc.init(store=url)``, ``tc.Api(store=url)``) and, for
what the API does not show, the ``Store`` interface (``open_store(url)``); nothing here
reads a backend's tables directly, so the same assertions hold for both.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sqlite3
import time

import numpy as np
import pytest

import tracker_core as tc
from tracker_core import sdk
from tracker_core.errors import RunNotFoundError
from tracker_core.store import RunExistsError, RunRecord, WriteBatch
from tracker_core.store import migrations as mig
from tracker_core.store.query import FilterError

from .helpers_pg import forget_stores, fresh_schema
from .helpers_store import CHILD_TIMEOUT, finish_child, read_line, release_together, spawn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def open_store(url):
    from tracker_core import store as st

    return st.open_store(url)


# -- fixtures ------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    return request.param


@pytest.fixture
def store_url(backend, store_dir, tmp_path, monkeypatch):
    """A fresh, empty store of the backend under test; also ``TRACKER_STORE``."""
    if backend == "sqlite":
        url = str(tmp_path / "store")
        monkeypatch.setenv("TRACKER_STORE", url)
        yield url
        _finish_live()
        forget_stores(url)
        return
    with fresh_schema() as url:
        monkeypatch.setenv("TRACKER_STORE", url)
        try:
            yield url
        finally:
            _finish_live()


def _finish_live():
    for run in list(sdk._live):
        with contextlib.suppress(Exception):  # the test's own failure is what matters
            run.finish()


@pytest.fixture
def env(store_url):
    """Environment of child processes: the same store, the checkout importable."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([ROOT, e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    e["TRACKER_STORE"] = store_url
    e["TRACKER_FLUSH_INTERVAL"] = "0.1"
    return e


def nan_eq(a, b):
    """Equality where NaN equals NaN, bool is not int and 2 is not 2.0 (exact roundtrips)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(nan_eq(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(nan_eq(x, y) for x, y in zip(a, b))
    return a == b


def uid_of(store_url, path):
    entity, project, run_id = path.split("/") if isinstance(path, str) else path
    return open_store(store_url).get_run(entity, project, run_id).uid


# -- run lifecycle ---------------------------------------------------------------------------

def test_run_lifecycle(store_url):
    run = tc.init(project="life", id="r1", name="first", tags=["a", "b", "a"], notes="n1", group="g",
                  job_type="train", config={"lr": 0.1}, store=store_url)
    assert run.store_url.split("?")[0].split("://")[0] in ("postgresql", "sqlite") or os.path.isabs(run.store_url)
    run.log({"loss": 1.0})
    api = tc.Api(store=store_url)
    live = api.run(run.path if isinstance(run.path, str) else "/".join(run.path))
    assert live.state == "running"
    run.finish()

    path = "/".join(run.path) if not isinstance(run.path, str) else run.path
    r = tc.Api(store=store_url).run(path)
    assert (r.state, r.name, r.notes, r.group, r.job_type) == ("finished", "first", "n1", "g", "train")
    assert r.tags == ["a", "b"]
    assert r.id == "r1" and r.project == "life"
    assert r.created_at.endswith("Z")
    assert r.summary["loss"] == 1.0 and r.summary["_step"] == 0

    r.notes, r.tags, r.name = "n2", ["z", "a"], "renamed"
    r.update()
    r = tc.Api(store=store_url).run(path)
    assert (r.notes, r.tags, r.name) == ("n2", ["z", "a"], "renamed")

    with pytest.raises(RunExistsError):
        tc.init(project="life", id="r1", store=store_url)
    with pytest.raises(ValueError), tc.init(project="life", id="r2", store=store_url) as run2:
        run2.log({"x": 1})
        raise ValueError("boom")
    assert tc.Api(store=store_url).run(f"{r.entity}/life/r2").state == "failed"
    assert [x.id for x in tc.Api(store=store_url).runs("life")] == ["r1", "r2"]
    assert len(tc.Api(store=store_url).runs(f"{r.entity}/life")) == 2
    with pytest.raises(RunNotFoundError):
        tc.Api(store=store_url).run(f"{r.entity}/life/nope")


# -- history ---------------------------------------------------------------------------------

EXOTIC = [
    {"f": 0.5, "i": 1, "s": "plain", "b": True, "n": None, "nest": {"a": 1.0, "b": {"c": "deep"}}},
    {"f": float("nan"), "i": 2**70, "s": "ünïcödé ✓ 'quote\" \\ %s %%", "b": False, "lst": [1, 2.0, "x", None]},
    {"f": float("inf"), "i": -(2**63), "s": "", "nest": {"a": -0.0}},
    {"f": float("-inf"), "i": 2**63 - 1, "s": "x" * 5000, "nest": {"b": {"c": 7}}},
    {"f": 1e308, "i": 0, "mixed": 1},
    {"f": 5e-324, "mixed": 1.5},
    {"mixed": "three", "hist": {"_type": "histogram", "bins": [0, 1, 2], "values": [3, 4]}},
]


def _flat(row, prefix=""):
    out = {}
    for k, v in row.items():
        if isinstance(v, dict) and v and v.get("_type") is None:
            out.update(_flat(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def test_history_roundtrip_exact(store_url, monkeypatch):
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "0.05")
    run = tc.init(project="hist", id="h", store=store_url)
    for i, row in enumerate(EXOTIC):
        run.log(row)
        if i in (1, 4):
            time.sleep(0.25)  # several flushes: several chunks per key, kinds changing between them
    run.finish()
    r = tc.Api(store=store_url).run(f"{run.entity}/hist/h")
    rows = list(r.scan_history())
    assert [row["_step"] for row in rows] == list(range(len(EXOTIC)))
    for got, want in zip(rows, EXOTIC):
        got = {k: v for k, v in got.items() if k not in ("_step", "_timestamp")}
        assert nan_eq(got, _flat(want)), (got, want)
    assert r.history_keys["keys"][:4] == ["f", "i", "s", "b"]
    assert r.history_keys["lastStep"] == len(EXOTIC) - 1
    # one key, read on its own
    st = open_store(store_url)
    uid = uid_of(store_url, (run.entity, "hist", "h"))
    assert nan_eq(st.read_key_history(uid, ("i",)), [(0, 1), (1, 2**70), (2, -(2**63)), (3, 2**63 - 1), (4, 0)])
    assert nan_eq(st.read_key_history(uid, ("nest", "b", "c")), [(0, "deep"), (3, 7)])
    assert st.history_length(uid) == len(EXOTIC)
    assert [s for s, _t, _r in st.read_history(uid, min_step=2, max_step=3)] == [2, 3]
    assert list(r.scan_history(keys=["mixed"])) and [x["mixed"] for x in r.scan_history(keys=["mixed"])] == [
        1, 1.5, "three"]
    s = r.summary
    assert s["i"] == 0 and type(s["i"]) is int
    assert s["f"] == 5e-324 and s["s"] == "x" * 5000 and s["mixed"] == "three"
    assert s["nest"]["b"]["c"] == 7 and s["nest"]["a"] == -0.0 and math.copysign(1, s["nest"]["a"]) == -1


# -- summary ---------------------------------------------------------------------------------

def test_summary_aggregates_and_details(store_url):
    run = tc.init(project="agg", id="a", store=store_url)
    tc.define_metric("loss", summary="min")
    tc.define_metric("loss", summary="max")
    tc.define_metric("acc", summary="best", objective="maximize")
    tc.define_metric("m", summary="mean,first,last")
    for i, (loss, acc) in enumerate([(0.9, 0.1), (0.3, 0.7), (float("nan"), 0.6), (0.5, 0.2)]):
        tc.log({"loss": loss, "acc": acc, "m": i})
    tc.finish()
    r = tc.Api(store=store_url).run(f"{run.entity}/agg/a")
    s = r.summary
    assert dict(s["loss"]) == {"min": 0.3, "max": 0.9}
    assert dict(s["acc"]) == {"best": 0.7}
    assert dict(s["m"]) == {"mean": 1.5, "first": 0, "last": 3}
    d = s.details("loss")
    assert d["min"] == {"value": 0.3, "step": 1} and d["max"] == {"value": 0.9, "step": 0}
    assert d["nan_count"] == 1
    assert s.details("acc")["best"] == {"value": 0.7, "step": 1}


def test_explicit_writes_and_api_edits(store_url):
    run = tc.init(project="edit", id="e", store=store_url)
    tc.define_metric("loss", summary="min")
    tc.log({"loss": 2.0, "acc": 0.5})
    tc.log({"loss": 1.0, "acc": 0.6})
    run.summary["acc"] = 0.99  # explicit write wins over the last logged value
    run.summary["obj"] = {"a": 1, "b": {"c": [1, 2]}}
    run.summary["big"] = 2**80
    tc.finish()
    path = f"{run.entity}/edit/e"
    s = tc.Api(store=store_url).run(path).summary
    assert s["acc"] == 0.99 and s["loss"]["min"] == 1.0 and s["big"] == 2**80
    assert dict(s["obj"]) == {"a": 1, "b": {"c": [1, 2]}}

    r = tc.Api(store=store_url).run(path)
    r.summary["obj"]["b"] = "flat now"
    r.summary["new"] = float("inf")
    del r.summary["big"]
    r.summary.update()
    s = tc.Api(store=store_url).run(path).summary
    assert dict(s["obj"]) == {"a": 1, "b": "flat now"}
    assert s["new"] == math.inf and "big" not in s
    assert s["loss"]["min"] == 1.0 and s["acc"] == 0.99
    r = tc.Api(store=store_url).run(path)
    with pytest.raises(KeyError):
        del r.summary["missing"]


EDITOR = r"""
import sys, time, os
import tracker_core as tc
path, key, go = sys.argv[1:4]
r = tc.Api().run(path)
print("READY", flush=True)
while not os.path.exists(go):
    time.sleep(0.005)
for i in range(25):
    r.summary[key] = i
    r.summary.update()
    r.summary[key + "_d"] = {"i": i, "who": key}
    r.summary.update()
    if i % 10 == 9:
        r = tc.Api().run(path)
print("DONE", flush=True)
"""


def test_two_processes_edit_different_summary_keys(store_url, env, tmp_path):
    run = tc.init(project="edit", id="shared", store=store_url)
    run.define_metric("loss", summary="min,max")
    for v in (0.5, 0.25, 0.75):
        run.log({"loss": v})
    run.summary["note"] = "keep me"
    run.finish()
    path = f"{run.entity}/edit/shared"
    go = tmp_path / "go"
    procs = [spawn(EDITOR, env, path, key, go) for key in ("ka", "kb")]
    outputs = release_together(procs, go)
    assert [out.strip() for out in outputs] == ["DONE"] * len(outputs)
    s = tc.Api(store=store_url).run(path).summary
    assert s["ka"] == 24 and s["kb"] == 24
    assert dict(s["ka_d"]) == {"i": 24, "who": "ka"} and dict(s["kb_d"]) == {"i": 24, "who": "kb"}
    assert s["note"] == "keep me" and dict(s["loss"]) == {"min": 0.25, "max": 0.75}
    assert [k for k in s.to_dict() if not k.startswith("_")][:2] == ["loss", "note"]


# -- config ----------------------------------------------------------------------------------

def test_config_roundtrip_and_edit(store_url):
    cfg = {"lr": 0.001, "layers": [64, 32], "opt": {"name": "adam", "betas": [0.9, 0.999], "eps": 1e-8},
           "seed": 2**64, "flag": False, "none": None, "name": "ünï"}
    run = tc.init(project="cfg", id="c", config=cfg, store=store_url)
    tc.config["late"] = {"x": 1}
    tc.config.update({"lr": 0.002})
    tc.finish()
    path = f"{run.entity}/cfg/c"
    r = tc.Api(store=store_url).run(path)
    want = dict(cfg, lr=0.002, late={"x": 1})
    assert nan_eq(r.config, want)
    assert list(r.config) == list(want)  # key order kept
    r.config["opt"] = {"name": "sgd"}
    r.update()
    r = tc.Api(store=store_url).run(path)
    assert r.config["opt"] == {"name": "sgd"} and list(r.config) == list(want)


# -- filters, order, pandas ------------------------------------------------------------------

RUNS = [  # id, config lr, opt, summary acc, status, tags
    ("r0", 0.1, "adam", 0.50, "ok", ["base"]),
    ("r1", 0.2, "sgd", 0.90, "Diverged", ["sweep"]),
    ("r2", 0.3, "adam", None, "ok:early", ["sweep", "abl"]),
    ("r3", 0.4, "Adam", 0.70, "b", []),
    ("r4", 0.5, "sgd", float("nan"), "a", ["base"]),
]


def _make_runs(store_url):
    for rid, lr, opt, acc, status, tags in RUNS:
        tc.init(project="q", entity="ent", id=rid, config={"lr": lr, "opt": opt, "m": {"d": int(lr * 10)}},
                      tags=tags, store=store_url)
        tc.define_metric("loss", summary="min")
        row = {"loss": 1 - lr, "status": status}
        if acc is not None:
            row["acc"] = acc
        tc.log(row)
        tc.log({"loss": 2.0})
        tc.finish()
        time.sleep(0.002)  # distinct created_at


def _ids(store_url, filters=None, order=None):
    return [r.id for r in tc.Api(store=store_url).runs("ent/q", filters=filters, order=order)]


def test_filters_and_order(store_url):
    _make_runs(store_url)
    assert _ids(store_url) == ["r0", "r1", "r2", "r3", "r4"]
    assert _ids(store_url, {"summary_metrics.acc": {"$gt": 0.6}}) == ["r1", "r3"]
    assert _ids(store_url, {"summary_metrics.acc": {"$lt": float("nan")}}) == []
    assert _ids(store_url, {"config.lr": {"$gte": 0.3, "$lt": 0.5}}) == ["r2", "r3"]
    assert _ids(store_url, {"config.opt": {"$in": ["adam", "Adam"]}}) == ["r0", "r2", "r3"]
    assert _ids(store_url, {"config.opt": {"$ne": "sgd"}}) == ["r0", "r2", "r3"]
    assert _ids(store_url, {"config.opt": {"$regex": "^[Aa]d"}}) == ["r0", "r2", "r3"]
    assert _ids(store_url, {"summary_metrics.status": {"$regex": "ok"}}) == ["r0", "r2"]
    # Python's re syntax on both backends (PostgreSQL: rewritten where its ARE differs)
    assert _ids(store_url, {"summary_metrics.status": {"$regex": r"\bearly\b"}}) == ["r2"]
    assert _ids(store_url, {"summary_metrics.status": {"$regex": r"o\B"}}) == ["r0", "r2"]
    assert _ids(store_url, {"config.opt": {"$regex": r"^(?P<first>[sg])\w+$"}}) == ["r1", "r4"]
    assert _ids(store_url, {"config.opt": {"$regex": r"(?i)^ADAM$"}}) == ["r0", "r2", "r3"]
    assert _ids(store_url, {"summary_metrics.status": {"$regex": r"[]:]"}}) == ["r2"]
    with pytest.raises((FilterError, sqlite3.OperationalError)):  # FilterError once query.py checks patterns
        _ids(store_url, {"config.opt": {"$regex": "("}})
    assert _ids(store_url, {"config.m.d": 4}) == ["r3"]
    assert _ids(store_url, {"summary_metrics.loss.min": {"$lte": 0.6}}) == ["r3", "r4"]
    assert _ids(store_url, {"summary_metrics.acc": {"$exists": False}}) == ["r2"]
    assert _ids(store_url, {"tags": "sweep"}) == ["r1", "r2"]
    assert _ids(store_url, {"$or": [{"tags": "abl"}, {"config.lr": 0.1}]}) == ["r0", "r2"]
    assert _ids(store_url, {"$nor": [{"tags": "base"}, {"summary_metrics.acc": {"$gt": 0.8}}]}) == ["r2", "r3"]
    assert _ids(store_url, {"state": "finished", "id": {"$nin": ["r0", "r4"]}}) == ["r1", "r2", "r3"]
    assert _ids(store_url, {"summary_metrics._step": 1}) == ["r0", "r1", "r2", "r3", "r4"]
    # order: numbers, runs without the value last (NaN counts as no number)
    assert _ids(store_url, order="-summary_metrics.acc") == ["r1", "r3", "r0", "r2", "r4"]
    assert _ids(store_url, order="+summary_metrics.acc") == ["r0", "r3", "r1", "r2", "r4"]
    assert _ids(store_url, order="-config.lr") == ["r4", "r3", "r2", "r1", "r0"]
    # strings in code-point order, whatever the database collation ("B" < "a" < "b")
    assert _ids(store_url, order="summary_metrics.status") == ["r1", "r4", "r3", "r0", "r2"]
    assert _ids(store_url, order=["config.opt", "-config.lr"]) == ["r3", "r2", "r0", "r4", "r1"]
    assert _ids(store_url, {"summary_metrics.status": {"$gt": "a"}}) == ["r0", "r2", "r3"]
    st = open_store(store_url)
    assert st.count_runs("ent", "q", {"config.opt": "sgd"}) == 2
    assert [r.run_id for r in st.query_runs("ent", "q", order="config.lr", limit=2, offset=1)] == ["r1", "r2"]
    assert [r.run_id for r in st.list_runs(None, "q")] == ["r0", "r1", "r2", "r3", "r4"]


def test_to_pandas(store_url):
    pytest.importorskip("pandas")
    _make_runs(store_url)
    df = tc.Api(store=store_url).runs("ent/q", order="-config.lr").to_pandas()
    assert list(df["id"]) == ["r4", "r3", "r2", "r1", "r0"]
    assert list(df["config.lr"]) == [0.5, 0.4, 0.3, 0.2, 0.1]
    assert list(df["config.m.d"]) == [5, 4, 3, 2, 1]
    assert list(df["summary.loss.min"]) == [0.5, 0.6, 0.7, 0.8, 0.9]
    assert df["summary.status"].tolist() == ["a", "b", "ok:early", "Diverged", "ok"]
    assert df["tags"].tolist()[2] == ["sweep", "abl"]
    assert set(df["state"]) == {"finished"}


# -- blobs -----------------------------------------------------------------------------------

def _blob_of(store_url, path, key):
    uid = uid_of(store_url, path)
    leaves = dict(open_store(store_url).load_leaves(uid))
    return uid, leaves[(key,)]["blob"]


def test_tensor_blobs_roundtrip_and_replacement(store_url):
    a1 = np.arange(48, dtype=np.float32).reshape(2, 3, 8) / 7
    a2 = np.arange(40, dtype=np.int64).reshape(5, 8) - 2**62
    run = tc.init(project="blob", id="b", store=store_url)
    run.summary["w"] = a1
    run.summary["keep"] = np.array([True, False] * 20)
    tc.finish()
    path = f"{run.entity}/blob/b"
    s = tc.Api(store=store_url).run(path).summary
    got = s.load_tensor("w")
    assert got.dtype == a1.dtype and got.shape == a1.shape and np.array_equal(got, a1)
    assert s["w"]["shape"] == [2, 3, 8] and s["w"]["dtype"] == "float32"
    uid, old = _blob_of(store_url, path, "w")
    st = open_store(store_url)
    assert np.array_equal(st.get_blob(uid, old), a1)

    r = tc.Api(store=store_url).run(path)
    r.summary["w"] = a2  # replacement: new blob, the old one deleted with it
    r.summary.update()
    _, new = _blob_of(store_url, path, "w")
    assert new != old
    got = tc.Api(store=store_url).run(path).summary.load_tensor("w")
    assert got.dtype == np.int64 and np.array_equal(got, a2)
    with pytest.raises(FileNotFoundError):
        st.get_blob(uid, old)
    _, keep = _blob_of(store_url, path, "keep")
    r = tc.Api(store=store_url).run(path)
    r.summary["keep"] = 3  # a tensor replaced by a scalar: its blob goes
    r.summary.update()
    with pytest.raises(FileNotFoundError):
        st.get_blob(uid, keep)
    with pytest.raises(ValueError):
        st.get_blob(uid, "../etc")


def test_live_rewrite_drops_old_blob(store_url, monkeypatch):
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "0.05")
    run = tc.init(project="blob", id="live", store=store_url)
    run.summary["w"] = np.ones(50)
    time.sleep(0.2)
    path = f"{run.entity}/blob/live"
    uid, old = _blob_of(store_url, path, "w")
    run.summary["w"] = np.zeros(50)
    tc.finish()
    st = open_store(store_url)
    with pytest.raises(FileNotFoundError):
        st.get_blob(uid, old)
    assert np.array_equal(tc.Api(store=store_url).run(path).summary.load_tensor("w"), np.zeros(50))


# -- resume, crash, delete -------------------------------------------------------------------

RESUMER = r"""
import sys
import tracker_core as tc
run = tc.init(project="res", id="rr", resume="allow")
for i in range(3):
    tc.log({"loss": float(sys.argv[1]) + i})
tc.finish()
"""


def test_resume_across_processes(store_url, env):
    run = tc.init(project="res", id="rr", store=store_url)
    tc.define_metric("loss", summary="min,max")
    tc.log({"loss": 5.0})
    tc.log({"loss": 4.0})
    tc.finish()
    finish_child(spawn(RESUMER, env, 10))
    r = tc.Api(store=store_url).run(f"{run.entity}/res/rr")
    assert r.state == "finished"
    assert [row["_step"] for row in r.scan_history()] == [0, 1, 2, 3, 4]
    assert [row["loss"] for row in r.scan_history()] == [5.0, 4.0, 10.0, 11.0, 12.0]
    assert dict(r.summary["loss"]) == {"min": 4.0, "max": 12.0}
    run = tc.init(project="res", id="rr", resume="must", store=store_url)
    tc.log({"loss": 1.0})
    tc.finish()
    r = tc.Api(store=store_url).run(f"{run.entity}/res/rr")
    assert dict(r.summary["loss"]) == {"min": 1.0, "max": 12.0} and r.summary["_step"] == 5
    with pytest.raises(RunNotFoundError):
        tc.init(project="res", id="other", resume="must", store=store_url)


VICTIM = r"""
import time
import tracker_core as tc
run = tc.init(project="crash", id="victim")
tc.define_metric("loss", summary="min")
for i in range(20):
    tc.log({"loss": 10.0 - i, "i": i})
time.sleep(0.5)   # several flush intervals (0.1 s here)
print("/".join(run.path) if not isinstance(run.path, str) else run.path, flush=True)
j = 0
while True:
    tc.log({"loss": 100.0 + j, "i": 20 + j})
    j += 1
    time.sleep(0.01)
"""


def test_killed_process_run_is_crashed(store_url, env):
    proc = spawn(VICTIM, env)
    try:
        path = read_line(proc)
        time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=CHILD_TIMEOUT)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    r = tc.Api(store=store_url).run(path)
    assert r.state == "crashed"
    assert tc.Api(store=store_url).run(path).state == "crashed"  # for good
    rows = list(r.scan_history())
    assert len(rows) >= 20
    assert [row["i"] for row in rows] == list(range(len(rows)))  # an exact prefix survived
    assert r.summary["loss"]["min"] == -9.0
    # and it can be resumed
    run = tc.init(project="crash", id="victim", resume="allow", store=store_url)
    tc.log({"i": -1})
    tc.finish()
    assert tc.Api(store=store_url).run(path).state == "finished"
    assert run.id == "victim"


def test_delete_run(store_url):
    run = tc.init(project="del", id="d", config={"a": 1}, tags=["t"], store=store_url)
    tc.log({"loss": 1.0})
    run.summary["w"] = np.arange(40.0)
    tc.finish()
    other = tc.init(project="del", id="keep", store=store_url)
    tc.log({"loss": 2.0})
    tc.finish()
    path = f"{run.entity}/del/d"
    uid, blob = _blob_of(store_url, path, "w")
    tc.Api(store=store_url).run(path).delete()
    with pytest.raises(RunNotFoundError):
        tc.Api(store=store_url).run(path)
    st = open_store(store_url)
    assert st.load_leaves(uid) == [] and st.load_config(uid) == {} and list(st.read_history(uid)) == []
    assert st.history_length(uid) == 0 and st.load_metric_defs(uid) == []
    with pytest.raises(FileNotFoundError):
        st.get_blob(uid, blob)
    assert [r.id for r in tc.Api(store=store_url).runs("del")] == ["keep"]
    assert tc.Api(store=store_url).run(f"{other.entity}/del/keep").summary["loss"] == 2.0
    # the id can be used again
    tc.init(project="del", id="d", store=store_url).finish()


def test_define_metric_after_the_fact_and_recompute(store_url):
    run = tc.init(project="late", id="l", store=store_url)
    for v in (3.0, 1.0, 2.0):
        tc.log({"loss": v, "acc": v / 10})
    run.summary["fixed"] = "explicit"
    tc.finish()
    path = f"{run.entity}/late/l"
    r = tc.Api(store=store_url).run(path)
    r.define_metric("loss", summary="min,max")
    s = tc.Api(store=store_url).run(path).summary
    assert dict(s["loss"]) == {"min": 1.0, "max": 3.0}
    assert [x.id for x in tc.Api(store=store_url).runs("late", {"summary_metrics.loss.max": 3.0})] == ["l"]

    r = tc.Api(store=store_url).run(path)
    del r.summary["acc"]
    r.summary.update()
    assert "acc" not in tc.Api(store=store_url).run(path).summary
    tc.Api(store=store_url).run(path).recompute_summary()
    s = tc.Api(store=store_url).run(path).summary
    assert s["acc"] == 0.2 and s["fixed"] == "explicit" and dict(s["loss"]) == {"min": 1.0, "max": 3.0}


# -- the Store interface directly ------------------------------------------------------------

def _record(run_id, **kw):
    return RunRecord(entity="e", project="p", run_id=run_id, name=run_id, created_at=time.time(), **kw)


def test_store_interface_basics(store_url):
    st = open_store(store_url)
    uid = st.create_run(_record("s1", tags=["x", "y"], metadata={"k": [1, 2.5, None]}))
    with pytest.raises(RunExistsError):
        st.create_run(_record("s1"))
    got = st.get_run("e", "p", "s1")
    assert got.uid == uid and got.tags == ["x", "y"] and got.metadata == {"k": [1, 2.5, None]}
    assert st.get_run(None, "p", "s1").uid == uid and st.get_run("other", "p", "s1") is None
    st.update_run(uid, state="finished", group="g", tags=["y"], runtime=1.5, last_step=7)
    got = st.get_run("e", "p", "s1")
    assert (got.state, got.group, got.tags, got.runtime, got.last_step) == ("finished", "g", ["y"], 1.5, 7)
    with pytest.raises(ValueError):
        st.update_run(uid, bogus=1)

    # a batch is atomic: a failure in it leaves nothing behind
    bad = WriteBatch(uid=uid, rows=[(0, 0, 1.0, {("a",): 1})], config={"c": 1}, run_fields={"bogus": 1})
    with pytest.raises(ValueError):
        st.write_batch(bad)
    assert st.history_length(uid) == 0 and st.load_config(uid) == {}
    good = WriteBatch(uid=uid, rows=[(0, 0, 1.0, {("a",): 1}), (1, 5, 2.0, {("a",): 2.5, ("b", "c"): "s"})],
                      config={"c": {"d": 1}}, system_samples=[(1.0, {"cpu": 1.0}), (2.0, {"cpu": 2.0})],
                      metric_defs=[{"name": "a", "ops": ["min"], "objective": None, "step_metric": None,
                                    "step_sync": True, "hidden": None}])
    st.write_batch(good)
    assert st.history_length(uid) == 2
    assert list(st.read_history(uid)) == [(0, 1.0, {"a": 1}), (5, 2.0, {"a": 2.5, "b": {"c": "s"}})]
    assert st.read_key_history(uid, ("a",)) == [(0, 1), (5, 2.5)]
    assert st.history_paths(uid) == [("a",), ("b", "c")]
    assert st.load_config(uid) == {"c": {"d": 1}}
    assert st.last_system_sample(uid) == {"cpu": 2.0}
    assert st.load_metric_defs(uid) == [{"name": "a", "ops": ["min"], "objective": None, "step_metric": None,
                                         "step_sync": True, "hidden": None}]


def test_store_is_shared_per_process_and_reopens(store_url):
    st = open_store(store_url)
    assert open_store(store_url) is st
    uid = st.create_run(_record("x"))
    forget_stores(store_url)  # a new process, in effect: the schema is found current, data kept
    assert open_store(store_url).get_run("e", "p", "x").uid == uid


# -- migrations (the same mechanism on both dialects) ---------------------------------------

def _raw_conn(backend, store_url, tmp_path):
    """A bare connection to a fresh database (SQLite) / the test's schema (PostgreSQL)."""
    if backend == "sqlite":
        return sqlite3.connect(str(tmp_path / "mig.db"), isolation_level=None), "sqlite"
    import psycopg

    return psycopg.connect(store_url, autocommit=True), "postgresql"


def _db_errors(dialect):
    if dialect == "sqlite":
        return sqlite3.Error
    import psycopg

    return psycopg.Error


def test_migrations_apply_once_in_order_and_record_version(backend, store_url, tmp_path):
    conn, dialect = _raw_conn(backend, store_url, tmp_path)
    try:
        applied = []
        steps = [
            mig.Migration(1, ["CREATE TABLE t (a INTEGER)", "INSERT INTO t VALUES (1)"]),
            mig.Migration(2, ["ALTER TABLE t ADD COLUMN b INTEGER", lambda c: applied.append(2)]),
        ]
        assert mig.current_version(conn, dialect) == 0
        assert mig.migrate(conn, dialect, steps[:1]) == 1
        assert mig.current_version(conn, dialect) == 1
        assert mig.migrate(conn, dialect, steps) == 2 and applied == [2]
        assert mig.migrate(conn, dialect, steps) == 2 and applied == [2]  # nothing to do the second time
        assert conn.execute("SELECT a, b FROM t").fetchall() == [(1, None)]
        # a failing migration rolls back entirely
        broken = steps + [mig.Migration(3, ["ALTER TABLE t ADD COLUMN c INTEGER", "SELECT * FROM no_such_table"])]
        with pytest.raises(_db_errors(dialect)):
            mig.migrate(conn, dialect, broken)
        assert mig.current_version(conn, dialect) == 2
        assert mig.migrate(conn, dialect, steps) == 2  # and the connection is usable, column c not there
        conn.execute("SELECT a, b FROM t").fetchall()
        # a store written by a newer tracker-core is refused
        with pytest.raises(mig.SchemaVersionError):
            mig.migrate(conn, dialect, steps[:1])
        with pytest.raises(ValueError):
            mig.migrate(conn, dialect, [steps[1], steps[0]])
    finally:
        conn.close()


def test_store_schema_version_is_recorded(backend, store_url, tmp_path):
    st = open_store(store_url)
    st.create_run(_record("v"))
    if backend == "sqlite":
        conn, dialect = sqlite3.connect(st.db_path), "sqlite"
    else:
        import psycopg

        conn, dialect = psycopg.connect(store_url, autocommit=True), "postgresql"
    try:
        assert mig.current_version(conn, dialect) == mig.latest(mig.migrations_for(dialect)) >= 1
        if backend == "postgres":
            conn.execute("INSERT INTO schema_version VALUES (999)")
    finally:
        conn.close()
    if backend == "postgres":
        forget_stores(store_url)
        with pytest.raises(mig.SchemaVersionError, match="999"):
            open_store(store_url)


OPENER = r"""
import sys
import tracker_core as tc
run = tc.init(project="open", id=sys.argv[1])
tc.log({"x": 1})
tc.finish()
print("OK", flush=True)
"""


def test_processes_creating_a_fresh_store_at_once(backend, env):
    procs = [spawn(OPENER, env, f"p{i}") for i in range(4)]
    for p in procs:
        assert finish_child(p).strip() == "OK"
    assert sorted(r.id for r in tc.Api(store=env["TRACKER_STORE"]).runs("open")) == ["p0", "p1", "p2", "p3"]


# -- PostgreSQL only -------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["postgres"])  # overrides the fixture: PostgreSQL only
def test_postgres_url_password_is_masked(backend, store_url):
    from urllib.parse import urlsplit

    from tracker_core.store.postgres import redact

    assert redact("postgresql://u:secret@h:5432/db?x=1") == "postgresql://u:***@h:5432/db?x=1"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"
    password = urlsplit(store_url).password
    run = tc.init(project="pw", store=store_url)
    tc.finish()
    for shown in (open_store(store_url).url, run.store_url, tc.Api(store=store_url).store_url):
        assert shown == redact(store_url)
        if password:
            assert f":{password}@" not in shown and ":***@" in shown
    with pytest.raises(RunNotFoundError) as info:
        tc.Api(store=store_url).run("e/p/missing")
    assert not password or f":{password}@" not in str(info.value)


@pytest.mark.parametrize("backend", ["postgres"])  # overrides the fixture: PostgreSQL only
def test_postgres_connection_errors_are_prompt_and_masked(backend, store_url):
    from urllib.parse import urlsplit, urlunsplit

    from tracker_core.store.postgres import PostgresStore

    parts = urlsplit(store_url)
    if not parts.password:
        pytest.skip("the test URL has no password to get wrong")
    wrong = urlunsplit(parts._replace(netloc=f"{parts.username}:not-the-{parts.password}@{parts.hostname}:"
                                             f"{parts.port or 5432}"))
    t0 = time.monotonic()
    with pytest.raises(ConnectionError) as info:
        PostgresStore(wrong)
    assert time.monotonic() - t0 < 10
    assert "not-the-" not in str(info.value) and ":***@" in str(info.value)


def test_list_projects_counts_runs_per_entity_and_project(store_url):
    for entity, project in [("alice", "p1"), ("alice", "p1"), ("alice", "p2"), ("bob", "p1")]:
        tc.init(project=project, entity=entity, store=store_url).finish()
    store = open_store(store_url)
    assert store.list_projects() == [("alice", "p1", 2), ("alice", "p2", 1), ("bob", "p1", 1)]
    assert store.list_projects("bob") == [("bob", "p1", 1)]
