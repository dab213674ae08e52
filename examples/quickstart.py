"""tracker-core quickstart: the usages of W&B's "Log summary metrics" page, locally.

Run it from any directory: it writes to ./tracker_runs (or $TRACKER_STORE) and prints
what it reads back. Takes well under a second on a CPU.
"""

import random

import numpy as np

import tracker_core as tc

random.seed(1)

# 1. A training run: W&B-style summaries, no account, no server.
run = tc.init(project="quickstart", config={"epochs": 10, "lr": 0.01})
tc.define_metric("loss", summary="min")
tc.define_metric("loss", summary="max")  # calls on one name merge: {"min", "max"}
tc.define_metric("val/acc", summary="best", objective="maximize")
best_accuracy = 0.0
for epoch in range(run.config.epochs):
    loss = random.uniform(0, 1 / (epoch + 1))
    acc = random.uniform(1 / (epoch + 1), 1)
    tc.log({"loss": loss, "val/acc": acc, "epoch": epoch})
    if acc > best_accuracy:  # a custom summary value, written explicitly
        best_accuracy = acc
        tc.summary["best_accuracy"] = acc
tc.summary["weights"] = np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32)  # stats + full tensor
tc.finish()

# 2. Read it back, the way W&B's public API does.
api = tc.Api()
stored = api.run(run.path)
print("run:", "/".join(stored.path), stored.state)
print("loss:", stored.summary["loss"])
print("val/acc:", stored.summary["val/acc"], "reached at step", stored.summary.details("val/acc")["best"]["step"])
print("weights mean/std:", stored.summary["weights"]["mean"], stored.summary["weights"]["std"])
print("full tensor back:", stored.summary.load_tensor("weights").shape)

# 3. Edit a finished run's summary (only the changed key is written).
stored.summary["tensor"] = np.random.random(1000)
stored.summary.update()
print("tensor summary:", {k: tc.Api().run(run.path).summary["tensor"][k] for k in ("size", "min", "max", "mean")})

# 4. Every run of the project.
for r in api.runs(f"{run.entity}/quickstart"):
    print(r.id, r.name, r.state, r.summary.get("best_accuracy"))
