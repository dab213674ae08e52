"""PyTorch Lightning logger: ``Trainer(logger=TrackerLogger(project="mnist"))``.

Two public classes, one implementation (``_lightning_logger.TrackerLoggerBase``):

=====================  ==========================================  ==============================
class                  subclass of                                 use with
=====================  ==========================================  ==============================
``TrackerLogger``      ``lightning.pytorch.loggers.Logger``        ``import lightning as L``
``PLTrackerLogger``    ``pytorch_lightning.loggers.Logger``        ``import pytorch_lightning as pl``
=====================  ==========================================  ==============================

The Trainer of either package accepts either class, but ``LightningCLI``
(``--trainer.logger=...``) only accepts the class of its own package. Each class is built
on first access (module ``__getattr__``), so importing this module imports neither
package; the one you use must be installed (>= 2.1, < 3).

Example (runs on CPU in a few seconds)::

    import torch
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from tracker_core.integrations.lightning import TrackerLogger

    class Model(L.LightningModule):
        def __init__(self, lr=0.1):
            super().__init__()
            self.save_hyperparameters()          # -> run config
            self.net = torch.nn.Linear(4, 1)

        def training_step(self, batch, _):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    x = torch.randn(64, 4); y = x.sum(1, keepdim=True)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    logger = TrackerLogger(project="demo", summary={"train_loss_epoch": "min"})
    trainer = L.Trainer(max_epochs=3, logger=logger, enable_progress_bar=False,
                        callbacks=[ModelCheckpoint(monitor="val_loss", mode="min")])
    trainer.fit(Model(), data, data)
    trainer.test(Model(), data)                  # same run: finalize() does not finish it
    logger.finish()
    import tracker_core as tc
    print(tc.Api().run(logger.path).summary["val_loss"])   # {"best": ...}

What it does (the contract: /work/shared/notes/frameworks.md section 2, rules L1..L9)
-------------------------------------------------------------------------------------
* **Steps.** Lightning's step is logged as the metric ``trainer/global_step`` and every
  other key is plotted against it (``define_metric("trainer/global_step")`` then
  ``define_metric("*", step_metric="trainer/global_step")``). The core ``step=`` is never
  used: validation-step rows carry an eval-batch counter that is lower than the training
  step and several calls share a step, so every row is kept (also with
  ``strict=True``). The value is Lightning's raw one (``global_step - 1`` for training
  rows, as W&B records it).
* **One run per training.** Every hook returns at once on ranks other than 0
  (``rank_zero_only.rank``); ``experiment`` is Lightning's no-op ``_DummyExperiment``
  there. The run id (``version``) is fixed in ``__init__`` (given, ``TRACKER_RUN_ID``, the
  run already active in this process, or new), so reading it never starts the run.
  ``ddp``: the script started again for local ranks 1..n-1 takes the id of the logger
  at the same position in the launching script (handed over in the environment variable
  ``TRACKER_LIGHTNING_RUN_IDS``), so ``version`` agrees on all ranks. ``ddp_spawn``: the
  logger is pickled without its run; the rank-0 worker attaches with
  ``init(id=version, resume="allow")`` and finishes its handle when its stage ends
  (the worker exits right after); the parent or the next stage's worker attaches again.
  Under ``torchrun`` (no common parent) pass ``version=`` or ``TRACKER_RUN_ID`` if ranks
  other than 0 need the same ``version``.
* **save_dir.** Local run directories live under the store directory (``TRACKER_STORE``
  or ``./tracker_runs``; the current directory for a non-local store), or under
  ``save_dir=``. ``ModelCheckpoint`` without ``dirpath`` therefore writes to
  ``save_dir/<project>/<run id>/checkpoints`` (``log_dir``), the same path on every rank;
  ``LightningCLI`` writes its ``config.yaml`` to ``save_dir``. With
  ``TRACKER_MODE=disabled`` ``save_dir`` is ``None`` (Lightning's ``default_root_dir`` is
  used) and nothing is written to the store.
* **Hyperparameters.** ``log_hyperparams`` (called at the start of every stage, and by
  ``save_hyperparameters()`` users) merges into the config after the shared sanitiser
  (Namespaces, dataclasses, classes and callables by name, tensors as numbers or lists,
  Paths, Enums). ``log_graph`` runs no forward pass; it records
  ``model/num_parameters``.
* **Best, not last.** Every ``ModelCheckpoint``/``EarlyStopping`` ``monitor`` + ``mode``
  of the trainer (seen in ``log_graph`` at the start of each stage and in
  ``after_save_checkpoint``) gets ``define_metric(monitor, summary="best",
  objective=...)``, also for ``<monitor>_epoch``. ``summary={"val_loss": "min"}`` adds
  your own (values: ops such as ``"min,max"``, or a dict of ``define_metric`` arguments).
  ``after_save_checkpoint`` writes ``best_checkpoint`` (path), ``best_checkpoint_score``
  (float) and ``last_checkpoint`` to the summary for the first ``ModelCheckpoint``
  (Lightning's ``trainer.checkpoint_callback``); repeated identical calls write nothing.
  No checkpoint is uploaded or copied.
* **Stages and the end of the run.** ``finalize(status)`` (end of every stage) flushes
  and writes ``summary["trainer/status"]`` (``"success"``, ``"failed"``,
  ``"finished"`` before a SLURM requeue); it does not finish the run, so
  ``trainer.test()`` after ``fit`` logs into the same run. The run is finished by
  ``logger.finish()``, ``logger.experiment.finish()``, or tracker_core at interpreter exit.
  A failed stage (exception in a step, ``KeyboardInterrupt``): the run stays writable
  with ``trainer/status == "failed"`` and ends in state ``"failed"`` (exit code 1)
  whether the exception ends the script or is caught, unless a later stage on the same
  logger succeeds (then it ends ``"finished"``). ``logger.experiment.finish()`` bypasses
  this and ends ``"finished"`` unless given ``exit_code=1``.
* **Never in the way.** No exception escapes a hook (one ``RuntimeWarning`` per hook and
  cause, or per metric key for values the core rejects); if the run cannot be started
  the logger warns once and logs nothing. ``save()`` is a no-op (the core writes in the
  background), a ``log_metrics`` call costs microseconds.
* **One live run per process.** ``tracker_core.init`` finishes the run that is current
  in the process; a new logger's run therefore finishes the previous logger's run (in
  the state its last stage left), and a run you started yourself with
  ``tracker_core.init`` is used by a logger made without ``id`` (with a warning).
"""

from __future__ import annotations

from typing import Any

__all__ = ["TrackerLogger", "PLTrackerLogger"]  # noqa: F822 - built on first access, by __getattr__

_FLOOR = (2, 1)
_PACKAGES = {"TrackerLogger": "lightning", "PLTrackerLogger": "pytorch_lightning"}


def _version_tuple(text: str) -> tuple:
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _build(class_name: str) -> type:
    package = _PACKAGES[class_name]
    try:
        if package == "lightning":
            import lightning as pkg
            from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
        else:
            import pytorch_lightning as pkg
            from pytorch_lightning.loggers.logger import Logger, rank_zero_experiment
    except ImportError as exc:
        pip = "lightning" if package == "lightning" else "pytorch-lightning"
        raise ImportError(f"tracker_core.integrations.lightning.{class_name} needs the {package!r} package "
                          f"(pip install '{pip}>=2.1'): {exc}") from exc
    version = getattr(pkg, "__version__", "0")
    if _version_tuple(version) < _FLOOR:
        raise ImportError(f"tracker_core.integrations.lightning.{class_name} needs {package} >= 2.1, "
                          f"found {version}")

    from ._lightning_logger import TrackerLoggerBase

    def experiment(self: Any) -> Any:
        """The ``tracker_core.Run`` on rank 0 (started on first use); on other ranks a
        no-op object that accepts any attribute or call."""
        return self._experiment_rank_zero()

    experiment.__name__ = "experiment"
    other = "PLTrackerLogger (pytorch_lightning)" if package == "lightning" else "TrackerLogger (lightning.pytorch)"
    namespace = {
        "__module__": __name__,
        "__qualname__": class_name,
        "__doc__": (f"Lightning logger for ``{'lightning.pytorch' if package == 'lightning' else 'pytorch_lightning'}``"
                    f" that writes to a tracker_core run; the twin for the other package is {other}.\n\n"
                    "Arguments: ``project``, ``name`` (run display name), ``id`` (alias ``version``: the run id), "
                    "``entity``, ``config``, ``tags``, ``notes``, ``group``, ``store`` (directory or sqlite:/// URL), "
                    "``summary`` (e.g. ``{'val_loss': 'min'}``), ``resume`` (default ``'allow'``), keyword-only "
                    "``save_dir``, and the ``tracker_core.init`` options ``strict``, ``job_type``, ``mode``, "
                    "``system_metrics``. Bad values raise TypeError/ValueError here, not during training.\n\n"
                    "See the module docstring of tracker_core.integrations.lightning for a runnable example "
                    "and the behaviour in detail."),
        "experiment": property(rank_zero_experiment(experiment)),
    }
    return type(class_name, (TrackerLoggerBase, Logger), namespace)


def __getattr__(name: str) -> Any:
    if name in _PACKAGES:
        cls = _build(name)
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))
