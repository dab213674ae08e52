"""Issue 6, acceptance 2 at CI size: own-run writers and shared-run writers at the same time
into one store (both backends); every row there, every summary equal to its replay.

The full figure (16 + 4 processes x 5,000 rows on PostgreSQL) is
``benchmarks/bench_team_scale.py``; this runs the same code with small counts.
"""

from __future__ import annotations

import importlib.util
import os

from .test_store_backends import backend, store_url  # noqa: F401 - fixtures

_SPEC = importlib.util.spec_from_file_location(
    "bench_team_scale", os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks", "bench_team_scale.py"))
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


def test_many_writers_own_and_shared_runs_lose_nothing(store_url):
    result = bench.run_scale(store_url, procs=4, shared=3, rows=400, flush_interval=0.05, timeout=180)
    assert result["verified"] is True
    assert result["rows_total"] == 7 * 400
