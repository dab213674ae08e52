"""The PostgreSQL store: the same typed schema as SQLite, for teams and multi-node training.

``TRACKER_STORE=postgresql://user:password@host:5432/dbname`` (``postgres://`` too; any
libpq URL parameter works, e.g. ``?options=-csearch_path%3Dteam_a`` to keep a team's
tables in their own schema, which must exist). Needs ``pip install
"tracker-core[postgres]"`` (psycopg 3 with its connection pool).

This module holds the store's connection plumbing and its writes; the rest is apart, one
concern per file, as for SQLite (``sqlite.py``, ``sqlite_reads.py``, ``sqlite_schema.py``):

- ``postgres_pool.py``: psycopg imported on first use, the URL (``redact``, connect
  timeout) and the connection pool. One ``psycopg_pool.ConnectionPool`` per store (per
  process); connections run in autocommit and every write is one explicit transaction.
- ``postgres_reads.py``: the read side (a mixin): filters and orders compiled with
  ``query.Compiler("%s", "{col} ~ {ph}")``, ``$regex`` as PostgreSQL's regular
  expressions (ARE: Python's syntax for the common cases); history and system samples.
- ``postgres_schema.py``: tables and columns (the SQLite layout typed for PostgreSQL,
  ``BYTEA`` history chunks, a ``blobs`` table for full tensors). Created and migrated by
  the tracker on first use (``migrations.py``, version in ``schema_version``).

Every write transaction of a run first locks that run's ``runs`` row (``FOR NO KEY
UPDATE``): writes to one run are serialised (as SQLite's ``BEGIN IMMEDIATE`` serialises
all writes), writes to different runs run in parallel. ``apply_summary_ops`` touches only
the named keys, so two processes editing different keys of one run both keep their change.

A run left ``running`` by a dead process is marked ``crashed`` by the next reader
(``liveness.py``: the pid on the same host, the heartbeat from another host). ``url`` is
the store URL with its password masked (it shows up in messages).
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

from . import codec, history_codec, migrations
from .base import RunExistsError, RunRecord, Store, WriteBatch
from .postgres_pool import POOL_MAX, POOL_MIN, import_psycopg, open_pool, redact
from .postgres_reads import PgCompiler, PostgresReads
from .postgres_schema import LEAF_UPSERT_SET, key_text, leaf_row, query_row, text
from .run_queries import run_values
from .shared_runs import SharedRunWrites
from .sqlite_schema import (
    LEAF_COLS,
    RUN_COLS,
    empty_leaf,
    flatten_config,
)
from .summary_edits import SummaryEdits

__all__ = ["PostgresStore", "redact"]

_LEAF_PHS = ",".join(["%s"] * 23)
_BLOB_NAME = re.compile(r"^[A-Za-z0-9]+$")


class PostgresStore(PostgresReads, SharedRunWrites, SummaryEdits, Store):
    """PostgreSQL backend; thread-safe (a connection pool), any number of processes and hosts."""

    _LOCK = " FOR NO KEY UPDATE"  # shared_runs: lock the run's row

    def __init__(self, url: str, *, min_size: int = POOL_MIN, max_size: int = POOL_MAX) -> None:
        psycopg, psycopg_pool = import_psycopg()
        self._psycopg = psycopg
        self._pool_timeout = psycopg_pool.PoolTimeout
        self._conninfo = url
        self.url = redact(url)
        self._compiler = PgCompiler()
        self._closed = False
        self._close_lock = threading.Lock()
        self._pool = open_pool(psycopg, psycopg_pool, url, min_size=min_size, max_size=max_size)
        try:
            with self._pool.connection() as conn:
                migrations.migrate(conn, "postgresql", migrations.postgres_migrations(), where=f"the store {self.url}")
        except psycopg.errors.InvalidSchemaName as exc:
            self._pool.close()
            raise ConnectionError(
                f"the store {self.url} names no existing schema to create its tables in (search_path): "
                f"create it first (CREATE SCHEMA ...): {exc}") from None
        except BaseException:
            self._pool.close()
            raise

    # -- plumbing
    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """A pooled connection inside one transaction: committed on success, rolled back on error."""
        with self._pool.connection() as conn, conn.transaction():
            yield conn

    def _query(self, sql: str, args: tuple = ()) -> list:
        with self._pool.connection() as conn:
            return conn.execute(sql, args).fetchall()

    def is_transient(self, exc: BaseException) -> bool:
        """A failure that a retry may cure: the server is down, restarting or unreachable."""
        return isinstance(exc, (self._psycopg.OperationalError, self._pool_timeout, ConnectionError))

    def close(self) -> None:
        with self._close_lock:
            if not self._closed:
                self._closed = True
                self._pool.close()

    @staticmethod
    def _lock_run(c, uid: int) -> bool:
        """Serialise the writes to one run (row lock until the transaction ends); False if the
        run is gone (deleted)."""
        return c.execute("SELECT 1 FROM runs WHERE uid=%s FOR NO KEY UPDATE", (uid,)).fetchone() is not None

    # -- runs
    def create_run(self, run: RunRecord) -> int:
        with self._tx() as c:
            row = c.execute(
                f"INSERT INTO runs ({RUN_COLS}) VALUES (DEFAULT,{','.join(['%s'] * 20)}) "
                "ON CONFLICT (entity, project, run_id) DO NOTHING RETURNING uid", run_values(run),
            ).fetchone()
            if row is None:
                raise RunExistsError(f"run {run.entity}/{run.project}/{run.run_id} already exists")
            uid = row[0]
            self._write_tags(c, uid, run.tags)
        run.uid = uid
        return uid

    @staticmethod
    def _write_tags(c, uid: int, tags) -> None:
        rows = [(uid, t, i) for i, t in enumerate(dict.fromkeys(tags))]
        if rows:
            c.cursor().executemany("INSERT INTO run_tags (uid, tag, pos) VALUES (%s, %s, %s)", rows)

    def _tags_of(self, uids: list[int]) -> list[tuple[int, str]]:
        return self._query("SELECT uid, tag FROM run_tags WHERE uid = ANY(%s) ORDER BY uid, pos", (uids,))

    def get_run(self, entity: str | None, project: str, run_id: str) -> RunRecord | None:
        if entity is None:
            rows = self._query(f"SELECT {RUN_COLS} FROM runs WHERE project=%s AND run_id=%s ORDER BY uid LIMIT 1",
                               (project, run_id))
        else:
            rows = self._query(f"SELECT {RUN_COLS} FROM runs WHERE entity=%s AND project=%s AND run_id=%s",
                               (entity, project, run_id))
        recs = self._records(rows)
        return recs[0] if recs else None

    def update_run(self, uid: int, **fields: Any) -> None:
        with self._tx() as c:
            if self._lock_run(c, uid):
                self._update_run(c, uid, fields)

    # -- write path
    def write_batch(self, b: WriteBatch) -> None:
        uid = b.uid
        with self._tx() as c:
            if not self._lock_run(c, uid):
                return  # the run was deleted meanwhile: nothing to write to
            if b.shared is not None:
                self._prepare_shared(c, b)
            cur = c.cursor()
            if b.rows:
                r, value_chunks = history_codec.pack_rows(b.rows, b.grouped)
                # ON CONFLICT: a flush retried after its COMMIT reached the server but the answer
                # did not (a connection cut at that moment) must not fail forever on its own rows
                c.execute("INSERT INTO history_rows VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                          (uid, r["seq0"], r["max_seq"], r["n"], r["min_step"], r["max_step"], r["seqs"],
                           r["steps"], r["ts"]))
                cur.executemany("INSERT INTO history_values VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                                [(uid, v["path"], v["seq0"], v["pos"], key_text(v["key"]), v["kind"], v["seqs"],
                                  v["vals"]) for v in value_chunks])
            if b.removed_leaves:
                self._delete_leaves(c, uid, b.removed_leaves)
            if b.leaves:
                cur.executemany(f"INSERT INTO summary_leaves (uid, {LEAF_COLS}) VALUES ({_LEAF_PHS}) "
                                f"ON CONFLICT (uid, path) DO UPDATE SET {LEAF_UPSERT_SET}",
                                [leaf_row(uid, p, rec) for p, rec in b.leaves])
            if b.query_rows:
                self._write_query_rows(c, uid, b.query_rows)
            if b.system_samples:
                cur.executemany("INSERT INTO system_samples VALUES (%s,%s,%s)",
                                [(uid, ts, codec.dumps(sample)) for ts, sample in b.system_samples])
            for key, value in b.config.items():
                self._write_config_key(c, uid, key, value)
            if b.metric_defs is not None:
                c.execute("DELETE FROM metric_defs WHERE uid=%s", (uid,))
                if b.metric_defs:
                    cur.executemany(
                        "INSERT INTO metric_defs VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                        [(uid, d["name"], i, None if d["ops"] is None else ",".join(d["ops"]), d["objective"],
                          d["step_metric"], None if d["step_sync"] is None else bool(d["step_sync"]),
                          None if d["hidden"] is None else bool(d["hidden"])) for i, d in enumerate(b.metric_defs)],
                    )
            if b.run_fields:
                self._update_run(c, uid, b.run_fields)
            if b.dropped_blobs:  # with the leaves that dropped them: never a leaf without its blob
                self._delete_blobs(c, uid, b.dropped_blobs)

    @staticmethod
    def _delete_leaves(c, uid: int, paths: list) -> None:
        keys = [codec.path_key(p) for p in paths]
        c.execute("DELETE FROM summary_leaves WHERE uid=%s AND path = ANY(%s)", (uid, keys))
        c.execute("DELETE FROM summary_values WHERE uid=%s AND leaf = ANY(%s)", (uid, keys))

    @staticmethod
    def _write_query_rows(c, uid: int, query_rows: dict) -> None:
        """Replace the rendered (filterable) rows of each leaf in ``query_rows``."""
        c.execute("DELETE FROM summary_values WHERE uid=%s AND leaf = ANY(%s)",
                  (uid, [codec.path_key(p) for p in query_rows]))
        rows = [query_row(uid, p, key, value) for p, rows in query_rows.items() for key, value in rows]
        if rows:
            c.cursor().executemany(
                "INSERT INTO summary_values VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (uid, key, leaf) DO UPDATE SET "
                "value_num = EXCLUDED.value_num, value_text = EXCLUDED.value_text, value_json = EXCLUDED.value_json",
                rows)

    def _write_config_key(self, c, uid: int, key: str, value: Any) -> None:
        top, below = codec.path_key((key,)), codec.path_prefix((key,))
        where = "uid=%s AND (path=%s OR substr(path, 1, %s)=%s)"
        args = (uid, top, len(below), below)
        pos = c.execute(f"SELECT MIN(pos) FROM config WHERE {where}", args).fetchone()[0]
        if pos is None:
            pos = c.execute("SELECT COALESCE(MAX(pos)+1, 0) FROM config WHERE uid=%s", (uid,)).fetchone()[0]
        c.execute(f"DELETE FROM config WHERE {where}", args)
        leaves: list = []
        flatten_config(value, (key,), leaves)
        c.cursor().executemany(
            "INSERT INTO config VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (uid, key, path) DO UPDATE SET "
            "pos = EXCLUDED.pos, sub = EXCLUDED.sub, value_json = EXCLUDED.value_json, "
            "value_num = EXCLUDED.value_num, value_text = EXCLUDED.value_text",
            [(uid, codec.path_key(p), key_text(codec.dotted(p)), pos, i, codec.dumps(v), codec.number(v), text(v))
             for i, (p, v) in enumerate(leaves)])

    # -- Api edits
    def apply_summary_ops(self, uid: int, ops: list[tuple]) -> None:
        with self._tx() as c:
            self._lock_run(c, uid)
            dropped = self._edit_summary(c, uid, ops)
            if dropped:
                self._delete_blobs(c, uid, dropped)

    @staticmethod
    def _paths_under(c, uid: int, path: tuple) -> list[tuple[tuple, str | None]]:
        """Leaves at, below, or above ``path`` (a leaf above it is replaced too)."""
        keys = [codec.path_key(path[:i]) for i in range(1, len(path) + 1)]
        prefix = codec.path_prefix(path)
        rows = c.execute("SELECT path, blob FROM summary_leaves WHERE uid=%s AND (path = ANY(%s) "
                         "OR substr(path, 1, %s) = %s)", (uid, keys, len(prefix), prefix)).fetchall()
        return [(tuple(codec.loads(p)), blob) for p, blob in rows]

    @staticmethod
    def _set_override(c, uid: int, path: tuple, value, blob, dropped: list) -> None:
        key = codec.path_key(path)
        row = c.execute("SELECT blob FROM summary_leaves WHERE uid=%s AND path=%s", (uid, key)).fetchone()
        if row is not None:
            if row[0] and row[0] != blob:
                dropped.append(row[0])
            c.execute("UPDATE summary_leaves SET has_override=TRUE, override_json=%s, blob=%s "
                      "WHERE uid=%s AND path=%s", (codec.dumps(value), blob, uid, key))
            return
        pos = c.execute("SELECT COALESCE(MAX(pos)+1, 0) FROM summary_leaves WHERE uid=%s", (uid,)).fetchone()[0]
        rec = empty_leaf(pos)
        rec.update(has_override=True, override=value, blob=blob)
        c.execute(f"INSERT INTO summary_leaves (uid, {LEAF_COLS}) VALUES ({_LEAF_PHS})", leaf_row(uid, path, rec))

    def replace_summary(self, uid: int, leaves: list, query_rows: dict) -> None:
        with self._tx() as c:
            self._lock_run(c, uid)
            c.execute("DELETE FROM summary_leaves WHERE uid=%s", (uid,))
            c.execute("DELETE FROM summary_values WHERE uid=%s", (uid,))
            if leaves:
                c.cursor().executemany(f"INSERT INTO summary_leaves (uid, {LEAF_COLS}) VALUES ({_LEAF_PHS})",
                                       [leaf_row(uid, p, r) for p, r in leaves])
            self._write_query_rows(c, uid, query_rows)

    def delete_run(self, uid: int) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM runs WHERE uid=%s", (uid,))  # every other table cascades, blobs included

    # -- blobs: .npy bytes in the blobs table
    @staticmethod
    def _check_name(name: str) -> str:
        if not isinstance(name, str) or not _BLOB_NAME.match(name):
            raise ValueError(f"bad blob name {name!r}")
        return name

    def put_blob(self, uid: int, name: str, array: np.ndarray) -> None:
        import numpy as np

        self._check_name(name)
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=False)
        with self._tx() as c:  # readers see the whole tensor or none
            c.execute("INSERT INTO blobs (uid, name, data) VALUES (%s, %s, %s) "
                      "ON CONFLICT (uid, name) DO UPDATE SET data = EXCLUDED.data", (uid, name, buf.getvalue()))

    def get_blob(self, uid: int, name: str) -> np.ndarray:
        import numpy as np

        self._check_name(name)
        rows = self._query("SELECT data FROM blobs WHERE uid=%s AND name=%s", (uid, name))
        if not rows:
            raise FileNotFoundError(f"blob {name!r} of run {uid} is not in the store {self.url}")
        return np.load(io.BytesIO(rows[0][0]), allow_pickle=False)

    def delete_blobs(self, uid: int, names: list[str]) -> None:
        if names:
            with self._tx() as c:
                self._delete_blobs(c, uid, names)

    def _delete_blobs(self, c, uid: int, names: list[str]) -> None:
        c.execute("DELETE FROM blobs WHERE uid=%s AND name = ANY(%s)",
                  (uid, [self._check_name(n) for n in names]))

