"""``tracker runs PROJECT``: the runs table (run columns, summary and config values)."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import click

from ._common import (
    busy,
    cell,
    csv_cell,
    dumps,
    iso_time,
    parse_value,
    render,
    stdout_console,
    usage_error,
    write,
)

# Run columns: the first four are shown by default, the others on request (--columns).
RUN_COLUMNS = ("id", "name", "state", "created_at", "tags", "group", "notes", "entity", "project", "host")
DEFAULT_RUN_COLUMNS = RUN_COLUMNS[:4]
ALIASES = {"created": "created_at", "display_name": "name", "run_id": "id"}
HIDDEN_BY_DEFAULT = ("summary._runtime",)
RULE = "\u2500"  # the line under the header, as rich draws it

_SIMPLE = re.compile(r"^\s*(?P<key>[^\s!=<>]+)\s*(?P<op>!=|>=|<=|==|=|>|<)\s*(?P<value>.*?)\s*$", re.DOTALL)
_OPS = {"=": "$eq", "==": "$eq", "!=": "$ne", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}

FILTER_HELP = """Only runs matching FILTER. Either the Api's JSON filter, e.g.
'{"summary_metrics.acc": {"$gt": 0.5}}', or the simple form KEY OP VALUE with OP one of
= != > >= < <=, e.g. 'summary_metrics.acc>0.5', 'config.opt=adam', 'state!=crashed'
(VALUE is read as JSON when it parses, else as a string). Repeat --filter to require all."""


def parse_filter(text: str) -> dict:
    """``--filter`` text -> the Api filter dict (JSON object, or the simple ``KEY OP VALUE``)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except ValueError as exc:
            raise usage_error(f"--filter: not valid JSON ({exc}): {text}") from None
        return doc
    match = _SIMPLE.match(text)
    if match is None:
        raise usage_error(f"--filter: expected a JSON object or KEY OP VALUE (OP: = != > >= < <=), "
                          f"e.g. 'summary_metrics.acc>0.5'; got {text!r}")
    return {match["key"]: {_OPS[match["op"]]: parse_value(match["value"])}}


def split_project(path: str) -> tuple[str | None, str]:
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) == 1:
        return None, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise usage_error(f"PROJECT must be 'project' or 'entity/project', got {path!r}")


def load_table(store_url: str | None, project: str, filters: Any, order: str | None,
               limit: int | None) -> tuple[list[dict], list[str], list[str]]:
    """``(rows, summary keys, config keys)``; each row maps column names to exact values."""
    from ..store import open_store
    from ..store.query import Compiler, FilterError

    entity, name = split_project(project)
    for what, check, arg in (("--filter", Compiler().where, filters), ("--sort", Compiler().order_by, order)):
        try:
            check(arg)
        except FilterError as exc:
            raise usage_error(f"{what}: {exc}") from None
    try:
        records, config_rows, summary_rows = open_store(store_url).query_table(entity, name, filters, order or None)
    except FilterError as exc:
        raise usage_error(str(exc)) from None
    if limit is not None:
        records = records[:limit]
    rows: dict[int, dict] = {}
    summary_keys: dict[str, None] = {}
    for r in records:
        row = {"id": r.run_id, "name": r.name, "state": r.state, "created_at": iso_time(r.created_at),
               "tags": list(r.tags), "group": r.group, "notes": r.notes, "entity": r.entity,
               "project": r.project, "host": r.host}
        for key, value in (("summary._step", r.last_step), ("summary._runtime", r.runtime)):
            if value is not None:
                row[key] = value
                summary_keys[key] = None
        rows[r.uid] = row
    config_keys: dict[str, None] = {}
    for uid, key, value in config_rows:
        if uid in rows:
            rows[uid]["config." + key] = value
            config_keys["config." + key] = None
    for uid, key, value in summary_rows:
        if uid in rows:
            rows[uid]["summary." + key] = value
            summary_keys["summary." + key] = None
    ordered_summary = sorted(summary_keys, key=lambda k: (k.startswith("summary._"), k))
    return list(rows.values()), ordered_summary, list(config_keys)


def _typed_parts(summary_keys: list[str]) -> set[str]:
    """Columns that are parts of a typed value (a tensor's stats, a histogram):
    ``summary.w._type``, ``summary.w.mean``, ...; left out of the default columns."""
    parents = tuple(k[: -len("_type")] for k in summary_keys if k.endswith("._type"))
    return {k for k in summary_keys if k.startswith(parents)} if parents else set()


def pick_columns(spec: str | None, summary_keys: list[str], config_keys: list[str], empty: bool) -> list[str]:
    """The columns to print: the defaults, or those named in ``--columns`` (full or short names)."""
    if spec is None:
        skip = _typed_parts(summary_keys).union(HIDDEN_BY_DEFAULT)
        return [*DEFAULT_RUN_COLUMNS, *(k for k in summary_keys if k not in skip), *config_keys]
    available = [*RUN_COLUMNS, *summary_keys, *config_keys]
    known = set(available)
    chosen: list[str] = []
    for raw in spec.split(","):
        name = raw.strip()
        if not name:
            continue
        name = ALIASES.get(name, name)
        if name.startswith("summary_metrics."):
            name = "summary." + name[len("summary_metrics."):]
        if name not in known:
            candidates = [c for c in (f"summary.{name}", f"config.{name}") if c in known]
            if len(candidates) > 1:
                raise usage_error(f"--columns: {raw.strip()!r} is ambiguous: {' or '.join(candidates)}")
            if candidates:
                name = candidates[0]
            elif not empty:  # with no runs, nothing is known: keep the name as given
                raise usage_error(f"--columns: unknown column {raw.strip()!r}; available: {', '.join(available)}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise usage_error("--columns: name at least one column")
    return chosen


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def table_text(rows: list[dict], columns: list[str]) -> tuple[str, str | None]:
    """The rows as a table, and a note for stderr (or None).

    Not on a terminal: rich's layout written directly at full width (nothing cut or
    wrapped; ~50x faster than rich for big tables). On a terminal: rich, with colours;
    columns are never squeezed: a table wider than the terminal keeps its natural width,
    with a note suggesting --columns or ``less -S``."""
    import sys

    cells = [[_one_line(cell(row.get(col))) for col in columns] for row in rows]
    right = []
    for col in columns:
        values = [row.get(col) for row in rows]
        right.append(col != "id" and any(v is not None for v in values)
                     and all(v is None or _is_number(v) for v in values))
    if not sys.stdout.isatty():
        return plain_table(columns, cells, right, _can_encode(sys.stdout, RULE)), None
    console = stdout_console()
    natural = sum(_widths(columns, cells)) + 3 * (len(columns) - 1)
    note = None
    if natural > console.width:
        note = (f"The table is {natural} characters wide, the terminal {console.width}: choose columns "
                f"with --columns, or pipe the output through 'less -S'.")
        console.width = natural
    return render(console, rich_table(columns, cells, right)), note


def rich_table(columns: list[str], cells: list[list[str]], right: list[bool]):
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, highlight=False, header_style="bold")
    for i, col in enumerate(columns):
        table.add_column(col, justify="right" if right[i] else "left", no_wrap=True)
    for r in cells:
        table.add_row(*(Text(c) for c in r))
    return table


def _widths(columns: list[str], cells: list[list[str]]) -> list[int]:
    from rich.cells import cell_len

    widths = [cell_len(c) for c in columns]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], cell_len(c))
    return widths


def plain_table(columns: list[str], cells: list[list[str]], right: list[bool], unicode: bool = True) -> str:
    """rich's ``box.SIMPLE_HEAD`` table layout (no edge), as plain text with nothing cut."""
    from rich.cells import cell_len

    widths = _widths(columns, cells)

    def line(items: list[str]) -> str:
        out = []
        for c, w, rj in zip(items, widths, right):
            pad = " " * (w - cell_len(c))
            out.append(pad + c if rj else c + pad)
        return "   ".join(out).rstrip()

    total = sum(widths) + 3 * (len(widths) - 1)
    lines = [line(columns), (RULE if unicode else "-") * total]
    lines += [line(r) for r in cells]
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")


def _can_encode(stream, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def csv_text(rows: list[dict], columns: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(col)) for col in columns])
    return buf.getvalue()


def json_text(rows: list[dict], columns: list[str]) -> str:
    return dumps([{col: row.get(col) for col in columns} for row in rows]) + "\n"


@click.command("runs", short_help="Print the runs of a project (table, csv or json).")
@click.argument("project")
@click.option("--filter", "-f", "filters", multiple=True, metavar="FILTER", help=FILTER_HELP)
@click.option("--sort", "-s", "order", metavar="ORDER",
              help="Order of the rows, e.g. '-summary_metrics.val/acc.best' (descending) or "
                   "'+config.lr,created_at'; runs missing the value come last. Default: oldest first.")
@click.option("--columns", "-c", metavar="COL,COL,...",
              help="Columns to show, e.g. 'id,name,summary.loss.min,config.lr'. The summary./config. "
                   "prefix may be left out where the name is unambiguous. Extra run columns: tags, "
                   "group, notes, entity, project, host, summary._runtime.")
@click.option("--limit", "-n", type=click.IntRange(min=0), metavar="N", help="Show at most N runs (after sorting).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help="table: for people (floats to 6 significant digits); csv and json: exact values.")
@click.pass_obj
def runs_command(store: str | None, project: str, filters: tuple[str, ...], order: str | None,
                 columns: str | None, limit: int | None, fmt: str) -> None:
    """Print the runs of PROJECT ('project' or 'entity/project') as a table.

    \b
    Columns: id, name, state, created_at, then one per summary value
    (aggregates as summary.loss.min, summary.val/acc.best, plus summary._step)
    and one per config value (config.lr, config.opt.name).

    \b
    csv: one line per run; floats exact (shortest round-trip form), missing
    values empty, booleans true/false, NaN/Infinity/-Infinity, lists as JSON.
    json: a list of objects with every chosen column (null when a run lacks it);
    NaN and infinities are the strings "NaN", "Infinity", "-Infinity" so the
    output stays valid JSON.

    No matching runs: a message on stderr (table), the header line (csv) or
    [] (json), and exit code 0.
    """
    from . import ensure_store

    ensure_store(store)
    docs = [parse_filter(f) for f in filters]
    flt = None if not docs else docs[0] if len(docs) == 1 else {"$and": docs}
    note = None
    with busy("Loading runs..."):
        rows, summary_keys, config_keys = load_table(store, project, flt, order, limit)
        chosen = pick_columns(columns, summary_keys, config_keys, empty=not rows)
        if fmt == "table" and rows:
            text, note = table_text(rows, chosen)
        elif fmt == "csv":
            text = csv_text(rows, chosen)
        elif fmt == "json":
            text = json_text(rows, chosen)
        else:
            text = ""
    if not rows and fmt == "table":
        click.echo(f"No runs in project {project!r}{' match the filter' if flt else ''}.", err=True)
        return
    write(text)
    if note:
        click.echo(note, err=True)
