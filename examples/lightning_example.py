"""tracker-core with PyTorch Lightning: ``Trainer(logger=TrackerLogger(...))``.

A tiny regression model trained on CPU in a few seconds. ``ModelCheckpoint(monitor=...,
mode=...)`` gives the monitored metric a best summary automatically, ``summary=`` adds
your own, ``trainer.test()`` after ``fit`` lands in the same run. Writes to
./tracker_runs (or $TRACKER_STORE) and prints what it reads back.

    python examples/lightning_example.py

Works with ``lightning`` (``TrackerLogger``) or ``pytorch_lightning`` (``PLTrackerLogger``),
whichever is installed.
"""

import torch

try:
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint

    from tracker_core.integrations.lightning import TrackerLogger as Logger
except ImportError:  # the standalone package
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    from tracker_core.integrations.lightning import PLTrackerLogger as Logger

import tracker_core as tc


class Regressor(pl.LightningModule):
    def __init__(self, lr: float = 0.01, hidden: int = 128):
        super().__init__()
        self.save_hyperparameters()  # -> the run's config (merged, sanitised)
        self.net = torch.nn.Sequential(torch.nn.Linear(8, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))

    def step(self, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def training_step(self, batch, batch_idx):
        loss = self.step(batch)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self.step(batch))  # on_epoch by default in validation

    def test_step(self, batch, batch_idx):
        self.log("test_loss", self.step(batch))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def loaders():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(320, 8, generator=g)
    y = torch.sin(x[:, :1] * 2) + 0.3 * x[:, 1:2] + 0.5 * torch.randn(320, 1, generator=g)
    ds = torch.utils.data.TensorDataset(x, y)
    # few training samples and a wide net: it overfits, so the best val_loss is not the last
    train, val, test = torch.utils.data.random_split(ds, [32, 144, 144], generator=g)
    make = lambda d, shuffle=False: torch.utils.data.DataLoader(d, batch_size=16, shuffle=shuffle)  # noqa: E731
    return make(train, True), make(val), make(test)


def main() -> None:
    pl.seed_everything(0)
    train, val, test = loaders()
    logger = Logger(project="lightning-example", config={"data": "synthetic-sin"},
                    summary={"train_loss_epoch": "min,last"})
    checkpoint = ModelCheckpoint(monitor="val_loss", mode="min")  # -> summary["val_loss"] == {"best": ...}
    trainer = pl.Trainer(max_epochs=40, logger=logger, callbacks=[checkpoint], accelerator="cpu", devices=1,
                         log_every_n_steps=2, enable_progress_bar=False, enable_model_summary=False)
    model = Regressor()
    trainer.fit(model, train, val)
    trainer.test(model, test, verbose=False)  # same run: finalize() does not finish it
    logger.finish()

    run = tc.Api().run(logger.path)
    s = run.summary
    val_curve = [round(r["val_loss"], 3) for r in run.scan_history(keys=["val_loss"])]
    print(f"run {logger.path} ({run.state}), checkpoints in {logger.log_dir}")
    print(f"val_loss per epoch:  {val_curve}")
    print(f"best epoch:          {val_curve.index(min(val_curve))} of {len(val_curve)}")
    print(f"summary val_loss:    {s['val_loss']}   (best, at history step {s.details('val_loss')['best']['step']})")
    print(f"summary train_loss:  {s['train_loss_epoch']}")
    print(f"summary test_loss:   {s['test_loss']}")
    print(f"best checkpoint:     {s['best_checkpoint']} (score {s['best_checkpoint_score']:.4f})")
    print(f"config:              {run.config}")


if __name__ == "__main__":
    main()
