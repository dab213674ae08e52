"""Rows of the runs table, built from :class:`~tracker_core.public_run.PublicRun` (the
Api's own reading of a run), so the table, the CSV export, the CLI and the Api agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..cli._show import _flat
from ..public_run import PublicRun
from ..store import RunRecord, Store
from .columns import HIDDEN_SUMMARY

PAGE = 500  # runs read per query when walking all matching runs (CSV export)


def flat_summary(run: PublicRun) -> dict[str, Any]:
    """The rendered summary flattened to dotted keys (``loss.min``); a tensor's stats dict
    stays whole under its key (``w``) and also gives one key per stat (``w.mean``)."""
    out: dict[str, Any] = {}
    for key, value in _flat(run.summary_tree()):
        out[key] = value
        if isinstance(value, dict) and "_type" in value:
            for part, v in value.items():
                out[f"{key}.{part}"] = v
    return out


def run_row(run: PublicRun, wanted: set[str] | None = None) -> dict:
    """One table row: the run's attributes plus ``config`` and ``summary`` dicts of the
    wanted column keys (``config.lr``, ``summary.loss.min``; None: every key of the run)."""
    summary = flat_summary(run)
    runtime = summary.get("_runtime")
    row = {"id": run.id, "entity": run.entity, "project": run.project, "name": run.name, "state": run.state,
           "created_at": run.created_at, "runtime": runtime, "tags": list(run.tags), "group": run.group,
           "notes": run.notes, "job_type": run.job_type}
    if wanted is not None and "host" in wanted:  # hidden by default; metadata is a deep copy
        row["host"] = run.metadata.get("host")
    if wanted is None:
        row["config"] = dict(_flat(run.config))
        row["summary"] = {k: v for k, v in summary.items() if k not in HIDDEN_SUMMARY}
        return row
    config_keys = [k[len("config."):] for k in wanted if k.startswith("config.")]
    summary_keys = [k[len("summary."):] for k in wanted if k.startswith("summary.")]
    config = dict(_flat(run.config)) if config_keys else {}
    row["config"] = {k: config[k] for k in config_keys if k in config}
    row["summary"] = {k: summary[k] for k in summary_keys if k in summary}
    return row


def value_of(row: dict, key: str) -> Any:
    """The value of column ``key`` in ``row`` (None when the run has none)."""
    if key.startswith("config."):
        return row["config"].get(key[len("config."):])
    if key.startswith("summary."):
        return row["summary"].get(key[len("summary."):])
    return row.get(key)


def rows_for(store: Store, records: Iterable[RunRecord], wanted: set[str] | None) -> list[dict]:
    """Table rows of ``records``, in their order."""
    return [run_row(PublicRun(store, r), wanted) for r in records]


def all_rows(store: Store, entity: str | None, project: str, filters: Any, order: str | None,
             wanted: set[str] | None) -> Iterator[list[dict]]:
    """Every matching run's row in ``order``, :data:`PAGE` runs per query."""
    offset = 0
    while True:
        records = store.query_runs(entity, project, filters, order or None, limit=PAGE, offset=offset)
        if records:
            yield rows_for(store, records, wanted)
        if len(records) < PAGE:
            return
        offset += PAGE
