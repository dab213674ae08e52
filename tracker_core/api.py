"""The public ``Api``: read runs back from a store and edit finished runs' summaries.

``Api().run("entity/project/run_id")`` returns a :class:`PublicRun` whose ``summary`` is
the same MutableMapping as a live run's; ``summary[k] = v`` then ``summary.update()``
persists only the changed keys, atomically, so two processes editing different keys of
one run both keep their change.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

from .errors import RunNotFoundError
from .public_run import PublicRun
from .store import Store, open_store


def _split_path(path: str, what: str) -> list[str]:
    if not isinstance(path, str):
        raise TypeError(f"{what}: path must be a str like 'entity/project', got {type(path).__name__}")
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) == 4 and parts[2] == "runs":  # the W&B URL form entity/project/runs/id
        del parts[2]
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

    def runs(self, path: str, filters: dict | None = None, order: str | list[str] | None = None,
             per_page: int = 50) -> "Runs":
        """The runs of ``"entity/project"`` (or ``"project"``: any entity).

        ``filters``: W&B's Mongo-style filters, e.g. ``{"summary_metrics.acc": {"$gt": 0.9}}``
        or ``{"$or": [{"config.lr": 0.1}, {"tags": "best"}]}`` (see ``store/query.py``);
        ``order``: ``"-summary_metrics.val/acc.best"``, ``"+config.lr"``, ``"created_at"``
        (default: oldest first). Both are evaluated by the database; runs missing the
        ordered value come last. A bad filter raises ``FilterError`` (a ValueError)."""
        if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
            raise ValueError(f"per_page must be a positive int, got {per_page!r}")
        parts = _split_path(path, "Api.runs")
        if len(parts) == 2:
            entity, project = parts
        elif len(parts) == 1:
            entity, project = None, parts[0]
        else:
            raise ValueError(f"Api.runs: expected 'entity/project', got {path!r}")
        return Runs(self._store, entity, project, filters, order, per_page)


class Runs:
    """The runs of a project that match a filter, in order; fetched ``per_page`` at a time.

    Nothing is fetched until the runs are iterated, indexed, counted or tabled (a bad
    filter or order still raises at once). ``len(runs)`` counts in the database;
    ``runs.to_pandas()`` builds one DataFrame in a few queries whatever the number of runs."""

    def __init__(self, store: Store, entity: str | None, project: str, filters: Any, order: Any,
                 per_page: int) -> None:
        self._store = store
        self._args = (entity, project)
        self._filters = filters
        self._order = order
        self._per_page = per_page
        self._pages: dict[int, list[PublicRun]] = {}
        self._count: int | None = None
        store.validate_query(entity, project, filters, order)  # type: ignore[attr-defined]

    def _page(self, n: int) -> list[PublicRun]:
        page = self._pages.get(n)
        if page is None:
            records = self._store.query_runs(*self._args, self._filters, self._order,
                                             limit=self._per_page, offset=n * self._per_page)
            page = self._pages[n] = [PublicRun(self._store, r) for r in records]
        return page

    def __len__(self) -> int:
        if self._count is None:
            self._count = self._store.count_runs(*self._args, self._filters)
        return self._count

    def __iter__(self) -> Iterator[PublicRun]:
        n = 0
        while True:
            page = self._page(n)
            yield from page
            if len(page) < self._per_page:
                return
            n += 1

    def __getitem__(self, index: int) -> PublicRun:
        if isinstance(index, slice):  # fetch only the pages the slice touches
            return [self[i] for i in range(*index.indices(len(self)))]  # type: ignore[return-value]
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"runs indices must be int, got {type(index).__name__}")
        position = index + len(self) if index < 0 else index
        if position < 0:
            raise IndexError(f"run index {index} out of range for {len(self)} runs")
        page = self._page(position // self._per_page)
        try:
            return page[position % self._per_page]
        except IndexError:
            raise IndexError(f"run index {index} out of range") from None

    def __repr__(self) -> str:
        return f"<Runs {'/'.join(a for a in self._args if a)} ({len(self)})>"

    def to_pandas(self):
        """One row per run: ``id, name, state, created_at, tags, group``, then
        ``config.<key>`` and ``summary.<key>`` columns (aggregates as ``summary.loss.min``);
        a value a run does not have is NaN."""
        import pandas as pd

        rows = []
        # the order was checked by validate_query() in __init__
        for run_id, name, state, created_at, tags, group, last_step, runtime, values in self._store.run_table(  # type: ignore[attr-defined]
                *self._args, self._filters, self._order, check_order=False):
            row = {"id": run_id, "name": name, "state": state, "created_at": created_at, "tags": tags,
                   "group": group, "summary._step": last_step, "summary._runtime": runtime}
            row.update(values)
            rows.append(row)
        df = pd.DataFrame(rows)
        if rows:  # one conversion of the column: the same UTC timestamps as pd.Timestamp(t, unit="s")
            df["created_at"] = pd.to_datetime(df["created_at"].to_numpy(), unit="s", utc=True)
        return df
