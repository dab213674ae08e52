"""The FastAPI app behind ``tracker ui``: JSON endpoints plus a static page (no build step).

Endpoints (the OpenAPI schema is at ``/openapi.json``, docs at ``/docs``; ``docs/ui.md``)::

    GET   /api/projects[?entity=E]
    GET   /api/runs?project=[E/]P&filters=<json>&order=<str>&offset=0&limit=50[&col=K...]
    GET   /api/columns?project=[E/]P&filters=<json>
    GET   /api/runs.csv?project=[E/]P&filters=..&order=..[&col=K...|&hide=K...][&pin=K...]
    GET   /api/runs/{entity}/{project}/{run_id}
    GET   /api/runs/{entity}/{project}/{run_id}/history?keys=K&keys=K2&samples=N
    PATCH /api/runs/{entity}/{project}/{run_id}      (only with --allow-edits, else 403)

Errors are JSON ``{"detail": message}``: unknown run 404, bad filter/order/column 400,
edits while read-only 403, malformed parameters 422; never a traceback. NaN and
infinities are sent as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (as
``tracker show --format json``).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from ..errors import RunNotFoundError
from ..store import open_store
from ..store.query import FilterError
from . import csv_export, edits, routes_runs
from .columns import KeyCache
from .common import SafeJSONResponse

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _plotly_js() -> str:
    try:
        import plotly
    except ImportError:  # pragma: no cover - the ui extra installs it
        return ""
    return os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js")


def _error(status: int, message: str) -> SafeJSONResponse:
    return SafeJSONResponse({"detail": message}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    """Every error as ``{"detail": message}`` with its status; never a traceback."""

    @app.exception_handler(RunNotFoundError)
    async def _not_found(request: Request, exc: RunNotFoundError) -> SafeJSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(FilterError)
    async def _bad_filter(request: Request, exc: FilterError) -> SafeJSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> SafeJSONResponse:
        parts = ["{}: {}".format(".".join(str(x) for x in e.get("loc", ())), e.get("msg", "")) for e in exc.errors()]
        return _error(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> SafeJSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> SafeJSONResponse:  # never a traceback to the client
        return _error(500, f"internal error ({type(exc).__name__})")


def _install_pages(app: FastAPI) -> None:
    """The static files, plotly.js from its Python package, and the page routes (one HTML
    page; ``app.js`` renders the route)."""
    plotly_js = _plotly_js()

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_bundle() -> Response:
        if not plotly_js or not os.path.exists(plotly_js):
            return Response("/* plotly is not installed: pip install 'tracker-core[ui]' */",
                            media_type="text/javascript")
        return FileResponse(plotly_js, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    index = os.path.join(STATIC_DIR, "index.html")

    def page() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    def home() -> FileResponse:
        return page()

    @app.get("/{entity}/{project}", include_in_schema=False)
    def project_page(entity: str, project: str) -> FileResponse:
        if entity in ("api", "static"):
            raise HTTPException(404, "not found")
        return page()

    @app.get("/{entity}/{project}/runs/{run_id}", include_in_schema=False)
    def run_page(entity: str, project: str, run_id: str) -> FileResponse:
        return page()


def create_app(store: Any = None, *, allow_edits: bool = False, trusted_hosts: list[str] | None = None) -> FastAPI:
    """The UI app over ``store`` (default ``TRACKER_STORE`` / ``./tracker_runs``).

    Args:
        store: a store directory or URL, as ``Api(store)`` takes.
        allow_edits: accept edits of tags, notes and summary (``PATCH``); 403 otherwise.
        trusted_hosts: accepted ``Host`` headers (a DNS-rebinding guard for a local server).
    """
    app = FastAPI(title="tracker-core UI", version="1", default_response_class=SafeJSONResponse,
                  description="Read (and, with --allow-edits, edit) runs of a tracker-core store.")
    app.state.store = open_store(store)
    app.state.allow_edits = allow_edits
    app.state.key_cache = KeyCache()
    if trusted_hosts:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=trusted_hosts)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    _install_error_handlers(app)
    app.include_router(csv_export.router)  # /api/runs.csv before /api/runs/{...}
    app.include_router(routes_runs.router)
    app.include_router(edits.router)
    _install_pages(app)
    return app


def serve(store: Any = None, host: str = "127.0.0.1", port: int = 8765, allow_edits: bool = False,
          log_level: str = "warning") -> None:
    """Run the UI with uvicorn until interrupted; on loopback, foreign ``Host`` headers are refused."""
    import uvicorn

    trusted = ["127.0.0.1", "localhost", "[::1]", "::1"] if host in LOOPBACK else None
    app = create_app(store, allow_edits=allow_edits, trusted_hosts=trusted)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
