"""``TrackerLogger``'s arguments, checked and normalised when the logger is made.

Everything is validated up front so that a bad argument fails at ``TrackerLogger(...)``,
not in the middle of training (the logger's hooks never raise).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple, Optional

from tracker_core import metrics as _metrics
from tracker_core import settings as _settings

from ._common import sanitize_config

INIT_KWARGS = ("strict", "job_type", "mode", "system_metrics")  # tracker_core.init options passed through


class LoggerArgs(NamedTuple):
    """The arguments that ``check_logger_args`` resolved (defaults, environment, aliases)."""

    project: str
    entity: Optional[str]
    run_id: Optional[str]  # None: adopt the user's run or make a new id
    config: Optional[dict]
    tags: Optional[list]
    resume: Optional[str]  # "allow", "must", "never" or None
    mode: str  # tracker_core's resolved mode ("disabled": nothing is written)
    summary_specs: dict  # metric name -> define_metric kwargs


def check_logger_args(project: Any, name: Any, id: Any, entity: Any, config: Any, tags: Any, notes: Any,
                      group: Any, store: Any, summary: Any, resume: Any, version: Any, save_dir: Any,
                      init_kwargs: Mapping[str, Any]) -> LoggerArgs:
    """Check every ``TrackerLogger`` argument; raises TypeError/ValueError naming the argument."""
    for arg, value in (("name", name), ("notes", notes), ("group", group)):
        _check_opt_str(arg, value)
    try:
        project = _settings.resolve_name("project", project, "TRACKER_PROJECT", _settings.DEFAULT_PROJECT)
        if entity is not None:
            entity = _settings.resolve_name("entity", entity, "TRACKER_ENTITY", "")
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"TrackerLogger: {exc}") from None
    if id is not None and version is not None and id != version:
        raise ValueError(f"TrackerLogger: id={id!r} and version={version!r} disagree; version is an alias of id, "
                         "pass one")
    run_id = id if id is not None else version
    if run_id is None:
        run_id = _settings.env("TRACKER_RUN_ID")
    if run_id is not None:
        if not isinstance(run_id, str):
            raise TypeError(f"TrackerLogger: id/version must be a str (the run id), got {run_id!r} "
                            f"({type(run_id).__name__})")
        try:
            _settings.check_run_id(run_id)
        except ValueError as exc:
            raise ValueError(f"TrackerLogger: {exc}") from None
    if tags is not None:
        if isinstance(tags, str) or not isinstance(tags, (list, tuple)) or not all(isinstance(t, str) for t in tags):
            raise TypeError(f"TrackerLogger: tags must be a list of str, got {tags!r}")
        tags = list(tags)
    if config is not None:
        config = sanitize_config(config)
        if not isinstance(config, dict):
            raise TypeError("TrackerLogger: config must be a dict, argparse.Namespace or dataclass instance, got "
                            f"{type(config).__name__}")
    if store is not None and not isinstance(store, (str, os.PathLike)):
        raise TypeError(f"TrackerLogger: store must be a directory, a sqlite:/// URL or None, got {store!r}")
    if save_dir is not None and not isinstance(save_dir, (str, os.PathLike)):
        raise TypeError(f"TrackerLogger: save_dir must be a path or None, got {save_dir!r}")
    resume_mode = _settings.resume_mode(resume if resume is not None else _settings.env("TRACKER_RESUME"),
                                        "TrackerLogger")
    unknown = sorted(set(init_kwargs) - set(INIT_KWARGS))
    if unknown:
        raise TypeError(f"TrackerLogger: unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
                        f"tracker_core.init options accepted here: {', '.join(INIT_KWARGS)}")
    if "strict" in init_kwargs and not isinstance(init_kwargs["strict"], bool):
        raise TypeError(f"TrackerLogger: strict must be True or False, got {init_kwargs['strict']!r}")
    _check_opt_str("job_type", init_kwargs.get("job_type"))
    if "system_metrics" in init_kwargs and not isinstance(init_kwargs["system_metrics"], (bool, type(None))):
        raise TypeError(f"TrackerLogger: system_metrics must be True, False or None, "
                        f"got {init_kwargs['system_metrics']!r}")
    try:
        mode = _settings.mode(init_kwargs.get("mode"))
    except ValueError as exc:
        raise ValueError(f"TrackerLogger: {exc}") from None
    specs = _summary_specs(summary)
    return LoggerArgs(project, entity, run_id, config, tags, resume_mode, mode, specs)


def default_save_dir(store: Any) -> str:
    """The local store directory (checkpoints then sit beside the run data), else the cwd."""
    url = _settings.resolve_store_url(store)
    if "://" in url and not url.startswith("sqlite:///"):
        return os.path.abspath(".")
    return os.path.dirname(_settings.sqlite_path(url))


def _check_opt_str(arg: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"TrackerLogger: {arg} must be a str or None, got {value!r} ({type(value).__name__})")


def _summary_specs(summary: Any) -> dict:
    """``{"val_loss": "min", "val_acc": {"summary": "best", "objective": "max"}}`` -> define_metric kwargs.

    Validated here, so a typo fails when the logger is made, not in the middle of training."""
    if summary is None:
        return {}
    if not isinstance(summary, Mapping):
        raise TypeError("TrackerLogger: summary must be a dict of metric name to summary ops, e.g. "
                        f"{{'val_loss': 'min'}}, got {summary!r} ({type(summary).__name__})")
    specs = {}
    for name, spec in summary.items():
        if isinstance(spec, Mapping):
            kwargs = dict(spec)
            unknown = sorted(set(kwargs) - {"summary", "objective", "goal", "hidden", "step_metric", "step_sync"})
            if unknown:
                raise TypeError(f"TrackerLogger: summary[{name!r}] has unknown keys {unknown}; allowed: summary, "
                                "objective (goal), hidden, step_metric, step_sync")
        elif isinstance(spec, (str, list, tuple)):
            kwargs = {"summary": list(spec) if isinstance(spec, tuple) else spec}
        else:
            raise TypeError(f"TrackerLogger: summary[{name!r}] must be ops like 'min' or 'min,max', a list of ops, "
                            f"or a dict of define_metric arguments, got {spec!r} ({type(spec).__name__})")
        try:
            d = _metrics.build_def(name, **kwargs)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"TrackerLogger: summary[{name!r}]: {exc}") from None
        if d.ops and "best" in d.ops and d.objective is None:
            raise ValueError(f"TrackerLogger: summary[{name!r}]: 'best' needs a direction, e.g. "
                             f"{{{name!r}: {{'summary': 'best', 'objective': 'maximize'}}}}")
        specs[name] = kwargs
    return specs
