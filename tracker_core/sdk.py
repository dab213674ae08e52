"""``tracker_core.init`` and the module-level functions that act on the current run."""

from __future__ import annotations

import atexit
import os
import random
import string
import sys
import threading
import time
from collections.abc import MutableMapping
from typing import Any, Iterator

from . import metadata, settings
from .config import plain_config
from .errors import NoActiveRunError, RunNotFoundError
from .run import Run
from .store import RUNNING, RunExistsError, RunRecord, open_store
from .store.liveness import this_host

_lock = threading.RLock()
_current: Run | None = None
_live: list[Run] = []
_atexit_registered = False

_ADJECTIVES = ("amber", "bold", "calm", "dark", "eager", "fresh", "gentle", "hidden", "icy", "jolly", "keen",
               "lively", "misty", "noble", "proud", "quiet", "rapid", "silent", "tidy", "vivid", "wild", "young")
_NOUNS = ("river", "forest", "meadow", "comet", "harbor", "summit", "breeze", "canyon", "dawn", "ember", "field",
          "glade", "haze", "island", "lake", "moon", "ocean", "pine", "rain", "star", "wave", "valley")


def new_run_id() -> str:
    """A fresh run id (8 lowercase letters and digits), as ``init`` makes; adapters fix one early."""
    return "".join(random.SystemRandom().choices(string.ascii_lowercase + string.digits, k=8))


def _new_name(run_id: str) -> str:
    rnd = random.Random(run_id)
    return f"{rnd.choice(_ADJECTIVES)}-{rnd.choice(_NOUNS)}-{run_id[:4]}"


def _check_str(arg: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"init: {arg} must be a str, got {value!r} ({type(value).__name__})")


def init(project: str | None = None, entity: str | None = None, name: str | None = None, id: str | None = None,
         config: Any = None, tags: list[str] | None = None, notes: str | None = None, group: str | None = None,
         job_type: str | None = None, resume: bool | str | None = None, strict: bool = False,
         store: str | os.PathLike | None = None, mode: str | None = None,
         system_metrics: bool | None = None, shared: bool | None = None) -> Run:
    """Start a run (and make it the current one) in the embedded store.

    ``store``: a directory, ``sqlite:///`` or ``postgresql://`` URL (default ``TRACKER_STORE`` or
    ``./tracker_runs``). ``id`` + ``resume="allow"|"must"`` continues an existing run with
    its summary aggregation state and metric definitions restored (``TRACKER_RUN_ID`` /
    ``TRACKER_RESUME`` do the same from outside). ``strict=True`` makes a log to a step
    below the current one an error. ``mode="disabled"`` (or ``TRACKER_MODE``) returns a
    run whose every call is a no-op. ``system_metrics=False`` (or
    ``TRACKER_SYSTEM_METRICS=0``) turns off the CPU/RAM/GPU sampler. A run still open in
    this process is finished first.

    ``shared=True`` (or ``TRACKER_SHARED=1``) with an ``id``: several processes write this
    one run at once (multi-node training, workers of one sweep trial). The first creates
    it, the others join, even while it runs; the store merges their rows into one history
    and one summary (``store/shared_runs.py``); the run finishes when its last writer does.
    """
    if settings.mode(mode) == "disabled":
        from .disabled import DisabledRun

        return _activate(DisabledRun(project=project, name=name, config=config))
    project = settings.resolve_name("project", project, "TRACKER_PROJECT", settings.DEFAULT_PROJECT)
    entity = settings.resolve_name("entity", entity, "TRACKER_ENTITY", settings.default_entity())
    for arg, value in (("name", name), ("notes", notes), ("group", group), ("job_type", job_type)):
        _check_str(arg, value)
    if not isinstance(strict, bool):
        raise TypeError(f"init: strict must be True or False, got {strict!r}")
    if tags is not None:
        if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
            raise TypeError(f"init: tags must be a list of str, got {tags!r}")
        tags = list(tags)
    resume_mode = settings.resume_mode(resume if resume is not None else settings.env("TRACKER_RESUME"), "init")
    run_id = id if id is not None else settings.env("TRACKER_RUN_ID")
    if run_id is not None:
        settings.check_run_id(run_id)
    config_values = plain_config(config)  # errors before anything is stored
    shared = _shared_flag(shared)
    if shared and run_id is None:
        raise ValueError("init(shared=True) needs id=...: every process that writes the run must name the same id")

    with _lock:
        if _current is not None:
            _current.finish()
        st = open_store(store)
        given = {k: v for k, v in (("name", name), ("notes", notes), ("group", group), ("job_type", job_type),
                                   ("tags", tags)) if v is not None}  # run fields the caller set
        if shared:
            run = _join_shared(st, entity, project, run_id, resume_mode, given, strict, config_values,
                               system_metrics)
            return _activate(run)
        now = time.time()
        existing = st.get_run(entity, project, run_id) if run_id is not None else None
        if existing is None and resume_mode == "must":
            raise RunNotFoundError(f"init(resume='must'): run {entity}/{project}/{run_id} is not in {st.url}")
        if existing is not None:
            if resume_mode in (None, "never"):
                raise RunExistsError(
                    f"run {entity}/{project}/{run_id} already exists in {st.url}; pass resume='allow' to continue it"
                )
            if existing.state == RUNNING:
                raise RunExistsError(f"run {existing.entity}/{project}/{run_id} is still running "
                                     f"(pid {existing.pid} on {existing.host}); it cannot be resumed twice")
            st.update_run(existing.uid, state=RUNNING, host=this_host(), pid=os.getpid(), heartbeat_at=now,
                          finished_at=None, exit_code=None, shared=False, **given)
            existing = st.get_run(entity, project, run_id)
            run = Run(st, existing, strict=strict, resumed=True, flush_interval=settings.flush_interval(),
                      config=config_values, system_metrics=system_metrics)
        else:
            run_id = run_id or new_run_id()
            record = _new_record(entity, project, run_id, given, shared=False)
            st.create_run(record)
            run = Run(st, record, strict=strict, resumed=False, flush_interval=settings.flush_interval(),
                      config=config_values, system_metrics=system_metrics)
        return _activate(run)


def _new_record(entity: str, project: str, run_id: str, given: dict, shared: bool) -> RunRecord:
    """The record of a run this process creates now; ``given``: name, notes, group,
    job_type, tags the caller set."""
    now = time.time()
    return RunRecord(entity=entity, project=project, run_id=run_id, name=given.get("name") or _new_name(run_id),
                     created_at=now, updated_at=now, heartbeat_at=now, notes=given.get("notes"),
                     tags=list(given.get("tags") or []), group=given.get("group"), job_type=given.get("job_type"),
                     host=this_host(), pid=os.getpid(), metadata=metadata.collect(), shared=shared)


def _shared_flag(shared: Any) -> bool:
    if shared is None:
        raw = (settings.env("TRACKER_SHARED") or "0").lower()
        if raw not in ("0", "1", "true", "false", "yes", "no"):
            raise ValueError(f"TRACKER_SHARED must be 0 or 1, got {raw!r}")
        return raw in ("1", "true", "yes")
    if not isinstance(shared, bool):
        raise TypeError(f"init: shared must be True or False, got {shared!r}")
    return shared


def _join_shared(st, entity: str, project: str, run_id: str, resume_mode: str | None, fields: dict, strict: bool,
                 config_values: dict | None, system_metrics: bool | None) -> Run:
    """Create shared run ``run_id`` or join it as one more writer (any state)."""
    writer = f"{this_host()}:{os.getpid()}:{new_run_id()}"
    existing = st.get_run(entity, project, run_id)
    if existing is None:
        if resume_mode == "must":
            raise RunNotFoundError(f"init(resume='must'): run {entity}/{project}/{run_id} is not in {st.url}")
        record = _new_record(entity, project, run_id, fields, shared=True)
        try:
            st.create_run(record)
        except RunExistsError:  # another writer of the group created it first
            record = st.get_run(entity, project, run_id)
        uid = record.uid
    else:
        uid = existing.uid
    joined = st.attach_writer(uid, writer, this_host(), os.getpid(), fields)
    if joined is None:
        raise RunNotFoundError(f"run {entity}/{project}/{run_id} was deleted while this process joined it")
    record, first_step = joined
    return Run(st, record, strict=strict, resumed=True, flush_interval=settings.flush_interval(),
               config=config_values, system_metrics=system_metrics, writer=writer, first_step=first_step)


def _activate(run: Any) -> Any:
    global _current, _atexit_registered
    with _lock:
        _current = run
        _live.append(run)
        if not _atexit_registered:
            atexit.register(_finish_at_exit, os.getpid())
            _atexit_registered = True
    return run


def _forget(run: Any) -> None:
    global _current
    with _lock:
        if run in _live:
            _live.remove(run)
        if _current is run:
            _current = None


def _finish_at_exit(pid: int) -> None:
    """Interpreter exit flushes every open run; an uncaught exception marks it failed."""
    if os.getpid() != pid:  # a forked child must not finish its parent's runs
        return
    failed = getattr(sys, "last_value", None) is not None
    for run in list(_live):
        try:
            run.finish(exit_code=1 if failed else 0)
        except Exception as exc:  # exit must go on; the run will read as crashed
            print(f"tracker_core: could not finish run {getattr(run, 'path', run)}: {exc!r}", file=sys.stderr)


def current_run() -> Run:
    """The run module-level calls act on; with ``TRACKER_MODE=disabled`` a no-op run."""
    if _current is None:
        if (settings.env("TRACKER_MODE") or "").lower() == "disabled":
            from .disabled import DisabledRun

            return DisabledRun()  # "every call a no-op that never fails" (DESIGN.md 9)
        raise NoActiveRunError("no active run: call tracker_core.init() first")
    return _current


def log(data: Any, step: int | None = None, commit: bool | None = None) -> None:
    """``current_run().log(...)``; see :meth:`Run.log`."""
    current_run().log(data, step=step, commit=commit)


def define_metric(name: str, step_metric: str | None = None, step_sync: bool | None = None,
                  hidden: bool | None = None, summary: str | list[str] | None = None,
                  objective: str | None = None, overwrite: bool | None = None, *, goal: str | None = None):
    """``current_run().define_metric(...)``; see :meth:`Run.define_metric`."""
    return current_run().define_metric(name, step_metric=step_metric, step_sync=step_sync, hidden=hidden,
                                       summary=summary, objective=objective, overwrite=overwrite, goal=goal)


def finish(exit_code: int | None = None) -> None:
    """Finish the current run, if any (a no-op otherwise, like W&B)."""
    if _current is not None:
        _current.finish(exit_code=exit_code)


class _CurrentRunMapping(MutableMapping):
    """``tracker_core.summary`` / ``tracker_core.config``: the current run's, whichever it is."""

    def __init__(self, attr: str) -> None:
        object.__setattr__(self, "_attr", attr)

    def _target(self) -> MutableMapping:
        return getattr(current_run(), self._attr)

    def __getitem__(self, key: str) -> Any:
        return self._target()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._target()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._target()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._target())

    def __len__(self) -> int:
        return len(self._target())

    def __contains__(self, key: object) -> bool:
        return key in self._target()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target(), name, value)

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self._target().update(*args, **kwargs)

    def __repr__(self) -> str:
        return repr(self._target()) if _current is not None else f"<tracker_core.{self._attr}: no active run>"


summary = _CurrentRunMapping("summary")
config = _CurrentRunMapping("config")
