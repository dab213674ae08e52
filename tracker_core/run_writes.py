"""What the background writer takes from a live run (``Run``'s side of
``store.writer.BackgroundWriter``): a batch of everything new since the last flush,
put back after a failed write, and, for a shared run, the store's merged summary taken in;
and how the summary takes the rows of ``log()``'s fast path (``_catch_up``), which the
drain and every reader of the summary call.

Called from the writer thread; everything here runs under the run's lock.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .store import WriteBatch, history_codec
from .store.liveness import HEARTBEAT_INTERVAL
from .store.shared_runs import SharedWrite, new_token

if TYPE_CHECKING:
    import threading

    from .metrics import MetricRegistry
    from .monitor import RunMonitor
    from .summary import SummaryState


class RunWrites:
    """Mixed into :class:`tracker_core.run.Run`, whose state it reads and resets."""

    _lock: threading.RLock
    _uid: int
    _state: SummaryState
    _registry: MetricRegistry
    _monitor: RunMonitor
    _rows: list
    _applied: int
    _config_changes: dict
    _defs_dirty: bool
    _final_fields: dict
    _last_heartbeat: float
    _timestamp: float
    _start: float
    _prior_runtime: float
    _shared_writer: Any
    _shared_ops: list
    _shared_retry: WriteBatch | None

    _row: dict | None
    _row_seq: int
    _row_fast: bool
    _step: int

    def _settle_fast_row(self) -> None:
        """The open row of the fast path becomes an ordinary open row: its values are
        observed now (last values), as the general path does at each call."""
        row = self._row = history_codec.path_row(self._row)  # type: ignore[arg-type]
        self._row_fast = False
        self._state.apply(row, self._row_seq, self._step, aggregate=False)

    def _catch_up(self, grouped: bool = False) -> history_codec.Grouped | None:
        """The summary takes the rows the fast path of ``log`` committed since the last call
        (under the lock). With ``grouped``, returns the regrouping of all of ``self._rows``
        (the writer packs history from it instead of grouping the rows again)."""
        rows, done = self._rows, self._applied
        if done == len(rows):
            if self._row_fast:
                self._settle_fast_row()
            return history_codec.group_rows(rows) if grouped and rows else None
        g = history_codec.group_rows(rows[done:] if done else rows)
        self._state.apply_columns(g.per_key, g.seqs, g.steps, g.kinds)
        self._applied = len(rows)
        if self._row_fast:  # opened after the rows just taken
            self._settle_fast_row()
        if grouped and done:
            return history_codec.concat_grouped(history_codec.group_rows(rows[:done]), g)
        return g if grouped else None

    def _runtime(self) -> float:
        return self._prior_runtime + (time.time() - self._start)

    def _drain(self) -> WriteBatch | None:
        return self._drain_shared() if self._shared_writer else self._drain_plain()

    def _drain_plain(self) -> WriteBatch | None:
        with self._lock:
            grouped = self._catch_up(grouped=not self._shared_writer)
            samples, metadata = self._monitor.take()
            changed, removed, blobs = self._state.take_changes()
            # a shared run's leaves are merged and rendered by the store (its writes go as ops)
            leaves, gone = ([], []) if self._shared_writer else (changed, removed)
            query_rows = {p: self._state.query_rows(p, self._registry) for p, _ in leaves}
            batch = WriteBatch(uid=self._uid, rows=self._rows, leaves=leaves, removed_leaves=gone,
                               query_rows=query_rows, config=self._config_changes, dropped_blobs=blobs,
                               system_samples=samples, grouped=grouped)
            self._rows, self._applied, self._config_changes = [], 0, {}
            if self._defs_dirty:
                batch.metric_defs = self._registry.records()
                self._defs_dirty = False
            now = time.time()
            if (batch.has_data() or changed or removed or self._final_fields or metadata is not None
                    or now - self._last_heartbeat >= HEARTBEAT_INTERVAL):
                batch.run_fields = {"heartbeat_at": now, "updated_at": now, "last_log_at": self._timestamp,
                                    "runtime": self._runtime(), "last_step": self._state.step,
                                    **self._final_fields}
                if metadata is not None:
                    batch.run_fields["metadata"] = metadata
            elif not blobs:
                return None
        if batch.run_fields:
            self._last_heartbeat = now
        return batch

    def _drain_shared(self) -> WriteBatch | None:
        """A batch of a shared run: rows and explicit writes, no leaf records (the store
        merges); a batch that failed goes again first, unchanged (same token)."""
        with self._lock:
            if self._shared_retry is not None:
                batch, self._shared_retry = self._shared_retry, None
                batch.shared.retried = True
                return batch
        batch = self._drain_plain()
        if batch is None:
            return None
        with self._lock:  # deletions travel as ops, in order with the rows
            batch.shared = SharedWrite(writer=self._shared_writer, token=new_token(), ops=self._shared_ops)
            self._shared_ops = []
            if self._final_fields:
                batch.shared.finish = {k: self._final_fields[k] for k in ("state", "finished_at", "exit_code")}
        return batch

    def _written(self, batch: WriteBatch) -> None:
        """After a shared batch was merged: this process's view of the summary takes the
        merged leaves (other writers' values), except leaves it changed meanwhile."""
        merged = batch.shared.merged
        if merged is None:
            return
        with self._lock:
            self._catch_up()
            state = self._state
            stored = {path for path, _ in merged}
            for path in [p for p in state.leaves if p not in stored and p not in state.dirty]:
                state.forget(path)
            for path, rec in merged:
                if path not in state.dirty:
                    state.set_record(path, rec)
            step = batch.run_fields.get("last_step")
            if step is not None and (state.step is None or step > state.step):
                state.step = step

    def _requeue(self, batch: WriteBatch) -> None:
        if batch.shared is not None:
            with self._lock:
                self._shared_retry = batch
            return
        with self._lock:
            self._rows[:0] = batch.rows
            self._applied += len(batch.rows)  # taken by the summary before they were drained
            self._state.put_back(batch.leaves, batch.removed_leaves, batch.dropped_blobs)
            self._config_changes = {**batch.config, **self._config_changes}
            if batch.metric_defs is not None:
                self._defs_dirty = True

