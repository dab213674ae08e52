"""The read side of the SQLite store: run queries (filters, order, tables) and history.

A mixin of :class:`tracker_core.store.sqlite.SQLiteStore`, kept apart so each file holds
one concern; it relies on the store's ``_query``, ``_records`` and ``_compiler``.
"""

from __future__ import annotations

from typing import Any, Iterator

from . import codec, history_codec
from .run_queries import RunQueries
from .run_reads import RunReads


class SQLiteReads(RunQueries, RunReads):
    """Queries over runs, summaries, config and history (no writes but crash marking)."""

    _query: Any

    def _fetch(self, sql: str, params: list) -> list:
        return self._query(sql, tuple(params))

    # -- history (load_leaves, load_metric_defs, load_config, history_paths/_length: RunReads)
    def read_history(self, uid: int, min_step: int | None = None,
                     max_step: int | None = None) -> Iterator[tuple[int, float, dict]]:
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

    def last_system_sample(self, uid: int) -> dict:
        rows = self._query("SELECT data FROM system_samples WHERE uid=? ORDER BY ts DESC LIMIT 1", (uid,))
        return codec.loads(rows[0][0]) if rows else {}

    def read_system_samples(self, uid: int) -> list[tuple[float, dict]]:
        rows = self._query("SELECT ts, data FROM system_samples WHERE uid=? ORDER BY ts, rowid", (uid,))
        return [(ts, codec.loads(data)) for ts, data in rows]
