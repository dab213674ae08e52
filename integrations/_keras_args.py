"""The Keras ``TrackerCallback``'s arguments, checked when the callback is made, so that a
bad one fails at ``TrackerCallback(...)`` and not in the middle of ``fit`` (the hooks
never raise)."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

import tracker_core as tc

from ._common import sanitize_config
from ._keras_monitor import MODES

# tracker_core.init arguments taken as **init_kwargs; the others are the callback's own
INIT_ONLY = tuple(p for p in inspect.signature(tc.init).parameters
                  if p not in ("project", "name", "id", "config", "store", "mode"))


def check_callback_args(project: Any, name: Any, id: Any, config: Any, log_freq: Any, monitor: Any, mode: Any,
                        run: Any, store: Any, log_lr: Any, init_kwargs: Mapping[str, Any]) -> tuple:
    """Check every argument; returns ``(batch log frequency or None, sanitised config)``.
    Raises TypeError/ValueError naming the argument."""
    for arg, value in (("project", project), ("name", name), ("id", id)):
        _check_optional_str(arg, value)
    if id is not None:
        from tracker_core.settings import check_run_id

        check_run_id(id)
    if store is not None and not isinstance(store, (str, os.PathLike)):
        raise TypeError(f"TrackerCallback: store must be a directory, a URL or None, got {store!r}")
    batch_freq = _parse_log_freq(log_freq)
    if monitor is not None and (not isinstance(monitor, str) or not monitor.strip()):
        raise TypeError(f"TrackerCallback: monitor must be a non-empty str (a Keras log key such as "
                        f"'val_loss') or None, got {monitor!r}")
    if not isinstance(mode, str) or mode.lower() not in MODES:
        raise ValueError(f"TrackerCallback: mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    if not isinstance(log_lr, bool):
        raise TypeError(f"TrackerCallback: log_lr must be True or False, got {log_lr!r}")
    unknown = sorted(set(init_kwargs) - set(INIT_ONLY))
    if unknown:
        raise TypeError(f"TrackerCallback: unexpected argument(s) {', '.join(unknown)}; allowed besides "
                        f"project, name, id, config, log_freq, monitor, mode, run, store, log_lr: "
                        f"{', '.join(INIT_ONLY)}")
    user_config = sanitize_config(config) if config is not None else {}
    if not isinstance(user_config, dict):
        raise TypeError(f"TrackerCallback: config must be a dict, argparse.Namespace or dataclass instance, "
                        f"got {type(config).__name__}")
    if run is not None:
        if not (callable(getattr(run, "log", None)) and callable(getattr(run, "define_metric", None))):
            raise TypeError(f"TrackerCallback: run must be a tracker_core run (from tracker_core.init), "
                            f"got {run!r}")
        given = [k for k, v in (("project", project), ("name", name), ("id", id), ("store", store)) if v is not None]
        given += sorted(init_kwargs)
        if given:
            raise ValueError(f"TrackerCallback: pass either run= or init arguments, not both "
                             f"(got run= and {', '.join(given)})")
    return batch_freq, user_config


def _check_optional_str(arg: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"TrackerCallback: {arg} must be a str or None, got {value!r} ({type(value).__name__})")


def _parse_log_freq(log_freq: Any) -> int | None:
    """``"epoch"`` -> None (no batch rows); ``"batch"`` -> 1; a positive int -> itself."""
    allowed = "'epoch', 'batch' or a positive int"
    if isinstance(log_freq, str):
        if log_freq.lower() == "epoch":
            return None
        if log_freq.lower() == "batch":
            return 1
        raise ValueError(f"TrackerCallback: log_freq must be {allowed}, got {log_freq!r}")
    if isinstance(log_freq, bool) or not hasattr(log_freq, "__index__"):
        raise TypeError(f"TrackerCallback: log_freq must be {allowed}, got {log_freq!r} ({type(log_freq).__name__})")
    if log_freq.__index__() < 1:
        raise ValueError(f"TrackerCallback: log_freq must be {allowed}, got {log_freq!r}")
    return log_freq.__index__()
