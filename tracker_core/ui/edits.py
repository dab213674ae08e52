"""Edits of a run from the UI: name, notes, tags and summary values, only when the server
was started with ``--allow-edits`` (403 otherwise).

Every edit goes through the Api's own path: attributes set on a
:class:`~tracker_core.public_run.PublicRun`, ``run.summary[key] = value`` / ``del
run.summary[key]``, then ``run.update()``, which writes the changed keys only,
atomically (so two editors of different keys both keep their change).
"""

# FastAPI and pydantic evaluate these annotations at run time, and the package supports
# Python 3.9: Optional[X], not X | None.
# ruff: noqa: UP045

from __future__ import annotations

from typing import Annotated, Any, Optional

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from ..cli._common import parse_value
from ..cli._show import SPECIAL
from ..store import Store
from .common import get_store, open_run
from .overview import overview

router = APIRouter()


class RunEdit(BaseModel):
    """Edits of one run; every field is optional.

    ``summary`` sets top-level summary keys to JSON values; ``summary_text`` sets them from
    text read as ``tracker summary KEY=VALUE`` reads it (JSON when it parses, ``NaN`` and
    ``Infinity`` included, else the text itself); ``delete_summary`` removes keys."""

    name: Optional[str] = None
    notes: Optional[str] = None
    tags: Optional[list[str]] = None
    summary: Optional[dict[str, Any]] = None
    summary_text: Optional[dict[str, str]] = Field(default=None, description='e.g. {"test/acc": "0.93"}')
    delete_summary: Optional[list[str]] = Field(default=None)


def apply_edit(run: Any, edit: RunEdit) -> None:
    """Apply ``edit`` to ``run`` (a PublicRun) and persist it with ``run.update()``.

    Raises:
        HTTPException: 400 naming the bad key or value (nothing is written then).
    """
    updates = dict(edit.summary or {})
    for key, text in (edit.summary_text or {}).items():
        if key in updates:
            raise HTTPException(400, f"summary key {key!r} is given in both summary and summary_text")
        updates[key] = parse_value(text)
    deletes = list(dict.fromkeys(edit.delete_summary or ()))
    both = sorted(set(updates) & set(deletes))
    if both:
        raise HTTPException(400, f"summary key(s) {both} are both set and deleted")
    for key in list(updates) + deletes:
        if not key or key in SPECIAL:
            raise HTTPException(400, f"summary key {key!r} cannot be edited from the UI (empty or one of "
                                     f"{', '.join(SPECIAL)}, which the run itself keeps)")
    for key in deletes:
        if key not in run.summary:
            raise HTTPException(400, f"summary key {key!r} not found")
    try:
        for name in ("name", "notes", "tags"):
            value = getattr(edit, name)
            if value is not None:
                setattr(run, name, value)
        for key, value in updates.items():
            run.summary[key] = value
        for key in deletes:
            del run.summary[key]
    except (TypeError, ValueError, KeyError) as exc:
        raise HTTPException(400, str(exc)) from None
    run.update()


@router.patch("/api/runs/{entity}/{project}/{run_id}", response_model=None,
              summary="Edit name, notes, tags and summary values (only with --allow-edits, else 403)")
def edit_run(request: Request, store: Annotated[Store, Depends(get_store)], entity: str, project: str, run_id: str,
             edit: Annotated[RunEdit, Body()]) -> dict:
    """Apply the edit through ``PublicRun.update()`` and answer the run's new overview."""
    if not request.app.state.allow_edits:
        raise HTTPException(403, "the UI is read-only: start it with `tracker ui --allow-edits` to edit runs")
    apply_edit(open_run(store, entity, project, run_id), edit)
    return overview(open_run(store, entity, project, run_id), editable=True)
