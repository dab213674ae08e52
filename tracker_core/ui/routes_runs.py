"""Read endpoints: projects, a page of the runs table, the column catalogue, a run's
overview and its history series. All JSON; errors as ``{"detail": message}``."""

# FastAPI and pydantic evaluate these annotations at run time, and the package supports
# Python 3.9: Optional[X], not X | None.
# ruff: noqa: UP045

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Depends, Query, Request

from ..store import Store
from .columns import FIXED, KeyCache, build_catalog, catalog, check_column, describe
from .common import exact_int, get_store, open_run, parse_filters, split_project
from .overview import history_series, overview
from .table import rows_for

MAX_LIMIT = 500
FILTERS_DOC = 'W&B-style JSON filter, e.g. {"state": "finished", "summary_metrics.acc": {"$gt": 0.9}}'
ORDER_DOC = "e.g. -summary_metrics.loss.min or +config.lr (missing values last)"
COL_DOC = "a column to return (repeat it): name, config.lr, summary.loss.min, ...; none: every column of the page"

router = APIRouter()
StoreDep = Annotated[Store, Depends(get_store)]


def key_cache(request: Request) -> KeyCache:
    """The app's column key cache (a FastAPI dependency)."""
    return request.app.state.key_cache


@router.get("/api/projects", response_model=None, summary="Projects with their number of runs")
def projects(store: StoreDep, entity: Optional[str] = None) -> dict:
    """Every project of the store (of ``entity`` if given) with its run count."""
    return {"projects": [{"entity": e, "project": p, "runs": n} for e, p, n in store.list_projects(entity)]}


@router.get("/api/runs", response_model=None,
            summary="One page of a project's runs table, filtered and sorted by the store")
def runs(store: StoreDep, project: str, entity: Optional[str] = None,
         filters: Optional[str] = Query(None, description=FILTERS_DOC),
         order: Optional[str] = Query(None, description=ORDER_DOC),
         offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=MAX_LIMIT),
         col: Annotated[Optional[list[str]], Query(description=COL_DOC)] = None) -> dict:
    """Rows ``offset .. offset+limit`` of the runs matching ``filters`` in ``order``.

    Each row carries the run's attributes plus ``config`` / ``summary`` values: those of
    the ``col`` columns, or all of the run's when no ``col`` is given. ``columns``
    describes the config and summary columns sent (``{key, kind, order, default}``), in
    the catalogue's order; the page draws them before ``/api/columns`` answers."""
    ent, proj = split_project(project, entity)
    parsed = parse_filters(filters)
    wanted = {check_column(c) for c in col} if col else None
    records = store.query_runs(ent, proj, parsed, order or None, limit=limit, offset=offset)
    total = store.count_runs(ent, proj, parsed)
    rows = rows_for(store, records, wanted)
    for row in rows:  # what a browser's JSON.parse would round, as exact digits (util.js: fmt)
        for part in ("config", "summary"):
            row[part] = {k: exact_int(v) for k, v in row[part].items()}
    typed = {k for r in rows for k, v in r["summary"].items() if isinstance(v, dict) and "_type" in v}
    if wanted is not None:
        keys = [c for c in dict.fromkeys(col or ()) if c.startswith(("config.", "summary."))]
        columns = [describe(k, typed=k.startswith("summary.") and k[len("summary."):] in typed) for k in keys]
    else:  # the page's own columns, described as /api/columns would (until it answers)
        config_keys = {k for r in rows for k in r["config"]}
        summary_keys = {k for r in rows for k in r["summary"] if k not in typed}
        columns = build_catalog(list(config_keys), list(summary_keys), False)[len(FIXED):]
    return {"total": total, "offset": offset, "limit": limit, "runs": rows, "columns": columns}


@router.get("/api/columns", response_model=None,
            summary="Every column of the runs matching a filter (for the column picker)")
def columns(store: StoreDep, cache: Annotated[KeyCache, Depends(key_cache)], project: str,
            entity: Optional[str] = None, filters: Optional[str] = Query(None, description=FILTERS_DOC)) -> dict:
    """The fixed run columns, then one per config key and per scalar summary value of ALL
    matching runs (aggregates such as ``summary.loss.min`` included), each as
    ``{key, kind, order, default}`` (``default``: shown when the URL names no columns)."""
    ent, proj = split_project(project, entity)
    parsed = parse_filters(filters)
    return {"columns": catalog(cache, store, ent, proj, parsed)}


@router.get("/api/runs/{entity}/{project}/{run_id}", response_model=None,
            summary="A run's overview: attributes, config, summary")
def run_overview(request: Request, store: StoreDep, entity: str, project: str, run_id: str) -> dict:
    """The run's attributes, config, summary rows (with rule and step), tensors; ``editable``
    says whether this server accepts edits (``tracker ui --allow-edits``)."""
    return overview(open_run(store, entity, project, run_id), editable=request.app.state.allow_edits)


@router.get("/api/runs/{entity}/{project}/{run_id}/history", response_model=None, summary="History series of some keys")
def run_history(store: StoreDep, entity: str, project: str, run_id: str,
                keys: Annotated[Optional[list[str]], Query()] = None,
                samples: int = Query(2000, ge=2, le=100_000)) -> dict:
    """Numeric history series (all keys by default), downsampled to ``samples`` points."""
    return history_series(open_run(store, entity, project, run_id), keys, samples)
