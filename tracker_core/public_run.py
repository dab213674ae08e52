"""``PublicRun``: a stored run as W&B's public API shows it, readable and editable.

Reads are lazy (the summary, config and history are fetched on first use). Edits of
``name``, ``notes``, ``tags``, ``group``, ``config`` and the summary are kept until
``update()`` (or ``summary.update()`` for the summary alone), which writes only what
changed, atomically.
"""

from __future__ import annotations

import copy
import datetime as _dt
import time
from typing import TYPE_CHECKING, Any, Iterator

from . import metrics
from .config import config_value
from .metrics import MetricRegistry
from .store import RunRecord, Store, WriteBatch
from .summary import SummaryState, Tree
from .summary_view import SummaryView, leaves_of

if TYPE_CHECKING:
    import numpy as np

UI_URL = "http://127.0.0.1:8765"


class PublicRun:
    """A stored run: the attributes of W&B's public run, its summary, config and history."""

    def __init__(self, store: Store, record: RunRecord) -> None:
        self._store = store
        self._record = record
        self._uid: int = record.uid  # type: ignore[assignment]
        self._state: SummaryState | None = None
        self._registry: MetricRegistry | None = None
        self._ops: list[tuple] = []
        self._config: dict | None = None
        self._config_snapshot: dict = {}
        self._run_edits: dict = {}
        self.summary = SummaryView(self)

    # -- attributes
    id = property(lambda self: self._record.run_id)
    state = property(lambda self: self._record.state)
    entity = property(lambda self: self._record.entity)
    project = property(lambda self: self._record.project)
    user = property(lambda self: self._record.metadata.get("user") or self._record.entity,
                    doc="The OS user who started the run (the entity when unknown).")
    job_type = property(lambda self: self._record.job_type)
    read_only = property(lambda self: False, doc="Always False: a local store is yours to edit.")
    metadata = property(lambda self: copy.deepcopy(self._record.metadata))

    def _editable(name: str, doc: str):  # type: ignore[misc]
        def get(self):
            return self._run_edits.get(name, getattr(self._record, name))

        def set_(self, value):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str, got {value!r} ({type(value).__name__})")
            self._run_edits[name] = value

        return property(get, set_, doc=doc)

    name = _editable("name", "Display name; set it, then call update().")
    _notes = _editable("notes", "Free-text notes; set them, then call update().")
    group = _editable("group", "Group of runs; set it, then call update().")
    del _editable

    @property
    def notes(self) -> str:
        """Free-text notes (``""`` when none); set them, then call update()."""
        return self._notes or ""

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._notes = value

    @property
    def tags(self) -> list[str]:
        """The tags; edit the list in place or assign a new one, then call update()."""
        if "tags" not in self._run_edits:
            self._run_edits["tags"] = list(self._record.tags)
        return self._run_edits["tags"]

    @tags.setter
    def tags(self, value: list[str]) -> None:
        if isinstance(value, str) or not all(isinstance(t, str) for t in value):
            raise TypeError(f"tags must be a list of str, got {value!r}")
        self._run_edits["tags"] = list(value)

    @property
    def path(self) -> list[str]:
        """``[entity, project, run_id]``, as W&B's ``run.path``."""
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> str:
        return f"{UI_URL}/{self.entity}/{self.project}/runs/{self.id}"

    @property
    def created_at(self) -> str:
        """ISO 8601 UTC, as W&B."""
        ts = _dt.datetime.fromtimestamp(self._record.created_at, tz=_dt.timezone.utc)
        return ts.strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def config(self) -> dict:
        """The config as a nested dict; change it in place, then call update()."""
        if self._config is None:
            self._config = self._store.load_config(self._uid)
            self._config_snapshot = copy.deepcopy(self._config)
        return self._config

    @property
    def system_metrics(self) -> dict:
        """The last system sample of the run (CPU, memory, GPU), ``{}`` if none was taken."""
        return self._store.last_system_sample(self._uid)

    @property
    def history_keys(self) -> dict:
        """``{"keys": [dotted keys in first-logged order], "lastStep": largest step}``."""
        keys = [".".join(p) for p in self._store.history_paths(self._uid)]
        return {"keys": keys, "lastStep": self._record.last_step}

    # -- history
    def scan_history(self, keys: list[str] | None = None, min_step: int | None = None,
                     max_step: int | None = None) -> Iterator[dict]:
        """Every history row as ``{"_step": s, "_timestamp": t, key: value, ...}`` (nested
        keys dotted), in row order; with ``keys``, only rows holding all of them."""
        wanted = list(keys) if keys else None
        for step, ts, row in self._store.read_history(self._uid, min_step, max_step):
            flat: dict = {}
            _flatten_row(row, (), flat)
            if wanted is not None:
                if not all(k in flat for k in wanted):
                    continue
                flat = {k: flat[k] for k in wanted}
            yield {"_step": step, "_timestamp": ts, **flat}

    def history(self, keys: list[str] | None = None, samples: int | None = None, pandas: bool = True):
        """History rows (a pandas DataFrame unless ``pandas=False``); ``samples=N`` keeps N
        evenly spaced rows, the first and last included (deterministic, unlike W&B's)."""
        rows = list(self.scan_history(keys=keys))
        if samples is not None:
            if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
                raise ValueError(f"samples must be a positive int, got {samples!r}")
            if len(rows) > samples:
                last = len(rows) - 1
                picks = sorted({round(i * last / (samples - 1)) for i in range(samples)}) if samples > 1 else [0]
                rows = [rows[i] for i in picks]
        if not pandas:
            return rows
        import pandas as pd

        return pd.DataFrame(rows)

    # -- edits
    def update(self) -> None:
        """Persist edits of name, notes, tags, group, config and summary (changed parts only)."""
        fields = {k: v for k, v in self._run_edits.items() if v != getattr(self._record, k)}
        changed_config = {}
        if self._config is not None:
            for key, value in self._config.items():
                if key not in self._config_snapshot or self._config_snapshot[key] != value:
                    changed_config[key] = config_value(value, key)
            removed = set(self._config_snapshot) - set(self._config)
            if removed:
                raise ValueError(f"config keys cannot be deleted: {sorted(removed)}")
        if fields:
            self._store.update_run(self._uid, **fields, updated_at=time.time())
            for key, value in fields.items():
                setattr(self._record, key, list(value) if key == "tags" else value)
        if changed_config:
            self._store.write_batch(WriteBatch(uid=self._uid, config=changed_config,
                                               run_fields={"updated_at": time.time()}))
            self._config_snapshot = copy.deepcopy(self._config)
        self._run_edits = {}
        self.summary_flush()

    def delete(self) -> None:
        """Delete the run with its history, summary, config and tensors. Cannot be undone."""
        self._store.delete_run(self._uid)

    def define_metric(self, name: str, step_metric: str | None = None, step_sync: bool | None = None,
                      hidden: bool | None = None, summary: str | list[str] | None = None,
                      objective: str | None = None, overwrite: bool | None = None, *,
                      goal: str | None = None) -> metrics.MetricDef:
        """Define a metric after the fact: the run's summary is recomputed and stored.

        Aggregates are kept for every numeric leaf from its first value, so
        ``define_metric("loss", summary="min")`` on a finished run gives the min over all
        of its history (W&B cannot do this)."""
        new = metrics.build_def(name, step_metric=step_metric, step_sync=step_sync, hidden=hidden,
                                summary=summary, objective=objective, goal=goal)
        state, registry = self._loaded()
        stored = registry.define(new, overwrite=overwrite)
        rows = {p: state.query_rows(p, registry) for p in state.leaves}
        self._store.write_batch(WriteBatch(uid=self._uid, metric_defs=registry.records(), query_rows=rows,
                                           run_fields={"updated_at": time.time()}))
        return stored

    def recompute_summary(self) -> None:
        """Rebuild every logged leaf's aggregates by replaying the stored history.

        Explicitly written values (and their tensors) are kept; leaves deleted from the
        summary but present in history come back. The result equals what the live run
        computed, except that step-metric values synced into rows now count as logged."""
        state, registry = self._loaded()
        fresh = SummaryState()
        for seq, (step, _ts, row) in enumerate(self._store.read_history(self._uid)):
            flat: dict = {}
            _flatten_row(row, (), flat, as_paths=True)
            fresh.apply(flat, seq, step)
        fresh.step = state.step
        for path, st in state.leaves.items():
            if st.has_override:
                fresh.write(path, st.override, st.blob)
        fresh.dropped_blobs.clear()  # the blobs kept above stay; none is dropped by a replay
        records = [(p, st.to_record()) for p, st in fresh.leaves.items()]
        rows = {p: fresh.query_rows(p, registry) for p in fresh.leaves}
        self._store.replace_summary(self._uid, records, rows)
        self._store.update_run(self._uid, updated_at=time.time())
        self._state = None

    def __repr__(self) -> str:
        return f"<PublicRun {'/'.join(self.path)} ({self.state})>"

    # -- summary owner protocol (see summary_view.SummaryOwner)
    def _loaded(self) -> tuple[SummaryState, MetricRegistry]:
        if self._state is None or self._registry is None:
            self._registry = MetricRegistry()
            self._registry.load(self._store.load_metric_defs(self._uid))
            self._state = SummaryState.from_records(self._store.load_leaves(self._uid), self._record.last_step)
        return self._state, self._registry

    def summary_tree(self) -> Tree:
        state, registry = self._loaded()
        return state.render(registry, self._record.runtime, self._record.last_log_at)

    def summary_set(self, path: tuple, value: Any) -> None:
        leaves = leaves_of(path, value, lambda name, arr: self._store.put_blob(self._uid, name, arr))
        state, registry = self._loaded()
        state.replace(path, leaves)
        self._ops.append(("set", path, leaves, {p: state.query_rows(p, registry) for p in leaves}))

    def summary_delete(self, path: tuple) -> None:
        state, _ = self._loaded()
        state.delete(path)
        self._ops.append(("del", path))

    def summary_details(self, path: tuple) -> dict:
        state, registry = self._loaded()
        return state.details(path, registry)

    def summary_load_tensor(self, path: tuple) -> "np.ndarray":
        state, _ = self._loaded()
        leaf = state.leaves.get(path)
        if leaf is None or not leaf.blob or not leaf.has_override:
            raise KeyError(f"summary key {'.'.join(path)!r} holds no stored tensor")
        return self._store.get_blob(self._uid, leaf.blob)

    def summary_flush(self) -> None:
        """Persist the pending summary edits (only the keys changed here), in one transaction."""
        if not self._ops:
            return
        ops, self._ops = self._ops, []
        self._store.apply_summary_ops(self._uid, ops)
        self._state = None  # re-read: other writers' keys show up too


def _flatten_row(row: dict, prefix: tuple, out: dict, as_paths: bool = False) -> None:
    """A stored (nested) history row -> ``{"a.b": v}`` (or ``{("a", "b"): v}``)."""
    for k, v in row.items():
        if type(v) is dict and "_type" not in v and v:
            _flatten_row(v, prefix + (k,), out, as_paths)
        else:
            out[prefix + (k,) if as_paths else ".".join(prefix + (k,))] = v
