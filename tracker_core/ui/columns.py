"""The runs table's columns, and the view (visible and pinned columns) a URL asks for.

Columns are the fixed run columns (:data:`FIXED`), then ``config.<key>`` for every
flattened config key and ``summary.<key>`` for every scalar summary value, aggregates
included (``summary.loss.min``, ``summary.val/acc.best``), of **all** runs matching the
filter, not only those of the page shown. A tensor summary ``w`` gives one compact column
``summary.w`` (shown) plus its stats ``summary.w.mean``, ``summary.w.std``, ... (offered,
hidden by default).

Finding the keys of all matching runs: a store that has ``column_keys(entity, project,
filters) -> (config keys, summary keys)`` (one ``SELECT DISTINCT`` per table; the method
the UI asks the store for) answers directly. Otherwise the keys come from the public
``Store.query_table`` (every matching value, about 0.7 s at 10,000 runs x 45 values),
cached per (project, filter) until the matching runs change: their number or their
newest ``updated_at`` (which every flush of a live run and every summary edit moves), and
at most :data:`CACHE_TTL_S` seconds in any case.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from typing import Any

from fastapi import HTTPException

from ..store import Store

# (key, order string for the store or None, shown by default)
FIXED: tuple[tuple[str, str | None, bool], ...] = (
    ("name", "name", True), ("state", "state", True), ("created_at", "created_at", True),
    ("runtime", "summary_metrics._runtime", True), ("tags", None, True), ("notes", "notes", True),
    ("group", "group", False), ("id", "id", False), ("job_type", "job_type", False), ("host", "host", False),
)
FIXED_KEYS = tuple(k for k, _, _ in FIXED)
HIDDEN_SUMMARY = ("_runtime", "_timestamp")  # the runtime column and the overview show them
CACHE_TTL_S = 30.0
CACHE_SIZE = 64


def natural_key(text: str) -> tuple:
    """Sort key that puts ``s2`` before ``s10`` and ``_``-keys (``_step``) last."""
    parts = re.split(r"(\d+)", text)
    return (text.startswith("_"), [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts])


def order_of(key: str) -> str | None:
    """The store's order string for a column key (``summary.loss.min`` -> ``summary_metrics.loss.min``)."""
    for name, order, _ in FIXED:
        if key == name:
            return order
    if key.startswith("config."):
        return key
    if key.startswith("summary."):
        return "summary_metrics." + key[len("summary."):]
    return None


def check_column(key: str) -> str:
    """``key`` if it names a column, else HTTP 400 naming it."""
    if key in FIXED_KEYS or (key.startswith(("config.", "summary.")) and key.split(".", 1)[1]):
        return key
    raise HTTPException(400, f"unknown column {key!r}: use one of {', '.join(FIXED_KEYS)}, "
                             "config.<key> or summary.<key>")


def describe(key: str, typed: bool = False, default: bool = True) -> dict:
    """One column as the API sends it: ``{key, kind, order, default}``."""
    kind = "config" if key.startswith("config.") else "summary" if key.startswith("summary.") else "run"
    return {"key": key, "kind": kind, "order": None if typed else order_of(key), "default": default}


def build_catalog(config_keys: list[str], summary_keys: list[str], any_runs: bool) -> list[dict]:
    """Every column, in display order: fixed, config (natural order), summary (natural, ``_`` last)."""
    out = [{"key": k, "kind": "run", "order": order, "default": default} for k, order, default in FIXED]
    out += [describe("config." + k) for k in sorted(set(config_keys), key=natural_key)]
    keys = {k for k in summary_keys if k not in HIDDEN_SUMMARY}
    if any_runs:
        keys.add("_step")
    typed = {k[: -len("._type")] for k in keys if k.endswith("._type")}
    keys |= typed
    for key in sorted(keys, key=natural_key):
        part_of_typed = any(key.startswith(t + ".") for t in typed)
        out.append(describe("summary." + key, typed=key in typed, default=not part_of_typed))
    return out


class KeyCache:
    """Config and summary keys of the runs matching a filter, per (store, entity, project, filter)."""

    def __init__(self, ttl_s: float = CACHE_TTL_S, size: int = CACHE_SIZE) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, tuple[tuple, float, tuple[list[str], list[str], bool]]] = OrderedDict()

    def keys(self, store: Store, entity: str | None, project: str, filters: Any) -> tuple[list[str], list[str], bool]:
        """``(config keys, summary keys, any run matches)``; FilterError for a bad filter."""
        native = getattr(store, "column_keys", None)
        if callable(native):
            config_keys, summary_keys = native(entity, project, filters)
            return list(config_keys), list(summary_keys), store.count_runs(entity, project, filters) > 0
        cache_key = (id(store), entity, project, json.dumps(filters, sort_keys=True, default=repr))
        stamp = self._fingerprint(store, entity, project, filters)
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(cache_key)
            if hit is not None and hit[0] == stamp and now - hit[1] < self.ttl_s:
                self._entries.move_to_end(cache_key)
                return hit[2]
        found = self._compute(store, entity, project, filters)
        with self._lock:
            self._entries[cache_key] = (stamp, now, found)
            self._entries.move_to_end(cache_key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return found

    @staticmethod
    def _fingerprint(store: Store, entity: str | None, project: str, filters: Any) -> tuple:
        """What changes when the matching runs or their keys may have: count and newest update."""
        count = store.count_runs(entity, project, filters)
        newest = store.query_runs(entity, project, filters, "-updated_at", limit=1)
        return (count, newest[0].uid, newest[0].updated_at) if newest else (count,)

    @staticmethod
    def _compute(store: Store, entity: str | None, project: str, filters: Any) -> tuple[list[str], list[str], bool]:
        records, config_rows, summary_rows = store.query_table(entity, project, filters, None)
        config_keys = list(dict.fromkeys(k for _, k, _ in config_rows))
        summary_keys = list(dict.fromkeys(k for _, k, _ in summary_rows))
        return config_keys, summary_keys, bool(records)


def catalog(cache: KeyCache, store: Store, entity: str | None, project: str, filters: Any) -> list[dict]:
    """Every column offered for the runs matching ``filters`` (see the module docstring)."""
    config_keys, summary_keys, any_runs = cache.keys(store, entity, project, filters)
    return build_catalog(config_keys, summary_keys, any_runs)


def view_columns(columns: list[dict] | None, col: list[str] | None, hide: list[str] | None,
                 pin: list[str] | None) -> list[str]:
    """The visible column keys in display order: pinned first, then the rest.

    ``col`` lists the visible columns explicitly (in order); without it the visible ones
    are the catalogue's defaults (``columns``) minus ``hide``. Every key must name a
    column (:func:`check_column`); a well-formed key no run has gives an empty column.
    """
    for key in [*(col or ()), *(hide or ()), *(pin or ())]:
        check_column(key)
    if col:
        keys = list(dict.fromkeys(col))
    else:
        hidden = set(hide or ())
        keys = [c["key"] for c in columns or () if c["default"] and c["key"] not in hidden]
    pinned = set(pin or ())
    return [k for k in keys if k in pinned] + [k for k in keys if k not in pinned]
