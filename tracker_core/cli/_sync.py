"""``tracker sync SRC DST``: copy runs between stores (see ``tracker_core.sync``)."""

from __future__ import annotations

import click

from ._common import RuntimeFailure, usage_error


@click.command("sync", short_help="Copy runs from one store to another (idempotent).")
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
@click.option("--project", "-p", default=None, metavar="P", help="Only the runs of project P.")
@click.option("--dry-run", is_flag=True, help="Show what would be copied; write nothing.")
def sync_command(src: str, dst: str, project: str | None, dry_run: bool) -> None:
    """Copy the runs of store SRC into store DST (directories, sqlite:///file.db or
    postgresql:// URLs): history, summary with its aggregation state, config, metric
    definitions, tensors and system samples.

    \b
    Runs already in DST and identical are skipped, so a second sync copies nothing.
    A DST run that is an older copy of the SRC run (its history a prefix of SRC's,
    not changed since) is replaced. A different run with the same id, or a DST copy
    changed after SRC's, is a conflict: reported, left untouched, exit code 1.
    Runs still running in SRC are skipped.

    Prints one line per run and a summary. Exit codes: 0 ok, 1 runtime error or
    conflict(s), 2 usage error.
    """
    from .. import settings
    from ..sync import same_store, sync
    from . import ensure_store

    ensure_store(src)
    if same_store(src, dst):
        raise usage_error("SRC and DST are the same store")
    for url in (src, dst):
        resolved = settings.resolve_store_url(url)
        if "://" in resolved and not resolved.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise usage_error(f"unknown store URL {resolved!r}: expected a directory, a sqlite:/// URL or postgresql://")

    def show(item) -> None:
        click.echo(item.line(dry_run))

    try:
        report = sync(src, dst, project=project, dry_run=dry_run, progress=show)
    except (ConnectionError, OSError) as exc:
        raise RuntimeFailure(str(exc)) from None
    click.echo(report.summary_line())
    if report.conflicts:
        raise RuntimeFailure(f"{report.conflicts} run(s) in conflict were not copied")
