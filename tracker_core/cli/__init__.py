"""The ``tracker`` command: look at and edit runs from the terminal.

    tracker runs PROJECT [--filter F] [--sort O] [--columns C] [--limit N] [--format table|csv|json]
    tracker show ENTITY/PROJECT/RUN_ID [--format text|json]
    tracker summary ENTITY/PROJECT/RUN_ID KEY=VALUE ... [--delete KEY]
    tracker sync SRC DST [--project P] [--dry-run]
    tracker ui [--store URL] [--host 127.0.0.1] [--port 8765] [--allow-edits]

Global option: ``--store URL`` (default ``$TRACKER_STORE``, else ``./tracker_runs``).
Exit codes: 0 success, 1 runtime error (run or store not found), 2 usage error (bad
filter, unknown column, malformed argument); errors go to stderr without a traceback
(``TRACKER_DEBUG=1`` shows it). rich is imported by the commands, not here.
"""

from __future__ import annotations

import os
import sys

import click

from ._common import RuntimeFailure, usage_error
from ._runs import runs_command
from ._show import show_command
from ._summary import summary_command
from ._sync import sync_command
from ._ui import ui_command

__all__ = ["cli", "main"]


def ensure_store(store: str | None) -> None:
    """Fail (exit 1) when the store does not exist, rather than create an empty one."""
    from .. import settings

    url = settings.resolve_store_url(store)
    if "://" in url and not url.startswith("sqlite:///"):
        return  # another backend: let it report
    path = settings.sqlite_path(url)
    if not os.path.exists(path):
        raise RuntimeFailure(f"store not found: {path} (use --store or set TRACKER_STORE)")


def open_run(store: str | None, path: str):
    """The run at ``path`` through the Api; a missing run is exit 1, a malformed path exit 2."""
    from ..api import Api
    from ..errors import RunNotFoundError

    ensure_store(store)
    try:
        return Api(store).run(path)
    except RunNotFoundError as exc:
        raise RuntimeFailure(str(exc)) from None
    except ValueError as exc:
        raise usage_error(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--store", metavar="URL", default=None,
              help="Store directory, sqlite:///path.db or postgresql:// URL (default: $TRACKER_STORE, else ./tracker_runs).")
@click.version_option(package_name="tracker-core", prog_name="tracker", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, store: str | None) -> None:
    """tracker-core: local experiment tracking with W&B-style run summaries.

    \b
    tracker runs mnist --filter 'summary_metrics.val/acc.best>0.9' --sort -summary_metrics.val/acc.best
    tracker show me/mnist/abc123
    tracker summary me/mnist/abc123 test/acc=0.93 --delete scratch
    tracker sync ./tracker_runs postgresql://user@server/tracker

    Exit codes: 0 ok, 1 runtime error (store or run not found), 2 usage error
    (bad filter, sort or column, malformed argument). Errors go to stderr.
    """
    ctx.obj = store


cli.add_command(runs_command)
cli.add_command(show_command)
cli.add_command(summary_command)
cli.add_command(sync_command)
cli.add_command(ui_command)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``tracker = tracker_core.cli:main``)."""
    try:
        cli.main(args=argv, prog_name="tracker")
    except Exception as exc:  # report, don't dump a traceback on users
        if os.environ.get("TRACKER_DEBUG"):
            raise
        from ..errors import TrackerError

        kind = "" if isinstance(exc, TrackerError) else f"{type(exc).__name__}: "
        click.echo(f"Error: {kind}{exc}\n(set TRACKER_DEBUG=1 to see the traceback)", err=True)
        sys.exit(1)
