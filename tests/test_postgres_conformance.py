"""Acceptance: the shared conformance cases (``../shared/conformance/check``) pass with the
store on PostgreSQL (``check --store postgresql://...``), every case, none skipped.

Needs ``TRACKER_TEST_POSTGRES_URL`` (``.ci/postgres.sh`` prints one) and the shared
checkout beside this one; skipped when either is missing. The cases run in a schema of
their own, dropped afterwards.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from .helpers_pg import fresh_schema
from .test_store_backends import ROOT

CHECK = os.path.join(os.path.dirname(ROOT), "shared", "conformance", "check")


def test_conformance_passes_on_postgres(tmp_path):
    if not os.path.isfile(CHECK):
        pytest.skip(f"no conformance checker at {CHECK}")
    with fresh_schema("tc_conf_") as url:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.pop("TRACKER_STORE", None)
        proc = subprocess.run([sys.executable, CHECK, "--store", url, "--python", sys.executable,
                               "-j", str(min(8, max(2, os.cpu_count() or 1)))],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    out = proc.stdout + proc.stderr
    found = re.search(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", proc.stdout, re.MULTILINE)
    assert found, out[-3000:]
    passed, failed, skipped = map(int, found.groups())
    assert (failed, skipped) == (0, 0) and passed > 0, out[-3000:]
    assert proc.returncode == 0, out[-3000:]
