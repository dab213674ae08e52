"""Lightning adapter under 2-process CPU DDP (gloo): exactly one run, written by rank 0 only.

Each test runs a small script in a fresh interpreter (Lightning's ``ddp`` starts the
script again for rank 1, which must not be pytest). Every process writes what it saw to a
JSON file: its pid, the logger's version, the type of ``logger.experiment`` and the runs
live in the process. One package is enough here (the rank gating is shared); the newest
installed is used.
"""

from __future__ import annotations

import importlib
import json
import subprocess

import pytest

import tracker_core as tc

from .conftest import PYTHON

PKG = next((p for p in ("lightning", "pytorch_lightning") if importlib.util.find_spec(p) is not None), None)
if PKG is None:
    pytest.skip("neither lightning nor pytorch_lightning is installed", allow_module_level=True)

VAL_ACC = [0.25, 0.75, 0.5]  # best (max) at epoch 1, not the last

_SCRIPT = r"""
import json, os, sys
import torch
strategy, out, pkg = sys.argv[1], sys.argv[2], sys.argv[3]
if pkg == "lightning":
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import Callback, ModelCheckpoint
    from tracker_core.integrations.lightning import TrackerLogger as Logger
else:
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import Callback, ModelCheckpoint
    from tracker_core.integrations.lightning import PLTrackerLogger as Logger
from tracker_core import sdk

VAL_ACC = %r


def report(name, logger, **extra):
    info = {"pid": os.getpid(), "version": logger.version, "experiment": type(logger.experiment).__name__,
            "live": [r.path for r in sdk._live], **extra}
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(info, f)


class Probe(Callback):
    def on_train_end(self, trainer, pl_module):
        report(f"rank{trainer.global_rank}", trainer.logger, ckpt_dir=trainer.checkpoint_callback.dirpath)


class M(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(2, 1)

    def training_step(self, batch, i):
        loss = (self.net(batch[0]) - batch[1]).pow(2).mean()
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, i):
        pass

    def on_validation_epoch_end(self):
        self.log("val_acc", VAL_ACC[self.current_epoch])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def main():
    x = torch.randn(16, 2)
    ds = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    train = torch.utils.data.DataLoader(ds, batch_size=4)  # 8 samples, 2 batches per rank
    val = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, range(4)), batch_size=2)
    logger = Logger(project="ddp", config={"strategy": strategy})
    trainer = pl.Trainer(strategy=strategy, accelerator="cpu", devices=2, max_epochs=len(VAL_ACC), logger=logger,
                         log_every_n_steps=1, num_sanity_val_steps=0, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[Probe(), ModelCheckpoint(monitor="val_acc", mode="max")])
    trainer.fit(M(), train, val)
    if trainer.global_rank == 0:  # the launching process (ddp: rank 0; ddp_spawn: the parent)
        report("main", logger, summary=logger.experiment.summary.to_dict())
        logger.finish()


def _quiet_worker_exit():
    # A ddp_spawn worker tears down the gloo process group during interpreter shutdown,
    # where torch can abort ("terminate called without an active exception", SIGABRT)
    # about one time in a few hundred on a loaded 2-core machine: a torch teardown race,
    # not the logger (rank 1 holds no run). Destroy the group first, then leave at once;
    # multiprocessing has already flushed the result queue by the time atexit runs.
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__mp_main__":  # imported again by each ddp_spawn worker
    import atexit
    atexit.register(_quiet_worker_exit)

if __name__ == "__main__":
    main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip the seconds of interpreter teardown after importing lightning (the run is finished)
""" % (VAL_ACC,)


def _run(strategy, tmp_path, env):
    script = tmp_path / "ddp_script.py"
    script.write_text(_SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([PYTHON, str(script), strategy, str(out), PKG], env=env, capture_output=True, text=True,
                          timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}


def _check(info, strategy):
    runs = list(tc.Api().runs("ddp"))
    assert len(runs) == 1  # exactly one run, whatever the world size
    run = runs[0]
    assert set(info) == {"rank0", "rank1", "main"}
    assert info["rank0"]["version"] == info["rank1"]["version"] == info["main"]["version"] == run.id
    assert info["rank0"]["experiment"] == "Run" and info["rank0"]["live"] == [f"{run.entity}/ddp/{run.id}"]
    assert info["rank1"]["experiment"] == "_DummyExperiment" and info["rank1"]["live"] == []
    assert run.metadata["pid"] == info["rank0"]["pid"]  # written by rank 0 only
    assert info["rank0"]["ckpt_dir"] == info["rank1"]["ckpt_dir"]
    assert info["rank0"]["ckpt_dir"].endswith(f"/ddp/{run.id}/checkpoints")
    assert run.state == "finished" and run.config == {"strategy": strategy, "model/num_parameters": 3}
    # 2 batches per rank and epoch, log_every_n_steps=1: one row per optimizer step, none doubled
    steps = [r["trainer/global_step"] for r in run.scan_history() if "train_loss" in r]
    assert steps == list(range(2 * len(VAL_ACC)))
    acc = [(r["trainer/global_step"], r["val_acc"]) for r in run.scan_history() if "val_acc" in r]
    assert acc == [(2 * e + 1, v) for e, v in enumerate(VAL_ACC)]
    assert run.summary["val_acc"] == {"best": 0.75} and run.summary["best_checkpoint_score"] == 0.75
    assert run.summary["trainer/status"] == "success"
    return run


def test_ddp_two_processes_one_run(tmp_path, child_env):
    info = _run("ddp", tmp_path, child_env)
    _check(info, "ddp")
    assert info["main"]["pid"] == info["rank0"]["pid"]


def test_ddp_spawn_two_processes_one_run(tmp_path, child_env):
    info = _run("ddp_spawn", tmp_path, child_env)
    run = _check(info, "ddp_spawn")
    # the parent never logged; it attached by id after fit and reads the worker's summary
    assert info["main"]["pid"] not in (info["rank0"]["pid"], info["rank1"]["pid"])
    assert info["main"]["summary"]["val_acc"] == {"best": 0.75}
    assert info["main"]["summary"]["trainer/status"] == "success"
    assert run.summary["best_checkpoint"] == info["main"]["summary"]["best_checkpoint"]
