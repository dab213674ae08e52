"""The read side of the SQLite store: run queries (filters, order, tables), and the hooks
the shared history and system sample reads (``run_reads.RunReads``) take from SQLite.

A mixin of :class:`tracker_core.store.sqlite.SQLiteStore`, kept apart so each file holds
one concern; it relies on the store's ``_query``, ``_records`` and ``_compiler``.
"""

from __future__ import annotations

import json.scanner
from typing import Any

from .run_queries import SCALAR_VALUE, RunQueries
from .run_reads import RunReads

# Each run's config and scalar summary values fetched beside the run's columns: per table,
# the keys joined by US (\x1f), RS (\x1e), then the exact stored values as the text of one
# JSON array. One query for the whole table and one C-speed decode per run, instead of a
# Python row (and a decode) per value; runs share their key lists (split once). Keys keep
# the generic path's order: config by position; summary by key, the primary key's order in
# which SQLite reads a run's rows (as the generic path does: an ORDER BY costs a third more).
# The values are the stored JSON, which decodes to what ``codec.scalar`` makes of the
# typed columns.
_KEYS_VALUES = "(SELECT group_concat(key, char(31)) || char(30) || '[' || group_concat(value_json) || ']' FROM {})"
_TABLE_VALUES = (
    ", " + _KEYS_VALUES.format("(SELECT key, value_json FROM config WHERE uid = r.uid ORDER BY pos, sub)")
    + ", " + _KEYS_VALUES.format(f"summary_values WHERE uid = r.uid AND {SCALAR_VALUE.format(v='')}")
)
# the C scanner behind codec.loads, without its two whitespace regex matches per call
_scan = json.scanner.make_scanner(json.JSONDecoder())


class _KeyValues:
    """``"k1 US k2 RS [v1,v2]"`` -> ``{prefix + "k1": v1, prefix + "k2": v2}``; each distinct
    key list is split once. None where the counts differ (a key holds US itself)."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._keys: dict[str, list[str]] = {}

    def __call__(self, text: str | None) -> dict | None:
        if text is None:  # no values
            return {}
        keys_text, _, values_text = text.rpartition("\x1e")  # JSON text escapes RS: the last one is ours
        keys = self._keys.get(keys_text)
        if keys is None:
            keys = self._keys[keys_text] = [self._prefix + k for k in keys_text.split("\x1f")]
        values = _scan(values_text, 0)[0]
        return dict(zip(keys, values)) if len(keys) == len(values) else None


class SQLiteReads(RunQueries, RunReads):
    """Queries over runs, summaries, config and history (no writes but crash marking)."""

    _query: Any

    def _fetch(self, sql: str, params: list) -> list:
        return self._query(sql, tuple(params))

    def _table_rows(self, body: str, params: list, order_sql: str, order_params: list) -> list[tuple]:
        rows = self._fetch(f"SELECT {self.TABLE_COLS}{_TABLE_VALUES} {body} ORDER BY {order_sql}",
                           params + order_params)
        config_values, summary_values = _KeyValues("config."), _KeyValues("summary.")
        out = []
        for *cols, config, summary in rows:
            values = config_values(config)
            more = summary_values(summary)
            if values is None or more is None:  # a key with US in it: the generic path, exact
                return super()._table_rows(body, params, order_sql, order_params)
            values.update(more)
            out.append((*cols, values))
        return out

    # -- history and system samples: RunReads, with these two backend hooks
    _SAMPLES_ORDER = "ts, rowid"  # equal timestamps in insertion order

    def _read_together(self, *queries: tuple[str, tuple]) -> list[list]:
        """One ``_query`` per query, as before the reads were shared: the connection is in
        autocommit mode, so each is its own read transaction (no common snapshot)."""
        return [self._query(sql, args) for sql, args in queries]
