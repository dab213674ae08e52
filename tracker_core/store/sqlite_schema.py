"""The SQLite schema and the mapping between leaf records and table rows.

See ``sqlite.py`` for what each table holds; ``docs/store.md`` documents the columns.
"""

from __future__ import annotations

from typing import Any

from . import codec
from .run_queries import RUN_COLS  # noqa: F401 - the shared column list, re-exported

SCHEMA_VERSION = 2

# Version 2: runs that several processes write at once (``init(shared=True)``): the flag,
# one row per writer process (its liveness and how it ended), and the token of every
# shared batch applied (a retried batch is recognised and not applied twice).
SHARED_RUNS = (
    "ALTER TABLE runs ADD COLUMN shared INTEGER NOT NULL DEFAULT 0",
    "CREATE TABLE run_writers (uid INTEGER NOT NULL, writer TEXT NOT NULL, host TEXT, pid INTEGER, "
    "started_at REAL NOT NULL, heartbeat_at REAL, finished_at REAL, state TEXT NOT NULL, exit_code INTEGER, "
    "base_step INTEGER NOT NULL, PRIMARY KEY (uid, writer))",
    "CREATE TABLE shared_batches (uid INTEGER NOT NULL, token TEXT NOT NULL, PRIMARY KEY (uid, token))",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    uid INTEGER PRIMARY KEY,
    entity TEXT NOT NULL, project TEXT NOT NULL, run_id TEXT NOT NULL,
    name TEXT NOT NULL, state TEXT NOT NULL,
    created_at REAL NOT NULL, updated_at REAL, heartbeat_at REAL, finished_at REAL,
    runtime REAL, last_step INTEGER, last_log_at REAL, notes TEXT, group_name TEXT, job_type TEXT,
    host TEXT, pid INTEGER, exit_code INTEGER, metadata TEXT,
    UNIQUE (entity, project, run_id)
);
CREATE INDEX IF NOT EXISTS runs_project ON runs (project, created_at);
CREATE TABLE IF NOT EXISTS run_tags (uid INTEGER NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (uid, tag));
CREATE TABLE IF NOT EXISTS config (
    uid INTEGER NOT NULL, path TEXT NOT NULL, key TEXT NOT NULL, pos INTEGER NOT NULL, sub INTEGER NOT NULL,
    value_json TEXT, value_num REAL, value_text TEXT, PRIMARY KEY (uid, key, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS summary_leaves (
    uid INTEGER NOT NULL, path TEXT NOT NULL, key TEXT NOT NULL, pos INTEGER NOT NULL,
    has_last INTEGER NOT NULL, last_json TEXT, last_num REAL, last_step INTEGER,
    has_override INTEGER NOT NULL, override_json TEXT, blob TEXT,
    has_first INTEGER NOT NULL, first_json TEXT,
    count INTEGER NOT NULL, n_num INTEGER NOT NULL, nan_count INTEGER NOT NULL, sum_json TEXT,
    min_json TEXT, min_num REAL, min_step INTEGER, max_json TEXT, max_num REAL, max_step INTEGER,
    PRIMARY KEY (uid, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS summary_values (
    uid INTEGER NOT NULL, key TEXT NOT NULL, leaf TEXT NOT NULL,
    value_num REAL, value_text TEXT, value_json TEXT,
    PRIMARY KEY (uid, key, leaf)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS system_samples (uid INTEGER NOT NULL, ts REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS system_samples_run ON system_samples (uid, ts);
CREATE TABLE IF NOT EXISTS metric_defs (
    uid INTEGER NOT NULL, name TEXT NOT NULL, pos INTEGER NOT NULL, ops TEXT,
    objective TEXT, step_metric TEXT, step_sync INTEGER, hidden INTEGER,
    PRIMARY KEY (uid, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_rows (
    uid INTEGER NOT NULL, seq0 INTEGER NOT NULL, max_seq INTEGER NOT NULL, n INTEGER NOT NULL,
    min_step INTEGER NOT NULL, max_step INTEGER NOT NULL, seqs BLOB NOT NULL, steps BLOB NOT NULL,
    ts BLOB NOT NULL, PRIMARY KEY (uid, seq0)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_values (
    uid INTEGER NOT NULL, path TEXT NOT NULL, seq0 INTEGER NOT NULL, pos INTEGER NOT NULL, key TEXT NOT NULL,
    kind TEXT NOT NULL, seqs BLOB NOT NULL, vals BLOB NOT NULL, PRIMARY KEY (uid, path, seq0)
) WITHOUT ROWID;
"""

LEAF_COLS = (
    "path, key, pos, has_last, last_json, last_num, last_step, has_override, override_json, blob, "
    "has_first, first_json, count, n_num, nan_count, sum_json, min_json, min_num, min_step, "
    "max_json, max_num, max_step"
)


def leaf_row(uid: int, path: tuple, r: dict) -> tuple:
    enc = codec.dumps
    return (
        uid, codec.path_key(path), codec.dotted(path), r["pos"],
        int(r["has_last"]), enc(r["last"]), codec.number(r["last"]), r["last_step"],
        int(r["has_override"]), enc(r["override"]), r["blob"],
        int(r["has_first"]), enc(r["first"]),
        r["count"], r["n_num"], r["nan_count"], enc(r["sum"]),
        enc(r["min"]), codec.number(r["min"]), r["min_step"], enc(r["max"]), codec.number(r["max"]), r["max_step"],
    )


def leaf_record(row: tuple) -> tuple[tuple, dict]:
    dec = codec.loads
    (path, _key, pos, has_last, last, _ln, last_step, has_override, override, blob, has_first, first,
     count, n_num, nan_count, sum_, min_, _mn, min_step, max_, _xn, max_step) = row
    return tuple(dec(path)), {
        "pos": pos, "has_last": bool(has_last), "last": dec(last), "last_step": last_step,
        "has_override": bool(has_override), "override": dec(override), "blob": blob,
        "has_first": bool(has_first), "first": dec(first), "count": count, "n_num": n_num,
        "nan_count": nan_count, "sum": dec(sum_), "min": dec(min_), "min_step": min_step,
        "max": dec(max_), "max_step": max_step,
    }


def empty_leaf(pos: int) -> dict:
    return {
        "pos": pos, "has_last": False, "last": None, "last_step": None, "has_override": False,
        "override": None, "blob": None, "has_first": False, "first": None, "count": 0, "n_num": 0,
        "nan_count": 0, "sum": 0, "min": None, "min_step": None, "max": None, "max_step": None,
    }


def query_row(uid: int, leaf: tuple, key: str, value: Any) -> tuple:
    """``summary_values`` row: exact JSON plus typed columns for numeric / text comparison."""
    return (uid, key, codec.path_key(leaf), codec.number(value), value if isinstance(value, str) else None,
            codec.dumps(value))


def flatten_config(value: Any, path: tuple, out: list) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            flatten_config(v, path + (k,), out)
    else:
        out.append((path, value))
