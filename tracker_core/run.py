"""The live ``Run``: ``log``, ``define_metric``, ``summary``, ``config``, ``finish``.

Everything here is in memory; the background writer (``store.writer``) persists it.
``log()`` follows W&B's ``step=``/``commit=`` rules (DESIGN.md 3.6) except that a row for
a lower step is kept, not dropped (an error with ``strict=True``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

import threading
import time
from collections.abc import Mapping
from typing import Any

from . import metrics, settings
from .config import Config
from .errors import RunFinishedError
from .monitor import RunMonitor
from .run_writes import RunWrites
from .store import FAILED, FINISHED, RunRecord, Store, WriteBatch
from .store.writer import BackgroundWriter
from .summary import SummaryState, Tree
from .summary_view import SummaryView, leaves_of
from .values import PLAIN_TYPES, convert_log_value


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not hasattr(step, "__index__"):
        raise TypeError(f"log: step must be an int, got {step!r} ({type(step).__name__})")
    step = step.__index__()
    if step < 0:
        raise ValueError(f"log: step must be >= 0, got {step}")
    return step


class Run(RunWrites):
    """A live run. Made by :func:`tracker_core.init`; use as a context manager to finish it."""

    def __init__(self, store: Store, record: RunRecord, *, strict: bool, resumed: bool,
                 flush_interval: float, config: dict | None = None, system_metrics: bool | None = None,
                 writer: str | None = None, first_step: int | None = None) -> None:
        self._store = store
        self._record = record
        self._uid: int = record.uid  # type: ignore[assignment]
        self._strict = strict
        self.resumed = resumed
        self._lock = threading.RLock()
        self._registry = metrics.MetricRegistry()
        self._defs_dirty = False
        self._state = SummaryState()
        self._config_changes: dict = {}
        self._rows: list = []  # committed rows not yet written: (seq, step, timestamp, {path: value})
        self._applied = 0  # how many of them the summary has taken (the rest came by log's fast path)
        self._seq = 0  # sequence number of the next history row (order in which rows were opened)
        # One shared ("key",) tuple per top-level key: log() allocates no path tuples, which
        # keeps the garbage collector's work per step small while rows wait for the writer.
        self._paths: dict[str, tuple] = {}
        self._known: set[str] = set()  # the top-level keys checked by the general path of log()
        self._row: dict | None = None  # the pending (uncommitted) row
        self._row_fast = False  # opened by log()'s fast path (str keys, not observed yet: _settle_fast_row)
        self._row_seq = 0  # its sequence number, given when it was opened
        self._step = 0  # step of the pending / next row
        self._finished = False  # no more logging
        self._closed = False  # finished and everything written
        self._final_fields: dict = {}
        self._last_heartbeat = 0.0
        self._start = time.time()
        self._prior_runtime = record.runtime or 0.0
        self._timestamp = self._start
        if resumed:
            self._registry.load(store.load_metric_defs(self._uid))
            self._state = SummaryState.from_records(store.load_leaves(self._uid), record.last_step)
            if record.last_step is not None:
                self._step = record.last_step + 1
            self._seq = store.history_length(self._uid)
        if first_step is not None:  # a shared run's writer: the session's common base (shared_runs)
            self._step = first_step
        self._step_sync = self._registry.has_step_metrics  # rows need step-metric syncing
        self._sync_free_keys: dict[tuple, bool] = {}  # a row's keys -> no key of it needs syncing
        self._config = Config(self._on_config_change, store.load_config(self._uid) if resumed else None)
        if config:
            self._config.update(config)
        self._summary = SummaryView(self)
        # A shared run (several processes): the store merges rows and explicit summary writes
        # (store/shared_runs.py); this process keeps the writes in order and retries a failed
        # batch as it was, so that the store can recognise it.
        self._shared_writer = writer
        self._shared_ops: list = []
        self._shared_retry: WriteBatch | None = None
        self._monitor = RunMonitor(record.metadata, system_metrics)
        self._writer = BackgroundWriter(store, self._drain, self._requeue, flush_interval,
                                        written=self._written if writer else None)
        self._writer.start()

    # -- identity
    id = property(lambda self: self._record.run_id)
    entity = property(lambda self: self._record.entity)
    project = property(lambda self: self._record.project)
    name = property(lambda self: self._record.name)
    tags = property(lambda self: tuple(self._record.tags))
    notes = property(lambda self: self._record.notes)
    group = property(lambda self: self._record.group)
    job_type = property(lambda self: self._record.job_type)
    config = property(lambda self: self._config)
    summary = property(lambda self: self._summary)
    step = property(lambda self: self._step, doc="The step the next row will get.")
    finished = property(lambda self: self._finished)

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def store_url(self) -> str:
        return self._store.url

    def __repr__(self) -> str:
        return f"<tracker_core.Run {self.path} name={self.name!r}{' finished' if self._finished else ''}>"

    def _check_open(self, what: str) -> None:
        if self._finished:
            raise RunFinishedError(
                f"{what}: run {self.path} is finished. To change a finished run's summary use "
                f"tracker_core.Api().run({self.path!r}).summary[...] = value; "
                f"then .summary.update()"
            )

    # -- logging
    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """Add ``data`` to history (next step, or ``step``) and update the summary.

        ``commit=False`` keeps the row open for more keys; ``step=s`` with ``s`` above the
        current step starts a new row at ``s``; a lower ``s`` adds its own row (kept, unless
        ``init(strict=True)``, where it raises ``ValueError``)."""
        if (commit is None and type(data) is dict and not self._finished
                and self._known.issuperset(data) and PLAIN_TYPES.issuperset(map(type, data.values()))):
            # The fast path: a plain dict of known top-level keys and plain values, at the
            # next step or at ``step=`` (not below the current one). The row is a copy of the
            # caller's dict (str keys stand for top-level paths: history_codec.group_rows);
            # the summary takes committed rows later, a batch at a time (``_catch_up``: before
            # anything reads or changes the summary, and in the writer's drain). No Python
            # loop over the keys on the training thread.
            flat = data.copy()
            with self._lock:
                if (not self._step_sync or self._sync_free(flat)) and not self._finished:
                    if step is None:
                        if self._row is None:
                            seq, self._seq = self._seq, self._seq + 1
                            step, self._step = self._step, self._step + 1
                            self._timestamp = ts = time.time()
                            self._rows.append((seq, step, ts, flat))
                            return
                    elif type(step) is int and step >= self._step:
                        # W&B's log(row, step=s): the row stays open for more keys at s and is
                        # committed when a later step starts (or at finish)
                        if step > self._step:
                            if self._row_fast:
                                self._commit_fast_row()
                            elif self._row is not None:  # an open row of the general path
                                self._catch_up()
                                self._commit_pending()
                            self._step = step
                        if self._row is None:
                            self._row, self._row_fast = flat, True
                            self._row_seq, self._seq = self._seq, self._seq + 1
                            return
                        if self._row_fast:
                            self._row.update(flat)
                            return
        self._log(data, step, commit)

    def _log(self, data: Mapping[str, Any], step: int | None, commit: bool | None) -> None:
        """The general path of ``log``: any values and keys, ``step=``, ``commit=``."""
        self._check_open("log")
        if type(data) is not dict and not isinstance(data, Mapping):
            raise TypeError(f"log: data must be a dict of metric names to values, got {type(data).__name__}")
        if commit is not None and not isinstance(commit, bool):
            raise TypeError(f"log: commit must be True, False or None, got {commit!r}")
        if step is not None:
            step = _check_step(step)
        flat: dict = {}
        paths = self._paths
        for key, value in data.items():
            path = paths.get(key)
            if path is None:
                if type(key) is not str:
                    raise TypeError(f"log: keys must be str, got {key!r} ({type(key).__name__})")
                path = paths[key] = (key,)
                self._known.add(key)
            if type(value) in PLAIN_TYPES:
                flat[path] = value
            else:
                self._flatten(key, path, value, flat)
        with self._lock:
            self._catch_up()
            state = self._state
            if step is not None and step < self._step:
                if self._strict:
                    raise ValueError(f"log: step {step} is lower than the current step {self._step} (strict=True)")
                seq, self._seq = self._seq, self._seq + 1
                state.apply(flat, seq, step)
                self._commit(flat, seq, step)  # its own row; the current step does not move
                return
            if step is not None and step > self._step:
                if self._row is not None:
                    self._commit_pending()
                self._step = step
            commit_now = commit or (commit is None and step is None)
            if self._row is None:
                seq, self._seq = self._seq, self._seq + 1
                if commit_now:  # observe, aggregate and commit in one pass
                    state.apply(flat, seq, self._step)
                    self._commit(flat, seq, self._step)
                    self._step += 1
                    return
                self._row, self._row_seq = flat, seq
            else:
                self._row.update(flat)
            state.apply(flat, self._row_seq, self._step, aggregate=False)
            if commit_now:
                self._commit_pending()
                self._step += 1

    def _commit_fast_row(self) -> None:
        """The open row of the fast path enters history, for the summary to take later."""
        self._timestamp = ts = time.time()
        self._rows.append((self._row_seq, self._step, ts, self._row))
        self._row, self._row_fast = None, False

    def _commit_pending(self) -> None:
        """The open row enters history and the aggregates, with its final values."""
        row, self._row = self._row, None
        self._state.apply(row, self._row_seq, self._step, observe=False)
        self._commit(row, self._row_seq, self._step)

    def _flatten(self, key: str, path: tuple, value: Any, out: dict) -> None:
        if isinstance(value, Mapping) and "_type" not in value:
            for k, v in value.items():
                if type(k) is not str:
                    raise TypeError(f"log: keys must be str, got {k!r} ({type(k).__name__}) under {key!r}")
                self._flatten(f"{key}.{k}", path + (k,), v, out)
        elif isinstance(value, Mapping):
            out[path] = {k: convert_log_value(v, f"{key}.{k}") for k, v in value.items()}
        else:
            out[path] = convert_log_value(value, key)

    def _commit(self, row: dict, seq: int, step: int) -> None:
        state = self._state
        if self._step_sync:
            self._sync_step_metrics(row)
        if state.step is None or step > state.step:
            state.step = step
        self._timestamp = time.time()
        self._rows.append((seq, step, self._timestamp, row))
        self._applied = len(self._rows)

    def _sync_free(self, row: dict) -> bool:
        """Whether no key of a fast-path row (top-level str keys) has a definition whose step
        metric is missing from the row, so that syncing would add nothing (Keras logs
        ``batch/*`` rows with ``batch/step`` and ``epoch/*`` rows with ``epoch/epoch``).
        Cached per key tuple until the definitions change."""
        keys = tuple(row)
        free = self._sync_free_keys.get(keys)
        if free is None:
            resolve = self._registry.resolve
            free = not any((res := resolve((key,))).step_metric and res.step_sync and res.step_metric not in row
                           for key in keys)
            if len(self._sync_free_keys) >= 1024:  # keys that change every row: keep it bounded
                self._sync_free_keys.clear()
            self._sync_free_keys[keys] = free
        return free

    def _sync_step_metrics(self, row: dict) -> None:
        """Rows with a metric whose definition names a step metric get its latest value."""
        resolve, leaves = self._registry.resolve, self._state.leaves
        extra = {}
        for path in row:
            res = resolve(path)
            if res.step_metric and res.step_sync:
                sm = (res.step_metric,)
                if sm not in leaves:
                    sm = tuple(res.step_metric.split("."))
                leaf = leaves.get(sm)
                if leaf is not None and leaf.has_last and sm not in row:
                    extra[sm] = leaf.last  # nothing is invented before the metric was logged
        row.update(extra)

    def define_metric(self, name: str, step_metric: str | None = None, step_sync: bool | None = None,
                      hidden: bool | None = None, summary: str | list[str] | None = None,
                      objective: str | None = None, overwrite: bool | None = None, *,
                      goal: str | None = None) -> metrics.MetricDef:
        """Define how ``name`` (exact, dotted, or a trailing-``*`` glob) is summarised.

        ``summary``: ``"min,max"`` or a list of ``min max mean first last best none``;
        ``best`` needs ``objective="minimize"|"maximize"`` (``goal=`` is an alias).
        Calls on one name merge unless ``overwrite=True``. Returns the stored definition."""
        self._check_open("define_metric")
        new = metrics.build_def(name, step_metric=step_metric, step_sync=step_sync, hidden=hidden,
                                summary=summary, objective=objective, goal=goal)
        with self._lock:
            self._catch_up()
            stored = self._registry.define(new, overwrite=overwrite)
            self._step_sync = self._registry.has_step_metrics
            self._sync_free_keys = {}
            self._defs_dirty = True
            self._state.touch_all()  # renderings (and their query rows) may have changed
        return stored

    # -- summary owner protocol (see summary_view.SummaryOwner)
    def summary_tree(self) -> Tree:
        with self._lock:
            self._catch_up()
            return self._state.render(self._registry, self._runtime(), self._timestamp)

    def summary_set(self, path: tuple, value: Any) -> None:
        self._check_open("summary write")
        leaves = leaves_of(path, value, lambda name, arr: self._store.put_blob(self._uid, name, arr))
        with self._lock:
            self._catch_up()
            self._state.replace(path, leaves)
            if self._shared_writer:
                self._shared_ops.append((self._seq, ("set", path, leaves)))

    def summary_delete(self, path: tuple) -> None:
        self._check_open("summary delete")
        with self._lock:
            self._catch_up()
            self._state.delete(path)
            if self._shared_writer:
                self._shared_ops.append((self._seq, ("del", path)))

    def summary_details(self, path: tuple) -> dict:
        with self._lock:
            self._catch_up()
            return self._state.details(path, self._registry)

    def summary_load_tensor(self, path: tuple) -> np.ndarray:
        with self._lock:
            self._catch_up()
            leaf = self._state.leaves.get(path)
            blob = leaf.blob if leaf is not None and leaf.has_override else None
        if blob is None:
            raise KeyError(f"summary key {'.'.join(path)!r} holds no stored tensor")
        return self._store.get_blob(self._uid, blob)

    def summary_flush(self) -> None:
        """Nothing to do: a live run's summary is persisted by the background writer."""

    # -- config
    def _on_config_change(self, key: str, value: Any) -> None:
        self._check_open("config write")
        with self._lock:
            self._config_changes[key] = value

    # -- lifecycle
    def flush(self) -> None:
        """Write everything logged so far to the store now (the writer does it every
        ``TRACKER_FLUSH_INTERVAL`` seconds anyway); raises if the store cannot be written."""
        if not self._finished:
            self._writer.flush()

    def finish(self, exit_code: int | None = None) -> None:
        """Commit the open row, flush everything to the store and close the run.

        ``exit_code`` other than 0 marks the run ``failed``. Calling it twice is harmless;
        after a finish that raised (the store unreachable for ``TRACKER_FINISH_TIMEOUT``
        seconds) another call retries the write of what is still buffered."""
        with self._lock:
            if self._closed:
                return
            if not self._finished:
                if self._row_fast:  # the summary takes it with the other rows, in the drain
                    self._commit_fast_row()
                    self._step += 1
                elif self._row is not None:
                    self._commit_pending()
                    self._step += 1
                self._finished = True
                self._final_fields = {"state": FAILED if exit_code else FINISHED, "finished_at": time.time(),
                                      "exit_code": exit_code or 0}
        self._monitor.close()
        # If the store stays unreachable past the finish timeout this raises; the rows stay
        # buffered and calling finish() again (or interpreter exit) retries them.
        self._writer.close(timeout=settings.finish_timeout())
        self._closed = True
        from . import sdk

        sdk._forget(self)

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.finish(exit_code=1 if exc_type is not None else 0)
