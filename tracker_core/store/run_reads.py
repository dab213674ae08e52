"""The reads of one run's stored state that both SQL backends share: summary leaves,
metric definitions, config, the history (rows, one key, its keys and length) and system
samples.

A backend mixes :class:`RunReads` in and provides ``_compiler.ph`` (its placeholder),
``_fetch(sql, params)`` and ``_read_together(*queries)``: the several queries of one
history read, run with the backend's consistency guarantee (PostgreSQL: one
``REPEATABLE READ`` snapshot; SQLite: one query after the other). The SQL and row mappings
are also used inside a transaction by ``shared_runs`` (``leaves_sql``, ``metric_defs_sql``,
``metric_defs_from_rows``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import codec, history_codec
from .sqlite_schema import LEAF_COLS, leaf_record


def leaves_sql(ph: str) -> str:
    return f"SELECT {LEAF_COLS} FROM summary_leaves WHERE uid={ph} ORDER BY pos, path"


def metric_defs_sql(ph: str) -> str:
    return f"SELECT name, ops, objective, step_metric, step_sync, hidden FROM metric_defs WHERE uid={ph} ORDER BY pos"


def metric_defs_from_rows(rows: list) -> list[dict]:
    """``metric_defs`` rows -> definition records (SQLite's 0/1 flags as bools)."""
    return [{"name": n, "ops": None if o is None else ([] if o == "" else o.split(",")), "objective": obj,
             "step_metric": sm, "step_sync": None if ss is None else bool(ss),
             "hidden": None if h is None else bool(h)} for n, o, obj, sm, ss, h in rows]


class RunReads:
    """``load_leaves``, ``load_metric_defs``, ``load_config``, ``read_history``,
    ``read_key_history``, ``history_paths``, ``history_length``, ``last_system_sample`` and
    ``read_system_samples`` of the :class:`~tracker_core.store.base.Store` interface."""

    _compiler: Any
    _fetch: Any
    # ``_read_together(*(sql, args)) -> [rows, ...]``: the history chunks of a read come from
    # two tables, and whether the two queries see one snapshot is the backend's to decide.
    _read_together: Any
    # Equal timestamps keep insertion order only where the table has a rowid (SQLite adds
    # ", rowid"); PostgreSQL's table has no such column and orders by ts alone.
    _SAMPLES_ORDER = "ts"

    def load_leaves(self, uid: int) -> list[tuple[tuple, dict]]:
        return [leaf_record(r) for r in self._fetch(leaves_sql(self._compiler.ph), [uid])]

    def load_metric_defs(self, uid: int) -> list[dict]:
        return metric_defs_from_rows(self._fetch(metric_defs_sql(self._compiler.ph), [uid]))

    def load_config(self, uid: int) -> dict:
        out: dict = {}
        sql = f"SELECT path, value_json FROM config WHERE uid={self._compiler.ph} ORDER BY pos, sub"
        for path, value in self._fetch(sql, [uid]):
            parts = codec.loads(path)
            node = out
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = codec.loads(value)
        return out

    def history_paths(self, uid: int) -> list[tuple]:
        first: dict[str, tuple] = {}
        sql = f"SELECT path, pos, substr(seqs, 1, 8) FROM history_values WHERE uid={self._compiler.ph}"
        for path, pos, head in self._fetch(sql, [uid]):
            order = (history_codec.first_seq(head), pos)
            if path not in first or order < first[path]:
                first[path] = order
        return [tuple(codec.loads(p)) for p in sorted(first, key=first.__getitem__)]

    def history_length(self, uid: int) -> int:
        sql = f"SELECT COALESCE(MAX(max_seq) + 1, 0) FROM history_rows WHERE uid={self._compiler.ph}"
        return self._fetch(sql, [uid])[0][0]

    def read_history(self, uid: int, min_step: int | None = None,
                     max_step: int | None = None) -> Iterator[tuple[int, float, dict]]:
        # a generator: the queries run at the first next(), as each backend's used to
        ph = self._compiler.ph
        sql, args = f"SELECT seqs, steps, ts FROM history_rows WHERE uid={ph}", [uid]
        if min_step is not None:
            sql, args = sql + f" AND max_step>={ph}", args + [min_step]
        if max_step is not None:
            sql, args = sql + f" AND min_step<={ph}", args + [max_step]
        rows_chunks, value_chunks = self._read_together(
            (sql, tuple(args)), (f"SELECT path, kind, seqs, vals FROM history_values WHERE uid={ph}", (uid,)))
        for step, ts, row in history_codec.unpack_rows(rows_chunks, value_chunks, min_step, max_step):
            yield step, ts, history_codec.nest(row)

    def read_key_history(self, uid: int, path: tuple) -> list[tuple[int, Any]]:
        ph = self._compiler.ph
        rows_chunks, value_chunks = self._read_together(
            (f"SELECT seqs, steps FROM history_rows WHERE uid={ph}", (uid,)),
            (f"SELECT kind, seqs, vals FROM history_values WHERE uid={ph} AND path={ph}",
             (uid, codec.path_key(path))))
        return history_codec.unpack_key(rows_chunks, value_chunks)

    def last_system_sample(self, uid: int) -> dict:
        sql = f"SELECT data FROM system_samples WHERE uid={self._compiler.ph} ORDER BY ts DESC LIMIT 1"
        rows = self._fetch(sql, [uid])
        return codec.loads(rows[0][0]) if rows else {}

    def read_system_samples(self, uid: int) -> list[tuple[float, dict]]:
        sql = f"SELECT ts, data FROM system_samples WHERE uid={self._compiler.ph} ORDER BY {self._SAMPLES_ORDER}"
        return [(ts, codec.loads(data)) for ts, data in self._fetch(sql, [uid])]
