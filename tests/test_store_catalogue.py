"""Store reads the UI and sync rely on (both backends): the column catalogue of matching
runs, ``updated_at`` moved by every edit, a project named ``runs``."""

from __future__ import annotations

import time

import numpy as np

import tracker_core as tc

from .test_store_backends import backend, open_store, store_url  # noqa: F401 - fixtures


def test_column_keys_cover_all_matching_runs(store_url):
    for i in range(3):
        run = tc.init(project="cols", id=f"c{i}", config={"lr": 0.1 * i, "opt": {"name": "sgd", f"k{i}": i}},
                      store=store_url)
        tc.define_metric("loss", summary="min,max")
        tc.log({"loss": 1.0 + i, f"only{i}": i})
        run.summary["w"] = np.arange(1000.0)  # a stats dict: its scalar stats are columns, the dict is not
        tc.finish()
    st = open_store(store_url)
    config, summary = st.column_keys(None, "cols")
    assert config == ["lr", "opt.name", "opt.k0", "opt.k1", "opt.k2"]
    assert {"loss.min", "loss.max", "only0", "only1", "only2", "w.mean"} <= set(summary)
    assert "loss" not in summary and "w" not in summary  # dict-valued: not a scalar column
    assert summary == sorted(summary)
    config, summary = st.column_keys(None, "cols", {"config.lr": {"$gt": 0.15}})  # c2 only
    assert config == ["lr", "opt.name", "opt.k2"]
    assert "only2" in summary and "only0" not in summary and "only1" not in summary
    assert st.column_keys(None, "nothing-here") == ([], [])


def test_every_api_edit_moves_updated_at(store_url):
    run = tc.init(project="upd", id="u", config={"a": 1}, store=store_url)
    tc.log({"loss": 2.0})
    tc.finish()
    path = f"{run.entity}/upd/u"

    def stamp():
        return open_store(store_url).get_run(run.entity, "upd", "u").updated_at

    edits = [
        lambda r: r.define_metric("loss", summary="min"),
        lambda r: r.recompute_summary(),
        lambda r: (setattr(r, "notes", "new notes"), r.update()),
        lambda r: (r.config.update({"a": 2}), r.update()),
    ]
    for edit in edits:
        before = stamp()
        time.sleep(0.01)
        edit(tc.Api(store=store_url).run(path))
        assert stamp() > before


def test_a_project_named_runs(store_url):
    run = tc.init(project="runs", id="r1", store=store_url)
    tc.log({"x": 1})
    tc.finish()
    assert tc.Api(store=store_url).run(f"{run.entity}/runs/r1").summary["x"] == 1
    assert tc.Api(store=store_url).run(f"{run.entity}/runs/runs/r1").id == "r1"  # W&B's URL form
