"""Tensor summaries in the store (DESIGN.md section 4): the stats dict, the lossless blob
behind it (in process and through the Api), and blob lifecycle (rewrite, delete, log over
it) -- nothing leaks in ``<TRACKER_STORE>/tracker.db.blobs/<uid>/``.
"""

from __future__ import annotations

import math
import os
import sqlite3
import time

import numpy as np
import pytest

import tracker_core as tc

STAT_KEYS = {"_type", "shape", "dtype", "size", "min", "max", "mean", "var", "std",
             "10%", "25%", "50%", "75%", "90%", "nan_count", "inf_count"}


def uid_of(store, run_id):
    con = sqlite3.connect(os.path.join(str(store), "tracker.db"), timeout=30)
    try:
        return con.execute("SELECT uid FROM runs WHERE run_id=?", (run_id,)).fetchone()[0]
    finally:
        con.close()


def blob_files(store, run_id):
    d = os.path.join(str(store), "tracker.db.blobs", str(uid_of(store, run_id)))
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def check_stats(stats, values64, type_name, dtype_name, shape):
    """``stats`` is the stats dict of an array whose values (as float64) are ``values64``."""
    stats = dict(stats)
    assert set(stats) == STAT_KEYS
    flat = np.asarray(values64, dtype=np.float64).reshape(-1)
    assert stats["_type"] == type_name
    assert stats["shape"] == list(shape)
    assert stats["dtype"] == dtype_name
    assert stats["size"] == flat.size and type(stats["size"]) is int
    assert stats["min"] == float(flat.min()) and type(stats["min"]) is float
    assert stats["max"] == float(flat.max()) and type(stats["max"]) is float
    for q in (10, 25, 50, 75, 90):
        assert stats[f"{q}%"] == float(np.percentile(flat, q)), q
    assert stats["mean"] == pytest.approx(float(np.mean(flat)), rel=1e-12, abs=1e-300)
    assert stats["var"] == pytest.approx(float(np.var(flat)), rel=1e-12, abs=1e-300)
    assert stats["std"] == pytest.approx(float(np.std(flat)), rel=1e-12, abs=1e-300)
    assert stats["nan_count"] == 0 and stats["inf_count"] == 0


def check_loaded(loaded, expected):
    assert isinstance(loaded, np.ndarray)
    assert loaded.dtype == expected.dtype
    assert loaded.shape == expected.shape
    assert np.array_equal(loaded, expected)


rng = np.random.default_rng(1234)

NUMPY_CASES = {
    "float32": rng.standard_normal((10, 7)).astype(np.float32),
    "float64": rng.random(1000),
    "int64": np.arange(-20, 28, dtype=np.int64).reshape(6, 8),
    "int32": rng.integers(-1000, 1000, size=(3, 4, 5)).astype(np.int32),
}


@pytest.mark.parametrize("name", sorted(NUMPY_CASES))
def test_numpy_tensor_summary_roundtrip(name, store_dir):
    arr = NUMPY_CASES[name]
    original = arr.copy()
    run = tc.init(project="tensors", id="np_" + name)
    run.summary["w"] = arr
    arr.flat[0] = 12345  # later in-place changes (weights during training) are not seen
    check_stats(run.summary["w"], original, "numpy.ndarray", name, original.shape)
    check_loaded(run.summary.load_tensor("w"), original)
    run.finish()

    r = tc.Api().run(run.path)
    check_stats(r.summary["w"], original, "numpy.ndarray", name, original.shape)
    check_loaded(r.summary.load_tensor("w"), original)
    assert len(blob_files(store_dir, "np_" + name)) == 1


def _torch_cases(torch):
    g = torch.Generator().manual_seed(7)
    return {
        "float32": (torch.randn(8, 5, generator=g), "torch.float32", np.float32),
        "float64": (torch.randn(50, generator=g, dtype=torch.float64), "torch.float64", np.float64),
        "bfloat16": (torch.randn(6, 6, generator=g).to(torch.bfloat16), "torch.bfloat16", np.float32),
        "requires_grad": (torch.randn(33, generator=g, requires_grad=True), "torch.float32", np.float32),
        "int64": (torch.arange(-17, 23).reshape(4, 10), "torch.int64", np.int64),
    }


@pytest.mark.parametrize("case", ["float32", "float64", "bfloat16", "requires_grad", "int64"])
def test_torch_tensor_summary_roundtrip(case, store_dir):
    torch = pytest.importorskip("torch")
    t, dtype_name, np_dtype = _torch_cases(torch)[case]
    # the exact values, as numpy: bfloat16 widens to float32 exactly
    expected = (t.detach().float() if t.dtype == torch.bfloat16 else t.detach()).numpy().copy()
    assert expected.dtype == np_dtype
    run = tc.init(project="tensors", id="torch_" + case)
    run.summary["w"] = t
    check_stats(run.summary["w"], expected, "torch.Tensor", dtype_name, tuple(t.shape))
    check_loaded(run.summary.load_tensor("w"), expected)
    run.finish()

    r = tc.Api().run(run.path)
    check_stats(r.summary["w"], expected, "torch.Tensor", dtype_name, tuple(t.shape))
    check_loaded(r.summary.load_tensor("w"), expected)
    assert len(blob_files(store_dir, "torch_" + case)) == 1


def test_bfloat16_values_are_exact():
    torch = pytest.importorskip("torch")
    t = (torch.arange(40, dtype=torch.float32) / 3 + 0.1).to(torch.bfloat16)
    run = tc.init(project="tensors", id="bf16")
    run.summary["w"] = t
    run.finish()
    loaded = tc.Api().run(run.path).summary.load_tensor("w")
    assert loaded.dtype == np.float32
    assert loaded.tolist() == [float(x) for x in t.tolist()]  # each value exactly
    assert tc.Api().run(run.path).summary["w"]["dtype"] == "torch.bfloat16"


def test_seed_snippet_tensor_on_finished_run(store_dir):
    run = tc.init(project="seed", id="seed1")
    run.log({"loss": 0.5})
    run.finish()
    api = tc.Api()
    values = np.random.random(1000)
    r = api.run(run.path)
    r.summary["tensor"] = values
    r.summary.update()

    s = tc.Api().run(run.path).summary
    assert s["tensor"]["_type"] == "numpy.ndarray"
    assert s["tensor"]["size"] == 1000 and s["tensor"]["shape"] == [1000]
    check_stats(s["tensor"], values, "numpy.ndarray", "float64", (1000,))
    check_loaded(s.load_tensor("tensor"), values)
    assert s["loss"] == 0.5
    assert len(blob_files(store_dir, "seed1")) == 1


def test_rewrite_in_live_run_replaces_blob(store_dir, monkeypatch):
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "0.05")
    a1, a2, a3 = (np.full(40, v, dtype=np.float32) + np.arange(40, dtype=np.float32) for v in (1, 2, 3))
    run = tc.init(project="tensors", id="live_rewrite")
    run.summary["w"] = a1
    run.summary["w"] = a2  # before any flush
    run.summary["keep"] = a1
    time.sleep(0.3)  # flushed at least once
    run.summary["w"] = a3  # after a flush
    check_loaded(run.summary.load_tensor("w"), a3)
    deadline = time.time() + 5  # the next flush deletes the replaced blobs, while the run lives
    while len(blob_files(store_dir, "live_rewrite")) != 2 and time.time() < deadline:
        time.sleep(0.02)
    assert len(blob_files(store_dir, "live_rewrite")) == 2
    run.finish()
    files = blob_files(store_dir, "live_rewrite")
    assert len(files) == 2  # "w" and "keep", nothing else
    r = tc.Api().run(run.path)
    check_loaded(r.summary.load_tensor("w"), a3)
    check_loaded(r.summary.load_tensor("keep"), a1)
    assert r.summary["w"]["min"] == 3.0 and r.summary["w"]["max"] == 42.0


def test_rewrite_and_delete_through_api_replace_blob(store_dir):
    a1, a2 = np.arange(100, dtype=np.float64), np.arange(200, 300, dtype=np.int64)
    run = tc.init(project="tensors", id="api_rewrite")
    run.summary["w"] = a1
    run.summary["other"] = np.ones(64)
    run.finish()
    blob_dir = os.path.join(str(store_dir), "tracker.db.blobs", str(uid_of(store_dir, "api_rewrite")))
    (old_w,) = [f for f in blob_files(store_dir, "api_rewrite")
                if np.array_equal(np.load(os.path.join(blob_dir, f)), a1)]

    r = tc.Api().run(run.path)
    r.summary["w"] = a2
    r.summary.update()
    files = blob_files(store_dir, "api_rewrite")
    assert len(files) == 2 and old_w not in files
    s = tc.Api().run(run.path).summary
    check_stats(s["w"], a2, "numpy.ndarray", "int64", (100,))
    check_loaded(s.load_tensor("w"), a2)
    check_loaded(s.load_tensor("other"), np.ones(64))

    r = tc.Api().run(run.path)
    del r.summary["w"]
    r.summary.update()
    assert len(blob_files(store_dir, "api_rewrite")) == 1  # only "other"
    s = tc.Api().run(run.path).summary
    assert "w" not in s
    with pytest.raises(KeyError):
        s.load_tensor("w")
    r = tc.Api().run(run.path)
    r.summary["other"] = 5  # a tensor replaced by a scalar
    r.summary.update()
    assert blob_files(store_dir, "api_rewrite") == []
    assert tc.Api().run(run.path).summary["other"] == 5


def test_delete_in_live_run_removes_blob(store_dir):
    run = tc.init(project="tensors", id="live_del")
    run.summary["w"] = np.arange(50.0)
    run.summary["v"] = np.arange(60.0)
    assert len(blob_files(store_dir, "live_del")) == 2
    del run.summary["w"]
    assert "w" not in run.summary
    run.finish()
    assert len(blob_files(store_dir, "live_del")) == 1
    s = tc.Api().run(run.path).summary
    assert "w" not in s
    check_loaded(s.load_tensor("v"), np.arange(60.0))


def test_logging_a_tensor_key_drops_its_blob(store_dir):
    """An explicit write lasts until the next log of the leaf; the blob goes with it."""
    run = tc.init(project="tensors", id="log_over")
    run.summary["w"] = np.arange(50.0)
    run.log({"w": 1.5})
    assert run.summary["w"] == 1.5
    run.finish()
    assert tc.Api().run(run.path).summary["w"] == 1.5
    assert blob_files(store_dir, "log_over") == []


def test_nested_tensor_summary_has_stats(store_dir):
    run = tc.init(project="tensors", id="nested")
    run.summary["live"] = {"arr": np.arange(40, dtype=np.float32), "x": 1}
    run.finish()
    r = tc.Api().run(run.path)
    r.summary.update({"nested": {"arr": np.arange(50)}})
    s = tc.Api().run(run.path).summary
    check_stats(s["nested"]["arr"], np.arange(50), "numpy.ndarray", "int64", (50,))
    check_stats(s["live"]["arr"], np.arange(40), "numpy.ndarray", "float32", (40,))
    assert s["live"]["x"] == 1
    # replacing the nested dicts leaves no tensor file behind
    r = tc.Api().run(run.path)
    r.summary.update({"nested": 0, "live": 1})
    assert tc.Api().run(run.path).summary["nested"] == 0
    assert blob_files(store_dir, "nested") == []


def test_nonfinite_tensor_stats_and_exact_blob():
    arr = np.arange(40, dtype=np.float64)
    arr[[3, 7]] = np.nan
    arr[5] = np.inf
    run = tc.init(project="tensors", id="nonfinite")
    run.summary["w"] = arr
    run.finish()
    s = tc.Api().run(run.path).summary
    assert s["w"]["nan_count"] == 2 and s["w"]["inf_count"] == 1 and s["w"]["size"] == 40
    finite = arr[np.isfinite(arr)]
    assert s["w"]["min"] == 0.0 and s["w"]["max"] == 39.0
    assert s["w"]["50%"] == float(np.percentile(finite, 50))
    loaded = s.load_tensor("w")
    assert loaded.dtype == np.float64 and np.array_equal(loaded, arr, equal_nan=True)
    assert math.isinf(loaded[5])


def test_two_writes_before_api_update_leave_one_blob(store_dir):
    run = tc.init(project="tensors", id="twice")
    run.log({"a": 1})
    run.finish()
    r = tc.Api().run(run.path)
    r.summary["w"] = np.arange(40.0)
    r.summary["w"] = np.arange(41.0)
    r.summary.update()
    assert len(blob_files(store_dir, "twice")) == 1
    check_loaded(tc.Api().run(run.path).summary.load_tensor("w"), np.arange(41.0))


def test_resumed_run_keeps_and_replaces_tensor(store_dir):
    run = tc.init(project="tensors", id="res_t")
    run.summary["w"] = np.arange(45, dtype=np.float32)
    run.finish()
    run = tc.init(project="tensors", id="res_t", resume="must")
    check_loaded(run.summary.load_tensor("w"), np.arange(45, dtype=np.float32))
    assert run.summary["w"]["size"] == 45
    run.summary["w"] = np.arange(46, dtype=np.float64)
    run.finish()
    assert len(blob_files(store_dir, "res_t")) == 1
    check_loaded(tc.Api().run(run.path).summary.load_tensor("w"), np.arange(46, dtype=np.float64))
