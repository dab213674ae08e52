"""Hugging Face Transformers adapter: ``TrainingArguments(report_to="tracker_core")``.

Importing this module registers :class:`TrackerCallback` under the name ``"tracker_core"``
in transformers' table of reporting integrations, so::

    import tracker_core.integrations.transformers  # noqa: F401  (registers "tracker_core")

    args = TrainingArguments(..., report_to="tracker_core",
                             metric_for_best_model="eval_accuracy")   # greater_is_better follows
    Trainer(model=model, args=args, ...).train()

or, without relying on the registration (works with any trainer built on ``Trainer``)::

    Trainer(..., callbacks=[TrackerCallback(project="glue")])

What lands in the run (DESIGN.md section 8, notes/frameworks.md section 4):

- history: every ``on_log`` row renamed like W&B (``loss`` -> ``train/loss``,
  ``eval_loss`` -> ``eval/loss``, ``test_x`` -> ``test/x``, ``epoch`` ->
  ``train/epoch``) plus ``train/global_step``; every metric is plotted against
  ``train/global_step`` (``define_metric("*", step_metric="train/global_step")``). The
  trainer's step is never passed as the core ``step=``: steps repeat (a final
  ``evaluate()``, a resumed checkpoint) and nothing may be dropped.
- ``predict()`` metrics as ``test/*`` rows (the trainer sends them to ``on_predict`` only).
- summary: ``eval/<metric_for_best_model>`` is ``{"best": v}``, minimised or maximised as
  ``greater_is_better`` says; the one-off values of the end of training
  (``train_runtime``, ``train_loss``, ``total_flos``, ...) under their own names;
  ``last_checkpoint`` and ``best_model_checkpoint`` (absolute paths), ``best_metric``,
  ``global_step``, ``epoch`` and ``train_status`` from ``on_save`` / ``on_train_end``.
  Nothing is uploaded or re-saved: checkpoints stay where the trainer wrote them.
- config: the sanitised ``TrainingArguments``, ``model/<key>`` for every field of
  ``model.config``, ``model/num_parameters`` and ``peft_config``.

Only the world process zero creates or writes a run. ``on_train_end`` does not finish the
run: ``evaluate()`` and ``predict()`` after ``train()`` log into the same run, which is
closed by ``tracker_core.finish()`` or at interpreter exit (a later ``evaluate()`` on a
run the user finished reopens it). No exception leaves a hook; each distinct failure is
reported once as a ``RuntimeWarning``.

Which run: a run the user opened with ``tracker_core.init()`` is used as it is; else one
run per Trainer (a new Trainer finishes the run an earlier one left open), one per trial
under ``hyperparameter_search`` (named after the trial, grouped by ``run_name``), and the
run a checkpoint was written by when ``train(resume_from_checkpoint=...)`` resumes it
(the id travels in ``trainer_state.json``). One TrackerCallback per Trainer writes: with
``report_to="tracker_core"`` and ``callbacks=[TrackerCallback(...)]`` together, the
configured one does.

Limits: the name exists only after this module is imported (without it ``Trainer``
raises transformers' ``ValueError: tracker_core is not supported, only ... are
supported.``); ``report_to="all"`` never includes it.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from typing import Any

from transformers import TrainerCallback

try:  # transformers >= 4.41: callbacks that want their state in the checkpoint
    from transformers.trainer_callback import ExportableState as _ExportableState
except ImportError:  # pragma: no cover - older releases: no checkpointed callback state
    class _ExportableState:  # type: ignore[no-redef]
        pass

from ._common import WarnOnce, log_row_safely, never_raise, update_config_safely
from ._transformers_config import trainer_config
from ._transformers_metrics import SINGLE_VALUE_KEYS, STEP_METRIC, best_metric_key, rename_logs
from ._transformers_runs import (
    DEFAULT_PROJECT,  # noqa: F401 - public before the split, still importable here
    OWNED,
    active_run,
    checkpointed_run,
    start_run,
)

__all__ = ["REPORT_TO", "SINGLE_VALUE_KEYS", "STEP_METRIC", "TrackerCallback", "register", "rename_logs"]

REPORT_TO = "tracker_core"
"""The ``report_to`` name this module registers."""


class TrackerCallback(TrainerCallback, _ExportableState):
    """Logs a ``Trainer``'s metrics, config and best values to a tracker_core run.

    Every argument is optional (``report_to="tracker_core"`` builds it with none); the
    ones given win over ``TRACKER_*`` variables, read when the run starts.

    project: default ``TRACKER_PROJECT``, else ``"huggingface"``. name: default
        ``args.run_name`` (when it is not just ``output_dir``), or the trial name under
        ``hyperparameter_search``. entity, id, tags, notes, group, job_type, store, mode,
        system_metrics, resume: passed to :func:`tracker_core.init`.
    summary: extra summaries, ``{"eval/accuracy": "max", "train/loss": "min,last"}``.
    run: log into this run instead of starting one (a run already opened with
        ``tracker_core.init()`` is used as well).

    The run id is saved in each checkpoint's ``trainer_state.json`` (the callback is an
    ``ExportableState``), so ``trainer.train(resume_from_checkpoint=...)`` in a new
    process continues the same run; ``TRACKER_RUN_ID`` / ``TRACKER_RESUME`` win over it.
    """

    def __init__(self, project: str | None = None, entity: str | None = None, name: str | None = None,
                 id: str | None = None, tags: list[str] | None = None, notes: str | None = None,
                 group: str | None = None, job_type: str | None = None, store: str | os.PathLike | None = None,
                 mode: str | None = None, system_metrics: bool | None = None, resume: bool | str | None = None,
                 summary: Mapping[str, str | list[str]] | None = None, run: Any = None) -> None:
        self._init = {"project": project, "entity": entity, "name": name, "id": id, "tags": tags, "notes": notes,
                      "group": group, "job_type": job_type, "store": store, "mode": mode,
                      "system_metrics": system_metrics, "resume": resume}
        self._summary_defs = dict(summary or {})
        self._run: Any = run
        self._owns_run = False
        self._set_up = False  # step axis, best summary and config not yet given to the run
        self._failed: str | None = None  # why the run could not be started; no retry per hook
        self._best: tuple[str, str] | None = None
        self._trial: str | None = None
        self._tracker_resume: dict | None = None  # {"id", "project", "entity"}: restored from a checkpoint
        self._configured = run is not None or summary is not None or any(v is not None for v in self._init.values())
        self._warn = WarnOnce("transformers")

    # -- the run
    @property
    def run(self) -> Any:
        """The run this callback writes to (``None`` before the first event on process zero)."""
        return self._run

    def _resume_info(self, state: Any) -> dict | None:
        """The run a checkpoint was written by, from ``state.stateful_callbacks``."""
        if self._tracker_resume:
            return self._tracker_resume
        return checkpointed_run(state, type(self).__name__)

    def _ensure_run(self, args: Any, state: Any, model: Any) -> Any:
        """The run to write to, started (or attached) on first use; ``None`` if that failed."""
        if self._failed is not None:
            return None
        try:
            return self._get_run(args, state, model)
        except Exception as exc:  # noqa: BLE001 - reported once; training goes on untracked
            self._failed = repr(exc)
            self._warn("start", f"no run could be started, this training is not tracked: {exc!r}")
            return None

    def _get_run(self, args: Any, state: Any, model: Any) -> Any:
        run = self._run
        if run is not None and not getattr(run, "finished", False):
            if not self._set_up:
                self._setup(run, args, model)
            return run
        if run is not None and self._owns_run:
            # finished by the user; a later evaluate()/predict() reopens the same run
            info = {"id": run.id, "project": run.project, "entity": run.entity}
        else:
            active = active_run()
            if active is not None and active not in OWNED:
                self._run, self._owns_run, self._set_up = active, False, False
                self._setup(active, args, model)
                return active
            info = self._resume_info(state)
        self._run = None
        self._run = start_run(self._init, args, state, info, self._warn)
        self._owns_run = True
        OWNED.add(self._run)
        self._set_up = False
        self._setup(self._run, args, model)
        return self._run

    def _setup(self, run: Any, args: Any, model: Any) -> None:
        """Step axis, best summary and config; once per run."""
        self._set_up = True
        run.define_metric(STEP_METRIC)
        run.define_metric("*", step_metric=STEP_METRIC)
        self._best = best_metric_key(args)
        if self._best is not None:
            try:
                run.define_metric(self._best[0], summary="best", objective=self._best[1])
            except (TypeError, ValueError) as exc:  # e.g. a '*' inside metric_for_best_model
                self._warn("best", f"no best summary for {self._best[0]!r}: {exc}")
        for key, ops in self._summary_defs.items():
            try:
                run.define_metric(key, summary=ops)
            except (TypeError, ValueError) as exc:
                self._warn(f"summary:{key}", f"summary definition {key!r}: {ops!r} skipped: {exc}")
        update_config_safely(run, trainer_config(args, model, self._warn), self._warn)

    def _summary_set(self, run: Any, key: str, value: Any) -> None:
        try:
            run.summary[key] = value
        except (TypeError, ValueError) as exc:
            self._warn(f"summary-value:{key}", f"summary {key!r} skipped: {exc}")

    def _finish_trial_run(self) -> None:
        self._failed = None
        run, self._run = self._run, None
        if run is not None and self._owns_run and not getattr(run, "finished", False):
            run.finish()
        self._owns_run = False
        self._tracker_resume = None

    def _claim(self, state: Any) -> bool:
        """Whether this instance writes for this Trainer (``state``): one TrackerCallback per
        Trainer does, so ``report_to="tracker_core"`` plus ``callbacks=[TrackerCallback(...)]``
        logs once. An argument-less instance (the one ``report_to`` builds) yields to a
        configured sibling; otherwise the first in callback order writes."""
        ref = getattr(state, "_tracker_core_callback", None)
        owner = ref() if ref is not None else None
        if owner is self:
            return True
        if owner is None:
            if not self._configured and self._configured_sibling(state):
                return False
            try:
                state._tracker_core_callback = weakref.ref(self)
            except Exception:  # noqa: BLE001, S110 - a state that takes no attributes: no dedup possible
                pass
            return True
        if not self._configured and owner._configured:
            return False  # the report_to instance yields, quietly
        self._warn("duplicate", "this Trainer has two TrackerCallbacks (report_to='tracker_core' and "
                                "callbacks=[TrackerCallback(...)]?); only the first one logs")
        return False

    def _configured_sibling(self, state: Any) -> bool:
        """Another TrackerCallback with arguments is on this Trainer (``stateful_callbacks``
        lists every ExportableState callback's ``state()``, by class name)."""
        stored = getattr(state, "stateful_callbacks", None)
        entries = stored.get(type(self).__name__) if isinstance(stored, Mapping) else None
        if not isinstance(entries, list):
            return False
        return any(isinstance(e, Mapping) and (e.get("attributes") or {}).get("_tracker_configured")
                   for e in entries)

    # -- ExportableState: the run id travels in every checkpoint's trainer_state.json
    def state(self) -> dict:
        args = {k: (os.fspath(v) if isinstance(v, os.PathLike) else v) for k, v in self._init.items()
                if v is None or isinstance(v, (str, bool, os.PathLike))
                or (k == "tags" and isinstance(v, (list, tuple)) and all(isinstance(t, str) for t in v))}
        if all(isinstance(k, str) and isinstance(v, (str, list)) for k, v in self._summary_defs.items()):
            args["summary"] = dict(self._summary_defs) or None
        run = self._run
        info = self._tracker_resume
        if run is not None and self._owns_run and isinstance(getattr(run, "id", None), str) \
                and type(run).__name__ != "DisabledRun":
            info = {"id": run.id, "project": run.project, "entity": run.entity}
        return {"args": args, "attributes": {"_tracker_resume": info, "_tracker_configured": self._configured}}

    # -- hooks (every one: process zero only, never raises, returns None)
    @never_raise
    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if not state.is_world_process_zero or not self._claim(state):
            return
        self._failed = None  # a new training tries again
        if getattr(state, "is_hyper_param_search", False):
            trial = getattr(state, "trial_name", None)
            if self._run is not None and trial != self._trial:
                self._finish_trial_run()  # one run per trial
            self._trial = trial
        self._ensure_run(args, state, model)

    @never_raise
    def on_log(self, args, state, control, logs=None, model=None, **kwargs):
        if not state.is_world_process_zero or not logs or not self._claim(state):
            return
        run = self._ensure_run(args, state, model)
        if run is None:
            return
        row = {}
        single = False
        for key, value in logs.items():
            if key in SINGLE_VALUE_KEYS:
                self._summary_set(run, key, value)
                single = True
            else:
                row[key] = value
        if single and set(row) <= {"epoch"}:
            return  # the end-of-training row: its epoch is already in history
        row = rename_logs(row)
        row[STEP_METRIC] = state.global_step
        log_row_safely(run, row, self._warn)

    @never_raise
    def on_predict(self, args, state, control, metrics=None, model=None, **kwargs):
        if not state.is_world_process_zero or not metrics or not self._claim(state):
            return
        run = self._ensure_run(args, state, model)
        if run is None:
            return
        row = rename_logs(metrics)
        row[STEP_METRIC] = state.global_step
        log_row_safely(run, row, self._warn)

    @never_raise
    def on_save(self, args, state, control, model=None, **kwargs):
        if not state.is_world_process_zero or not self._claim(state):
            return
        run = self._ensure_run(args, state, model)
        if run is None:
            return
        self._summary_set(run, "last_checkpoint",
                          os.path.abspath(os.path.join(args.output_dir, f"checkpoint-{state.global_step}")))
        if state.best_model_checkpoint is not None:
            self._summary_set(run, "best_model_checkpoint", os.path.abspath(state.best_model_checkpoint))
        if state.best_metric is not None:
            self._summary_set(run, "best_metric", state.best_metric)

    @never_raise
    def on_train_end(self, args, state, control, model=None, **kwargs):
        if not state.is_world_process_zero or not self._claim(state):
            return
        run = self._ensure_run(args, state, model)
        if run is None:
            return
        if state.best_metric is not None:
            self._summary_set(run, "best_metric", state.best_metric)
        if state.best_model_checkpoint is not None:
            self._summary_set(run, "best_model_checkpoint", os.path.abspath(state.best_model_checkpoint))
        self._summary_set(run, "global_step", state.global_step)
        if state.epoch is not None:
            self._summary_set(run, "epoch", state.epoch)
        max_steps = getattr(state, "max_steps", 0) or 0
        self._summary_set(run, "train_status",
                          "stopped_early" if 0 < state.global_step < max_steps else "completed")
        flush = getattr(run, "flush", None)
        if callable(flush):
            flush()  # readers see the whole training now
        # the run stays open: evaluate() / predict() come next; finish() or exit closes it


def register() -> bool:
    """Add ``"tracker_core"`` to transformers' reporting integrations (done on import).

    Mutates ``INTEGRATION_TO_CALLBACK`` in place (``setdefault``: a user's own mapping
    wins). Returns False when this transformers release has no such table; pass
    ``callbacks=[TrackerCallback()]`` there."""
    try:
        from transformers.integrations import integration_utils
    except Exception:  # noqa: BLE001 - internal module; callbacks=[...] always works
        return False
    table = getattr(integration_utils, "INTEGRATION_TO_CALLBACK", None)
    if not isinstance(table, dict):
        return False
    table.setdefault(REPORT_TO, TrackerCallback)
    return True


register()
