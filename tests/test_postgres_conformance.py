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
import uuid

import pytest

from .test_store_backends import PG_ENV, ROOT, pg_admin, with_schema

CHECK = os.path.join(os.path.dirname(ROOT), "shared", "conformance", "check")


def test_conformance_passes_on_postgres(tmp_path):
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set (.ci/postgres.sh prints a URL for it)")
    if not os.path.isfile(CHECK):
        pytest.skip(f"no conformance checker at {CHECK}")
    pytest.importorskip("psycopg")
    schema = "tc_conf_" + uuid.uuid4().hex[:10]
    with pg_admin(base) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.pop("TRACKER_STORE", None)
        proc = subprocess.run([sys.executable, CHECK, "--store", with_schema(base, schema), "--python", sys.executable,
                               "-j", str(min(8, max(2, os.cpu_count() or 1)))],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    finally:
        with pg_admin(base) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    out = proc.stdout + proc.stderr
    found = re.search(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", proc.stdout, re.MULTILINE)
    assert found, out[-3000:]
    passed, failed, skipped = map(int, found.groups())
    assert (failed, skipped) == (0, 0) and passed > 0, out[-3000:]
    assert proc.returncode == 0, out[-3000:]
