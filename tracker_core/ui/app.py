"""The FastAPI app behind ``tracker ui``: JSON endpoints plus a static page (no build step).

Endpoints (all JSON; the OpenAPI schema is at ``/openapi.json``, docs at ``/docs``)::

    GET   /api/projects[?entity=E]
    GET   /api/runs?project=[E/]P&filters=<json>&order=<str>&offset=0&limit=50
    GET   /api/runs/{entity}/{project}/{run_id}
    GET   /api/runs/{entity}/{project}/{run_id}/history?keys=K&keys=K2&samples=N
    PATCH /api/runs/{entity}/{project}/{run_id}      (only with --allow-edits, else 403)

Errors are JSON ``{"detail": message}``: unknown run 404, bad filter/order 400, edits
while read-only 403; never a traceback. NaN and infinities are sent as the strings
``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (as ``tracker show --format json``).
"""

from __future__ import annotations

import json
import math
import os
from typing import Annotated, Any, Optional

from fastapi import Body, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from ..api import Api
from ..cli._common import to_json
from ..cli._show import SPECIAL, _flat, how_op, how_value, summary_entries
from ..errors import RunNotFoundError
from ..public_run import PublicRun
from ..store.query import FilterError

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
HIDDEN_SUMMARY = ("_runtime", "_timestamp")  # volatile: shown on the overview, not as table columns
MAX_LIMIT = 500
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


class SafeJSONResponse(JSONResponse):
    """JSON with NaN/inf as strings (strict JSON that browsers parse), everything else exact."""

    def render(self, content: Any) -> bytes:
        return json.dumps(to_json(content), allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode()


class RunEdit(BaseModel):
    """Edits of one run; every field is optional. ``summary`` sets keys, ``delete_summary`` removes them."""

    name: Optional[str] = None
    notes: Optional[str] = None
    tags: Optional[list[str]] = None
    summary: Optional[dict[str, Any]] = None
    delete_summary: Optional[list[str]] = Field(default=None)


def _plotly_js() -> str:
    try:
        import plotly
    except ImportError:  # pragma: no cover - the ui extra installs it
        return ""
    return os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js")


def _list_projects(store, entity: str | None) -> list[dict]:
    """Projects with their run counts."""
    return [{"entity": e, "project": p, "runs": n} for e, p, n in store.list_projects(entity)]


def _split_project(project: str, entity: str | None) -> tuple[str | None, str]:
    parts = [p for p in project.strip("/").split("/") if p]
    if len(parts) == 2 and entity is None:
        return parts[0], parts[1]
    if len(parts) != 1:
        raise HTTPException(400, f"project must be 'project' or 'entity/project', got {project!r}")
    return entity, parts[0]


def _parse_filters(filters: str | None) -> Any:
    if filters is None or not filters.strip():
        return None
    try:
        return json.loads(filters)
    except ValueError as exc:
        raise FilterError(f"filters is not valid JSON: {exc}") from None


def _table_row(run: PublicRun) -> dict:
    summary = {k: v for k, v in _flat(run.summary.to_dict()) if k not in HIDDEN_SUMMARY}
    return {"id": run.id, "entity": run.entity, "project": run.project, "name": run.name, "state": run.state,
            "created_at": run.created_at, "tags": list(run.tags), "group": run.group, "notes": run.notes,
            "config": dict(_flat(run.config)), "summary": summary}


def _summary_rows(run: PublicRun) -> tuple[list[dict], list[dict]]:
    """Summary rows ``{key, value, how, step, text}`` (aggregates one per op) and tensor stats rows."""
    tree = run.summary_tree()
    rows, tensors = [], []
    for key, value, op, d, info in summary_entries(run, tree):
        if op is not None:
            entry = d.get(op) if isinstance(d.get(op), dict) else None
            step = entry["step"] if entry else (info.get("last_step") if op == "last" else None)
            rows.append({"key": key, "value": value, "how": op, "step": step,
                         "count": d.get("count"), "nan_count": d.get("nan_count"), "text": how_op(op, d, info)})
        else:
            explicit = bool(info.get("explicit")) or (d is not None and not info and not d.get("count"))
            how = "set" if explicit or d is None else "last"
            step = None if how == "set" else info.get("last_step")
            rows.append({"key": key, "value": value, "how": how, "step": step,
                         "count": d.get("count") if d else None, "nan_count": d.get("nan_count") if d else None,
                         "text": how_value(d, info)})
            if isinstance(value, dict) and "_type" in value:
                tensors.append({"key": key, **value})
    for key, how in SPECIAL.items():
        if key in tree:
            rows.append({"key": key, "value": tree[key], "how": key, "step": None, "count": None,
                         "nan_count": None, "text": how})
    return rows, tensors


def _overview(run: PublicRun) -> dict:
    rows, tensors = _summary_rows(run)
    tree = run.summary_tree()
    meta = run.metadata or {}
    return {
        "path": "/".join(run.path), "id": run.id, "entity": run.entity, "project": run.project, "name": run.name,
        "state": run.state, "created_at": run.created_at, "runtime": tree.get("_runtime"), "group": run.group,
        "job_type": run.job_type, "tags": list(run.tags), "notes": run.notes,
        "host": meta.get("host"), "metadata": meta,
        "config": [{"key": k, "value": v} for k, v in _flat(run.config)],
        "summary": rows, "tensors": tensors, "history_keys": run.history_keys,
    }


def _number(v: Any) -> Any:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return v if math.isfinite(v) else None  # gaps in the chart
    return None


def create_app(store=None, *, allow_edits: bool = False, trusted_hosts: list[str] | None = None) -> FastAPI:
    """The UI app over ``store`` (default ``TRACKER_STORE`` / ``./tracker_runs``); read-only unless
    ``allow_edits``. ``trusted_hosts``: accepted Host headers (DNS-rebinding guard for a local server)."""
    api = Api(store)
    app = FastAPI(title="tracker-core UI", version="1", default_response_class=SafeJSONResponse,
                  description="Read (and, with --allow-edits, edit) runs of a tracker-core store.")
    app.state.api = api
    app.state.allow_edits = allow_edits
    if trusted_hosts:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=trusted_hosts)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    def error(status: int, message: str) -> SafeJSONResponse:
        return SafeJSONResponse({"detail": message}, status_code=status)

    @app.exception_handler(RunNotFoundError)
    async def _not_found(request: Request, exc: RunNotFoundError):
        return error(404, str(exc))

    @app.exception_handler(FilterError)
    async def _bad_filter(request: Request, exc: FilterError):
        return error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError):
        parts = ["{}: {}".format(".".join(str(x) for x in e.get("loc", ())), e.get("msg", "")) for e in exc.errors()]
        return error(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):  # never a traceback to the client
        return error(500, f"internal error ({type(exc).__name__})")

    def get_run(entity: str, project: str, run_id: str) -> PublicRun:
        return api.run(f"{entity}/{project}/{run_id}") if "/" not in entity + project + run_id else _missing(run_id)

    def _missing(run_id: str):
        raise RunNotFoundError(f"run {run_id!r} not found")

    @app.get("/api/projects", summary="Projects with their number of runs")
    def projects(entity: Optional[str] = None):
        return {"projects": _list_projects(api._store, entity)}

    @app.get("/api/runs", summary="One page of a project's runs table, filtered and sorted by the store")
    def runs(project: str, entity: Optional[str] = None,
             filters: Optional[str] = Query(None, description='W&B-style JSON filter, e.g. {"state": "finished"}'),
             order: Optional[str] = Query(None, description="e.g. -summary_metrics.loss.min or +config.lr"),
             offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=MAX_LIMIT)):
        ent, proj = _split_project(project, entity)
        parsed = _parse_filters(filters)
        store = api._store
        records = store.query_runs(ent, proj, parsed, order or None, limit=limit, offset=offset)
        total = store.count_runs(ent, proj, parsed)
        rows = [_table_row(PublicRun(store, r)) for r in records]
        config_keys = sorted({k for r in rows for k in r["config"]})
        summary_keys = sorted({k for r in rows for k in r["summary"]})
        columns = ([{"key": "config." + k, "order": "config." + k} for k in config_keys]
                   + [{"key": "summary." + k, "order": "summary_metrics." + k} for k in summary_keys])
        return {"total": total, "offset": offset, "limit": limit, "runs": rows, "columns": columns}

    @app.get("/api/runs/{entity}/{project}/{run_id}", summary="A run's overview: attributes, config, summary")
    def run_overview(entity: str, project: str, run_id: str):
        return _overview(get_run(entity, project, run_id))

    @app.get("/api/runs/{entity}/{project}/{run_id}/history", summary="History series of some keys")
    def run_history(entity: str, project: str, run_id: str, keys: Annotated[Optional[list[str]], Query()] = None,
                    samples: int = Query(2000, ge=2, le=100_000)):
        run = get_run(entity, project, run_id)
        wanted = list(keys or ()) or [k for k in run.history_keys["keys"] if not k.startswith("_")]
        series: dict[str, dict] = {k: {"steps": [], "values": []} for k in wanted}
        for row in run.scan_history():
            for k in wanted:
                if k in row:
                    series[k]["steps"].append(row["_step"])
                    series[k]["values"].append(row[k])
        out = {}
        for k, s in series.items():
            values = [_number(v) for v in s["values"]]
            if not any(v is not None for v in values) and s["values"]:
                continue  # not numeric: nothing to chart
            steps, n = s["steps"], len(values)
            if n > samples:  # evenly spaced, first and last kept (as PublicRun.history(samples=))
                picks = sorted({round(i * (n - 1) / (samples - 1)) for i in range(samples)})
                steps, values = [steps[i] for i in picks], [values[i] for i in picks]
            out[k] = {"steps": steps, "values": values, "count": n}
        return {"keys": list(out), "series": out}

    @app.patch("/api/runs/{entity}/{project}/{run_id}", summary="Edit name, notes, tags, summary (--allow-edits)")
    def edit_run(entity: str, project: str, run_id: str, edit: Annotated[RunEdit, Body()]):
        if not app.state.allow_edits:
            raise HTTPException(403, "the UI is read-only: start it with `tracker ui --allow-edits` to edit runs")
        run = get_run(entity, project, run_id)
        try:
            for name in ("name", "notes", "tags"):
                value = getattr(edit, name)
                if value is not None:
                    setattr(run, name, value)
            for key, value in (edit.summary or {}).items():
                run.summary[key] = value
            for key in edit.delete_summary or ():
                if key not in run.summary:
                    raise HTTPException(400, f"summary key {key!r} not found")
                del run.summary[key]
            run.update()
        except (TypeError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        return _overview(get_run(entity, project, run_id))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        return error(exc.status_code, str(exc.detail))

    plotly_js = _plotly_js()

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_bundle():
        if not plotly_js or not os.path.exists(plotly_js):
            return Response("/* plotly is not installed: pip install 'tracker-core[ui]' */",
                            media_type="text/javascript")
        return FileResponse(plotly_js, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    index = os.path.join(STATIC_DIR, "index.html")

    def page() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    def home():
        return page()

    @app.get("/{entity}/{project}", include_in_schema=False)
    def project_page(entity: str, project: str):
        if entity in ("api", "static"):
            raise HTTPException(404, "not found")
        return page()

    @app.get("/{entity}/{project}/runs/{run_id}", include_in_schema=False)
    def run_page(entity: str, project: str, run_id: str):
        return page()

    return app


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(store=None, host: str = "127.0.0.1", port: int = 8765, allow_edits: bool = False,
          log_level: str = "warning") -> None:
    """Run the UI with uvicorn until interrupted."""
    import uvicorn

    trusted = ["127.0.0.1", "localhost", "[::1]", "::1"] if host in LOOPBACK else None
    app = create_app(store, allow_edits=allow_edits, trusted_hosts=trusted)
    uvicorn.run(app, host=host, port=port, log_level=log_level)

