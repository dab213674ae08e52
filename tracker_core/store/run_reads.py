"""The reads of one run's stored state that both SQL backends share: summary leaves,
metric definitions, config, the history's keys and length.

A backend mixes :class:`RunReads` in and provides ``_compiler.ph`` (its placeholder) and
``_fetch(sql, params)``. The SQL and row mappings are also used inside a transaction by
``shared_runs`` (``leaves_sql``, ``metric_defs_sql``, ``metric_defs_from_rows``).
"""

from __future__ import annotations

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
    """``load_leaves``, ``load_metric_defs``, ``load_config``, ``history_paths`` and
    ``history_length`` of the :class:`~tracker_core.store.base.Store` interface."""

    _compiler: Any
    _fetch: Any

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
