"""Api edits of a stored summary (``Store.apply_summary_ops``): the steps are the same on
both SQL backends; the SQL of each step (``_paths_under``, ``_delete_leaves``,
``_set_override``, ``_write_query_rows``) is the backend's own.
"""

from __future__ import annotations

import time
from typing import Any


class SummaryEdits:
    """Mixed into both SQL backends, inside whose write transaction ``_edit_summary`` runs."""

    _compiler: Any
    _paths_under: Any
    _delete_leaves: Any
    _set_override: Any
    _write_query_rows: Any

    def _edit_summary(self, c, uid: int, ops: list[tuple]) -> list[str]:
        """Apply ``ops`` (``("set", path, {leaf path: (value, blob)}, query rows)`` or
        ``("del", path)``) in order and move ``updated_at``; returns the blobs no leaf refers
        to any more, for the caller to delete (PostgreSQL in the transaction, SQLite's files
        after it). ``KeyError`` for deleting a key that has no leaf."""
        dropped: list[str] = []
        for op in ops:
            path = op[1]
            below = self._paths_under(c, uid, path)
            keep = set(op[2]) if op[0] == "set" else set()
            gone = [p for p, _blob in below if p not in keep]
            if gone:
                self._delete_leaves(c, uid, gone)
            dropped.extend(blob for p, blob in below if blob and p not in keep)
            if op[0] == "del":
                if not below:
                    raise KeyError(path[-1])
                continue
            for leaf_path, (value, blob) in op[2].items():
                self._set_override(c, uid, leaf_path, value, blob, dropped)
            self._write_query_rows(c, uid, op[3])
        ph = self._compiler.ph
        c.execute(f"UPDATE runs SET updated_at={ph} WHERE uid={ph}", (time.time(), uid))
        return dropped
