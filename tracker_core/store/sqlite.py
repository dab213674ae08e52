"""The embedded default store: one SQLite database in WAL mode plus a blob folder.

Schema (typed; every column a query may filter or sort on is a real column):

- ``runs``: one row per run, ``UNIQUE(entity, project, run_id)``.
- ``run_tags(uid, tag)``.
- ``config(uid, path, key, pos, value_json, value_num)``: one row per flattened config leaf.
- ``summary_leaves``: one row per summary leaf with its value, override and aggregation
  state (``first``, ``min``/``max`` with steps, ``sum``, counts); exact values as JSON
  text beside REAL columns (``last_num``, ``min_num``, ...) for numeric queries.
- ``metric_defs``: the run's ``define_metric`` definitions.
- ``history_rows`` / ``history_values``: history as typed chunks, one rows chunk (steps,
  timestamps) and one values chunk per key per flush (see ``history_codec``).

Blobs are ``.npy`` files in ``<db>.blobs/<uid>/`` (lossless: dtype and shape kept).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    import numpy as np

from . import codec, history_codec
from .base import CRASHED, RUNNING, RunExistsError, RunRecord, Store, WriteBatch
from .liveness import is_dead

SCHEMA_VERSION = 1

_SCHEMA = """
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
    value_json TEXT, value_num REAL, PRIMARY KEY (uid, path)
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
    uid INTEGER NOT NULL, path TEXT NOT NULL, seq0 INTEGER NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL,
    seqs BLOB NOT NULL, vals BLOB NOT NULL, PRIMARY KEY (uid, path, seq0)
) WITHOUT ROWID;
"""

_RUN_COLS = (
    "uid, entity, project, run_id, name, state, created_at, updated_at, heartbeat_at, finished_at, "
    "runtime, last_step, last_log_at, notes, group_name, job_type, host, pid, exit_code, metadata"
)
_LEAF_COLS = (
    "path, key, pos, has_last, last_json, last_num, last_step, has_override, override_json, blob, "
    "has_first, first_json, count, n_num, nan_count, sum_json, min_json, min_num, min_step, "
    "max_json, max_num, max_step"
)
_RUN_FIELD_COLUMN = {"group": "group_name"}
_UPDATABLE = {
    "name", "state", "updated_at", "heartbeat_at", "finished_at", "runtime", "last_step", "last_log_at", "notes",
    "group", "job_type", "host", "pid", "exit_code", "metadata",
}


def _leaf_row(uid: int, path: tuple, r: dict) -> tuple:
    enc = codec.dumps
    return (
        uid, codec.path_key(path), codec.dotted(path), r["pos"],
        int(r["has_last"]), enc(r["last"]), codec.number(r["last"]), r["last_step"],
        int(r["has_override"]), enc(r["override"]), r["blob"],
        int(r["has_first"]), enc(r["first"]),
        r["count"], r["n_num"], r["nan_count"], enc(r["sum"]),
        enc(r["min"]), codec.number(r["min"]), r["min_step"], enc(r["max"]), codec.number(r["max"]), r["max_step"],
    )


def _leaf_record(row: tuple) -> tuple[tuple, dict]:
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


def _empty_leaf(pos: int) -> dict:
    return {
        "pos": pos, "has_last": False, "last": None, "last_step": None, "has_override": False,
        "override": None, "blob": None, "has_first": False, "first": None, "count": 0, "n_num": 0,
        "nan_count": 0, "sum": 0, "min": None, "min_step": None, "max": None, "max_step": None,
    }


def _flatten_config(value: Any, path: tuple, out: list) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten_config(v, path + (k,), out)
    else:
        out.append((path, value))


class SQLiteStore(Store):
    """SQLite backend. Thread-safe (one connection behind a lock); many processes may
    write one database at once (WAL, busy timeout, short ``BEGIN IMMEDIATE`` transactions)."""

    def __init__(self, db_path: str) -> None:
        self.db_path = os.path.abspath(db_path)
        self.url = "sqlite:///" + self.db_path
        self.blob_dir = self.db_path + ".blobs"
        os.makedirs(os.path.dirname(self.db_path), exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.db_path, timeout=60.0, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout = 60000")
        self._set_wal()
        self._conn.execute("PRAGMA synchronous = NORMAL")
        with self._tx():
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    self._conn.execute(stmt)
            if self._conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 0:
                self._conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))

    def _set_wal(self, deadline_s: float = 60.0) -> None:
        """Switch to WAL. Two processes creating a new database at the same moment get
        SQLITE_BUSY here at once (the busy timeout does not cover this switch): retry."""
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    # -- plumbing
    class _Tx:
        def __init__(self, store: "SQLiteStore") -> None:
            self.store = store

        def __enter__(self):
            self.store._lock.acquire()
            try:
                self.store._conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.store._lock.release()
                raise
            return self.store._conn

        def __exit__(self, exc_type, exc, tb):
            try:
                self.store._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
            finally:
                self.store._lock.release()

    def _tx(self) -> "_Tx":
        return SQLiteStore._Tx(self)

    def _query(self, sql: str, args: tuple = ()) -> list:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- runs
    def create_run(self, run: RunRecord) -> int:
        with self._tx() as c:
            if c.execute(
                "SELECT 1 FROM runs WHERE entity=? AND project=? AND run_id=?", (run.entity, run.project, run.run_id)
            ).fetchone():
                raise RunExistsError(f"run {run.entity}/{run.project}/{run.run_id} already exists")
            cur = c.execute(
                f"INSERT INTO runs ({_RUN_COLS}) VALUES (NULL,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run.entity, run.project, run.run_id, run.name, run.state, run.created_at, run.updated_at,
                 run.heartbeat_at, run.finished_at, run.runtime, run.last_step, run.last_log_at, run.notes, run.group,
                 run.job_type, run.host, run.pid, run.exit_code, codec.dumps(run.metadata)),
            )
            uid = cur.lastrowid
            c.executemany("INSERT INTO run_tags VALUES (?, ?)", [(uid, t) for t in dict.fromkeys(run.tags)])
        run.uid = uid
        return uid

    def _records(self, rows: list) -> list[RunRecord]:
        out = []
        for row in rows:
            (uid, entity, project, run_id, name, state, created_at, updated_at, heartbeat_at, finished_at,
             runtime, last_step, last_log_at, notes, group, job_type, host, pid, exit_code, metadata) = row
            out.append(RunRecord(
                entity=entity, project=project, run_id=run_id, name=name, state=state, created_at=created_at,
                updated_at=updated_at, heartbeat_at=heartbeat_at, finished_at=finished_at, runtime=runtime,
                last_step=last_step, last_log_at=last_log_at, notes=notes, group=group, job_type=job_type, host=host, pid=pid,
                exit_code=exit_code, metadata=codec.loads(metadata) or {}, uid=uid,
            ))
        if out:
            tags: dict[int, list] = {}
            marks = ",".join("?" * len(out))
            for uid, tag in self._query(f"SELECT uid, tag FROM run_tags WHERE uid IN ({marks}) ORDER BY rowid",
                                        tuple(r.uid for r in out)):
                tags.setdefault(uid, []).append(tag)
            for r in out:
                r.tags = tags.get(r.uid, [])
        for r in out:
            self._check_alive(r)
        return out

    def _check_alive(self, run: RunRecord) -> None:
        """A run left ``running`` by a process that is gone is marked ``crashed``, for good."""
        if run.state == RUNNING and is_dead(run.host, run.pid, run.heartbeat_at):
            with self._tx() as c:
                c.execute("UPDATE runs SET state=? WHERE uid=? AND state=?", (CRASHED, run.uid, RUNNING))
            run.state = CRASHED

    def get_run(self, entity: str | None, project: str, run_id: str) -> RunRecord | None:
        if entity is None:
            rows = self._query(f"SELECT {_RUN_COLS} FROM runs WHERE project=? AND run_id=?", (project, run_id))
        else:
            rows = self._query(f"SELECT {_RUN_COLS} FROM runs WHERE entity=? AND project=? AND run_id=?",
                               (entity, project, run_id))
        recs = self._records(rows)
        return recs[0] if recs else None

    def list_runs(self, entity: str | None, project: str) -> list[RunRecord]:
        if entity is None:
            rows = self._query(f"SELECT {_RUN_COLS} FROM runs WHERE project=? ORDER BY created_at, uid", (project,))
        else:
            rows = self._query(f"SELECT {_RUN_COLS} FROM runs WHERE entity=? AND project=? ORDER BY created_at, uid",
                               (entity, project))
        return self._records(rows)

    def update_run(self, uid: int, **fields: Any) -> None:
        with self._tx() as c:
            self._update_run(c, uid, fields)

    def _update_run(self, c: sqlite3.Connection, uid: int, fields: dict) -> None:
        fields = dict(fields)
        tags = fields.pop("tags", None)
        bad = set(fields) - _UPDATABLE
        if bad:
            raise ValueError(f"cannot update run field(s) {sorted(bad)}; allowed: {sorted(_UPDATABLE | {'tags'})}")
        if "metadata" in fields:
            fields["metadata"] = codec.dumps(fields["metadata"])
        if fields:
            cols = ", ".join(f"{_RUN_FIELD_COLUMN.get(k, k)}=?" for k in fields)
            c.execute(f"UPDATE runs SET {cols} WHERE uid=?", (*fields.values(), uid))
        if tags is not None:
            c.execute("DELETE FROM run_tags WHERE uid=?", (uid,))
            c.executemany("INSERT INTO run_tags VALUES (?, ?)", [(uid, t) for t in dict.fromkeys(tags)])

    # -- write path
    def write_batch(self, b: WriteBatch) -> None:
        uid = b.uid
        with self._tx() as c:
            if b.rows:
                rows_chunk, value_chunks = history_codec.pack_rows(b.rows)
                r = rows_chunk
                c.execute("INSERT INTO history_rows VALUES (?,?,?,?,?,?,?,?,?)",
                          (uid, r["seq0"], r["max_seq"], r["n"], r["min_step"], r["max_step"], r["seqs"],
                           r["steps"], r["ts"]))
                c.executemany("INSERT INTO history_values VALUES (?,?,?,?,?,?,?)",
                              [(uid, v["path"], v["seq0"], v["key"], v["kind"], v["seqs"], v["vals"])
                               for v in value_chunks])
            if b.removed_leaves:
                c.executemany("DELETE FROM summary_leaves WHERE uid=? AND path=?",
                              [(uid, codec.path_key(p)) for p in b.removed_leaves])
            if b.leaves:
                c.executemany(f"INSERT OR REPLACE INTO summary_leaves (uid, {_LEAF_COLS}) VALUES ({','.join('?' * 23)})",
                              [_leaf_row(uid, p, r) for p, r in b.leaves])
            for key, value in b.config.items():
                self._write_config_key(c, uid, key, value)
            if b.metric_defs is not None:
                c.execute("DELETE FROM metric_defs WHERE uid=?", (uid,))
                c.executemany(
                    "INSERT INTO metric_defs VALUES (?,?,?,?,?,?,?,?)",
                    [(uid, d["name"], i, None if d["ops"] is None else ",".join(d["ops"]), d["objective"],
                      d["step_metric"], d["step_sync"], d["hidden"]) for i, d in enumerate(b.metric_defs)],
                )
            if b.run_fields:
                self._update_run(c, uid, b.run_fields)
        if b.dropped_blobs:
            self.delete_blobs(uid, b.dropped_blobs)

    def _write_config_key(self, c: sqlite3.Connection, uid: int, key: str, value: Any) -> None:
        top = codec.path_key((key,))
        row = c.execute("SELECT MIN(pos) FROM config WHERE uid=? AND (path=? OR substr(path,1,?)=?)",
                        (uid, top, len(top) - 1, top[:-1] + ",")).fetchone()
        pos = row[0]
        if pos is None:
            pos = c.execute("SELECT COALESCE(MAX(pos)+1, 0) FROM config WHERE uid=?", (uid,)).fetchone()[0]
        c.execute("DELETE FROM config WHERE uid=? AND (path=? OR substr(path,1,?)=?)",
                  (uid, top, len(top) - 1, top[:-1] + ","))
        leaves: list = []
        _flatten_config(value, (key,), leaves)
        c.executemany("INSERT INTO config VALUES (?,?,?,?,?,?,?)",
                      [(uid, codec.path_key(p), codec.dotted(p), pos, i, codec.dumps(v),
                        codec.number(v)) for i, (p, v) in enumerate(leaves)])

    # -- reads
    def load_leaves(self, uid: int) -> list[tuple[tuple, dict]]:
        rows = self._query(f"SELECT {_LEAF_COLS} FROM summary_leaves WHERE uid=? ORDER BY pos", (uid,))
        return [_leaf_record(r) for r in rows]

    def load_metric_defs(self, uid: int) -> list[dict]:
        rows = self._query("SELECT name, ops, objective, step_metric, step_sync, hidden FROM metric_defs "
                           "WHERE uid=? ORDER BY pos", (uid,))
        return [{"name": n, "ops": None if o is None else ([] if o == "" else o.split(",")), "objective": obj,
                 "step_metric": sm, "step_sync": None if ss is None else bool(ss),
                 "hidden": None if h is None else bool(h)} for n, o, obj, sm, ss, h in rows]

    def load_config(self, uid: int) -> dict:
        out: dict = {}
        for path, value in self._query("SELECT path, value_json FROM config WHERE uid=? ORDER BY pos, sub", (uid,)):
            parts = codec.loads(path)
            node = out
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = codec.loads(value)
        return out

    def read_history(self, uid: int, min_step: int | None = None, max_step: int | None = None) -> Iterator[tuple[int, float, dict]]:
        sql, args = "SELECT seqs, steps, ts FROM history_rows WHERE uid=?", [uid]
        if min_step is not None:
            sql, args = sql + " AND max_step>=?", args + [min_step]
        if max_step is not None:
            sql, args = sql + " AND min_step<=?", args + [max_step]
        rows_chunks = self._query(sql, tuple(args))
        value_chunks = self._query("SELECT path, kind, seqs, vals FROM history_values WHERE uid=?", (uid,))
        for step, ts, row in history_codec.unpack_rows(rows_chunks, value_chunks, min_step, max_step):
            yield step, ts, history_codec.nest(row)

    def read_key_history(self, uid: int, path: tuple) -> list[tuple[int, Any]]:
        rows_chunks = self._query("SELECT seqs, steps FROM history_rows WHERE uid=?", (uid,))
        value_chunks = self._query("SELECT kind, seqs, vals FROM history_values WHERE uid=? AND path=?",
                                   (uid, codec.path_key(path)))
        return history_codec.unpack_key(rows_chunks, value_chunks)

    def history_paths(self, uid: int) -> list[tuple]:
        rows = self._query("SELECT path FROM history_values WHERE uid=? GROUP BY path ORDER BY MIN(seq0)", (uid,))
        return [tuple(codec.loads(p)) for (p,) in rows]

    def history_length(self, uid: int) -> int:
        return self._query("SELECT COALESCE(MAX(max_seq) + 1, 0) FROM history_rows WHERE uid=?", (uid,))[0][0]

    # -- Api edits
    def apply_summary_ops(self, uid: int, ops: list[tuple]) -> None:
        with self._tx() as c:
            dropped: list[str] = []
            for op in ops:
                path = op[1]
                below = self._paths_under(c, uid, path)
                keep = set(op[2]) if op[0] == "set" else set()
                for p, blob in below:
                    if p not in keep:
                        c.execute("DELETE FROM summary_leaves WHERE uid=? AND path=?", (uid, codec.path_key(p)))
                        if blob:
                            dropped.append(blob)
                if op[0] == "del":
                    if not below:
                        raise KeyError(path[-1])
                    continue
                for leaf_path, (value, blob) in op[2].items():
                    self._set_override(c, uid, leaf_path, value, blob, dropped)
            c.execute("UPDATE runs SET updated_at=? WHERE uid=?", (time.time(), uid))
        if dropped:
            self.delete_blobs(uid, dropped)

    def _paths_under(self, c: sqlite3.Connection, uid: int, path: tuple) -> list[tuple[tuple, str | None]]:
        """Leaves at, below, or above ``path`` (a leaf above it is replaced too)."""
        keys = [codec.path_key(path[:i]) for i in range(1, len(path) + 1)]
        prefix = codec.path_prefix(path)
        rows = c.execute(
            f"SELECT path, blob FROM summary_leaves WHERE uid=? AND (path IN ({','.join('?' * len(keys))}) "
            "OR substr(path, 1, ?) = ?)", (uid, *keys, len(prefix), prefix)).fetchall()
        return [(tuple(codec.loads(p)), blob) for p, blob in rows]

    def _set_override(self, c, uid: int, path: tuple, value, blob, dropped: list) -> None:
        key = codec.path_key(path)
        row = c.execute("SELECT blob FROM summary_leaves WHERE uid=? AND path=?", (uid, key)).fetchone()
        if row is not None:
            if row[0] and row[0] != blob:
                dropped.append(row[0])
            c.execute("UPDATE summary_leaves SET has_override=1, override_json=?, blob=? WHERE uid=? AND path=?",
                      (codec.dumps(value), blob, uid, key))
            return
        pos = c.execute("SELECT COALESCE(MAX(pos)+1, 0) FROM summary_leaves WHERE uid=?", (uid,)).fetchone()[0]
        rec = _empty_leaf(pos)
        rec.update(has_override=True, override=value, blob=blob)
        c.execute(f"INSERT INTO summary_leaves (uid, {_LEAF_COLS}) VALUES ({','.join('?' * 23)})",
                  _leaf_row(uid, path, rec))

    # -- blobs
    def _blob_path(self, uid: int, name: str) -> str:
        if not name.isalnum():
            raise ValueError(f"bad blob name {name!r}")
        return os.path.join(self.blob_dir, str(uid), name + ".npy")

    def put_blob(self, uid: int, name: str, array: np.ndarray) -> None:
        target = self._blob_path(uid, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        import numpy as np

        tmp = target + ".tmp"
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)
        os.replace(tmp, target)  # readers never see a half-written tensor

    def get_blob(self, uid: int, name: str) -> np.ndarray:
        import numpy as np

        return np.load(self._blob_path(uid, name), allow_pickle=False)

    def delete_blobs(self, uid: int, names: list[str]) -> None:
        for name in names:
            try:
                os.remove(self._blob_path(uid, name))
            except FileNotFoundError:
                pass
