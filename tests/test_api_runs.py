"""Api.runs() as a collection (len, paging, indexing, to_pandas) over test_api_filters' store of
N >= 1,000 runs, and PublicRun (DESIGN.md 6): attributes, update, delete, define_metric after
the fact, recompute_summary, history / scan_history."""

from __future__ import annotations

import datetime as dt
import getpass
import math
import platform
import re
import socket
import sys
import time

import numpy as np
import pytest

import tracker_core as tc
from tracker_core import RunNotFoundError

from .helpers_rules import NAN, check, user_view
from .test_api_filters import (
    ENTITY,
    PATH,
    PROJECT,
    SPECS,
    M,
    N,
    build_store,
    ids,
    where,
)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("api_runs") / "store")


BEST_DESC_SPECS = sorted((s for s in SPECS if "val/acc.best" in s.m), key=lambda s: (-s.m["val/acc.best"], s.i)) + \
    [s for s in SPECS if "val/acc.best" not in s.m]
BEST_DESC = [s.id for s in BEST_DESC_SPECS]

SMALL = {"config.opt": "adam", "config.model.depth": {"$in": [1, 2]}}  # ~1/6 of the runs
small = lambda s: s.c["opt"] == "adam" and s.c["model.depth"] in (1, 2)  # noqa: E731
QUERIES = [
    (None, None, [s.id for s in SPECS]),
    ({"tags": "sweep"}, None, where(lambda s: "sweep" in s.tags)),
    (SMALL, "-summary_metrics.val/acc.best", [s.id for s in BEST_DESC_SPECS if small(s)]),
    (SMALL, "config.lr", [s.id for s in sorted(filter(small, SPECS), key=lambda s: (s.c["lr"], s.i))]),
]


# -- len, paging, indexing


@pytest.mark.parametrize("q", range(len(QUERIES)))
def test_len_and_paging_give_the_same_ids(big, q):
    filters, order, expected = QUERIES[q]
    assert len(expected) > 100
    pages = {}
    for per_page in (1000, 7, 50, len(expected), 1):
        runs = big.api.runs(PATH, filters=filters, order=order, per_page=per_page)
        assert len(runs) == len(expected), per_page
        pages[per_page] = ids(runs)
    for per_page, got in pages.items():
        assert got == expected, f"per_page={per_page}"


def test_len_of_a_filtered_query_counts_in_the_database(big):
    assert len(big.api.runs(PATH)) == N and len(big.api.runs(PATH, {"state": "failed"})) == 40
    assert len(big.api.runs(PATH, {"config.seed": -1})) == 0 and ids(big.api.runs(PATH, {"config.seed": -1})) == []


def test_indexing_with_positive_and_negative_indices(big):
    runs = big.api.runs(PATH, order="-summary_metrics.val/acc.best", per_page=7)
    for i in (0, 1, 6, 7, 8, 13, 14, 500, N - 1, -1, -6, -7, -8, -500, -N):
        assert runs[i].id == BEST_DESC[i], i
    plain = big.api.runs(PATH, per_page=7)
    assert ids(plain[5:12]) == [s.id for s in SPECS[5:12]]
    assert ids(plain[-3:]) == [s.id for s in SPECS[-3:]]


@pytest.mark.parametrize("index", [N, N + 6, 10 * N, -N - 1, -N - 7])
def test_index_out_of_range_raises_index_error(big, index):
    runs = big.api.runs(PATH, per_page=7)
    with pytest.raises(IndexError):
        runs[index]


@pytest.mark.parametrize("per_page", [0, -1, True, 2.5, "7", None])
def test_per_page_must_be_a_positive_int(big, per_page):
    with pytest.raises(ValueError, match="per_page"):
        big.api.runs(PATH, per_page=per_page)


# -- to_pandas


def expected_row(s) -> dict:
    row = {"id": s.id, "name": s.name, "state": s.state, "tags": s.tags, "group": s.group,
           "summary._step": s.m["_step"]}
    row.update({"config." + k: v for k, v in s.c.items()})
    row.update({"summary." + k: v for k, v in s.m.items() if k != "_step"})
    return row


def _same_cell(actual, expected) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return actual is None or (isinstance(actual, float) and math.isnan(actual))
    if isinstance(expected, list):
        return list(actual) == expected
    if isinstance(expected, bool):
        return isinstance(actual, (bool, np.bool_)) and bool(actual) is expected
    return actual == expected and isinstance(actual, str) == isinstance(expected, str)


def test_to_pandas_columns_values_filter_and_order(big):
    df = big.api.runs(PATH).to_pandas()
    assert list(df["id"]) == [s.id for s in SPECS]
    columns = set(df.columns)
    every = set().union(*(expected_row(s) for s in SPECS)) | {"created_at", "summary._runtime"}
    assert every <= columns, sorted(every - columns)
    assert not {"config.model", "summary.train"} & columns  # flattened with dots
    rows = df.set_index("id", drop=False)
    # r0000 group None, wd None; r0001 dropout; r0004 aggregates; r0005 NaN score; r0007 failed;
    # r0008 defined without val/acc; r0022 string score; r0027 score None
    for i in (0, 1, 4, 5, 7, 8, 22, 27, 999):
        s = SPECS[i]
        row = rows.loc[s.id]
        for col in columns - {"created_at", "summary._runtime"}:
            exp = expected_row(s).get(col, NAN)  # a key the run does not have is NaN
            assert _same_cell(row[col], exp), (s.id, col, row[col], exp)
        assert row["created_at"].tz is not None
    filters, order, expected = QUERIES[3]  # filter and order apply to the frame too
    df = big.api.runs(PATH, filters=filters, order=order).to_pandas()
    assert list(df["id"]) == expected and set(df["config.opt"]) == {"adam"}


# -- PublicRun attributes


def expected_summary(s) -> dict:
    """``s.m`` nested at the dots: {"loss.min": 1, "val/acc.best": 2} -> {"loss": {"min": 1}, "val/acc": {...}}."""
    out: dict = {}
    for key, value in s.m.items():
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


@pytest.mark.parametrize("i", [0, 4, 5, 7, 8, 22, 101])
def test_public_run_attributes(big, i):
    s = SPECS[i]
    r = big.api.run(f"{PATH}/{s.id}")
    assert (r.id, r.name, r.state, r.project, r.entity) == (s.id, s.name, s.state, PROJECT, ENTITY)
    assert r.path == [ENTITY, PROJECT, s.id]
    assert re.fullmatch(rf"https?://[^/]+(/.*)?/{ENTITY}/{PROJECT}/runs/{s.id}", r.url), r.url
    assert r.tags == s.tags and r.group == s.group and r.notes == (s.notes or "")  # unset notes read as ""
    assert r.read_only is False
    check(r.config, s.config)
    check(user_view(r.summary), expected_summary(s))
    assert isinstance(r.system_metrics, dict)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r.created_at), r.created_at
    created = dt.datetime.strptime(r.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()
    assert big.t0 - 1 <= created <= big.t1
    assert set(r.history_keys) == {"keys", "lastStep"} and r.history_keys["lastStep"] == s.m["_step"]
    md = r.metadata
    assert md["host"] == socket.gethostname() and md["python"] == platform.python_version()
    assert md["args"] == sys.argv
    by_iter = big.api.runs(PATH, {"id": s.id})[0]  # runs from a query are the same PublicRun
    check([by_iter.path, by_iter.created_at, by_iter.config, user_view(by_iter.summary)],
          [r.path, r.created_at, s.config, expected_summary(s)])


@pytest.mark.parametrize("i", [0, 4, 8, 101])
def test_history_keys_in_first_logged_order(big, i):
    """``history_keys["keys"]``: dotted keys in first-logged order (public_run.py docstring)."""
    s = SPECS[i]
    keys = ["loss"] + (["val/acc"] if s.has_acc else []) + ["train.acc", "score", "status", "converged"] + \
        (["sched"] if i % 3 else [])
    assert big.api.run(f"{PATH}/{s.id}").history_keys == {"keys": keys, "lastStep": s.m["_step"]}


def test_run_paths_in_every_form(big):
    for path in (f"{PATH}/r0004", f"{PROJECT}/r0004", f"{PATH}/runs/r0004", f"/{PATH}/r0004/"):
        assert big.api.run(path).id == "r0004", path
    for path in (f"{PATH}/r9999", f"nobody/{PROJECT}/r0004", f"{ENTITY}/other/r0500"):
        with pytest.raises(RunNotFoundError):
            big.api.run(path)


def test_user_is_who_ran_the_run_not_the_team_entity(big):
    """W&B: ``run.user`` is the user who created the run; the entity may be a team ("ent")."""
    assert big.api.run(f"{PATH}/r0004").user == getpass.getuser()


def test_defaults_user_entity_created_at(api):
    t0 = time.time()
    with tc.init(project="p") as run:
        run.log({"x": 1})
    r = api.run(run.path)
    assert r.entity == r.user == getpass.getuser()
    assert r.path == [getpass.getuser(), "p", run.id]
    created = dt.datetime.strptime(r.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    assert int(t0) <= created.timestamp() <= time.time()
    assert r.notes == "" and r.group is None and r.tags == [] and r.state == "finished"


# -- edits: update(), delete()


def _two_runs():
    for rid in ("a", "b"):
        config = {"lr": 0.1, "model": {"depth": 2, "act": "relu"}}
        with tc.init(project="edit", id=rid, name=f"run-{rid}", config=config, tags=["x"], group="g") as run:
            run.log({"loss": 1.0})
            run.log({"loss": 0.5})


def _snapshot(r):
    return (r.name, r.notes, list(r.tags), r.group, r.config, r.state, r.created_at, user_view(r.summary),
            r.history_keys, [dict(row, _timestamp=None) for row in r.scan_history()])


def test_update_persists_only_the_edited_fields(api):
    _two_runs()
    before_a, before_b = _snapshot(api.run("edit/a")), _snapshot(api.run("edit/b"))
    r = api.run("edit/a")
    stale = api.run("edit/a")  # read before the edit; its later update must not undo it
    r.name, r.notes, r.group = "renamed", "hello", "g2"
    r.tags.append("best")
    r.config["lr"] = 0.5
    r.config["new"] = "v"
    r.update()
    fresh = tc.Api().run("edit/a")
    assert (fresh.name, fresh.notes, fresh.tags, fresh.group) == ("renamed", "hello", ["x", "best"], "g2")
    check(fresh.config, {"lr": 0.5, "model": {"depth": 2, "act": "relu"}, "new": "v"})
    assert _snapshot(fresh)[5:] == before_a[5:]
    assert _snapshot(tc.Api().run("edit/b")) == before_b
    stale.notes = "second edit"
    stale.config["lr"] = 0.7
    assert stale.tags == ["x"]  # its own (stale) read, unchanged: update() must not write it back
    stale.update()
    fresh = tc.Api().run("edit/a")
    assert (fresh.name, fresh.notes, fresh.tags, fresh.group) == ("renamed", "second edit", ["x", "best"], "g2")
    check(fresh.config, {"lr": 0.7, "model": {"depth": 2, "act": "relu"}, "new": "v"})
    assert ids(api.runs("edit", {"tags": "best"})) == ["a"]
    assert ids(api.runs("edit", {"config.lr": 0.7})) == ["a"]
    assert ids(api.runs("edit", {"config.new": {"$exists": False}})) == ["b"]
    assert ids(api.runs("edit", {"display_name": "renamed", "group": "g2", "notes": "second edit"})) == ["a"]


def test_update_of_a_nested_config_key(api):
    _two_runs()
    r = api.run("edit/a")
    r.config["model"]["depth"] = 3
    r.update()
    check(tc.Api().run("edit/a").config, {"lr": 0.1, "model": {"depth": 3, "act": "relu"}})
    r.config["model"] = {"width": 64}  # a dict value replaces the subtree
    r.update()
    check(tc.Api().run("edit/a").config, {"lr": 0.1, "model": {"width": 64}})
    assert ids(api.runs("edit", {"config.model.depth": {"$exists": True}})) == ["b"]
    check(tc.Api().run("edit/b").config, {"lr": 0.1, "model": {"depth": 2, "act": "relu"}})


def test_update_rejects_bad_types(api):
    _two_runs()
    r = api.run("edit/a")
    for attr, bad in (("name", 5), ("notes", b"x"), ("group", 1.0), ("tags", "best"), ("tags", ["ok", 3])):
        with pytest.raises(TypeError):
            setattr(r, attr, bad)
    r.update()
    assert _snapshot(tc.Api().run("edit/a"))[:4] == ("run-a", "", ["x"], "g")


def test_delete_removes_the_run_and_everything_of_it(api):
    _two_runs()
    with tc.init(project="edit", id="c", config={"k": "only-c"}, tags=["gone"]) as run:
        run.log({"loss": 7.0, "acc": 0.1})
        run.summary["weights"] = list(range(3))
    api.run("edit/c").delete()
    with pytest.raises(RunNotFoundError):
        tc.Api().run("edit/c")
    assert ids(api.runs("edit")) == ["a", "b"]
    assert len(api.runs("edit")) == 2
    for f in ({"config.k": "only-c"}, {"tags": "gone"}, {"summary_metrics.acc": {"$exists": True}}, {"id": "c"}):
        assert ids(api.runs("edit", f)) == [], f
    # the id is free again, and nothing of the deleted run leaks into the new one
    with tc.init(project="edit", id="c") as run:
        run.log({"other": 1})
    r = tc.Api().run("edit/c")
    assert (r.config, r.tags, r.history_keys) == ({}, [], {"keys": ["other"], "lastStep": 0})
    check(user_view(r.summary), {"other": 1, "_step": 0})
    assert _strip(r.scan_history()) == [{"_step": 0, "other": 1}]


# -- define_metric after the fact, recompute_summary


def test_define_metric_after_the_fact_covers_all_history(api):
    with tc.init(project="late", id="r") as run:
        for loss, acc in zip([3.0, 1.0, 2.0, 0.5, NAN, 4.0], [0.2, 0.9, 0.5, 0.7, 0.1, 0.6]):
            run.log({"loss": loss, "acc": acc})
    with tc.init(project="late", id="other") as run:
        run.log({"loss": 0.5, "acc": 0.95})
    r = api.run("late/r")
    r.define_metric("loss", summary="min")
    r.define_metric("loss", summary="max")  # merges
    r.define_metric("acc", summary="best", goal="maximize")
    for view in (r, tc.Api().run("late/r")):
        check(user_view(view.summary), {"loss": {"min": 0.5, "max": 4.0}, "acc": {"best": 0.9}, "_step": 5})
        check(view.summary.details("loss"), {"min": {"value": 0.5, "step": 3}, "max": {"value": 4.0, "step": 5},
                                             "count": 6, "nan_count": 1})
        check(view.summary.details("acc"), {"min": {"value": 0.1, "step": 4}, "max": {"value": 0.9, "step": 1},
                                            "best": {"value": 0.9, "step": 1}, "count": 6, "nan_count": 0})
    assert ids(api.runs("late", {M + "loss.min": 0.5})) == ["r"]
    assert ids(api.runs("late", {M + "loss": 0.5})) == ["other"]
    assert ids(api.runs("late", order="-summary_metrics.acc.best")) == ["r", "other"]


def test_recompute_summary_keeps_explicit_writes_and_equals_the_live_summary(api):
    with tc.init(project="re", id="r") as run:
        run.define_metric("loss", summary="min,max,mean")
        run.define_metric("val/acc", summary="best,last", objective="maximize")
        run.log({"loss": 2.0, "val/acc": 0.5, "train": {"acc": 0.1, "n": 1}, "tag": "a"})
        run.log({"loss": NAN, "val/acc": 0.8, "train": {"acc": 0.3}})
        run.log({"loss": 1, "val/acc": 0.6, "tag": None}, step=10, commit=True)
        run.log({"loss": 5.0}, step=4)  # a lower step: its own row
        run.log({"loss": 3.0, "train": {"n": 3}})
        run.summary["note"] = "hello"
        run.summary["train"]["acc"] = 0.99  # overrides the logged leaf
        run.summary["cfg"] = {"a": 1, "b": [1, 2]}
        live = user_view(run.summary)
        live_details = {k: run.summary.details(k) for k in ("loss", "val/acc")}
    stored = tc.Api().run("re/r")
    check(user_view(stored.summary), live)
    stored.summary["extra"] = 5
    stored.summary.update()
    stored.recompute_summary()
    expected = dict(live, extra=5)
    for view in (stored, tc.Api().run("re/r")):
        check(user_view(view.summary), expected)
        for key, details in live_details.items():
            check(view.summary.details(key), details)
    check(expected["loss"], {"min": 1, "max": 5.0, "mean": 11 / 4})  # the live summary itself is right
    assert ids(api.runs("re", {M + "train.acc": 0.99, M + "loss.min": 1, M + "extra": 5})) == ["r"]


# -- history


def _row(k):
    row = {"_step": k, "loss": float(k)}
    if k % 2 == 0:
        row["acc"] = k / 10
    if k % 3 == 0:
        row["train.lr"] = 0.1 * k
    return row


def _history_run(monkeypatch):
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "0.01")  # history in several chunks
    with tc.init(project="hist", id="h") as run:
        for k in range(10):
            if k in (4, 7):
                time.sleep(0.1)
            row = {key: v for key, v in _row(k).items() if key not in ("_step", "train.lr")}
            run.log(row if k % 3 else dict(row, train={"lr": 0.1 * k}))
        run.log({"loss": -1.0}, step=4)  # a lower step, kept as its own (last) row
    return tc.Api().run("hist/h")


LATE = {"_step": 4, "loss": -1.0}


def _strip(rows):
    rows = list(rows)
    assert all(isinstance(r["_timestamp"], float) for r in rows)
    return [{k: v for k, v in r.items() if k != "_timestamp"} for r in rows]


def test_history_rows_keys_and_samples(monkeypatch):
    r = _history_run(monkeypatch)
    everything = [_row(k) for k in range(10)] + [LATE]
    assert _strip(r.history(pandas=False)) == everything
    assert _strip(r.history(keys=["acc"], pandas=False)) == [{"_step": k, "acc": k / 10} for k in (0, 2, 4, 6, 8)]
    assert _strip(r.history(keys=["loss", "train.lr"], pandas=False)) == \
        [{"_step": k, "loss": float(k), "train.lr": 0.1 * k} for k in (0, 3, 6, 9)]
    assert _strip(r.history(samples=6, pandas=False)) == [everything[i] for i in (0, 2, 4, 6, 8, 10)]
    assert _strip(r.history(keys=["acc"], samples=3, pandas=False)) == \
        [{"_step": k, "acc": k / 10} for k in (0, 4, 8)]
    assert _strip(r.history(keys=["acc"], samples=50, pandas=False)) == \
        [{"_step": k, "acc": k / 10} for k in (0, 2, 4, 6, 8)]
    df = r.history(keys=["loss"])
    assert list(df["_step"]) == list(range(10)) + [4] and list(df["loss"]) == [float(k) for k in range(10)] + [-1.0]
    assert r.history_keys["lastStep"] == 9 and sorted(r.history_keys["keys"]) == ["acc", "loss", "train.lr"]
    with pytest.raises(ValueError, match="samples"):
        r.history(samples=0)


def test_scan_history_step_range(monkeypatch):
    r = _history_run(monkeypatch)
    assert _strip(r.scan_history(min_step=3, max_step=5)) == [_row(3), _row(4), _row(5), LATE]
    assert _strip(r.scan_history(min_step=8)) == [_row(8), _row(9)]
    assert _strip(r.scan_history(max_step=1)) == [_row(0), _row(1)]
    assert _strip(r.scan_history(keys=["acc"], min_step=3, max_step=7)) == \
        [{"_step": k, "acc": k / 10} for k in (4, 6)]
    assert _strip(r.scan_history(min_step=20)) == []
    assert [row["_step"] for row in r.scan_history()] == list(range(10)) + [4]
