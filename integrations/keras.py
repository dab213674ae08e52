"""Keras 3 adapter: ``model.fit(..., callbacks=[TrackerCallback(project="mnist")])``.

Works on every Keras 3 backend (torch, jax, tensorflow, numpy) and imports only ``keras``:
never TensorFlow, whatever the backend. Contract and rationale: DESIGN.md section 8 and
``notes/frameworks.md`` section 3 (rules K1..K7).

What lands in the run:

* one history row per epoch, keys ``epoch/<metric>`` (``val_*`` included), plotted on
  ``epoch/epoch`` (0-based, continues with ``fit(initial_epoch=...)``), plus
  ``epoch/global_step`` (``optimizer.iterations``) and ``epoch/learning_rate`` (the
  optimizer's value in effect during the epoch, as Keras's History records it: a
  ``ReduceLROnPlateau`` cut shows from the next epoch, whatever the callback order);
* with ``log_freq=N`` (or ``"batch"`` = 1), one row each time ``optimizer.iterations``
  reaches a multiple of N: ``batch/<metric>`` (Keras's running means over the epoch so
  far), ``batch/learning_rate``, on ``batch/step`` = ``optimizer.iterations``;
* a standalone ``model.evaluate(callbacks=[cb])`` logs one row ``eval/<metric>`` on
  ``eval/global_step``; validation inside ``fit`` is logged once, as ``epoch/val_*``;
* ``summary["epoch/<monitor>"] == {"best": ...}`` with the direction taken from ``mode``;
* ``config["keras"]``: Keras version and backend, ``epochs``, ``steps_per_epoch``, the
  model's name and parameter count and the optimizer's config.

The framework step is a metric (``define_metric(..., step_metric=...)``), never the core
``step=``. Only process 0 creates or writes a run. ``on_train_end`` does not finish the
run: a later ``evaluate()`` or ``fit()`` keeps logging into it. No exception from a hook
stops training (one warning per cause instead).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from typing import Any

import keras

import tracker_core as tc
from tracker_core.disabled import DisabledRun
from tracker_core.errors import NoActiveRunError

from ._common import WarnOnce, log_row_safely, never_raise, sanitize_config
from ._keras_args import check_callback_args
from ._keras_model import keras_config, scalar
from ._keras_monitor import auto_objective, missing_monitor_warning
from ._keras_rank import is_rank_zero

__all__ = ["TrackerCallback"]

_STARTED_BY_CALLBACK: weakref.WeakSet = weakref.WeakSet()  # runs a TrackerCallback started itself


class TrackerCallback(keras.callbacks.Callback):
    """Log a Keras 3 training (``fit``, ``evaluate``) into a tracker-core run.

    Example (runs on CPU in seconds; ``KERAS_BACKEND`` must be set before Keras is imported)::

        import os
        os.environ.setdefault("KERAS_BACKEND", "torch")

        import keras
        import numpy as np
        import tracker_core as tc
        from tracker_core.integrations.keras import TrackerCallback

        rng = np.random.default_rng(0)
        x = rng.normal(size=(256, 8)).astype("float32")
        y = (x.sum(axis=1) > 0).astype("float32")
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

        cb = TrackerCallback(project="keras-demo", config={"hidden": 16}, monitor="val_accuracy")
        model.fit(x, y, validation_split=0.25, epochs=3, batch_size=32, verbose=0, callbacks=[cb])
        model.evaluate(x, y, verbose=0, callbacks=[cb])   # same run: eval/* keys
        tc.finish()                                       # flushes; fit() left the run open
        run = tc.Api().run(cb.run.path)
        print(run.summary["epoch/val_accuracy"])         # {'best': ...}

    Args:
        project, name, id, config, store: passed to :func:`tracker_core.init` when the
            callback starts its run (lazily, at the first ``fit``/``evaluate``, on process 0
            only). ``config`` is sanitised first (Namespaces, dataclasses, paths, classes,
            tensors ... never an error). With ``id`` the run is resumed if it exists
            (``resume="allow"`` unless ``resume=`` says otherwise).
        log_freq: ``"epoch"`` (default: one row per epoch; Keras keeps dispatching batch
            hooks asynchronously), ``"batch"`` (every optimizer step) or an int ``N``: also a
            row each time ``optimizer.iterations`` reaches a multiple of ``N``. Batch logging
            makes Keras call batch hooks synchronously.
        monitor: the Keras log key whose best value goes to the summary (``"val_loss"``);
            ``None`` for none. Its summary is ``{"best": ...}`` under ``epoch/<monitor>``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (like Keras: ``*loss`` -> min, a compiled
            metric's own direction, else accuracy/AUC-like names -> max, anything else min).
        run: log into this existing run (from ``tracker_core.init``) instead. Without it, a
            run the user started with ``tracker_core.init()`` and left open is used (``config``
            is merged into it); otherwise the callback starts its own run.
        log_lr: log ``learning_rate`` read from the optimizer (default True).
        **init_kwargs: other :func:`tracker_core.init` arguments (``entity``, ``tags``,
            ``notes``, ``group``, ``job_type``, ``resume``, ``strict``, ``system_metrics``). To
            disable tracking set ``TRACKER_MODE=disabled`` (``mode`` here is the monitor's).

    The run stays open after ``fit`` (``on_train_end`` does not finish it); it is finished
    at interpreter exit or by ``tracker_core.finish()`` / ``cb.run.finish()``.
    """

    def __init__(self, project: str | None = None, name: str | None = None, id: str | None = None,
                 config: Any = None, log_freq: str | int = "epoch", monitor: str | None = "val_loss",
                 mode: str = "auto", run: Any = None, store: str | os.PathLike | None = None, *,
                 log_lr: bool = True, **init_kwargs: Any) -> None:
        super().__init__()
        self._batch_freq, user_config = check_callback_args(project, name, id, config, log_freq, monitor, mode,
                                                            run, store, log_lr, init_kwargs)

        self.log_freq = log_freq
        self.monitor = None if monitor is None else monitor.strip().removeprefix("epoch/")
        self.mode = mode.lower()
        self.log_lr = log_lr
        self._user_run = run
        self._user_config = user_config
        self._init_args = {"project": project, "name": name, "id": id, "store": store, **init_kwargs}
        if id is not None and "resume" not in init_kwargs:
            self._init_args["resume"] = "allow"
        self._warn = WarnOnce("keras")

        self._run: Any = None  # the run being written (None: not yet, or not process 0)
        self._prepared_run: Any = None  # the run whose axes/monitor/config were set up
        self._active = False  # this process logs (process 0, a run, tracking enabled)
        self._in_fit = False
        self._monitor_checked = False
        self._fresh_params = False  # set_params since the last on_train_begin: a new evaluate()
        self._eval_run: Any = None  # set by on_test_begin of a standalone evaluate()
        self._eval_axis_run: Any = None
        self._bucket = 0  # optimizer.iterations // log_freq at the last batch row
        self._epoch_start_step = 0
        # jax keeps the training state outside the model during an epoch: reading
        # optimizer.iterations forces a sync, so only logged batches touch the model there.
        self._predict_step = keras.backend.backend() == "jax"
        if self._batch_freq is not None:
            # Overriding on_train_batch_end turns Keras's async batch dispatch off; in epoch
            # mode the class leaves it at the default, so the dispatch stays asynchronous.
            self.on_train_batch_end = self._on_train_batch_end

    # -- the run ---------------------------------------------------------------------------
    @property
    def run(self) -> Any:
        """The run this callback writes to (started on first use; still readable after it
        was finished); ``None`` on processes other than 0."""
        return self._run if self._run is not None else self._get_run()

    def _get_run(self) -> Any:
        if self._run is not None and not getattr(self._run, "finished", False):
            return self._run
        self._run = None
        if not is_rank_zero():
            return None
        if self._user_run is not None:
            if getattr(self._user_run, "finished", False):
                self._warn("run-finished", f"the run passed as run= ({self._user_run.path}) is finished; "
                                           f"nothing is logged")
                return None
            run = self._user_run
            if self._user_config:
                run.config.update(self._user_config)
        else:
            try:
                current = tc.current_run()
            except NoActiveRunError:
                current = None
            if isinstance(current, DisabledRun):
                run = current  # TRACKER_MODE=disabled: every call is a no-op
            elif current is not None and not current.finished and current not in _STARTED_BY_CALLBACK:
                run = current  # the user's own tc.init() run
                ignored = [k for k, v in self._init_args.items() if v is not None and k != "resume"]
                if ignored:
                    self._warn("active-run", f"a run is already active ({current.path}): logging into it; "
                                             f"{', '.join(ignored)} ignored (pass run= to choose a run, or "
                                             f"finish the active one first)")
                if self._user_config:
                    run.config.update(self._user_config)
            else:
                run = tc.init(config=self._user_config or None, **self._init_args)
                _STARTED_BY_CALLBACK.add(run)
        self._run = run
        return run

    def _writable_run(self) -> Any:
        """The run to write to from this process, or None (not process 0, disabled)."""
        run = self._get_run()
        return None if run is None or isinstance(run, DisabledRun) else run

    def _prepare(self, run: Any) -> None:
        """Step axes and the monitor's best summary, once per run (idempotent)."""
        if self._prepared_run is run:
            return
        run.define_metric("epoch/epoch")  # the exact name first: it then wins over the glob
        run.define_metric("epoch/*", step_metric="epoch/epoch")
        if self._batch_freq is not None:
            run.define_metric("batch/step")
            run.define_metric("batch/*", step_metric="batch/step")
        if self.monitor is not None:
            objective = {"min": "minimize", "max": "maximize"}.get(self.mode) \
                or auto_objective(self.monitor, self.model)  # self.model only when needed: a jax state sync
            run.define_metric(f"epoch/{self.monitor}", summary="best", objective=objective)
        self._prepared_run = run

    def _write_config(self, run: Any) -> None:
        if "keras" in self._user_config:
            return  # the user's own "keras" key wins
        run.config["keras"] = sanitize_config(keras_config(self.model, self.params or {}))

    # -- values read from the model ------------------------------------------------------------
    def _iterations(self) -> int | None:
        return self._read_optimizer("iterations", int, "optimizer.iterations", "no global step logged")

    def _learning_rate(self) -> Any:
        return self._read_optimizer("learning_rate", float, "the optimizer's learning rate", "not logged")

    def _read_optimizer(self, attr: str, kind: type, what: str, otherwise: str) -> Any:
        """``optimizer.<attr>`` as a Python number; None (one warning per attribute) when it
        cannot be read, so the row is still logged without it."""
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            return None
        try:
            return scalar(getattr(optimizer, attr), kind)
        except Exception as exc:  # noqa: BLE001
            self._warn(attr, f"{what} could not be read ({exc!r}); {otherwise}")
            return None

    # -- Keras hooks -------------------------------------------------------------------------
    def set_params(self, params: dict) -> None:
        super().set_params(params)
        # fit() and a standalone evaluate()/predict() set the params first; fit's own
        # validation (which fires the test hooks on this callback) does not.
        self._fresh_params = True

    @never_raise
    def on_train_begin(self, logs: dict | None = None) -> None:
        self._in_fit, self._fresh_params, self._active = True, False, False
        self._monitor_checked = False
        run = self._writable_run()
        if run is None:
            return
        self._active = True
        self._prepare(run)
        self._write_config(run)
        if self._batch_freq is not None:
            start = self._iterations() or 0
            self._bucket = start // self._batch_freq
            self._epoch_start_step = start

    @never_raise
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self._active and self._batch_freq is not None and self._predict_step:
            self._epoch_start_step = self._iterations() or 0

    @never_raise
    def _on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Bound as ``on_train_batch_end`` in batch mode only (see ``__init__``)."""
        if not self._active:
            return
        freq = self._batch_freq
        if self._predict_step:  # jax: do not touch the model on batches that are not logged
            step = self._epoch_start_step + int(batch) + 1
            if step // freq <= self._bucket:
                return
            step = self._iterations()
        else:
            step = self._iterations()
        if step is None or step // freq <= self._bucket:
            return  # not a new multiple of log_freq (also: gradient accumulation repeats a step)
        self._bucket = step // freq
        row: dict = {"batch/step": step}
        for key, value in (logs or {}).items():
            row[f"batch/{key}"] = value
        if self.log_lr:
            lr = self._learning_rate()
            if lr is not None:
                row["batch/learning_rate"] = lr
        log_row_safely(self._run, row, self._warn)

    @never_raise
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self._active:
            return
        logs_ = logs or {}
        if not self._monitor_checked:
            self._check_monitor(logs_)
        row: dict = {"epoch/epoch": int(epoch)}
        for key, value in logs_.items():
            row[f"epoch/{key}"] = value
        step = self._iterations()
        if step is not None:
            row["epoch/global_step"] = step
        if self.log_lr and "learning_rate" not in logs_:
            # ReduceLROnPlateau / LearningRateScheduler / TensorBoard placed before us already
            # put the optimizer's value in effect during this epoch (read before any cut) into
            # the logs; otherwise read it now, before a callback after us changes it. Either
            # way the row matches Keras's History, whatever the callback order.
            lr = self._learning_rate()
            if lr is not None:
                row["epoch/learning_rate"] = lr
        row["epoch/epoch"] = int(epoch)  # a metric called "epoch" does not move the axis
        log_row_safely(self._run, row, self._warn)

    def _check_monitor(self, logs: Mapping) -> None:
        """One warning when the monitored key never shows up (a typo, or no validation data
        for a ``val_*`` key); silent for the default ``val_loss`` of a fit without validation."""
        self._monitor_checked = True
        warning = missing_monitor_warning(self.monitor, logs)
        if warning is not None:
            self._warn(f"monitor:{self.monitor}", warning)

    @never_raise
    def on_train_end(self, logs: dict | None = None) -> None:
        # Not a finish: a later evaluate() or fit() keeps writing into the same run.
        self._in_fit = False
        flush = getattr(self._run, "flush", None)
        if callable(flush):
            flush()  # readers see the whole training now

    @never_raise
    def on_test_begin(self, logs: dict | None = None) -> None:
        # Inside fit, validation fires the test hooks on training callbacks; it already
        # arrives as val_* in on_epoch_end, so only a standalone evaluate() is logged here.
        standalone = self._fresh_params or not self._in_fit
        self._fresh_params = False
        self._eval_run = self._writable_run() if standalone else None

    @never_raise
    def on_test_end(self, logs: dict | None = None) -> None:
        run, self._eval_run = self._eval_run, None
        if run is None:
            return
        if self._eval_axis_run is not run:
            run.define_metric("eval/global_step")
            run.define_metric("eval/*", step_metric="eval/global_step")
            self._eval_axis_run = run
        row: dict = {}
        step = self._iterations()
        if step is not None:
            row["eval/global_step"] = step
        for key, value in (logs or {}).items():
            row[f"eval/{key}"] = value
        log_row_safely(run, row, self._warn)

    def on_predict_begin(self, logs: dict | None = None) -> None:
        self._fresh_params = False  # predict() set the params, not an evaluate()
