"""``tracker sync SRC DST``: runs copied between stores keep summaries byte-identical,
histories, config, tensors and system samples equal; a second sync copies nothing.

The PostgreSQL leg needs ``TRACKER_TEST_POSTGRES_URL`` (CI sets it; each test uses a
fresh schema); without it the chain runs SQLite -> SQLite -> SQLite only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tracker_core as tc
from tracker_core import sdk
from tracker_core.store import codec, open_store
from tracker_core.sync import sync

from .helpers_pg import forget_stores, fresh_schema

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TENSOR = np.arange(48, dtype=np.float32).reshape(2, 3, 8) / 7


@pytest.fixture
def pg_url():
    with fresh_schema("tc_sync_") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def middle(request, tmp_path):
    """The store between the two SQLite ones: PostgreSQL (the acceptance test) or SQLite."""
    if request.param == "sqlite":
        url = str(tmp_path / "mid")
        yield url
        forget_stores(url)
    else:
        yield request.getfixturevalue("pg_url")


def _finish_live():
    for run in list(sdk._live):
        run.finish()


def build_runs(url: str) -> list[str]:
    """Runs covering what sync must keep; returns their paths."""
    run = tc.init(project="sync", id="main", store=url, notes="first notes", tags=["a", "b"], group="g",
                  job_type="train",
                  config={"lr": 0.1, "two": 2.0, "big": 2**70, "opt": {"name": "adam", "betas": [0.9, 0.999]},
                          "empty": {}, "none": None})
    run.define_metric("loss", summary="min,max,mean", goal="minimize")
    run.define_metric("acc", summary="best,last", goal="maximize")
    run.define_metric("val/*", summary="min")
    for i in range(40):
        row = {"loss": 1.0 / (i + 1), "acc": i / 40, "val/x": float(i % 7), "ints": i * 3,
               "nested": {"a": {"b": i, "s": f"s{i}"}, "c": [i, None]},
               "hist": {"_type": "histogram", "values": [i, 1], "bins": [0.0, 0.5, 1.0]}}
        if i == 5:
            row["loss"] = float("nan")
        if i == 7:
            row["big"] = 2**65
        if i % 10 == 0:
            row["mixed"] = 2 if i == 0 else 2.0
        run.log(row)
    run.log({"late": 1.5}, step=3)  # a row below the current step: its own row, order kept
    run.log({"inf": float("inf"), "neg": -float("inf")})
    run.summary["w"] = TENSOR
    run.summary["final"] = {"a": 1, "b": float("nan"), "c": "text"}
    run.finish()
    path = f"{run.entity}/sync/main"

    r = tc.Api(store=url).run(path)  # an explicit edit after finish
    r.summary["edited"] = 2**80
    r.summary["acc"] = 0.99
    r.notes = "edited notes"
    r.update()

    other = tc.init(project="other", id="failed", store=url, config={"x": 1})
    other.log({"y": 1})
    other.finish(exit_code=3)
    st = open_store(url)
    rec = st.get_run(None, "other", "failed")
    st.write_batch(tc.store.WriteBatch(uid=rec.uid, system_samples=[(1.5, {"cpu": 12.5}), (2.5, {"cpu": 3.0})]))
    return [path, f"{other.entity}/other/failed"]


def snapshot(url: str, path: str) -> dict:
    """Everything a user sees of a run, as exact text (NaN-safe, 2 != 2.0)."""
    r = tc.Api(store=url).run(path)
    st = open_store(url)
    rec = st.get_run(r.entity, r.project, r.id)
    summary = r.summary.to_dict()
    out = {
        "summary": json.dumps(summary, sort_keys=True, allow_nan=True),
        "details": {k: codec.dumps(r.summary.details(k)) for k in ("loss", "acc", "val/x", "ints")
                    if k in summary},
        # sort_keys: PostgreSQL and SQLite return a history row's keys in different orders
        "history": json.dumps(list(r.scan_history()), sort_keys=True, allow_nan=True),
        "config": codec.dumps(r.config),
        "fields": codec.dumps({k: getattr(rec, k) for k in (
            "name", "state", "created_at", "updated_at", "heartbeat_at", "finished_at", "runtime", "last_step",
            "last_log_at", "notes", "tags", "group", "job_type", "host", "pid", "exit_code", "metadata")}),
        "history_keys": r.history_keys,
        "history_length": st.history_length(rec.uid),
        "samples": codec.dumps(st.read_system_samples(rec.uid)),
        "system_metrics": r.system_metrics,
        "filtered": [x.id for x in tc.Api(store=url).runs(f"{r.entity}/{r.project}",
                                                          filters={"summary_metrics.loss.min": {"$lt": 0.1}})],
    }
    if "w" in summary:
        t = r.summary.load_tensor("w")
        assert t.dtype == TENSOR.dtype and np.array_equal(t, TENSOR)
    return out


def test_chain_sqlite_middle_sqlite(tmp_path, middle):
    a, c = str(tmp_path / "a"), str(tmp_path / "c")
    paths = build_runs(a)
    first = {p: snapshot(a, p) for p in paths}
    assert json.loads(first[paths[0]]["summary"])["acc"] == 0.99

    rep = sync(a, middle)
    assert (rep.copied, rep.updated, rep.skipped, rep.conflicts) == (2, 0, 0, 0)
    rep = sync(middle, c)
    assert (rep.copied, rep.updated, rep.skipped, rep.conflicts) == (2, 0, 0, 0)
    for p in paths:
        assert snapshot(middle, p) == first[p]
        assert snapshot(c, p) == first[p]

    # idempotent: every direction copies nothing and changes nothing
    for s, d in ((a, middle), (middle, c), (c, middle), (middle, a), (c, a)):
        rep = sync(s, d)
        assert (rep.copied, rep.updated, rep.skipped, rep.conflicts) == (0, 0, 2, 0), (s, d, rep.runs)
    for p in paths:
        for url in (a, middle, c):
            assert snapshot(url, p) == first[p]

    # back to a fresh SQLite store from the middle, one project only
    back = str(tmp_path / "back")
    rep = sync(middle, back, project="sync")
    assert rep.copied == 1 and [x.path for x in rep.runs] == [paths[0]]
    assert snapshot(back, paths[0]) == first[paths[0]]
    forget_stores(a), forget_stores(c), forget_stores(back)


def test_update_resumed_run_and_conflicts(tmp_path, middle):
    a = str(tmp_path / "a")
    run = tc.init(project="p", id="r", store=a)
    run.define_metric("loss", summary="min")
    for i in range(5):
        run.log({"loss": 5.0 - i})
    run.finish()
    path = f"{run.entity}/p/r"
    assert sync(a, middle).copied == 1

    run = tc.init(project="p", id="r", store=a, resume="must")  # more history in the source
    run.log({"loss": 0.25})
    run.finish()
    rep = sync(a, middle)
    assert (rep.copied, rep.updated, rep.conflicts) == (0, 1, 0), rep.runs
    assert snapshot(middle, path) == snapshot(a, path)
    assert tc.Api(store=middle).run(path).summary["loss"] == {"min": 0.25}
    assert sync(a, middle).skipped == 1

    # the destination's copy edited after the source: a conflict, left alone
    r = tc.Api(store=middle).run(path)
    r.summary["server_note"] = "keep me"
    r.summary.update()
    before = snapshot(middle, path)
    rep = sync(a, middle)
    assert rep.conflicts == 1 and rep.copied == rep.updated == 0
    assert snapshot(middle, path) == before

    # a different run with the same id: a conflict, never merged
    b = str(tmp_path / "b")
    other = tc.init(project="p", id="r", store=b)
    other.log({"loss": 9.0})
    other.finish()
    rep = sync(b, middle)
    assert rep.conflicts == 1 and "created_at" in rep.runs[0].reason
    assert snapshot(middle, path) == before

    # a run still running in the source is skipped with a message
    live = tc.init(project="p", id="live", store=a)
    live.log({"x": 1})
    rep = sync(a, middle, project="p")
    item = next(x for x in rep.runs if x.path.endswith("/p/live"))
    assert item.action == "skipped" and "running" in item.reason
    live.finish()
    assert sync(a, middle, project="p").copied == 1
    forget_stores(a), forget_stores(b)


def test_dry_run_writes_nothing(tmp_path, middle):
    a = str(tmp_path / "a")
    paths = build_runs(a)
    fresh = str(tmp_path / "fresh")
    rep = sync(a, fresh, dry_run=True)
    assert rep.copied == 2 and not os.path.exists(fresh)
    rep = sync(a, middle, dry_run=True)
    assert rep.copied == 2 and open_store(middle).list_all_runs() == []
    assert sync(a, middle).copied == 2
    r = tc.Api(store=a).run(paths[1])
    r.notes = "changed"
    r.update()
    before = snapshot(middle, paths[1])
    rep = sync(a, middle, dry_run=True)
    assert (rep.updated, rep.skipped) == (1, 1)
    assert snapshot(middle, paths[1]) == before
    assert sync(a, middle).updated == 1
    assert snapshot(middle, paths[1]) == snapshot(a, paths[1])
    forget_stores(a)


def _tracker(*args, env=None):
    code = ("import sys\nfrom tracker_core.cli import cli, main\n"
            "if 'sync' not in cli.commands:\n"
            "    from tracker_core.cli._sync import sync_command\n"
            "    cli.add_command(sync_command)\n"
            "main(sys.argv[1:])\n")
    e = dict(os.environ if env is None else env)
    e["PYTHONPATH"] = ROOT + os.pathsep + e.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=e,
                          timeout=60, check=False)


def test_cli(tmp_path):
    a, c = str(tmp_path / "a"), str(tmp_path / "c")
    paths = build_runs(a)
    out = _tracker("sync", a, c, "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "would copy" in out.stdout and "dry run" in out.stdout and not os.path.exists(c)
    out = _tracker("sync", a, c)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("2 copied, 0 updated, 0 skipped")
    assert all(p in out.stdout for p in paths)
    out = _tracker("sync", a, c, "--project", "other")
    assert out.returncode == 0 and "0 copied, 0 updated, 1 skipped" in out.stdout
    assert snapshot(c, paths[0]) == snapshot(a, paths[0])

    assert _tracker("sync", str(tmp_path / "nope"), c).returncode == 1  # no such store
    assert _tracker("sync", a, a).returncode == 2  # same store
    assert _tracker("sync", a, "ftp://x").returncode == 2
    b = str(tmp_path / "b")
    run = tc.init(project="sync", id="main", store=b)
    run.finish()
    out = _tracker("sync", b, c)
    assert out.returncode == 1 and "conflict" in out.stdout and "conflict" in out.stderr
    forget_stores(a), forget_stores(b), forget_stores(c)
