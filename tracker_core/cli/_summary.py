"""``tracker summary PATH KEY=VALUE ...``: edit a stored run's summary."""

from __future__ import annotations

import click

from ._common import RuntimeFailure, dumps, parse_value, usage_error

_MISSING = object()


def _show(value) -> str:
    return dumps(value, indent=None)


@click.command("summary", short_help="Set or delete summary values of a stored run.")
@click.argument("path")
@click.argument("assignments", nargs=-1, metavar="KEY=VALUE...")
@click.option("--delete", "-d", "deletes", multiple=True, metavar="KEY",
              help="Remove KEY from the summary (repeatable).")
@click.pass_obj
def summary_command(store: str | None, path: str, assignments: tuple[str, ...], deletes: tuple[str, ...]) -> None:
    """Set (or --delete) summary values of the run at PATH ('entity/project/run_id').

    \b
    VALUE is read as JSON: 0.9 is a number, true a boolean, null None,
    [1, 2] a list, {"a": 1} a nested summary; '"0.9"' (quoted) is the string
    "0.9"; anything that is not valid JSON is kept as a string (so adam is
    "adam"). KEY is a top-level summary key taken verbatim: 'val/acc=0.9'
    sets "val/acc", 'a.b=1' sets the key "a.b" (dots do not nest).

    Only the keys named here are written (atomically), so concurrent edits of
    other keys are kept. Prints each change.
    """
    from . import open_run

    updates: dict = {}
    for item in assignments:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise usage_error(f"expected KEY=VALUE, got {item!r}")
        if key in updates:
            raise usage_error(f"{key!r} is given twice")
        updates[key] = parse_value(text)
    if not updates and not deletes:
        raise usage_error("nothing to do: give KEY=VALUE pairs and/or --delete KEY")
    both = sorted(set(updates) & set(deletes))
    if both:
        raise usage_error(f"both set and deleted: {', '.join(both)}")

    run = open_run(store, path)
    before = run.summary.to_dict()
    missing = [k for k in deletes if k not in before]
    if missing:
        raise RuntimeFailure(f"run {'/'.join(run.path)} has no summary key {', '.join(repr(k) for k in missing)}")
    try:
        for key, value in updates.items():
            run.summary[key] = value
        for key in dict.fromkeys(deletes):
            del run.summary[key]
    except (TypeError, ValueError) as exc:
        raise usage_error(str(exc)) from None
    run.summary.update()

    after = run.summary.to_dict()
    for key, value in updates.items():
        old = before.get(key, _MISSING)
        new = after.get(key, value)
        was = "new key" if old is _MISSING else f"was {_show(old)}"
        click.echo(f"set {key} = {_show(new)}  ({was})")
    for key in dict.fromkeys(deletes):
        click.echo(f"deleted {key}  (was {_show(before[key])})")
