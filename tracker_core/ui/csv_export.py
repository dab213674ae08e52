"""CSV export of the runs table as shown: same filter, order and visible columns (pinned
first), every matching run (not only the page), streamed as it is read.

Cell rules (``docs/ui.md``):

- numbers exact: ints as ints, floats in Python's shortest round-trip form (``repr``),
  ``NaN`` / ``Infinity`` / ``-Infinity`` spelled out; a missing value is an empty cell;
  booleans ``true`` / ``false``; lists and dicts (tags, tensor stats) as JSON;
- RFC 4180 quoting (the ``csv`` module: a cell holding a comma, quote or line break is quoted);
- formula injection: a text cell (header included) starting with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return gets a leading single quote (``'=1+2``), unless the whole
  text is a plain decimal number (``-5``, ``+1e-3``), which a spreadsheet can only read as
  a number. Numeric values are never prefixed, so ``-0.5`` and ``-Infinity`` stay numbers.
"""

# FastAPI and pydantic evaluate these annotations at run time, and the package supports
# Python 3.9: Optional[X], not X | None.
# ruff: noqa: UP045

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from ..cli._common import csv_cell
from ..store import Store
from .columns import KeyCache, catalog, view_columns
from .common import check_query, get_store, is_number_text, parse_filters, split_project
from .routes_runs import COL_DOC, FILTERS_DOC, ORDER_DOC, key_cache
from .table import all_rows, value_of

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

router = APIRouter()


def safe_text(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would run it as a formula."""
    if text.startswith(FORMULA_START) and not is_number_text(text):
        return "'" + text
    return text


def export_cell(value: Any) -> str:
    """One CSV cell, exact (see the module docstring); numbers are never prefixed."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return repr(value) if isinstance(value, float) else str(value)
    return safe_text(csv_cell(value))


def file_name(project: str) -> str:
    """A safe download name for the project's CSV (ASCII letters, digits, ``._-``)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", project).strip("._") or "runs"
    return f"{stem[:80]}-runs.csv"


def csv_chunks(store: Store, entity: str | None, project: str, filters: Any, order: str | None,
               keys: list[str]) -> Iterator[str]:
    """The CSV text: a header line, then one chunk per page of runs read from the store."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([safe_text(k) for k in keys])
    wanted = set(keys)
    for rows in all_rows(store, entity, project, filters, order, wanted):
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
        for row in rows:
            writer.writerow([export_cell(value_of(row, k)) for k in keys])
    yield buf.getvalue()


@router.get("/api/runs.csv", summary="CSV of the runs table as shown: all matching runs, visible columns",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV text"}})
def export_csv(store: Annotated[Store, Depends(get_store)], cache: Annotated[KeyCache, Depends(key_cache)],
               project: str, entity: Optional[str] = None,
               filters: Optional[str] = Query(None, description=FILTERS_DOC),
               order: Optional[str] = Query(None, description=ORDER_DOC),
               col: Annotated[Optional[list[str]], Query(description=COL_DOC)] = None,
               hide: Annotated[Optional[list[str]], Query(description="a default column left out (repeat it)")] = None,
               pin: Annotated[Optional[list[str]], Query(description="a pinned column, put first (repeat it)")] = None,
               ) -> StreamingResponse:
    """Every run matching ``filters`` in ``order``, with the columns the page shows: ``col``
    (explicit), or the default columns minus ``hide``; ``pin`` columns first."""
    ent, proj = split_project(project, entity)
    parsed = parse_filters(filters)
    check_query(store, ent, proj, parsed, order)  # a bad filter or order is a 400 before any byte is sent
    columns = None if col else catalog(cache, store, ent, proj, parsed)
    keys = view_columns(columns, col, hide, pin)
    return StreamingResponse(csv_chunks(store, ent, proj, parsed, order, keys), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{file_name(proj)}"',
                                      "Cache-Control": "no-store"})
