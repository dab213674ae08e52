"""Helpers shared by the ``tracker`` commands: value formatting, errors, output, progress.

rich is imported inside the functions that need it, so importing this module (and
``tracker_core.cli``) costs nothing beyond click.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import click

# -- errors -------------------------------------------------------------------------------


class RuntimeFailure(click.ClickException):
    """A runtime error (run not found, no store, ...): ``Error: ...`` on stderr, exit code 1."""

    exit_code = 1


def usage_error(message: str) -> click.UsageError:
    """A usage error (bad filter, unknown column, malformed argument): exit code 2."""
    return click.UsageError(message, click.get_current_context(silent=True))


# -- values -------------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """``text`` as JSON if it parses (``0.9``, ``true``, ``"x"``, ``[1, 2]``), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def to_json(value: Any) -> Any:
    """Plain data for :func:`json.dumps` with ``allow_nan=False``: NaN and infinities become
    the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``; everything else is kept exactly."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def dumps(value: Any, indent: int | None = 2) -> str:
    return json.dumps(to_json(value), indent=indent, allow_nan=False, ensure_ascii=False)


def iso_time(ts: float | None) -> str | None:
    if ts is None:
        return None
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if not math.isfinite(seconds) or seconds < 60:
        return f"{seconds:.3g}s"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def num(value: float) -> str:
    """A float for people: 6 significant digits, ``NaN``, ``inf``, ``-inf``."""
    if math.isnan(value):
        return "NaN"
    return f"{value:.6g}"


def tensor_text(value: dict) -> str:
    """A tensor stats dict or histogram in one line: type, shape, dtype, mean, std, min, max."""
    kind = value.get("_type")
    if kind == "histogram":
        counts = value.get("values") or []
        bins = value.get("bins") or []
        text = f"histogram {len(counts)} bins, {sum(counts)} values"
        if bins:
            text += f", [{num(bins[0])}, {num(bins[-1])}]"
        return text
    parts = [str(kind)]
    if "shape" in value:
        parts.append("shape=(" + ", ".join(str(d) for d in value["shape"]) + ")")
    if value.get("dtype"):
        parts.append(str(value["dtype"]))
    for key in ("mean", "std", "min", "max"):
        if key in value:
            v = value[key]
            parts.append(f"{key}={num(v) if isinstance(v, float) else v}")
    for key in ("nan_count", "inf_count"):
        if value.get(key):
            parts.append(f"{key.split('_')[0]}={value[key]}")
    return " ".join(parts)


def cell(value: Any) -> str:
    """A value for a terminal table: floats to 6 significant digits, lists of str joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return num(value)
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict) and "_type" in value:
        return tensor_text(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return dumps(value, indent=None)


def csv_cell(value: Any) -> str:
    """A value for CSV, exact: floats as Python's shortest round-trip repr, NaN/infinities as
    ``NaN``/``Infinity``/``-Infinity``, booleans as ``true``/``false``, missing as empty,
    lists and dicts as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return to_json(value) if not math.isfinite(value) else repr(value)
    if isinstance(value, (str, int)):
        return str(value)
    return dumps(value, indent=None)


# -- output -------------------------------------------------------------------------------


def stdout_console():
    """A rich Console for stdout: the terminal's width and colours on a TTY; otherwise no
    colour and a very wide page, so that nothing (run ids above all) is cut or wrapped."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console(highlight=False)
    return Console(width=1_000_000, color_system=None, force_terminal=False, highlight=False,
                   emoji=False, legacy_windows=False)


def render(console, *renderables) -> str:
    """The text ``console`` would print (trailing blanks dropped when not on a terminal)."""
    with console.capture() as cap:
        for r in renderables:
            console.print(r)
    text = cap.get()
    if not console.is_terminal:
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    return text


def write(text: str) -> None:
    click.echo(text, nl=False)


@contextlib.contextmanager
def busy(message: str, delay: float = 0.3) -> Iterator[None]:
    """A spinner on stderr while the block runs longer than ``delay`` seconds, only when
    stderr is a terminal (so pipes and logs never see it). Print nothing to the terminal
    inside the block: render to a string and print after."""
    if not sys.stderr.isatty() or os.environ.get("TRACKER_NO_PROGRESS"):
        yield
        return
    from rich.console import Console

    status = Console(stderr=True).status(message)
    timer = threading.Timer(delay, status.start)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if timer.is_alive():
            timer.join()
        status.stop()
