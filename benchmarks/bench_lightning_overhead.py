"""Overhead of ``TrackerLogger`` on a tiny Lightning training (goal: under 2 %).

The same training (a small MLP on synthetic data, CPU, one thread) runs with
``logger=False``, with a no-op ``Logger`` subclass (what Lightning itself costs once any
logger is attached), and with ``TrackerLogger``; the best of ``--repeat`` wall times of
each (interleaved, after a warm-up) gives the ratios; the process CPU time (all threads,
the core's background writer included) is reported beside it, as it is steadier than wall
time on a shared machine. It also times the hook alone:
``log_metrics`` with 10 metrics, in microseconds per call.

    python benchmarks/bench_lightning_overhead.py [--repeat 5] [--steps 400] [--log-every 50]
                                                 [--json out.json]

Run creation (store, metadata) is part of the logged training, as in real use. The
store is a temporary directory unless ``TRACKER_STORE`` is set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steps", type=int, default=400, help="optimizer steps per training")
    ap.add_argument("--log-every", type=int, default=50, help="Trainer(log_every_n_steps=...)")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()

    os.environ.setdefault("TRACKER_STORE", tempfile.mkdtemp(prefix="bench-lightning-"))
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)

    import torch

    torch.set_num_threads(1)
    try:
        import lightning.pytorch as pl
        from lightning.pytorch.loggers import Logger

        from tracker_core.integrations.lightning import TrackerLogger
        package = "lightning " + pl.__version__
    except ImportError:
        import pytorch_lightning as pl
        from pytorch_lightning.loggers import Logger

        from tracker_core.integrations.lightning import PLTrackerLogger as TrackerLogger
        package = "pytorch_lightning " + pl.__version__

    class NoOpLogger(Logger):
        name = "noop"
        version = "0"

        def log_metrics(self, metrics, step=None):
            pass

        def log_hyperparams(self, params, *a, **k):
            pass

    class MLP(pl.LightningModule):
        def __init__(self, width: int = 64):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(torch.nn.Linear(16, width), torch.nn.ReLU(), torch.nn.Linear(width, 1))

        def training_step(self, batch, _):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            self.log("lr", 0.01)
            return loss

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    g = torch.Generator().manual_seed(0)
    batch, steps_per_epoch = 32, 100
    x = torch.randn(batch * steps_per_epoch, 16, generator=g)
    y = x[:, :1] * 2 + 0.1 * torch.randn(len(x), 1, generator=g)
    ds = torch.utils.data.TensorDataset(x, y)
    train = torch.utils.data.DataLoader(ds, batch_size=batch)
    val = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, range(320)), batch_size=batch)
    epochs = max(1, args.steps // steps_per_epoch)

    def fit(kind: str) -> tuple:
        logger = {"none": False, "noop": NoOpLogger(), "tracker": None}[kind]
        t0, c0 = time.perf_counter(), time.process_time()
        if kind == "tracker":
            logger = TrackerLogger(project="bench-lightning", system_metrics=False)
        trainer = pl.Trainer(max_epochs=epochs, logger=logger, accelerator="cpu", devices=1,
                             log_every_n_steps=args.log_every, enable_progress_bar=False,
                             enable_model_summary=False, enable_checkpointing=False, num_sanity_val_steps=0)
        trainer.fit(MLP(), train, val)
        if kind == "tracker":
            logger.finish()  # flushing to disk is part of the cost
        return time.perf_counter() - t0, time.process_time() - c0

    kinds = ("none", "noop", "tracker")
    for kind in kinds:  # warm-up: imports, allocator, first-run effects
        fit(kind)
    times: dict = {k: [] for k in kinds}
    cpu: dict = {k: [] for k in kinds}
    for _ in range(args.repeat):
        for kind in kinds:
            wall, used = fit(kind)
            times[kind].append(wall)
            cpu[kind].append(used)
    best = {k: min(v) for k, v in times.items()}
    best_cpu = {k: min(v) for k, v in cpu.items()}

    # the hook alone
    logger = TrackerLogger(project="bench-lightning-hook", system_metrics=False)
    metrics = {f"m{i}": 0.5 + i for i in range(9)} | {"epoch": 1}
    logger.log_metrics(metrics, step=0)
    n = 20000
    t0 = time.perf_counter()
    for step in range(n):
        logger.log_metrics(metrics, step=step)
    hook_us = (time.perf_counter() - t0) / n * 1e6
    logger.finish()

    result = {
        "package": package,
        "epochs": epochs,
        "steps": epochs * steps_per_epoch,
        "log_every_n_steps": args.log_every,
        "repeat": args.repeat,
        "best_s": {k: round(v, 4) for k, v in best.items()},
        "median_s": {k: round(statistics.median(v), 4) for k, v in times.items()},
        "overhead_vs_no_logger_pct": round((best["tracker"] / best["none"] - 1) * 100, 2),
        "overhead_vs_noop_logger_pct": round((best["tracker"] / best["noop"] - 1) * 100, 2),
        "best_cpu_s": {k: round(v, 4) for k, v in best_cpu.items()},
        "cpu_overhead_vs_no_logger_pct": round((best_cpu["tracker"] / best_cpu["none"] - 1) * 100, 2),
        "cpu_overhead_vs_noop_logger_pct": round((best_cpu["tracker"] / best_cpu["noop"] - 1) * 100, 2),
        "log_metrics_us_per_call": round(hook_us, 1),
    }
    print(f"{package}: {result['steps']} steps, log_every_n_steps={args.log_every}, best of {args.repeat}")
    for k in kinds:
        print(f"  {k:8s} wall best {best[k]:.3f} s  median {statistics.median(times[k]):.3f} s"
              f"   cpu best {best_cpu[k]:.3f} s")
    print(f"  overhead vs logger=False:       wall {result['overhead_vs_no_logger_pct']:+.2f} %"
          f"   cpu {result['cpu_overhead_vs_no_logger_pct']:+.2f} %")
    print(f"  overhead vs a no-op Logger:     wall {result['overhead_vs_noop_logger_pct']:+.2f} %"
          f"   cpu {result['cpu_overhead_vs_noop_logger_pct']:+.2f} %")
    print(f"  log_metrics (10 metrics):       {hook_us:.1f} us per call")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
