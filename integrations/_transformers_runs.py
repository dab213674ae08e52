"""Which run a ``Trainer``'s TrackerCallback writes to, and how it starts it: the user's own
run, one per trial under ``hyperparameter_search`` (named after the trial, grouped by
``run_name``), the run a checkpoint was written by, or a new one.

Framework-free: ``TrainingArguments`` and ``TrainerState`` are read by attribute.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

import tracker_core
from tracker_core import settings
from tracker_core.errors import NoActiveRunError
from tracker_core.store import RunExistsError

from ._common import WarnOnce

DEFAULT_PROJECT = "huggingface"

# Runs started by a TrackerCallback (weakly held). A run the user opened with
# tracker_core.init() is reused as it is; a run left open by another TrackerCallback (an
# earlier Trainer in the same process) is finished when this one starts its own.
OWNED: weakref.WeakSet[Any] = weakref.WeakSet()


def active_run() -> Any:
    """The process's current run, unless there is none or it is finished."""
    try:
        run = tracker_core.current_run()
    except NoActiveRunError:
        return None
    return None if getattr(run, "finished", False) else run


def checkpointed_run(state: Any, callback_name: str) -> dict | None:
    """``{"id", "project", "entity"}`` of the run a checkpoint was written by: the state the
    callback class ``callback_name`` exported into ``state.stateful_callbacks``."""
    stored = getattr(state, "stateful_callbacks", None)
    if not isinstance(stored, Mapping):
        return None
    entry = stored.get(callback_name)
    if isinstance(entry, list):
        entry = entry[0] if entry else None
    if not isinstance(entry, Mapping):
        return None
    info = (entry.get("attributes") or {}).get("_tracker_resume")
    if isinstance(info, Mapping) and isinstance(info.get("id"), str):
        return dict(info)
    return None


def start_run(init: dict, args: Any, state: Any, info: dict | None, warn: WarnOnce) -> Any:
    """``tracker_core.init`` with the callback's arguments ``init``, completed from the
    environment, ``args``, ``state`` (trial) and ``info`` (the checkpoint's run); a
    checkpoint's run that cannot be continued gives a new run, with one warning."""
    kw = dict(init)
    kw["project"] = kw["project"] or settings.env("TRACKER_PROJECT") or DEFAULT_PROJECT
    trial = getattr(state, "trial_name", None) if getattr(state, "is_hyper_param_search", False) else None
    run_name = getattr(args, "run_name", None)
    if kw["name"] is None:
        if trial is not None:
            kw["name"] = str(trial)
        elif isinstance(run_name, str) and run_name and run_name != getattr(args, "output_dir", None):
            kw["name"] = run_name
    if trial is not None and kw["group"] is None:
        kw["group"] = str(run_name or getattr(args, "output_dir", None) or "hyperparameter-search")
    if kw["id"] is None and info is not None and trial is None and settings.env("TRACKER_RUN_ID") is None:
        kw["id"] = info["id"]
        kw["project"] = info.get("project") or kw["project"]
        kw["entity"] = info.get("entity") or kw["entity"]
        if kw["resume"] is None:
            kw["resume"] = "allow"
    try:
        return tracker_core.init(**kw)
    except RunExistsError as exc:
        if kw["id"] is None or init["id"] is not None:
            raise
        warn("resume", f"could not continue run {kw['id']} ({exc}); starting a new run")
        kw.update(id=None, resume=init["resume"])
        return tracker_core.init(**kw)
