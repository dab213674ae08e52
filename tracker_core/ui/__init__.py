"""``tracker ui``: a local web UI (FastAPI) over a store: runs table and run overview.

Needs the ``ui`` extra (``pip install 'tracker-core[ui]'``): fastapi, uvicorn, plotly
(whose bundled ``plotly.min.js`` draws the history charts; nothing is fetched online).
"""

from __future__ import annotations

__all__ = ["create_app", "serve"]


def create_app(store=None, allow_edits: bool = False):
    from .app import create_app as _create

    return _create(store, allow_edits=allow_edits)


def serve(store=None, host: str = "127.0.0.1", port: int = 8765, allow_edits: bool = False) -> None:
    from .app import serve as _serve

    _serve(store, host=host, port=port, allow_edits=allow_edits)
