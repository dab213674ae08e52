"""The one implementation behind ``TrackerLogger`` (lightning.pytorch) and ``PLTrackerLogger``
(pytorch_lightning): the logger itself, its hooks and its run.

Framework-free on purpose: this module imports neither ``lightning`` nor
``pytorch_lightning`` (only ``lightning_utilities``, which both packages depend on, and
only lazily, to read the process rank). The two thin subclasses in ``lightning.py`` add the
package's ``Logger`` base class and its ``rank_zero_experiment`` decorator. The argument
checks are in ``_lightning_args``, the process-wide run bookkeeping (rank, ``ddp`` run ids,
how a run ends) in ``_lightning_runs``, what the checkpoint callbacks monitor in
``_lightning_monitors``.

The contract it follows is in /work/shared/notes/frameworks.md section 2 (rules L1..L9);
the decisions that go beyond it are in the ``lightning.py`` module docstring.
"""

from __future__ import annotations

import os
from argparse import Namespace
from collections.abc import Mapping
from typing import Any, Optional, Union

import tracker_core as tc

from ._common import WarnOnce, log_row_safely, never_raise, sanitize_config, update_config_safely
from ._lightning_args import check_logger_args, default_save_dir
from ._lightning_monitors import checkpoint_state, checkpoint_summary, monitor_of, trainer_monitors
from ._lightning_runs import finish_run, global_rank, register_exit_hook, run_status, shared_run_id

STEP_KEY = "trainer/global_step"  # the framework step, logged as a metric (never the core step=)
STATUS_KEY = "trainer/status"  # last finalize() status: "success", "failed", "finished"
NUM_PARAMS_KEY = "model/num_parameters"


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
        args = check_logger_args(project, name, id, entity, config, tags, notes, group, store, summary, resume,
                                 version, save_dir, init_kwargs)
        project, entity, run_id, mode = args.project, args.entity, args.run_id, args.mode

        # -- adopt a run the user already started in this process (like WandbLogger)
        adopted = None
        if run_id is None and mode != "disabled":
            adopted = self._active_user_run(project, entity)
            if adopted is not None:
                run_id = adopted.id

        self._project: str = project
        self._entity = entity
        self._run_name = name
        self._id: str = shared_run_id(run_id)
        self._config = args.config
        self._tags = args.tags
        self._notes = notes
        self._group = group
        self._store = os.fspath(store) if store is not None else None
        self._summary_specs = args.summary_specs
        self._resume = args.resume
        self._init_kwargs = dict(init_kwargs)
        self._disabled = mode == "disabled"
        if self._disabled:
            self._save_dir: Optional[str] = None  # tracking writes nothing; checkpoints go to default_root_dir
        else:
            self._save_dir = os.path.abspath(os.fspath(save_dir)) if save_dir is not None else default_save_dir(store)
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
        if global_rank() != 0:
            return None
        try:
            run = tc.current_run()
        except Exception:  # noqa: BLE001 - no active run
            return None
        if not isinstance(run, tc.Run) or run.finished or run in run_status:
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
            if current is not None and current in run_status and not getattr(current, "finished", True):
                finish_run(current)  # another logger's run: its failed status decides its end state
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
        run_status.setdefault(run, self._status or "running")
        register_exit_hook()
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
        if global_rank() != 0:
            return
        run = self._run if self._owner_pid == os.getpid() else None
        if run is not None and not getattr(run, "finished", True):
            finish_run(run, exit_code)

    # -- Lightning hooks -----------------------------------------------------------------
    @never_raise
    def log_metrics(self, metrics: Mapping[str, Any], step: Optional[int] = None) -> None:
        """One history row: the metrics plus ``trainer/global_step = step`` (never the core
        ``step=``: Lightning's steps repeat and go back). Rank 0 only."""
        if global_rank() != 0:
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
        if global_rank() != 0 or params is None:
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
        if global_rank() != 0:
            return
        trainer = getattr(model, "_trainer", None)
        if trainer is not None:
            for monitor, mode in trainer_monitors(getattr(trainer, "callbacks", None) or []):
                self._add_monitor(monitor, mode)
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
        if global_rank() != 0:
            return
        self._status = status
        run = self._run if self._owner_pid == os.getpid() else None
        if run is None or getattr(run, "finished", True):
            return  # nothing was started here: nothing to record
        run_status[run] = status
        run.summary[STATUS_KEY] = status
        if self._spawned:
            # a ddp_spawn worker ends right after its stage; the parent or the next stage's
            # worker attaches to the run again by id
            finish_run(run)
            return
        self._flush(run)

    @never_raise
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Best checkpoint path and score (a float) and the last checkpoint path into the
        summary; identical repeats (2.6 calls twice per save with ``save_last``) write nothing."""
        if global_rank() != 0:
            return
        pair = monitor_of(checkpoint_callback)
        if pair is not None:
            self._add_monitor(*pair)
        key = str(getattr(checkpoint_callback, "state_key", None) or getattr(checkpoint_callback, "monitor", None))
        if self._ckpt_state_key is None:
            self._ckpt_state_key = key
        elif key != self._ckpt_state_key:
            return  # the summary describes the first ModelCheckpoint (Lightning's trainer.checkpoint_callback)
        state = checkpoint_state(checkpoint_callback)
        if state == self._ckpt_written:
            return
        self._ckpt_written = state
        updates = checkpoint_summary(state)
        if updates:
            self._experiment_rank_zero().summary.update(updates)

    # -- monitors -> best summaries ------------------------------------------------------
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
            finish_run(run)
        state = self.__dict__.copy()
        state["_run"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if os.getpid() != state.get("_owner_pid"):
            self._spawned = True
            self._owner_pid = os.getpid()
