"""The ``tracker`` command: look at runs from the terminal.

    tracker runs PROJECT            one line per run: id, name, state, summary values
    tracker show ENTITY/PROJECT/ID  one run: config, summary (with how each value was computed)

Filters, sorting, output formats and editing arrive with the full CLI (issue 3).
"""

from __future__ import annotations

import json
import sys

import click

from .api import Api
from .errors import TrackerError


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict) and value.get("_type"):
        return f"<{value['_type']} {value.get('shape', '')}>"
    return json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)


def _leaves(tree, prefix=""):
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if hasattr(value, "items") and not (isinstance(value, dict) and (value.get("_type") or not value)):
            if isinstance(value, dict):  # an aggregate dict such as {"min": .., "max": ..}
                for op, v in value.items():
                    yield f"{name}.{op}", v
            else:
                yield from _leaves(value, name + ".")
        else:
            yield name, value


@click.group()
@click.option("--store", default=None, help="Store directory or sqlite:/// URL (default: $TRACKER_STORE or ./tracker_runs).")
@click.pass_context
def cli(ctx: click.Context, store: str | None) -> None:
    """tracker-core: local experiment tracking with W&B-style summaries."""
    ctx.obj = store


@cli.command()
@click.argument("project")
@click.pass_obj
def runs(store: str | None, project: str) -> None:
    """List the runs of PROJECT (or ENTITY/PROJECT)."""
    for run in Api(store).runs(project):
        values = ", ".join(f"{k}={_fmt(v)}" for k, v in _leaves(run.summary.to_dict()) if not k.startswith("_"))
        click.echo(f"{run.id}\t{run.name}\t{run.state}\t{values}")


@cli.command()
@click.argument("path")
@click.pass_obj
def show(store: str | None, path: str) -> None:
    """Show one run: ENTITY/PROJECT/RUN_ID."""
    run = Api(store).run(path)
    click.echo(f"run      {'/'.join(run.path)}\nname     {run.name}\nstate    {run.state}\ncreated  {run.created_at}")
    if run.tags:
        click.echo(f"tags     {', '.join(run.tags)}")
    if run.notes:
        click.echo(f"notes    {run.notes}")
    click.echo("config")
    for key, value in _leaves(run.config):
        click.echo(f"  {key} = {_fmt(value)}")
    click.echo("summary")
    tree = run.summary.to_dict()
    for key in tree:
        if key.startswith("_") and key != "_step":
            continue
        for name, value in _leaves({key: tree[key]}):
            how = ""
            op = name.rsplit(".", 1)[-1]
            if op in ("min", "max", "best"):
                try:
                    detail = run.summary.details(key).get(op)
                except KeyError:
                    detail = None
                if detail:
                    how = f"   ({op} @ step {detail['step']})"
            click.echo(f"  {name} = {_fmt(value)}{how}")


def main() -> None:
    try:
        cli(standalone_mode=True)
    except TrackerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
