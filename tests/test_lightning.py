"""Lightning adapter: real tiny trainings on CPU, values read back through ``tracker_core.Api``.

Every training test runs for each installed package (``lightning.pytorch`` with
``TrackerLogger``, ``pytorch_lightning`` with ``PLTrackerLogger``). The validation curve
that the summaries are checked on is scripted (``VAL_ACC``/``VAL_LOSS`` by epoch) so the
best epoch (1) is known and is not the last one. 2-process DDP is in test_lightning_ddp.py.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pickle
import subprocess
import sys
import warnings
from argparse import Namespace
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

import tracker_core as tc  # noqa: E402
from tracker_core.integrations import lightning as tl  # noqa: E402

from .conftest import PYTHON  # noqa: E402

PACKAGES = [p for p in ("lightning", "pytorch_lightning") if importlib.util.find_spec(p) is not None]
if not PACKAGES:
    pytest.skip("neither lightning nor pytorch_lightning is installed", allow_module_level=True)

VAL_ACC = [0.5, 0.8, 0.7, 0.6]  # best (max) at epoch 1, not the last
VAL_LOSS = [0.9, 0.4, 0.6, 0.7]  # best (min) at epoch 1
EPOCHS, TRAIN_N, VAL_N, TEST_N, BATCH = 4, 32, 8, 8, 4  # 8 train batches, 2 val batches per epoch


def f32(x: float) -> float:
    """What ``self.log`` turns a Python float into (a float32 tensor, back to a float)."""
    return float(torch.tensor(x, dtype=torch.float32))


@dataclasses.dataclass
class OptCfg:
    momentum: float = 0.9


# -- per-package fixtures ------------------------------------------------------------------

_MODELS: dict = {}


def _package(name: str) -> SimpleNamespace:
    if name == "lightning":
        import lightning.pytorch as pl
        from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
        from lightning.pytorch.loggers.logger import DummyExperiment

        cls = tl.TrackerLogger
    else:
        import pytorch_lightning as pl
        from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint
        from pytorch_lightning.loggers.logger import DummyExperiment

        cls = tl.PLTrackerLogger
    if name not in _MODELS:
        _MODELS[name] = _make_model(pl)
    return SimpleNamespace(name=name, pl=pl, Logger=cls, ModelCheckpoint=ModelCheckpoint,
                           LearningRateMonitor=LearningRateMonitor, Dummy=DummyExperiment, Model=_MODELS[name])


def _make_model(pl):
    class Model(pl.LightningModule):
        def __init__(self, lr=0.05, hidden=4, act=torch.nn.ReLU, scale=torch.tensor(2.0), opt=OptCfg(),
                     ns=Namespace(a=1), tags=("a", "b"), fail_at=None, plain=False):
            super().__init__()
            odd = ["act", "scale", "opt", "ns", "tags"] if plain else []  # plain: checkpoints load weights_only
            self.save_hyperparameters(ignore=["fail_at", "plain"] + odd)
            self.fail_at = fail_at
            self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), act(), torch.nn.Linear(hidden, 1))

        def _loss(self, batch):
            x, y = batch
            return torch.nn.functional.mse_loss(self.net(x), y)

        def training_step(self, batch, batch_idx):
            if self.fail_at is not None and self.global_step == self.fail_at:
                raise RuntimeError("boom in training_step")
            loss = self._loss(batch)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch, batch_idx):
            self.log("val_mae", self._loss(batch), on_step=True, on_epoch=True)

        def on_validation_epoch_end(self):
            self.log("val_acc", VAL_ACC[self.current_epoch])
            self.log("val_loss", VAL_LOSS[self.current_epoch])

        def test_step(self, batch, batch_idx):
            self.log("test_loss", self._loss(batch))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return Model


@pytest.fixture(params=PACKAGES)
def pkg(request):
    return _package(request.param)


def _loaders(n_train=TRAIN_N):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + VAL_N + TEST_N, 3, generator=g)
    y = x.sum(1, keepdim=True)
    ds = torch.utils.data.TensorDataset
    dl = torch.utils.data.DataLoader
    return (dl(ds(x[:n_train], y[:n_train]), batch_size=BATCH),
            dl(ds(x[n_train:n_train + VAL_N], y[n_train:n_train + VAL_N]), batch_size=BATCH),
            dl(ds(x[n_train + VAL_N:], y[n_train + VAL_N:]), batch_size=BATCH))


def _trainer(pkg, logger, **kwargs):
    args = dict(max_epochs=EPOCHS, logger=logger, accelerator="cpu", devices=1, log_every_n_steps=2,
                num_sanity_val_steps=0, enable_progress_bar=False, enable_model_summary=False)
    args.update(kwargs)
    return pkg.pl.Trainer(**args)


def _ours(caught):
    return [str(w.message) for w in caught if str(w.message).startswith("tracker_core")]


def _column(run, key):
    """[(trainer/global_step, value)] of every history row that holds ``key``."""
    return [(row.get("trainer/global_step"), row[key]) for row in run.scan_history() if key in row]


# -- fit + test: every key, every row, best summaries, config, same run -----------------------

def test_fit_then_test_logs_every_row_and_best_summaries(pkg, api, store_dir):
    logger = pkg.Logger(project="lit", config={"dataset": "synthetic"}, summary={"val_loss": "min"},
                        tags=["t1"], strict=True)  # strict: a framework step passed as step= would raise
    version = logger.version
    ckpt = pkg.ModelCheckpoint(monitor="val_acc", mode="max", save_last=True)
    train, val, test = _loaders()
    model = pkg.Model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = _trainer(pkg, logger, callbacks=[ckpt, pkg.LearningRateMonitor(logging_interval="epoch")])
        trainer.fit(model, train, val)
        assert logger.status == "success" and not logger.experiment.finished  # finalize does not finish
        trainer.test(model, test)
    assert _ours(caught) == []
    assert logger.version == version
    logger.finish()

    runs = list(api.runs("lit"))
    assert len(runs) == 1
    run = api.run(logger.path)
    assert run.id == version and run.state == "finished" and run.tags == ["t1"]

    # every row kept, none doubled; steps are Lightning's, as a metric
    odd = list(range(1, 32, 2))
    ends = [7, 15, 23, 31]
    assert [s for s, _ in _column(run, "train_loss_step")] == odd
    assert [s for s, _ in _column(run, "train_loss_epoch")] == ends
    assert [s for s, _ in _column(run, "val_mae_step")] == list(range(8))  # eval-batch counter, lower steps kept
    assert [s for s, _ in _column(run, "val_mae_epoch")] == ends
    assert _column(run, "val_acc") == [(s, f32(v)) for s, v in zip(ends, VAL_ACC)]
    assert _column(run, "val_loss") == [(s, f32(v)) for s, v in zip(ends, VAL_LOSS)]
    assert [s for s, _ in _column(run, "lr-SGD")] == [0, 8, 16, 24]
    assert [v for _, v in _column(run, "lr-SGD")] == [0.05] * 4
    assert [s for s, _ in _column(run, "test_loss")] == [32]
    assert [v for _, v in _column(run, "epoch")] == [0] * 6 + [1] * 6 + [2] * 6 + [3] * 6 + [4]
    assert len(list(run.scan_history())) == 16 + 8 + 4 + 4 + 4 + 1  # train, val step, val end, train end, lr, test

    # best, not last
    s = run.summary
    assert s["val_acc"] == {"best": f32(0.8)}
    assert s["val_loss"] == {"min": f32(0.4)}
    rows = list(run.scan_history())
    by_step = {r["_step"]: r for r in rows}
    assert by_step[s.details("val_acc")["best"]["step"]]["trainer/global_step"] == 15
    assert by_step[s.details("val_loss")["min"]["step"]]["trainer/global_step"] == 15
    assert s["val_mae_epoch"] == _column(run, "val_mae_epoch")[-1][1]  # not monitored: last value
    assert s["test_loss"] == _column(run, "test_loss")[0][1]
    assert s["trainer/status"] == "success"

    # checkpoint paths and score, under save_dir/name/version/checkpoints
    ckpt_dir = os.path.join(str(store_dir), "lit", version, "checkpoints")
    assert logger.save_dir == str(store_dir) and logger.log_dir == os.path.dirname(ckpt_dir)
    assert s["best_checkpoint"] == ckpt.best_model_path == os.path.join(ckpt_dir, "epoch=1-step=16.ckpt")
    assert os.path.isfile(s["best_checkpoint"])
    assert s["best_checkpoint_score"] == f32(0.8) and isinstance(s["best_checkpoint_score"], float)
    assert s["last_checkpoint"] == os.path.join(ckpt_dir, "last.ckpt")

    # hyperparameters: sanitised, merged with the constructor config, not reset by test()
    n_params = sum(p.numel() for p in model.parameters())
    assert run.config == {"dataset": "synthetic", "lr": 0.05, "hidden": 4, "act": "ReLU", "scale": 2.0,
                          "opt": {"momentum": 0.9}, "ns": {"a": 1}, "tags": ["a", "b"],
                          "model/num_parameters": n_params}


def test_exception_in_training_step_records_failed(pkg, api):
    logger = pkg.Logger(project="lit")
    train, val, _ = _loaders()
    with pytest.raises(RuntimeError, match="boom"):
        _trainer(pkg, logger, max_epochs=1).fit(pkg.Model(fail_at=5), train, val)
    assert logger.status == "failed"
    run = api.run(logger.path)
    assert run.summary["trainer/status"] == "failed"
    assert run.state == "running"  # still writable until finished
    assert [s for s, _ in _column(run, "train_loss_step")] == [1, 3]
    logger.finish()
    assert api.run(logger.path).state == "failed"


def test_disabled_mode_trains_and_writes_nothing(pkg, monkeypatch, tmp_path, store_dir):
    monkeypatch.setenv("TRACKER_MODE", "disabled")
    logger = pkg.Logger(project="lit", summary={"val_loss": "min"})
    assert logger.save_dir is None
    train, val, test = _loaders()
    trainer = _trainer(pkg, logger, max_epochs=1, default_root_dir=str(tmp_path / "root"),
                       callbacks=[pkg.ModelCheckpoint(monitor="val_acc", mode="max")])
    model = pkg.Model()
    trainer.fit(model, train, val)
    trainer.test(model, test)
    logger.finish()
    assert not store_dir.exists()
    assert type(logger.experiment).__name__ == "DisabledRun"


def test_two_fits_one_logger_and_resume_from_checkpoint(pkg, api):
    """k-fold style: one logger, two fits -> one run, nothing lost. Then a new logger with
    the same version and fit(ckpt_path=...) continues that run and its step."""
    logger = pkg.Logger(project="lit")
    train, val, _ = _loaders()
    for _ in range(2):
        _trainer(pkg, logger, max_epochs=1, enable_checkpointing=False).fit(pkg.Model(), train, val)
    ckpt = pkg.ModelCheckpoint(save_last=True)
    trainer = _trainer(pkg, logger, max_epochs=1, callbacks=[ckpt])
    trainer.fit(pkg.Model(plain=True), train, val)
    resumed = pkg.Logger(project="lit", version=logger.version)  # finishes the first handle, resumes by id
    _trainer(pkg, resumed, max_epochs=2, callbacks=[pkg.ModelCheckpoint(save_last=True)]).fit(
        pkg.Model(plain=True), train, val, ckpt_path=ckpt.last_model_path)
    resumed.finish()
    assert len(api.runs("lit")) == 1
    run = api.run(resumed.path)
    assert [s for s, _ in _column(run, "train_loss_step")] == [1, 3, 5, 7] * 3 + [9, 11, 13, 15]
    assert [s for s, _ in _column(run, "val_acc")] == [7, 7, 7, 15]


# -- hooks in isolation --------------------------------------------------------------------------

@pytest.fixture
def logger_cls():
    return _package(PACKAGES[0]).Logger


def test_bad_values_never_raise_and_warn_once_per_key(logger_cls, api):
    logger = logger_cls(project="lit", strict=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logger.log_metrics({"ok": 1.0, "bad": object(), 3: torch.tensor(2.5)}, step=0)
        logger.log_metrics({"ok": 2.0, "bad": object(), "hist": torch.arange(40.0)}, step=0)  # same step again
        logger.log_metrics({"ok": 3.0})  # user call without a step
        logger.log_hyperparams(Namespace(cls=dict, path=__import__("pathlib").Path("/x"), t=torch.ones(2)))
        logger.log_hyperparams({"": 1, "fine": 2})  # an empty key is rejected by the core, the rest kept
        logger.finalize("success")
    msgs = _ours(caught)
    assert len([m for m in msgs if "'bad'" in m]) == 1, msgs
    assert any("''" in m for m in msgs)
    logger.finish()
    run = api.run(logger.path)
    assert _column(run, "ok") == [(0, 1.0), (0, 2.0), (0, 3.0)]  # the unstepped row gets the last step
    assert _column(run, "3") == [(0, 2.5)]
    assert run.summary["hist"]["_type"] == "histogram"
    assert run.config == {"cls": "dict", "path": "/x", "t": [1.0, 1.0], "fine": 2}


def test_after_save_checkpoint_dedups_and_follows_the_monitor(logger_cls, api, monkeypatch):
    logger = logger_cls(project="lit")
    run = logger.experiment
    writes = []
    real = run.summary_set
    monkeypatch.setattr(run, "summary_set", lambda path, value: (writes.append(path), real(path, value)))
    cb = SimpleNamespace(monitor="val_loss", mode="min", state_key="ModelCheckpoint{'monitor': 'val_loss'}",
                         best_model_path="/c/epoch=0.ckpt", best_model_score=torch.tensor(0.5),
                         last_model_path="/c/last.ckpt")
    logger.after_save_checkpoint(cb)
    logger.after_save_checkpoint(cb)  # the same save reported twice: nothing written
    assert len(writes) == 3
    other = SimpleNamespace(monitor="acc", mode="max", state_key="other", best_model_path="/d/x.ckpt",
                            best_model_score=torch.tensor(0.9), last_model_path="")
    logger.after_save_checkpoint(other)  # a second ModelCheckpoint: its monitor gets a best summary only
    assert len(writes) == 3
    cb.best_model_path, cb.best_model_score = "/c/epoch=3.ckpt", torch.tensor(0.25)
    logger.after_save_checkpoint(cb)
    for v in (0.5, 0.25, 0.75):
        logger.log_metrics({"val_loss": v, "acc": v}, step=1)
    logger.finish()
    s = api.run(logger.path).summary
    assert s["best_checkpoint"] == "/c/epoch=3.ckpt" and s["best_checkpoint_score"] == 0.25
    assert s["last_checkpoint"] == "/c/last.ckpt"
    assert s["val_loss"] == {"best": 0.25} and s["acc"] == {"best": 0.75}


def test_rank_nonzero_writes_nothing(logger_cls, monkeypatch, store_dir):
    from lightning_utilities.core.rank_zero import rank_zero_only

    monkeypatch.setattr(rank_zero_only, "rank", 1)
    logger = logger_cls(project="lit")
    assert type(logger.experiment).__name__ == "_DummyExperiment"
    logger.experiment.anything(1, x=2)
    logger.log_metrics({"a": 1.0}, step=1)
    logger.log_hyperparams({"lr": 1})
    logger.finalize("success")
    assert not store_dir.exists()


def test_pickle_keeps_the_run_id_and_reattaches(logger_cls, api):
    logger = logger_cls(project="lit", summary={"a": "max"})
    logger.log_metrics({"a": 1.0}, step=0)
    copy = pickle.loads(pickle.dumps(logger))  # releases the live run so a worker could attach
    assert copy.version == logger.version and copy._run is None
    copy.log_metrics({"a": 3.0}, step=1)
    logger.log_metrics({"a": 2.0}, step=2)  # the original attaches again: same run
    logger.finish()
    assert len(api.runs("lit")) == 1
    run = api.run(logger.path)
    assert [v for _, v in _column(run, "a")] == [1.0, 3.0, 2.0] and run.summary["a"] == {"max": 3.0}


def test_user_run_is_adopted_and_env_run_id_honoured(logger_cls, api, monkeypatch):
    run = tc.init(project="lit")
    with pytest.warns(RuntimeWarning, match="already active"):
        logger = logger_cls(project="lit")
    assert logger.version == run.id and logger.experiment is run
    logger.log_metrics({"a": 1.0}, step=4)
    run.finish()
    assert _column(api.run(run.path), "a") == [(4, 1.0)]
    monkeypatch.setenv("TRACKER_RUN_ID", "fromenv1")
    assert logger_cls(project="lit").version == "fromenv1"


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"project": 3}, TypeError, "project must be a str"),
    ({"project": "a/b"}, ValueError, "project 'a/b'"),
    ({"id": "a b"}, ValueError, "'a b'"),
    ({"id": "x", "version": "y"}, ValueError, "disagree"),
    ({"version": 3}, TypeError, "id/version must be a str"),
    ({"tags": "t"}, TypeError, "tags must be a list"),
    ({"summary": {"val_loss": "minimum"}}, ValueError, r"summary\['val_loss'\]: .*unknown summary op"),
    ({"summary": {"val_acc": "best"}}, ValueError, "needs a direction"),
    ({"summary": ["val_loss"]}, TypeError, "summary must be a dict"),
    ({"resume": "maybe"}, ValueError, "resume must be"),
    ({"strict": 1}, TypeError, "strict must be True or False"),
    ({"mode": "off"}, ValueError, "mode must be"),
    ({"config": 3}, TypeError, "config must be a dict"),
    ({"save_dir": 3}, TypeError, "save_dir must be"),
    ({"projcet": "x"}, TypeError, "unexpected keyword argument.*'projcet'"),
])
def test_arguments_are_validated_up_front(logger_cls, kwargs, exc, text):
    with pytest.raises(exc, match=text):
        logger_cls(**kwargs)


# -- imports and the end state of a caught failure, in a fresh interpreter -------------------------

_SCRIPT = r"""
import json, sys
HEAVY = ("lightning", "pytorch_lightning", "torch", "keras", "transformers", "tensorflow", "jax")
import tracker_core.integrations.lightning as tl
at_import = [m for m in HEAVY if m in sys.modules]
pkg = sys.argv[1]
if pkg == "lightning":
    import lightning.pytorch as pl
    name = "TrackerLogger"
else:
    import pytorch_lightning as pl
    name = "PLTrackerLogger"
before = {m.split(".")[0] for m in sys.modules}
cls = getattr(tl, name)
added = sorted({m.split(".")[0] for m in sys.modules} - before)
import torch

class M(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(2, 1)
    def training_step(self, batch, i):
        if i == 2:
            raise ValueError("boom")
        loss = self.net(batch[0]).pow(2).mean()
        self.log("loss", loss)
        return loss
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

logger = cls(project="imp")
data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 2)), batch_size=2)
try:
    pl.Trainer(max_epochs=1, logger=logger, log_every_n_steps=1, enable_progress_bar=False,
               enable_model_summary=False, enable_checkpointing=False).fit(M(), data)
except ValueError:
    pass
print(json.dumps({"at_import": at_import, "added": added, "path": logger.path}))
"""


def test_import_is_lazy_and_a_caught_failure_ends_failed(pkg, child_env, tmp_path):
    script = tmp_path / "imp.py"
    script.write_text(_SCRIPT)
    out = subprocess.run([PYTHON, str(script), pkg.name], env=child_env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["at_import"] == []  # the adapter module imports no framework at all
    assert not set(info["added"]) & {"keras", "transformers", "tensorflow", "jax"}  # building the class adds none
    run = tc.Api().run(info["path"])
    assert run.state == "failed" and run.summary["trainer/status"] == "failed"
    assert [s for s, _ in _column(run, "loss")] == [0, 1]


def test_lightning_cli_parses_the_class_of_its_package(pkg, api):
    pytest.importorskip("jsonargparse")
    cli_mod = importlib.import_module(f"{pkg.pl.__name__}.cli")

    class CliModel(pkg.pl.LightningModule):
        def __init__(self, lr: float = 0.1):
            super().__init__()

    cls_name = pkg.Logger.__name__
    cli = cli_mod.LightningCLI(CliModel, run=False, args=[
        f"--trainer.logger=tracker_core.integrations.lightning.{cls_name}", "--trainer.logger.project=cli",
        "--trainer.logger.summary={'train_loss': 'min'}", "--trainer.logger.version=cli1",
        "--trainer.enable_progress_bar=false"])
    logger = cli.trainer.logger
    assert type(logger) is pkg.Logger and logger.version == "cli1" and logger.name == "cli"
    assert cli.trainer.log_dir == logger.save_dir


def test_module_getattr_and_dir():
    assert {"TrackerLogger", "PLTrackerLogger"} <= set(dir(tl))
    with pytest.raises(AttributeError):
        tl.NoSuchLogger  # noqa: B018
    if "lightning" in PACKAGES:
        import lightning.pytorch as pl

        assert issubclass(tl.TrackerLogger, pl.loggers.Logger)
    if "pytorch_lightning" in PACKAGES:
        import pytorch_lightning as pl2

        assert issubclass(tl.PLTrackerLogger, pl2.loggers.Logger)
        if "lightning" in PACKAGES:
            assert not issubclass(tl.PLTrackerLogger, sys.modules["lightning.pytorch"].loggers.Logger)
