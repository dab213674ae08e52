"""Acceptance: every snippet of the seed page runs from an empty directory and gives the
result stated in its last comment (shared/seed/snippets; skipped only where shared/ is absent)."""

from __future__ import annotations

import math
import os
import subprocess

import numpy as np
import pytest

import tracker_core as tc

from .conftest import PYTHON, ROOT

SNIPPETS = os.path.join(os.path.dirname(ROOT), "shared", "seed", "snippets")
pytestmark = pytest.mark.skipif(not os.path.isdir(SNIPPETS), reason="../shared/seed is not beside this checkout")


def run_snippet(name: str, tmp_path, child_env) -> tuple[str, tc.Api]:
    workdir = tmp_path / "empty"
    workdir.mkdir()
    env = dict(child_env)
    env.pop("TRACKER_STORE")  # the snippet uses the default ./tracker_runs of its directory
    proc = subprocess.run([PYTHON, os.path.join(SNIPPETS, name)], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, tc.Api(store=str(workdir / "tracker_runs"))


def only_run(api: tc.Api, project: str):
    runs = list(api.runs(project))
    assert len(runs) == 1
    return runs[0]


def test_1_best_accuracy(tmp_path, child_env):
    _, api = run_snippet("1_best_accuracy.py", tmp_path, child_env)
    run = only_run(api, "uncategorized")
    assert run.summary["best_accuracy"] == 0.9
    assert run.config == {"epochs": 5, "lr": 0.01}
    assert run.state == "finished"


def test_2_define_metric_min_max(tmp_path, child_env):
    _, api = run_snippet("2_define_metric_min_max.py", tmp_path, child_env)
    summary = only_run(api, "uncategorized").summary
    assert summary["loss"] == {"min": 0.01877191735484698, "max": 0.381887309488307}
    assert summary["acc"] == {"min": 0.1275309847301982, "max": 1.0}
    assert summary["_step"] == 9


def test_3_update_finished_run(tmp_path, child_env):
    _, api = run_snippet("3_update_finished_run.py", tmp_path, child_env)
    run = only_run(api, "project")
    stats = run.summary["tensor"]
    assert stats["_type"] == "numpy.ndarray" and stats["size"] == 1000 and stats["shape"] == [1000]
    assert stats["min"] >= 0 and stats["max"] < 1 and abs(stats["mean"] - 0.5) < 0.05
    values = run.summary.load_tensor("tensor")
    assert values.shape == (1000,) and values.dtype == np.float64
    assert math.isclose(float(values.mean()), stats["mean"], rel_tol=1e-12)
    assert float(values.min()) == stats["min"] and float(values.max()) == stats["max"]
    assert run.summary["loss"] == 0.5  # the keys of the finished run are untouched


def test_4_runs_to_pandas(tmp_path, child_env):
    pytest.importorskip("pandas")
    out, api = run_snippet("4_runs_to_pandas.py", tmp_path, child_env)
    runs = list(api.runs("my-project"))
    assert [r.name for r in runs] == ["run-0", "run-1", "run-2"]
    assert out.count("Fetching details for run:") == 3
    last_line = out.strip().splitlines()[-1]
    assert last_line.startswith("{0: {'acc': 0.1, ")  # the selected run-1's summary
    assert runs[1].summary["acc"] == 0.1


def test_4_runs_to_pandas_frame_has_every_attribute(tmp_path, monkeypatch):
    """Issue 3, acceptance 1: the page's frame, built in-process, holds a real value in each of
    its 17 attributes for every run."""
    pd = pytest.importorskip("pandas")
    import runpy

    workdir = tmp_path / "frame"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.delenv("TRACKER_STORE")
    df = runpy.run_path(os.path.join(SNIPPETS, "4_runs_to_pandas.py"), run_name="__main__")["df"]
    assert isinstance(df, pd.DataFrame) and len(df) == 3
    assert list(df.columns) == ["id", "name", "url", "state", "tags", "config", "created_at", "system_metrics",
                                "summary", "project", "entity", "user", "path", "notes", "read_only",
                                "history_keys", "metadata"]
    for i, row in enumerate(df.itertuples(index=False)):
        assert isinstance(row.id, str) and len(row.id) == 8
        assert row.name == f"run-{i}"
        assert row.url == f"http://127.0.0.1:8765/{row.entity}/my-project/runs/{row.id}"
        assert row.state == "finished"
        assert row.tags == [] and row.config == {}
        assert len(row.created_at) == 20 and row.created_at.endswith("Z")
        assert pd.Timestamp(row.created_at).year >= 2024
        assert 0 <= row.system_metrics["cpu_percent"] and row.system_metrics["proc_memory_rss_bytes"] > 0
        assert row.summary["acc"] == i / 10 and row.summary["_step"] == 0
        assert row.project == "my-project" and row.entity and row.user
        assert row.path == [row.entity, "my-project", row.id]
        assert row.notes == "" and row.read_only is False
        assert row.history_keys == {"keys": ["acc"], "lastStep": 0}
        assert row.metadata["python"] and row.metadata["host"] and row.metadata["args"]
        assert row.metadata["libraries"]["numpy"]
