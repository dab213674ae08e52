"""``tracker ui``: a local web UI (FastAPI) over a store: runs table and run overview.

Needs the ``ui`` extra (``pip install 'tracker-core[ui]'``): fastapi, uvicorn, plotly
(whose bundled ``plotly.min.js`` draws the history charts; nothing is fetched online).
See ``docs/ui.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["create_app", "serve"]


def create_app(store: Any = None, allow_edits: bool = False) -> FastAPI:
    """The UI's FastAPI app over ``store`` (see :func:`tracker_core.ui.app.create_app`)."""
    from .app import create_app as _create

    return _create(store, allow_edits=allow_edits)


def serve(store: Any = None, host: str = "127.0.0.1", port: int = 8765, allow_edits: bool = False) -> None:
    """Serve the UI with uvicorn until interrupted (see :func:`tracker_core.ui.app.serve`)."""
    from .app import serve as _serve

    _serve(store, host=host, port=port, allow_edits=allow_edits)
