"""Shared fixtures: every test gets its own store directory and no run leaks between tests."""

from __future__ import annotations

import os
import sys

import pytest

import tracker_core as tc
from tracker_core import sdk

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def store_dir(tmp_path, monkeypatch):
    """A fresh store per test via TRACKER_STORE; the cwd is a scratch directory too."""
    store = tmp_path / "store"
    monkeypatch.setenv("TRACKER_STORE", str(store))
    for var in ("TRACKER_PROJECT", "TRACKER_ENTITY", "TRACKER_MODE", "TRACKER_RUN_ID", "TRACKER_RESUME"):
        monkeypatch.delenv(var, raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield store
    for run in list(sdk._live):
        run.finish()


@pytest.fixture
def api(store_dir):
    return tc.Api()


@pytest.fixture
def child_env(store_dir):
    """Environment for subprocesses: same store, the checkout importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["TRACKER_STORE"] = str(store_dir)
    return env


PYTHON = sys.executable
