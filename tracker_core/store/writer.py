"""The background writer: the only thread of a live run that touches the store.

``log()`` appends to in-memory buffers; every ``interval`` seconds this thread drains
them into one :class:`WriteBatch` and writes it in a single transaction. A failed write
is put back and retried at the next flush (with one warning), so a full disk, a locked
database or a restarting server never loses rows while the process lives; ``close()``
retries a transient failure for a while and raises if the final flush still fails.
"""

from __future__ import annotations

import threading
import time
import warnings
from typing import Callable

from .base import Store, WriteBatch


class BackgroundWriter:
    def __init__(
        self,
        store: Store,
        drain: Callable[[], WriteBatch | None],
        requeue: Callable[[WriteBatch], None],
        interval: float,
        written: Callable[[WriteBatch], None] | None = None,
    ) -> None:
        self._store = store
        self._drain = drain
        self._requeue = requeue
        self._written = written
        self._interval = interval
        self._wake = threading.Event()
        self._closing = False
        self._flush_lock = threading.Lock()
        self._warned = False
        self.last_error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="tracker-core-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._closing:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._closing:
                break
            try:
                self.flush()
            except Exception:  # reported by flush(); keep the thread alive for the retry
                pass

    def flush(self) -> None:
        """Write what is buffered now; on failure keep it for the next attempt and re-raise."""
        with self._flush_lock:
            for _ in range(2):  # a shared run retries a failed batch as it was, then writes what is new
                batch = self._drain()
                if batch is None:
                    return
                try:
                    self._store.write_batch(batch)
                    self.last_error = None
                except BaseException as exc:
                    self._requeue(batch)
                    self.last_error = exc
                    if not self._warned:
                        self._warned = True
                        warnings.warn(f"tracker_core: writing to the store failed, will retry: {exc!r}",
                                      RuntimeWarning, stacklevel=2)
                    raise
                if self._written is not None:
                    self._written(batch)
                if batch.shared is None or not batch.shared.retried:
                    return

    def close(self, timeout: float = 0.0) -> None:
        """Stop the thread and flush everything synchronously. A transient failure (the
        store says which: a database restarting) is retried with backoff for up to
        ``timeout`` seconds; then, or at once for any other failure, it raises."""
        self._closing = True
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            try:
                self.flush()
                return
            except Exception as exc:
                if not self._store.is_transient(exc) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
