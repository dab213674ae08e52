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
import re
import shutil
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

from . import codec, history_codec
from .base import RunExistsError, RunRecord, Store, WriteBatch
from .query import Compiler
from .run_queries import RUN_COLS, run_values
from .shared_runs import SharedRunWrites
from .sqlite_reads import SQLiteReads
from .sqlite_schema import (
    LEAF_COLS,
    SCHEMA_VERSION,
    empty_leaf,
    flatten_config,
    leaf_row,
    query_row,
)
from .summary_edits import SummaryEdits


def _regexp(pattern: str, value: Any) -> bool:
    """SQLite's ``value REGEXP pattern`` (Python ``re.search`` semantics, as MongoDB's $regex)."""
    return isinstance(value, str) and re.search(pattern, value) is not None


class SQLiteStore(SQLiteReads, SharedRunWrites, SummaryEdits, Store):
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
        self._conn.create_function("regexp", 2, _regexp, deterministic=True)
        self._compiler = Compiler()
        self._set_wal()
        self._conn.execute("PRAGMA synchronous = NORMAL")
        if not self._schema_is_current():
            from . import migrations

            with self._lock:  # creates / migrates the schema under BEGIN IMMEDIATE, records the version
                migrations.migrate(self._conn, "sqlite", migrations.sqlite_migrations(),
                                   where=f"the store {self.db_path}")

    def _schema_is_current(self) -> bool:
        """Whether the recorded schema version is this tracker-core's, read without a
        transaction: a store is opened far more often than migrated, and ``migrate`` takes
        the write lock (waiting on any writer). A version is recorded in the transaction
        that creates or migrates the schema, so reading the current one means it is all there."""
        try:
            found = self._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        except sqlite3.OperationalError:  # no schema_version table: a new database
            return False
        return found == SCHEMA_VERSION

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

    def is_transient(self, exc: BaseException) -> bool:
        """Locked / busy past the busy timeout (another process holding a long transaction)."""
        return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))

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
                f"INSERT INTO runs ({RUN_COLS}) VALUES (NULL,{','.join('?' * 20)})", run_values(run),
            )
            uid = cur.lastrowid
            self._write_tags(c, uid, run.tags)
        run.uid = uid
        return uid

    @staticmethod
    def _write_tags(c: sqlite3.Connection, uid: int, tags: list[str]) -> None:
        c.executemany("INSERT INTO run_tags VALUES (?, ?)", [(uid, t) for t in dict.fromkeys(tags)])

    def _tags_of(self, uids: list[int]) -> list[tuple[int, str]]:
        out: list = []
        for i in range(0, len(uids), 30000):  # stock SQLite builds allow 32,766 variables a statement
            chunk = uids[i:i + 30000]
            out += self._query(f"SELECT uid, tag FROM run_tags WHERE uid IN ({','.join('?' * len(chunk))}) "
                               "ORDER BY rowid", tuple(chunk))
        return out

    def get_run(self, entity: str | None, project: str, run_id: str) -> RunRecord | None:
        if entity is None:
            rows = self._query(f"SELECT {RUN_COLS} FROM runs WHERE project=? AND run_id=?", (project, run_id))
        else:
            rows = self._query(f"SELECT {RUN_COLS} FROM runs WHERE entity=? AND project=? AND run_id=?",
                               (entity, project, run_id))
        recs = self._records(rows)
        return recs[0] if recs else None

    def update_run(self, uid: int, **fields: Any) -> None:
        with self._tx() as c:
            self._update_run(c, uid, fields)

    # -- write path
    def write_batch(self, b: WriteBatch) -> None:
        uid = b.uid
        with self._tx() as c:
            if b.shared is not None:
                self._prepare_shared(c, b)
            if b.rows:
                rows_chunk, value_chunks = history_codec.pack_rows(b.rows, b.grouped)
                r = rows_chunk
                c.execute("INSERT INTO history_rows VALUES (?,?,?,?,?,?,?,?,?)",
                          (uid, r["seq0"], r["max_seq"], r["n"], r["min_step"], r["max_step"], r["seqs"],
                           r["steps"], r["ts"]))
                c.executemany("INSERT INTO history_values VALUES (?,?,?,?,?,?,?,?)",
                              [(uid, v["path"], v["seq0"], v["pos"], v["key"], v["kind"], v["seqs"], v["vals"])
                               for v in value_chunks])
            if b.removed_leaves:
                self._delete_leaves(c, uid, b.removed_leaves)
            if b.leaves:
                c.executemany(f"INSERT OR REPLACE INTO summary_leaves (uid, {LEAF_COLS}) VALUES ({','.join('?' * 23)})",
                              [leaf_row(uid, p, r) for p, r in b.leaves])
            if b.query_rows:
                self._write_query_rows(c, uid, b.query_rows)
            if b.system_samples:
                c.executemany("INSERT INTO system_samples VALUES (?,?,?)",
                              [(uid, ts, codec.dumps(sample)) for ts, sample in b.system_samples])
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

    @staticmethod
    def _delete_leaves(c: sqlite3.Connection, uid: int, paths: list) -> None:
        keys = [(uid, codec.path_key(p)) for p in paths]
        c.executemany("DELETE FROM summary_leaves WHERE uid=? AND path=?", keys)
        c.executemany("DELETE FROM summary_values WHERE uid=? AND leaf=?", keys)

    @staticmethod
    def _write_query_rows(c: sqlite3.Connection, uid: int, query_rows: dict) -> None:
        """Replace the rendered (filterable) rows of each leaf in ``query_rows``."""
        c.executemany("DELETE FROM summary_values WHERE uid=? AND leaf=?",
                      [(uid, codec.path_key(p)) for p in query_rows])
        c.executemany("INSERT OR REPLACE INTO summary_values VALUES (?,?,?,?,?,?)",
                      [query_row(uid, p, key, value) for p, rows in query_rows.items() for key, value in rows])

    def _write_config_key(self, c: sqlite3.Connection, uid: int, key: str, value: Any) -> None:
        top, below = codec.path_key((key,)), codec.path_prefix((key,))
        row = c.execute("SELECT MIN(pos) FROM config WHERE uid=? AND (path=? OR substr(path,1,?)=?)",
                        (uid, top, len(below), below)).fetchone()
        pos = row[0]
        if pos is None:
            pos = c.execute("SELECT COALESCE(MAX(pos)+1, 0) FROM config WHERE uid=?", (uid,)).fetchone()[0]
        c.execute("DELETE FROM config WHERE uid=? AND (path=? OR substr(path,1,?)=?)",
                  (uid, top, len(below), below))
        leaves: list = []
        flatten_config(value, (key,), leaves)
        c.executemany("INSERT INTO config VALUES (?,?,?,?,?,?,?,?)",
                      [(uid, codec.path_key(p), codec.dotted(p), pos, i, codec.dumps(v), codec.number(v),
                        v if isinstance(v, str) else None) for i, (p, v) in enumerate(leaves)])

    # -- Api edits
    def apply_summary_ops(self, uid: int, ops: list[tuple]) -> None:
        with self._tx() as c:
            dropped = self._edit_summary(c, uid, ops)
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
        rec = empty_leaf(pos)
        rec.update(has_override=True, override=value, blob=blob)
        c.execute(f"INSERT INTO summary_leaves (uid, {LEAF_COLS}) VALUES ({','.join('?' * 23)})",
                  leaf_row(uid, path, rec))

    def replace_summary(self, uid: int, leaves: list, query_rows: dict) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM summary_leaves WHERE uid=?", (uid,))
            c.execute("DELETE FROM summary_values WHERE uid=?", (uid,))
            c.executemany(f"INSERT INTO summary_leaves (uid, {LEAF_COLS}) VALUES ({','.join('?' * 23)})",
                          [leaf_row(uid, p, r) for p, r in leaves])
            self._write_query_rows(c, uid, query_rows)

    def delete_run(self, uid: int) -> None:
        with self._tx() as c:
            for table in ("runs", "run_tags", "config", "summary_leaves", "summary_values", "metric_defs",
                          "history_rows", "history_values", "system_samples", "run_writers", "shared_batches"):
                c.execute(f"DELETE FROM {table} WHERE uid=?", (uid,))
        shutil.rmtree(os.path.join(self.blob_dir, str(uid)), ignore_errors=True)

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
