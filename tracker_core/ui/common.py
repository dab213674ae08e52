"""What every UI router shares: the JSON response class, request parsing, run lookup.

Routers reach the app's store (``request.app.state.store``, from ``open_store``, as the
Api's) and read runs as :class:`~tracker_core.public_run.PublicRun`, the same code as the
public Api and the CLI.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

from ..cli._common import to_json
from ..errors import RunNotFoundError
from ..public_run import PublicRun
from ..store import Store
from ..store.query import FilterError

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class SafeJSONResponse(JSONResponse):
    """JSON with NaN/inf as strings (strict JSON that browsers parse), everything else exact."""

    def render(self, content: Any) -> bytes:
        return json.dumps(to_json(content), allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode()


def get_store(request: Request) -> Store:
    """The app's store (a FastAPI dependency); read-only use, except through ``PublicRun``."""
    return request.app.state.store


def split_project(project: str, entity: str | None) -> tuple[str | None, str]:
    """``"entity/project"`` or ``"project"`` (with ``entity`` given apart, or None: any entity).

    Raises:
        HTTPException: 400 naming ``project`` when it has another shape.
    """
    parts = [p for p in project.strip("/").split("/") if p]
    if len(parts) == 2 and entity is None:
        return parts[0], parts[1]
    if len(parts) != 1:
        raise HTTPException(400, f"project must be 'project' or 'entity/project', got {project!r}")
    return entity, parts[0]


def parse_filters(filters: str | None) -> Any:
    """The ``filters`` query parameter (JSON text) as the Api's filter dict; empty: None.

    Raises:
        FilterError: the text is not JSON (answered with 400).
    """
    if filters is None or not filters.strip():
        return None
    try:
        return json.loads(filters)
    except ValueError as exc:
        raise FilterError(f"filters is not valid JSON ({exc}): {filters[:200]!r}") from None


def check_query(store: Store, entity: str | None, project: str, filters: Any, order: str | None) -> None:
    """Validate ``filters`` and ``order`` by asking the store for one run (FilterError -> 400)."""
    store.query_runs(entity, project, filters, order or None, limit=1, offset=0)


def open_run(store: Store, entity: str, project: str, run_id: str) -> PublicRun:
    """The run at ``entity/project/run_id`` (looked up part by part, so a project named
    ``runs`` is not mistaken for W&B's ``entity/project/runs/id`` URL form).

    Raises:
        RunNotFoundError: no such run (answered with 404).
    """
    record = store.get_run(entity, project, run_id)
    if record is None:
        raise RunNotFoundError(f"run {entity + '/' + project + '/' + run_id!r} not found")
    return PublicRun(store, record)


def is_number_text(text: str) -> bool:
    """``text`` spells a plain decimal number (``-1.5``, ``2e-3``): never a spreadsheet formula."""
    return bool(_NUMBER.match(text))


SAFE_INT = 2**53 - 1  # the largest int a JS number holds exactly


def exact_int(value: Any) -> Any:
    """An int a browser would round (beyond +-(2^53 - 1)) as ``{"$int": "digits"}``; any
    other value as it is. The runs table shows the digits (static/util.js)."""
    if type(value) is int and not -SAFE_INT <= value <= SAFE_INT:
        return {"$int": str(value)}
    return value
