"""What the three framework adapters share: config sanitising, rank detection, safe hooks.

Framework-free on purpose: each adapter module imports only its own framework, and this
module imports none.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import os
import warnings
from argparse import Namespace
from collections.abc import Mapping
from typing import Any, Callable, TypeVar

MAX_STR = 10_000  # longer config strings are kept truncated with a marker, never dropped

F = TypeVar("F", bound=Callable[..., Any])


def sanitize_config(value: Any, _depth: int = 0) -> Any:
    """Any hyperparameter object -> plain JSON-like data the core accepts; never raises.

    Namespaces, dataclasses (PEFT configs), objects with ``to_dict()`` and mappings become
    dicts; tuples/sets lists; ``Path`` text; ``Enum`` its value; classes and callables their
    name; tensors and numpy scalars numbers (small arrays lists, large ones a shape note);
    anything else its ``repr``."""
    if _depth > 20:
        return repr(value)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)  # config is JSON: keep NaN as text
    if isinstance(value, str):
        return value if len(value) <= MAX_STR else value[:MAX_STR] + f"...<truncated {len(value) - MAX_STR} chars>"
    if isinstance(value, Namespace):
        value = vars(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    elif not isinstance(value, Mapping) and callable(getattr(value, "to_dict", None)) and not isinstance(value, type):
        try:
            value = value.to_dict()
        except Exception:
            return repr(value)
    if isinstance(value, Mapping):
        return {str(k): sanitize_config(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [sanitize_config(v, _depth + 1) for v in items]
    if isinstance(value, enum.Enum):
        return sanitize_config(value.value, _depth + 1)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, type) or callable(value) and hasattr(value, "__name__"):
        return getattr(value, "__qualname__", None) or value.__name__
    size = getattr(value, "numel", None) or getattr(value, "size", None)
    if hasattr(value, "tolist") and (callable(size) or isinstance(size, int)):
        n = size() if callable(size) else size
        try:
            if n == 1 or getattr(value, "ndim", None) == 0:
                return sanitize_config(value.item() if hasattr(value, "item") else value.tolist(), _depth + 1)
            if n <= 32:
                return sanitize_config(value.tolist(), _depth + 1)
        except Exception:
            pass
        return f"<{type(value).__name__} shape={tuple(getattr(value, 'shape', ()))}>"
    return repr(value)


def process_rank() -> int:
    """Global rank from the launcher's environment (torchrun, SLURM, MPI); 0 when alone."""
    for var in ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK"):
        raw = os.environ.get(var)
        if raw is not None and raw.strip().lstrip("-").isdigit():
            return int(raw)
    return 0


class WarnOnce:
    """One warning per (adapter, cause): a broken metric must not flood the log."""

    def __init__(self, adapter: str) -> None:
        self.adapter = adapter
        self._seen: set = set()

    def __call__(self, cause: str, message: str) -> None:
        if cause in self._seen:
            return
        self._seen.add(cause)
        warnings.warn(f"tracker_core.integrations.{self.adapter}: {message}", RuntimeWarning, stacklevel=3)


def never_raise(fn: F) -> F:
    """Hook decorator: an exception inside a logging hook becomes one warning per hook and
    cause; training goes on (DESIGN.md section 8). The instance must have ``_warn``."""

    @functools.wraps(fn)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - by design
            self._warn(f"{fn.__name__}:{type(exc).__name__}", f"{fn.__name__} failed and was skipped: {exc!r}")
            return None

    return wrapper  # type: ignore[return-value]


def log_row_safely(run: Any, row: dict, warn: WarnOnce) -> None:
    """``run.log(row)``; a value the core rejects is dropped from the row with one warning per key."""
    try:
        run.log(row)
        return
    except TypeError:
        pass
    from tracker_core.values import convert_log_value

    clean = {}
    for key, value in row.items():
        try:
            if not isinstance(value, Mapping):
                convert_log_value(value, str(key))
            clean[key] = value
        except TypeError as exc:
            warn(f"value:{key}", f"metric {key!r} skipped: {exc}")
    run.log(clean)


def update_config_safely(run: Any, values: dict, warn: WarnOnce, label: str = "config key") -> None:
    """``run.config.update(values)``; if the core rejects it, each key alone, a rejected key
    skipped with one warning (``"<label> 'k' skipped: ..."``) and the others kept."""
    try:
        run.config.update(values)
        return
    except (TypeError, ValueError):
        pass
    for key, value in values.items():
        try:
            run.config[key] = value
        except (TypeError, ValueError) as exc:
            warn(f"{label}:{key}", f"{label} {key!r} skipped: {exc}")
