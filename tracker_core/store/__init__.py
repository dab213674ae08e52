"""Stores: the :class:`Store` interface and its backends; :func:`open_store` picks one by URL."""

from __future__ import annotations

import os
import threading

from .. import settings
from .base import (
    CRASHED,
    FAILED,
    FINISHED,
    RUNNING,
    RunExistsError,
    RunRecord,
    Store,
    WriteBatch,
)

__all__ = ["Store", "RunRecord", "WriteBatch", "RunExistsError", "open_store",
           "RUNNING", "FINISHED", "FAILED", "CRASHED"]

_open: dict[tuple[str, int], Store] = {}
_lock = threading.Lock()


def open_store(store: str | os.PathLike | None = None) -> Store:
    """The store at ``store`` (or ``TRACKER_STORE``, or ``./tracker_runs``), shared per process."""
    url = settings.resolve_store_url(store)
    if url.startswith(("postgresql://", "postgres://")):
        key = (url, os.getpid())  # a forked child must not share its parent's pool
        with _lock:
            found = _open.get(key)
            if found is None:
                from .postgres import PostgresStore

                found = _open[key] = PostgresStore(url)
            return found
    if "://" in url and not url.startswith("sqlite:///"):
        raise ValueError(f"unknown store URL {url!r}: expected a directory, a sqlite:/// URL or postgresql://")
    path = settings.sqlite_path(url)
    key = (path, os.getpid())  # a forked child must not share its parent's connection
    with _lock:
        found = _open.get(key)
        if found is None:
            from .sqlite import SQLiteStore

            found = _open[key] = SQLiteStore(path)
        return found
