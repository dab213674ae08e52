"""The one implementation behind ``TrackerLogger`` (lightning.pytorch) and ``PLTrackerLogger``
(pytorch_lightning).

Framework-free on purpose: this module imports neither ``lightning`` nor
``pytorch_lightning`` (only ``lightning_utilities``, which both packages depend on, and
only lazily, to read the process rank). The two thin subclasses in ``lightning.py`` add the
package's ``Logger`` base class and its ``rank_zero_experiment`` decorator.

The contract it follows is in /work/shared/notes/frameworks.md section 2 (rules L1..L9);
the decisions that go beyond it are in the ``lightning.py`` module docstring.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from argparse import Namespace
from collections.abc import Mapping
from typing import Any, Optional, Union

import tracker_core as tc
from tracker_core import metrics as _metrics
from tracker_core import settings as _settings

from ._common import (
    WarnOnce,
    log_row_safely,
    never_raise,
    process_rank,
    sanitize_config,
    update_config_safely,
)

STEP_KEY = "trainer/global_step"  # the framework step, logged as a metric (never the core step=)
STATUS_KEY = "trainer/status"  # last finalize() status: "success", "failed", "finished"
BEST_CKPT_KEY = "best_checkpoint"
BEST_SCORE_KEY = "best_checkpoint_score"
LAST_CKPT_KEY = "last_checkpoint"
NUM_PARAMS_KEY = "model/num_parameters"

# Run ids handed from a launching process to the scripts Lightning's `ddp` strategy starts
# again for local ranks 1..n-1 (``_SubprocessScriptLauncher``: same script, LOCAL_RANK set,
# os.environ copied): "<pid of the launcher>:<id of its 1st logger>,<id of its 2nd>,...".
IDS_ENV = "TRACKER_LIGHTNING_RUN_IDS"

_INIT_KWARGS = ("strict", "job_type", "mode", "system_metrics")
_MONITOR_CLASSES = ("ModelCheckpoint", "EarlyStopping")

_lock = threading.Lock()
_loggers_made = 0  # loggers constructed in this process (index into IDS_ENV in a ddp child)
_run_status: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()  # our runs -> last status
_atexit_pid: Optional[int] = None


# -- helpers -----------------------------------------------------------------------------

_rank_zero_only: Any = None


def _rank() -> int:
    """Lightning's global rank (set by the strategy, shared by both packages), else the env."""
    global _rank_zero_only
    rzo = _rank_zero_only
    if rzo is None:
        try:
            from lightning_utilities.core.rank_zero import rank_zero_only as rzo
        except ImportError:  # pragma: no cover - both packages depend on lightning_utilities
            return process_rank()
        _rank_zero_only = rzo
    rank = getattr(rzo, "rank", None)
    return rank if isinstance(rank, int) else process_rank()


def _check_opt_str(arg: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"TrackerLogger: {arg} must be a str or None, got {value!r} ({type(value).__name__})")


def _resume_mode(resume: Any) -> Optional[str]:
    if resume is None or resume is False:
        return None
    if resume is True:
        return "allow"
    if isinstance(resume, str) and resume.lower() in ("allow", "must", "never"):
        return resume.lower()
    raise ValueError(f"TrackerLogger: resume must be None, True, False, 'allow', 'must' or 'never', got {resume!r}")


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


def _default_save_dir(store: Any) -> str:
    """The local store directory (checkpoints then sit beside the run data), else the cwd."""
    url = _settings.resolve_store_url(store)
    if "://" in url and not url.startswith("sqlite:///"):
        return os.path.abspath(".")
    return os.path.dirname(_settings.sqlite_path(url))


def _shared_run_id(given: Optional[str]) -> str:
    """The run id of a new logger: ``given``, else the one the ``ddp`` launcher made for the
    logger at the same position in its script, else a new one (recorded for our children)."""
    global _loggers_made
    from tracker_core.sdk import new_run_id

    with _lock:
        index = _loggers_made
        _loggers_made += 1
        owner, ids = None, []
        raw = os.environ.get(IDS_ENV, "")
        if ":" in raw:
            head, _, tail = raw.partition(":")
            owner = int(head) if head.isdigit() else None
            ids = [i for i in tail.split(",") if i]
        is_ddp_child = os.environ.get("LOCAL_RANK", "0") not in ("", "0") and owner == os.getppid()
        if is_ddp_child:
            return given or (ids[index] if index < len(ids) else new_run_id())
        run_id = given or new_run_id()
        if owner != os.getpid():
            ids = []
        ids.append(run_id)
        os.environ[IDS_ENV] = f"{os.getpid()}:{','.join(ids)}"
        return run_id


def _finish_run(run: Any, exit_code: Optional[int] = None) -> None:
    """Finish ``run``; a run whose last stage failed ends ``failed`` unless told otherwise."""
    if exit_code is None:
        exit_code = 1 if _run_status.get(run) == "failed" else 0
    run.finish(exit_code=exit_code)


def _finish_failed_at_exit(pid: int) -> None:
    """Runs before tracker_core's own exit hook (registered later, so called first): a run
    whose last Lightning stage failed ends ``failed`` even when the script caught the error."""
    if os.getpid() != pid:
        return
    for run, status in list(_run_status.items()):
        if status == "failed" and not getattr(run, "finished", True):
            try:
                run.finish(exit_code=1)
            except Exception:  # noqa: BLE001 - tracker_core's hook reports it
                pass


def _register_exit_hook() -> None:
    global _atexit_pid
    if _atexit_pid != os.getpid():
        _atexit_pid = os.getpid()
        atexit.register(_finish_failed_at_exit, os.getpid())


# -- the implementation ------------------------------------------------------------------

class TrackerLoggerBase:
    """Everything of ``TrackerLogger`` but the Lightning base class (see ``lightning.py``)."""

    LOGGER_NAME = "lightning"

    def __init__(
        self,
        project: Optional[str] = None,
        name: Optional[str] = None,
        id: Optional[str] = None,
        entity: Optional[str] = None,
        config: Optional[Any] = None,
        tags: Optional[list] = None,
        notes: Optional[str] = None,
        group: Optional[str] = None,
        store: Optional[Union[str, os.PathLike]] = None,
        summary: Optional[dict] = None,
        resume: Optional[Union[bool, str]] = None,
        *,
        version: Optional[str] = None,
        save_dir: Optional[Union[str, os.PathLike]] = None,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        # -- validate everything up front: a bad argument fails here, not mid-training
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
        resume_mode = _resume_mode(resume if resume is not None else _settings.env("TRACKER_RESUME"))
        unknown = sorted(set(init_kwargs) - set(_INIT_KWARGS))
        if unknown:
            raise TypeError(f"TrackerLogger: unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
                            f"tracker_core.init options accepted here: {', '.join(_INIT_KWARGS)}")
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

        # -- adopt a run the user already started in this process (like WandbLogger)
        adopted = None
        if run_id is None and mode != "disabled":
            adopted = self._active_user_run(project, entity)
            if adopted is not None:
                run_id = adopted.id

        self._project: str = project
        self._entity = entity
        self._run_name = name
        self._id: str = _shared_run_id(run_id)
        self._config = config
        self._tags = tags
        self._notes = notes
        self._group = group
        self._store = os.fspath(store) if store is not None else None
        self._summary_specs = specs
        self._resume = resume_mode
        self._init_kwargs = dict(init_kwargs)
        self._disabled = mode == "disabled"
        if self._disabled:
            self._save_dir: Optional[str] = None  # tracking writes nothing; checkpoints go to default_root_dir
        else:
            self._save_dir = os.path.abspath(os.fspath(save_dir)) if save_dir is not None else _default_save_dir(store)
        self._warn = WarnOnce(self.LOGGER_NAME)
        self._run: Any = adopted
        self._started = False  # this object has started (or attached to) its run once
        self._spawned = False  # this object is an unpickled copy in another process (ddp_spawn worker)
        self._owner_pid = os.getpid()
        self._status: Optional[str] = None
        self._monitors: dict = {}  # monitor -> objective, best summaries defined for
        self._ckpt_state_key: Optional[str] = None  # the ModelCheckpoint whose paths go into the summary
        self._ckpt_written: Optional[tuple] = None  # (best path, score, last path) last written: dedup
        self._num_params: Optional[int] = None
        if adopted is not None:
            self._warn("adopt", f"using the run already active in this process ({adopted.path}); call "
                                "tracker_core.finish() before creating the logger to get a new run")
            self._setup_run(adopted)

    @staticmethod
    def _active_user_run(project: str, entity: Optional[str]) -> Any:
        """The live run the user started with tracker_core.init(), if it fits this logger."""
        if _rank() != 0:
            return None
        try:
            run = tc.current_run()
        except Exception:  # noqa: BLE001 - no active run
            return None
        if not isinstance(run, tc.Run) or run.finished or run in _run_status:
            return None  # a run of another TrackerLogger is not the user's
        if run.project != project or (entity is not None and run.entity != entity):
            return None
        return run

    # -- identity (Lightning: checkpoint dir = save_dir/name/version/checkpoints) -------
    @property
    def name(self) -> str:
        """The project (the middle part of the checkpoint path)."""
        return self._project

    @property
    def version(self) -> str:
        """The run id, fixed when the logger is made, the same on every rank; reading it
        never starts the run."""
        return self._id

    @property
    def save_dir(self) -> Optional[str]:
        """Root of the local run directories: the store directory by default (``None`` when
        ``TRACKER_MODE=disabled``, so Lightning falls back to ``default_root_dir``)."""
        return self._save_dir

    @property
    def root_dir(self) -> Optional[str]:
        return os.path.join(self._save_dir, self._project) if self._save_dir is not None else None

    @property
    def log_dir(self) -> Optional[str]:
        """``save_dir/project/run_id``: this run's local directory (checkpoints below it)."""
        return os.path.join(self._save_dir, self._project, self._id) if self._save_dir is not None else None

    @property
    def path(self) -> str:
        """``entity/project/run_id`` once the run exists, ``project/run_id`` before (both
        work with ``tracker_core.Api().run(...)``)."""
        run = self._run
        if run is not None and not self._disabled:
            return run.path
        return f"{self._entity}/{self._project}/{self._id}" if self._entity else f"{self._project}/{self._id}"

    @property
    def status(self) -> Optional[str]:
        """The last status Lightning passed to ``finalize`` on this process (None before)."""
        return self._status

    # -- the run -------------------------------------------------------------------------
    def _experiment_rank_zero(self) -> Any:
        """The live run, started (or attached to) on first use. Wrapped by
        ``rank_zero_experiment`` in the thin classes: other ranks get a no-op object."""
        run = self._run
        if self._owner_pid != os.getpid():
            # a forked copy (ddp_notebook, fork start method): the handle belongs to the parent
            self._run, run, self._spawned, self._owner_pid = None, None, True, os.getpid()
        if run is not None and not getattr(run, "finished", False):
            return run
        try:
            run = self._start_run()
        except Exception as exc:  # noqa: BLE001 - logging must never stop training
            from tracker_core.disabled import DisabledRun

            self._warn("init", f"could not start run {self._project}/{self._id}, nothing will be logged: {exc!r}")
            run = DisabledRun(project=self._project)
        self._run = run
        return run

    def _start_run(self) -> Any:
        # A second logger (or a deepcopy) with the same id in this process shares the live run.
        try:
            current = tc.current_run()
        except Exception:  # noqa: BLE001 - none active
            current = None
        if (isinstance(current, tc.Run) and not current.finished and current.id == self._id
                and current.project == self._project and (self._entity is None or current.entity == self._entity)):
            run = current
        else:
            if current is not None and current in _run_status and not getattr(current, "finished", True):
                _finish_run(current)  # another logger's run: its failed status decides its end state
            first = not self._started
            resume = self._resume if first else ("must" if self._resume == "must" else "allow")
            run = tc.init(
                project=self._project, entity=self._entity, name=self._run_name, id=self._id,
                config=self._config if first else None, tags=self._tags, notes=self._notes, group=self._group,
                resume=resume if resume is not None else "allow", store=self._store, **self._init_kwargs,
            )
        self._setup_run(run)
        return run

    def _setup_run(self, run: Any) -> None:
        self._started = True
        _run_status.setdefault(run, self._status or "running")
        _register_exit_hook()
        # Lightning's own step is a metric, every other key is plotted against it (rule L2).
        run.define_metric(STEP_KEY)
        run.define_metric("*", step_metric=STEP_KEY)
        for key, kwargs in self._summary_specs.items():
            try:
                run.define_metric(key, **kwargs)
            except (TypeError, ValueError) as exc:  # e.g. conflicts with a resumed definition
                self._warn(f"summary:{key}", f"summary for {key!r} not applied: {exc}")
        for monitor, objective in self._monitors.items():
            self._define_best(run, monitor, objective)

    @property
    def run(self) -> Any:
        """Alias of ``experiment`` for readability: the ``tracker_core.Run`` on rank 0."""
        return self.experiment  # type: ignore[attr-defined]

    def finish(self, exit_code: Optional[int] = None) -> None:
        """Finish the run now (rank 0). ``exit_code`` defaults to 1 when the last stage
        failed, else 0. A later stage attaches to the same run again (``resume="allow"``)."""
        if _rank() != 0:
            return
        run = self._run if self._owner_pid == os.getpid() else None
        if run is not None and not getattr(run, "finished", True):
            _finish_run(run, exit_code)

    # -- Lightning hooks -----------------------------------------------------------------
    @never_raise
    def log_metrics(self, metrics: Mapping[str, Any], step: Optional[int] = None) -> None:
        """One history row: the metrics plus ``trainer/global_step = step`` (never the core
        ``step=``: Lightning's steps repeat and go back). Rank 0 only."""
        if _rank() != 0:
            return
        run = self._experiment_rank_zero()
        row = {k if type(k) is str else str(k): v for k, v in metrics.items()}
        if step is not None:
            row[STEP_KEY] = step if type(step) is int else int(step)
        log_row_safely(run, row, self._warn)

    @never_raise
    def log_hyperparams(self, params: Union[Mapping[str, Any], Namespace, Any], *args: Any, **kwargs: Any) -> None:
        """Merge (sanitised) hyperparameters into the run's config. Rank 0 only; extra
        arguments (``metrics=`` from TensorBoard-style callers) are ignored."""
        if _rank() != 0 or params is None:
            return
        clean = sanitize_config(params)
        if not isinstance(clean, dict):
            self._warn("hparams:type", f"log_hyperparams expects a dict or Namespace, got {type(params).__name__}; "
                                       "stored under 'hparams'")
            clean = {"hparams": clean}
        update_config_safely(self._experiment_rank_zero(), clean, self._warn, "hyperparameter")

    @never_raise
    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """No forward pass: records ``model/num_parameters`` and picks up the ``monitor`` and
        ``mode`` of the trainer's ModelCheckpoint / EarlyStopping callbacks (best summaries)."""
        if _rank() != 0:
            return
        trainer = getattr(model, "_trainer", None)
        if trainer is not None:
            self._discover_monitors(getattr(trainer, "callbacks", None) or [])
        params = getattr(model, "parameters", None)
        if callable(params):
            try:
                n = sum(int(p.numel()) for p in params())
            except Exception:  # noqa: BLE001 - lazy (uninitialised) parameters have no size yet
                return
            if n != self._num_params:
                self._num_params = n
                self._experiment_rank_zero().config[NUM_PARAMS_KEY] = n

    def save(self) -> None:
        """O(1): the core's background writer persists every ``flush_interval`` seconds."""

    @never_raise
    def finalize(self, status: str) -> None:
        """End of a stage (``"success"``), an exception (``"failed"``) or a SLURM requeue
        (``"finished"``): flush and record ``trainer/status`` in the summary. The run stays
        open (``trainer.test()`` after ``fit`` logs into it); see the module docstring for
        how a failed run ends."""
        if _rank() != 0:
            return
        self._status = status
        run = self._run if self._owner_pid == os.getpid() else None
        if run is None or getattr(run, "finished", True):
            return  # nothing was started here: nothing to record
        _run_status[run] = status
        run.summary[STATUS_KEY] = status
        if self._spawned:
            # a ddp_spawn worker ends right after its stage; the parent or the next stage's
            # worker attaches to the run again by id
            _finish_run(run)
            return
        self._flush(run)

    @never_raise
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Best checkpoint path and score (a float) and the last checkpoint path into the
        summary; identical repeats (2.6 calls twice per save with ``save_last``) write nothing."""
        if _rank() != 0:
            return
        cb = checkpoint_callback
        monitor, mode = getattr(cb, "monitor", None), getattr(cb, "mode", None)
        if isinstance(monitor, str) and monitor and mode in ("min", "max"):
            self._add_monitor(monitor, mode)
        key = str(getattr(cb, "state_key", None) or monitor)
        if self._ckpt_state_key is None:
            self._ckpt_state_key = key
        elif key != self._ckpt_state_key:
            return  # the summary describes the first ModelCheckpoint (Lightning's trainer.checkpoint_callback)
        best = getattr(cb, "best_model_path", "") or ""
        score = getattr(cb, "best_model_score", None)
        if score is not None:
            score = float(score.item() if hasattr(score, "item") else score)
        last = getattr(cb, "last_model_path", "") or getattr(cb, "_last_checkpoint_saved", "") or ""
        state = (best, score, last)
        if state == self._ckpt_written:
            return
        self._ckpt_written = state
        updates: dict = {}
        if best:
            updates[BEST_CKPT_KEY] = os.fspath(best)
        if score is not None:
            updates[BEST_SCORE_KEY] = score
        if last:
            updates[LAST_CKPT_KEY] = os.fspath(last)
        if updates:
            self._experiment_rank_zero().summary.update(updates)

    # -- monitors -> best summaries ------------------------------------------------------
    def _discover_monitors(self, callbacks: Any) -> None:
        for cb in callbacks:
            if not any(c.__name__ in _MONITOR_CLASSES for c in type(cb).__mro__):
                continue
            monitor, mode = getattr(cb, "monitor", None), getattr(cb, "mode", None)
            if isinstance(monitor, str) and monitor and mode in ("min", "max"):
                self._add_monitor(monitor, mode)

    def _add_monitor(self, monitor: str, mode: str) -> None:
        objective = "maximize" if mode == "max" else "minimize"
        known = self._monitors.get(monitor)
        if known is not None:
            if known != objective:
                self._warn(f"monitor:{monitor}", f"callbacks monitor {monitor!r} in both directions; the best summary "
                                                 f"keeps the first ({known})")
            return
        self._monitors[monitor] = objective
        self._define_best(self._experiment_rank_zero(), monitor, objective)

    def _define_best(self, run: Any, monitor: str, objective: str) -> None:
        # "<monitor>_epoch" is what Lightning logs for self.log(monitor, on_step=True, on_epoch=True)
        for key in (monitor, f"{monitor}_epoch"):
            try:
                run.define_metric(key, summary="best", objective=objective)
            except (TypeError, ValueError) as exc:
                self._warn(f"best:{key}", f"best summary for {key!r} not defined: {exc}")

    # -- persistence ---------------------------------------------------------------------
    def _flush(self, run: Any) -> None:
        flush = getattr(run, "flush", None)
        if not callable(flush):  # tracker_core has no public Run.flush() yet
            flush = getattr(getattr(run, "_writer", None), "flush", None)
        if callable(flush):
            flush()

    # -- pickling (ddp_spawn, mp.spawn): keep the run id, drop the live handle (rule L8) --
    def __getstate__(self) -> dict:
        run = self._run
        if run is not None and not getattr(run, "finished", True) and os.getpid() == self._owner_pid \
                and isinstance(run, tc.Run):
            # The copy will attach to the run by id in another process; a run held open here
            # would block that (one live writer per run). This process re-attaches on next use.
            _finish_run(run)
        state = self.__dict__.copy()
        state["_run"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if os.getpid() != state.get("_owner_pid"):
            self._spawned = True
            self._owner_pid = os.getpid()
