"""The read side of the SQLite store: run queries (filters, order, tables) and history.

A mixin of :class:`tracker_core.store.sqlite.SQLiteStore`, kept apart so each file holds
one concern; it relies on the store's ``_query``, ``_records`` and ``_compiler``.
"""

from __future__ import annotations

from typing import Any, Iterator

from . import codec, history_codec
from .run_queries import RunQueries
from .sqlite_schema import LEAF_COLS, leaf_record


class SQLiteReads(RunQueries):
    """Queries over runs, summaries, config and history (no writes but crash marking)."""

    _query: Any

    def _fetch(self, sql: str, params: list) -> list:
        return self._query(sql, tuple(params))

    # -- one run's summary, definitions, config and history
    def load_leaves(self, uid: int) -> list[tuple[tuple, dict]]:
        rows = self._query(f"SELECT {LEAF_COLS} FROM summary_leaves WHERE uid=? ORDER BY pos", (uid,))
        return [leaf_record(r) for r in rows]

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
        first: dict[str, tuple] = {}
        for path, pos, head in self._query("SELECT path, pos, substr(seqs, 1, 8) FROM history_values WHERE uid=?",
                                           (uid,)):
            order = (history_codec.first_seq(head), pos)
            if path not in first or order < first[path]:
                first[path] = order
        return [tuple(codec.loads(p)) for p in sorted(first, key=first.__getitem__)]

    def history_length(self, uid: int) -> int:
        return self._query("SELECT COALESCE(MAX(max_seq) + 1, 0) FROM history_rows WHERE uid=?", (uid,))[0][0]

    def last_system_sample(self, uid: int) -> dict:
        rows = self._query("SELECT data FROM system_samples WHERE uid=? ORDER BY ts DESC LIMIT 1", (uid,))
        return codec.loads(rows[0][0]) if rows else {}

    def read_system_samples(self, uid: int) -> list[tuple[float, dict]]:
        rows = self._query("SELECT ts, data FROM system_samples WHERE uid=? ORDER BY ts, rowid", (uid,))
        return [(ts, codec.loads(data)) for ts, data in rows]
