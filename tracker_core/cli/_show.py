"""``tracker show PATH``: one run's overview, with how each summary value was computed."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

import click

from ._common import (
    busy,
    cell,
    dumps,
    duration,
    iso_time,
    render,
    stdout_console,
    write,
)

SPECIAL = {"_step": "last step logged", "_runtime": "seconds the run ran", "_timestamp": "time of the last log"}


def _walk(tree: dict, prefix: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """``(path, value)`` of every summary leaf; subtrees (``Tree``) are walked into."""
    from ..summary import Tree

    for key, value in tree.items():
        if not prefix and key in SPECIAL:
            continue
        if isinstance(value, Tree):
            yield from _walk(value, prefix + (key,))
        else:
            yield prefix + (key,), value


def _flat(tree: dict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        if isinstance(value, dict) and value and "_type" not in value:
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield prefix + key, value


def _leaf_info(run, path: tuple) -> dict:
    """What the public ``details()`` leaves out: explicit write, last step, objective.
    Read from the run's loaded summary state; empty if that is not available."""
    try:
        state, registry = run._loaded()
        st = state.leaves[path]
        return {"explicit": bool(st.has_override), "last_step": st.last_step,
                "objective": registry.resolve(path).objective}
    except Exception:  # noqa: BLE001 - an optional refinement only
        return {}


def _counts(d: dict) -> str:
    n, nan = d.get("count", 0), d.get("nan_count", 0)
    text = f"{n} value{'' if n == 1 else 's'}"
    return f"{text}, {nan} NaN" if nan else text


def _objective(d: dict, info: dict) -> str | None:
    if info.get("objective"):
        return info["objective"]
    best, lo, hi = d.get("best"), d.get("min"), d.get("max")
    if best and lo and hi and lo["value"] != hi["value"]:
        return "maximize" if best == hi else "minimize" if best == lo else None
    return None


def how_op(op: str, d: dict, info: dict) -> str:
    """How the aggregate ``op`` of a leaf was computed, e.g. ``min @ step 1 (4 values, 1 NaN)``."""
    if op in ("min", "max") and op in d:
        text = f"{op} @ step {d[op]['step']}"
    elif op == "best" and "best" in d:
        objective = _objective(d, info)
        text = f"best, {objective} @ step {d['best']['step']}" if objective else f"best @ step {d['best']['step']}"
    elif op == "last" and info.get("last_step") is not None:
        text = f"last @ step {info['last_step']}"
    else:
        text = op
    return f"{text} ({_counts(d)})"


def how_value(d: dict | None, info: dict) -> str:
    """How a plain (non-aggregate) leaf got its value."""
    if d is None:
        return ""
    if info.get("explicit") or (not info and not d.get("count")):
        return "set explicitly"
    if info.get("last_step") is not None:
        return f"last @ step {info['last_step']} ({_counts(d)})"
    return f"last ({_counts(d)})"


def summary_entries(run, tree: dict):
    """``(key, path, value, op, details, info)`` per shown summary value, in order: an
    aggregate leaf gives one entry per op (``"loss.min"``, op ``"min"``), any other leaf one
    with op None; ``path`` is the leaf's key path. The CLI and the UI's Overview show these."""
    for path, value in _walk(tree):
        key = ".".join(path)
        try:
            d = run.summary_details(path)
        except KeyError:
            d = None
        info = _leaf_info(run, path)
        if isinstance(value, dict) and "_type" not in value and value and d is not None and not info.get("explicit"):
            for op, v in value.items():
                yield f"{key}.{op}", path, v, op, d, info
        else:
            yield key, path, value, None, d, info


def summary_rows(run, tree: dict) -> list[dict]:
    """One row per shown summary value: ``{"key", "value", "how"}`` (aggregates one per op)."""
    rows = [{"key": key, "value": value, "how": how_op(op, d, info) if op else how_value(d, info)}
            for key, _path, value, op, d, info in summary_entries(run, tree)]
    for key, how in SPECIAL.items():
        if key in tree:
            value = tree[key]
            rows.append({"key": key, "value": value, "how": how})
    return rows


def overview(run) -> dict:
    """Everything ``show`` prints, as plain data (what ``--format json`` emits)."""
    tree = run.summary_tree()
    details = {}
    for path, _ in _walk(tree):
        try:
            details[".".join(path)] = run.summary_details(path)
        except KeyError:
            pass
    return {
        "path": "/".join(run.path), "id": run.id, "name": run.name, "state": run.state,
        "created_at": run.created_at, "runtime": tree.get("_runtime"), "group": run.group,
        "tags": list(run.tags), "notes": run.notes, "url": run.url, "metadata": run.metadata,
        "config": run.config,
        "summary": run.summary.to_dict(),
        "summary_rows": summary_rows(run, tree),
        "summary_details": details,
    }


def _header(data: dict) -> list[tuple[str, str]]:
    meta = data["metadata"] or {}
    lines = [("run", data["path"]), ("name", data["name"]), ("state", data["state"]),
             ("created", data["created_at"])]
    if data["runtime"] is not None:
        lines.append(("runtime", duration(data["runtime"])))
    for label, value in (("group", data["group"]), ("tags", ", ".join(data["tags"])), ("notes", data["notes"])):
        if value:
            lines.append((label, value))
    if meta.get("host"):
        lines.append(("host", str(meta["host"])))
    args = meta.get("args")
    if args:
        lines.append(("command", " ".join(shlex.quote(str(a)) for a in args)))
    git = meta.get("git")
    if isinstance(git, dict) and git.get("commit"):
        extra = [str(git["branch"])] if git.get("branch") else []
        if git.get("dirty"):
            extra.append("dirty")
        lines.append(("git", git["commit"] + (f" ({', '.join(extra)})" if extra else "")))
    if meta.get("python"):
        lines.append(("python", str(meta["python"])))
    lines.append(("url", data["url"]))
    return lines


def overview_text(data: dict) -> str:
    from rich.table import Table
    from rich.text import Text

    console = stdout_console()

    def grid(rows: list[tuple[str, str, str] | tuple[str, str]], header: tuple[str, ...] | None = None) -> Table:
        table = Table(box=None, show_header=header is not None, pad_edge=False, padding=(0, 3, 0, 0),
                      header_style="bold")
        for name in header or ("", ""):
            table.add_column(name, overflow="fold", style="bold" if header is None and not table.columns else None)
        for row in rows:
            table.add_row(*(Text(c) for c in row))
        return table

    parts: list = [grid(_header(data)), ""]
    config = list(_flat(data["config"]))
    parts.append(Text("Config", style="bold underline"))
    parts.append(grid([("  " + k, cell(v)) for k, v in config], ("  key", "value")) if config else "  (empty)")
    parts += ["", Text("Summary", style="bold underline")]
    rows = data["summary_rows"]
    shown = [("  " + r["key"], iso_time(r["value"]) if r["key"] == "_timestamp" else cell(r["value"]), r["how"])
             for r in rows]
    parts.append(grid(shown, ("  key", "value", "how"))
                 if rows else "  (empty)")
    return render(console, *parts)


@click.command("show", short_help="Show one run: config, summary (and how it was computed), tags, notes.")
@click.argument("path")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: the overview as one JSON object (exact values; NaN/infinities as strings).")
@click.pass_obj
def show_command(store: str | None, path: str, fmt: str) -> None:
    """Show one run: PATH is 'entity/project/run_id' (or 'project/run_id').

    Prints the run's state, timing, tags, notes and where it ran (host, command, git
    commit), its config, and its summary with how each value was computed, e.g.
    'loss.min  0.2  min @ step 1 (4 values, 1 NaN)' or
    'val/acc.best  0.9  best, maximize @ step 3 (4 values)'.
    """
    from . import open_run

    with busy("Loading run..."):
        run = open_run(store, path)
        data = overview(run)
        text = dumps(data) + "\n" if fmt == "json" else overview_text(data)
    write(text)
