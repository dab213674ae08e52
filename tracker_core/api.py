"""The public ``Api``: read runs back from a store and edit finished runs' summaries.

``Api().run("entity/project/run_id")`` returns a :class:`PublicRun` whose ``summary`` is
the same MutableMapping as a live run's; ``summary[k] = v`` then ``summary.update()``
persists only the changed keys, atomically, so two processes editing different keys of
one run both keep their change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

import datetime as _dt
import os
from typing import Any, Iterator

from .errors import RunNotFoundError
from .metrics import MetricRegistry
from .store import RunRecord, Store, open_store
from .summary import SummaryState, Tree
from .summary_view import SummaryView, leaves_of

UI_URL = "http://127.0.0.1:8765"


def _split_path(path: str, what: str) -> list[str]:
    if not isinstance(path, str):
        raise TypeError(f"{what}: path must be a str like 'entity/project', got {type(path).__name__}")
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) >= 2 and parts[-2] == "runs":  # the W&B URL form entity/project/runs/id
        del parts[-2]
    return parts


class Api:
    """Read and edit runs in a store (default: ``TRACKER_STORE`` or ``./tracker_runs``)."""

    def __init__(self, store: str | os.PathLike | None = None) -> None:
        self._store: Store = open_store(store)

    @property
    def store_url(self) -> str:
        return self._store.url

    def run(self, path: str) -> "PublicRun":
        """One run by ``"entity/project/run_id"`` (or ``"project/run_id"``: any entity)."""
        parts = _split_path(path, "Api.run")
        if len(parts) == 3:
            entity, project, run_id = parts
        elif len(parts) == 2:
            entity, (project, run_id) = None, parts
        else:
            raise ValueError(f"Api.run: expected 'entity/project/run_id', got {path!r}")
        record = self._store.get_run(entity, project, run_id)
        if record is None:
            raise RunNotFoundError(f"run {path!r} not found in {self._store.url}")
        return PublicRun(self._store, record)

    def runs(self, path: str) -> "Runs":
        """The runs of ``"entity/project"`` (or ``"project"``: any entity), oldest first."""
        parts = _split_path(path, "Api.runs")
        if len(parts) == 2:
            entity, project = parts
        elif len(parts) == 1:
            entity, project = None, parts[0]
        else:
            raise ValueError(f"Api.runs: expected 'entity/project', got {path!r}")
        return Runs(self._store, [PublicRun(self._store, r) for r in self._store.list_runs(entity, project)])


class Runs:
    """A sequence of :class:`PublicRun`."""

    def __init__(self, store: Store, runs: list["PublicRun"]) -> None:
        self._store = store
        self._runs = runs

    def __iter__(self) -> Iterator["PublicRun"]:
        return iter(self._runs)

    def __len__(self) -> int:
        return len(self._runs)

    def __getitem__(self, index: int) -> "PublicRun":
        return self._runs[index]

    def __repr__(self) -> str:
        return f"<Runs {len(self._runs)}>"


class PublicRun:
    """A stored run: attributes of W&B's public run, its summary, config and history."""

    def __init__(self, store: Store, record: RunRecord) -> None:
        self._store = store
        self._record = record
        self._uid: int = record.uid  # type: ignore[assignment]
        self._state: SummaryState | None = None
        self._registry: MetricRegistry | None = None
        self._ops: list[tuple] = []
        self._config: dict | None = None
        self.summary = SummaryView(self)

    # -- attributes
    id = property(lambda self: self._record.run_id)
    name = property(lambda self: self._record.name)
    state = property(lambda self: self._record.state)
    entity = property(lambda self: self._record.entity)
    project = property(lambda self: self._record.project)
    user = property(lambda self: self._record.entity)
    notes = property(lambda self: self._record.notes)
    group = property(lambda self: self._record.group)
    job_type = property(lambda self: self._record.job_type)
    read_only = property(lambda self: False)
    metadata = property(lambda self: dict(self._record.metadata))
    system_metrics = property(lambda self: {})

    @property
    def tags(self) -> list[str]:
        return list(self._record.tags)

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
        if self._config is None:
            self._config = self._store.load_config(self._uid)
        return self._config

    @property
    def history_keys(self) -> dict:
        """``{"keys": [dotted keys in first-logged order], "lastStep": largest step}``."""
        keys = [".".join(p) for p in self._store.history_paths(self._uid)]
        return {"keys": keys, "lastStep": self._record.last_step}

    def scan_history(self, keys: list[str] | None = None, min_step: int | None = None,
                     max_step: int | None = None) -> Iterator[dict]:
        """Every history row as ``{"_step": s, "_timestamp": t, key: value, ...}`` (nested
        keys dotted), in the order logged; with ``keys``, only rows holding all of them."""
        wanted = set(keys) if keys else None
        for step, ts, row in self._store.read_history(self._uid, min_step, max_step):
            flat: dict = {}
            _flatten_row(row, (), flat)
            if wanted is not None:
                if not wanted.issubset(flat):
                    continue
                flat = {k: flat[k] for k in keys}  # type: ignore[union-attr]
            yield {"_step": step, "_timestamp": ts, **flat}

    def history(self, keys: list[str] | None = None, pandas: bool = True):
        """All history rows; a pandas DataFrame when ``pandas`` (the default), else a list."""
        rows = list(self.scan_history(keys=keys))
        if not pandas:
            return rows
        import pandas as pd

        return pd.DataFrame(rows)

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

    def summary_load_tensor(self, path: tuple) -> np.ndarray:
        state, _ = self._loaded()
        leaf = state.leaves.get(path)
        if leaf is None or not leaf.blob or not leaf.has_override:
            raise KeyError(f"summary key {'.'.join(path)!r} holds no stored tensor")
        return self._store.get_blob(self._uid, leaf.blob)

    def summary_flush(self) -> None:
        """Persist the pending edits (only the keys changed here), in one transaction."""
        if not self._ops:
            return
        ops, self._ops = self._ops, []
        self._store.apply_summary_ops(self._uid, ops)
        self._state = None  # re-read: other writers' keys show up too


def _flatten_row(row: dict, prefix: tuple, out: dict) -> None:
    for k, v in row.items():
        if type(v) is dict and "_type" not in v and v:
            _flatten_row(v, prefix + (k,), out)
        else:
            out[".".join(prefix + (k,))] = v
