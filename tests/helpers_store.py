"""Shared helpers for the store tests (test_store_*.py): read-only peeks at
``<TRACKER_STORE>/tracker.db`` with the stdlib sqlite3, and child processes."""

from __future__ import annotations

import os
import sqlite3
import struct
import subprocess
import sys
import textwrap
import threading

import pytest

PYTHON = sys.executable
CHILD_TIMEOUT = 60


def db_rows(store, sql, args=()):
    con = sqlite3.connect(os.path.join(str(store), "tracker.db"), timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def uid_of(store, run_id):
    (uid,) = db_rows(store, "SELECT uid FROM runs WHERE run_id=?", (run_id,))[0]
    return uid


def db_state(store, run_id):
    return db_rows(store, "SELECT state FROM runs WHERE run_id=?", (run_id,))[0][0]


def _tables(store):
    return {name for (name,) in db_rows(store, "SELECT name FROM sqlite_master WHERE type='table'")}


def db_history_steps(store, run_id):
    """The steps of a run's stored history rows, in program order, read with sqlite3 only.

    Works with either documented layout: one row per step (``history(hid, uid, step, ts,
    row)``) or typed chunks (``history_rows(uid, seq0, n, ..., steps int64 LE, ts)``)."""
    uid = uid_of(store, run_id)
    tables = _tables(store)
    if "history" in tables:
        return [s for (s,) in db_rows(store, "SELECT step FROM history WHERE uid=? ORDER BY hid", (uid,))]
    if "history_rows" in tables:
        out = []
        for _seq0, n, blob in db_rows(store, "SELECT seq0, n, steps FROM history_rows WHERE uid=? ORDER BY seq0",
                                      (uid,)):
            out.extend(struct.unpack(f"<{n}q", blob))
        return out
    pytest.fail(f"no history table in the store: {sorted(tables)}")


def run_child(code, env, *args, timeout=CHILD_TIMEOUT):
    return subprocess.run([PYTHON, "-c", code, *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=timeout)


def spawn(code, env, *args):
    """A child ``python -c code args...`` (``code`` dedented) with stdout/stderr piped."""
    return subprocess.Popen([PYTHON, "-c", textwrap.dedent(code), *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_line(proc, timeout=30.0):
    """The child's next stdout line; the child is killed if it does not come in time."""
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        line = proc.stdout.readline()
    finally:
        timer.cancel()
    if not line:
        proc.kill()
        _, err = proc.communicate(timeout=CHILD_TIMEOUT)
        pytest.fail(f"child exited / timed out before printing a line; stderr:\n{err}")
    return line.strip()


def finish_child(proc):
    try:
        out, err = proc.communicate(timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"child did not finish in {CHILD_TIMEOUT}s; stderr:\n{err}")
    assert proc.returncode == 0, err
    return out


def release_together(procs, go, ready="READY"):
    """Wait for each child's ``ready`` line, create the file ``go`` the children wait for,
    and return each child's stdout (each must exit 0); children still alive on the way out
    (a failure) are killed."""
    try:
        for p in procs:
            assert read_line(p) == ready
        go.touch()
        return [finish_child(p) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=CHILD_TIMEOUT)
