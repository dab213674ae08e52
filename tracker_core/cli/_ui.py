"""``tracker ui``: serve the web UI (runs table, run overview) on 127.0.0.1."""

from __future__ import annotations

import click

from ._common import RuntimeFailure


@click.command("ui", short_help="Serve the web UI (runs table, run overview) on 127.0.0.1.")
@click.option("--store", "store_opt", metavar="URL", default=None,
              help="Store to show (overrides the global --store; default: $TRACKER_STORE, else ./tracker_runs).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback exposes your runs to the network.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--allow-edits", is_flag=True, default=False,
              help="Allow editing tags, notes and summary from the UI (read-only otherwise).")
@click.pass_obj
def ui_command(store: str | None, store_opt: str | None, host: str, port: int, allow_edits: bool) -> None:
    """Serve the web UI over a store: http://HOST:PORT/ (read-only unless --allow-edits).

    Needs the ui extra: pip install 'tracker-core[ui]'.
    """
    try:
        from ..ui.app import serve
    except ImportError as exc:
        raise RuntimeFailure(f"the UI needs the ui extra ({exc.name} is missing): pip install 'tracker-core[ui]'") \
            from None
    from . import ensure_store

    store = store_opt or store
    ensure_store(store)
    click.echo(f"tracker ui: http://{'[' + host + ']' if ':' in host else host}:{port}/"
               + ("  (edits allowed)" if allow_edits else "  (read-only)"), err=True)
    serve(store, host=host, port=port, allow_edits=allow_edits)
