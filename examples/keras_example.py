"""tracker-core with Keras 3: one callback, best-epoch summary, read back through the Api.

    python examples/keras_example.py

Trains a tiny classifier on data made in code (CPU, a few seconds, torch backend unless
KERAS_BACKEND says otherwise), writes to ./tracker_runs (or $TRACKER_STORE) and prints
what it reads back.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is imported

import keras
import numpy as np

import tracker_core as tc
from tracker_core.integrations.keras import TrackerCallback

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(512, 10)).astype("float32")
y = (x[:, :3].sum(axis=1) + 0.5 * rng.normal(size=512) > 0).astype("int32")
x_val, y_val, x_train, y_train = x[:128], y[:128], x[128:], y[128:]

model = keras.Sequential([
    keras.Input((10,)),
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dense(2, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])

tracker = TrackerCallback(
    project="keras-example",
    config={"hidden": 32, "batch_size": 32},
    log_freq=4,  # also a batch row every 4 optimizer steps (batch/* on batch/step)
    monitor="val_loss",  # summary["epoch/val_loss"] == {"best": ...}; mode="auto" -> min
)
model.fit(
    x_train, y_train, validation_data=(x_val, y_val), epochs=8, batch_size=32, verbose=0,
    callbacks=[tracker, keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5)],
)
model.evaluate(x_val, y_val, verbose=0, callbacks=[tracker])  # same run: eval/* keys
path = tracker.run.path
tc.finish()  # fit() leaves the run open (evaluate, a second fit ... keep logging); finish flushes it

run = tc.Api().run(path)
val_loss = [row["epoch/val_loss"] for row in run.scan_history(keys=["epoch/val_loss"])]
best = run.summary.details("epoch/val_loss")["best"]
print(f"run {'/'.join(run.path)} ({run.state})")
print(f"best val_loss {run.summary['epoch/val_loss']['best']:.4f} "
      f"(min of {len(val_loss)} epochs: {min(val_loss):.4f}; last {val_loss[-1]:.4f})")
print("learning rate per epoch:", [round(row["epoch/learning_rate"], 5)
                                   for row in run.scan_history(keys=["epoch/learning_rate"])])
print("eval:", {k: round(v, 4) for k, v in run.summary.items() if k.startswith("eval/")})
print("config:", {k: v for k, v in run.config.items() if k != "keras"}, "| keras", run.config["keras"]["version"],
      "on", run.config["keras"]["backend"])
