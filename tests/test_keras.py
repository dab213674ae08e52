"""Keras 3 adapter (``tracker_core.integrations.keras.TrackerCallback``): real tiny trainings
on CPU, every value read back through ``tracker_core.Api``.

Runs on the torch backend unless ``KERAS_BACKEND`` says otherwise; the variable is set
before Keras is imported (Keras reads it once, at import).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import runpy
import subprocess
import textwrap
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import tracker_core as tc
from tracker_core.disabled import DisabledRun
from tracker_core.integrations import _keras_monitor, _keras_rank
from tracker_core.integrations.keras import TrackerCallback

from .conftest import PYTHON, ROOT

# Keras/torch convert tensors with np.array(), which numpy 2 flags; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

N, BATCH = 40, 4  # 10 optimizer steps per epoch


def data(n: int = N, classes: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") if classes == 2 else rng.integers(0, classes, size=n).astype("int32")
    return x, y


def model(classes: int = 2, lr=0.1, metrics=("accuracy",)):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(classes, activation="softmax")])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="sparse_categorical_crossentropy",
              metrics=list(metrics))
    return m


def fit(m, cb, *, epochs=2, validation=True, before=(), after=(), **kwargs):
    x, y = data()
    return m.fit(x, y, batch_size=BATCH, epochs=epochs, validation_data=(x, y) if validation else None,
                 validation_batch_size=N, verbose=0, callbacks=[*before, cb, *after], **kwargs)


def read(cb) -> tc.PublicRun:
    """Finish the callback's run (the writer flushes at finish) and read it back."""
    path = cb.run.path
    cb.run.finish()
    return tc.Api().run(path)


def series(r, key: str) -> list:
    return [row[key] for row in r.scan_history(keys=[key])]


def iterations(m) -> int:
    return int(m.optimizer.iterations)


class SetLogs(keras.callbacks.Callback):
    """Placed before ``TrackerCallback``: overwrites epoch log values from fixed lists (Keras
    passes one logs dict along the callback list), so a curve is fully deterministic."""

    def __init__(self, **curves):
        super().__init__()
        self.curves = curves

    def on_epoch_end(self, epoch, logs=None):
        for key, values in self.curves.items():
            logs[key] = values[epoch] if isinstance(values, list) else values


# -- the acceptance checklist ----------------------------------------------------------------

def test_two_fits_one_row_per_epoch_and_val_once():
    m = model()
    cb = TrackerCallback(project="k", strict=True)  # strict: any framework step passed as step= would raise
    fit(m, cb, epochs=3)
    fit(m, cb, epochs=5, initial_epoch=3)
    assert cb.run.finished is False  # on_train_end does not finish the run
    r = read(cb)
    assert len(tc.Api().runs("k")) == 1
    assert series(r, "epoch/epoch") == [0, 1, 2, 3, 4]
    assert series(r, "epoch/global_step") == [10, 20, 30, 40, 50]
    for key in ("epoch/loss", "epoch/accuracy", "epoch/val_loss", "epoch/val_accuracy", "epoch/learning_rate"):
        assert len(series(r, key)) == 5, key  # none dropped, none doubled
    keys = r.history_keys["keys"]
    assert not [k for k in keys if k.startswith(("eval/", "batch/"))]  # nothing from on_test_end during fit
    assert sorted(keys) == sorted(["epoch/epoch", "epoch/loss", "epoch/accuracy", "epoch/val_loss",
                                   "epoch/val_accuracy", "epoch/global_step", "epoch/learning_rate"])
    assert r.summary["epoch/epoch"] == 4
    assert r.summary["epoch/val_loss"] == {"best": min(series(r, "epoch/val_loss"))}


def test_log_freq_int_rows_at_optimizer_iterations():
    m = model()
    cb = TrackerCallback(project="k", log_freq=4)
    fit(m, cb, epochs=3)
    fit(m, cb, epochs=4, initial_epoch=3)
    assert iterations(m) == 40
    r = read(cb)
    assert series(r, "batch/step") == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]  # global, no drift
    for key in ("batch/loss", "batch/accuracy", "batch/learning_rate"):
        assert len(series(r, key)) == 10, key
    assert series(r, "epoch/epoch") == [0, 1, 2, 3]
    # a batch row carries only batch keys: the epoch axis is not invented into it
    assert all(k.startswith(("batch/", "_")) for row in r.scan_history(keys=["batch/step"]) for k in row)


def test_log_freq_batch_logs_every_step():
    m = model()
    cb = TrackerCallback(project="k", log_freq="batch")
    fit(m, cb, epochs=2, validation=False)
    assert series(read(cb), "batch/step") == list(range(1, 21))


def test_async_dispatch_kept_in_epoch_mode_only():
    assert keras.callbacks.CallbackList([TrackerCallback()])._async_train is (keras.backend.backend() != "tensorflow")
    assert keras.callbacks.CallbackList([TrackerCallback(log_freq=5)])._async_train is False
    assert keras.callbacks.CallbackList([TrackerCallback(log_freq="batch")])._async_train is False


def test_standalone_evaluate_logs_once_into_the_same_run():
    m = model()
    cb = TrackerCallback(project="k")
    fit(m, cb, epochs=2)
    x, y = data()
    result = m.evaluate(x, y, verbose=0, callbacks=[cb], return_dict=True)
    r = read(cb)
    assert len(tc.Api().runs("k")) == 1
    assert series(r, "eval/loss") == [pytest.approx(result["loss"])]
    assert series(r, "eval/accuracy") == [pytest.approx(result["accuracy"])]
    assert series(r, "eval/global_step") == [20]
    assert len(series(r, "epoch/val_loss")) == 2


def test_evaluate_only_script_starts_the_run():
    m = model()
    cb = TrackerCallback(project="k")
    x, y = data()
    m.evaluate(x, y, verbose=0, callbacks=[cb])
    m.evaluate(x, y, verbose=0, callbacks=[cb])
    r = read(cb)
    assert len(series(r, "eval/loss")) == 2
    assert series(r, "eval/global_step") == [0, 0]


def test_evaluate_after_an_interrupted_fit_still_logs():
    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise ValueError("user code failed")  # fit aborts: on_train_end never runs

    m = model()
    cb = TrackerCallback(project="k")
    with pytest.raises(ValueError, match="user code failed"):
        fit(m, cb, epochs=3, after=(Boom(),))
    x, y = data()
    m.evaluate(x, y, verbose=0, callbacks=[cb])
    r = read(cb)
    assert len(series(r, "epoch/val_loss")) == 1
    assert len(series(r, "eval/loss")) == 1


def test_non_scalar_metrics_are_stored():
    class Wide(keras.metrics.Metric):
        """A metric whose result is an array of 40 values (a histogram in history)."""

        def __init__(self, name="wide", **kwargs):
            super().__init__(name=name, **kwargs)
            self.total = self.add_variable(shape=(), initializer="zeros", name="total")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.total.assign(self.total + 1.0)

        def result(self):
            return keras.ops.arange(40, dtype="float32") + self.total * 0

    m = model(classes=3)
    m.compile(optimizer="sgd", loss="categorical_crossentropy",
              metrics=["accuracy", keras.metrics.F1Score(average=None), Wide()])
    x, labels = data(classes=3)
    y = keras.utils.to_categorical(labels, 3)
    cb = TrackerCallback(project="k", log_freq=5)
    m.fit(x, y, batch_size=BATCH, epochs=2, validation_data=(x, y), verbose=0, callbacks=[cb])
    r = read(cb)
    f1 = series(r, "epoch/val_f1_score")
    assert len(f1) == 2 and all(isinstance(v, list) and len(v) == 3 for v in f1)
    assert len(series(r, "epoch/f1_score")) == 2 and len(series(r, "batch/f1_score")) == 4
    wide = series(r, "epoch/wide")
    assert len(wide) == 2 and wide[0]["_type"] == "histogram" and sum(wide[0]["values"]) == 40
    assert isinstance(r.summary["epoch/val_f1_score"], list)


def test_unstorable_value_is_skipped_with_one_warning():
    m = model()
    cb = TrackerCallback(project="k")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(m, cb, epochs=3, before=(SetLogs(odd=object()),))
    ours = [w for w in caught if "tracker_core.integrations.keras" in str(w.message)]
    assert len(ours) == 1 and "epoch/odd" in str(ours[0].message)
    r = read(cb)
    assert len(series(r, "epoch/loss")) == 3
    assert "epoch/odd" not in r.history_keys["keys"]


@pytest.mark.parametrize("plateau_first", [False, True])
def test_learning_rate_from_optimizer_with_reduce_lr_on_plateau(plateau_first):
    m = model(lr=0.1)
    cb = TrackerCallback(project="k")
    # a cut after every epoch but the first (no change is ever big enough)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9, verbose=0)
    x, y = data()
    callbacks = [plateau, cb] if plateau_first else [cb, plateau]
    hist = m.fit(x, y, batch_size=BATCH, epochs=4, verbose=0, callbacks=callbacks)
    assert float(m.optimizer.learning_rate) == pytest.approx(0.0125)
    r = read(cb)
    # the value in effect during each epoch: the cut at the end of epoch 1 shows from epoch 2,
    # the same as Keras's History, whichever callback comes first
    assert series(r, "epoch/learning_rate") == pytest.approx([0.1, 0.1, 0.05, 0.025], rel=1e-6)
    assert series(r, "epoch/learning_rate") == hist.history["learning_rate"]


def test_learning_rate_schedule_follows_iterations_across_fits():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    m = model(lr=schedule)
    cb = TrackerCallback(project="k", log_freq=10)
    fit(m, cb, epochs=2, validation=False)
    fit(m, cb, epochs=3, initial_epoch=2, validation=False)
    r = read(cb)
    expected = [float(schedule(step)) for step in (10, 20, 30)]
    assert series(r, "epoch/learning_rate") == pytest.approx(expected, rel=1e-6)
    assert series(r, "batch/learning_rate") == pytest.approx(expected, rel=1e-6)


def test_monitor_best_is_not_the_last_value():
    curve = [0.9, 0.4, 0.7, 0.6]  # best at epoch 1, last is worse
    m = model()
    cb = TrackerCallback(project="k")  # monitor="val_loss", mode="auto" -> minimize
    fit(m, cb, epochs=4, before=(SetLogs(val_loss=curve),))
    r = read(cb)
    assert series(r, "epoch/val_loss") == curve
    assert r.summary["epoch/val_loss"] == {"best": 0.4}
    details = r.summary.details("epoch/val_loss")
    assert details["min"]["value"] == 0.4 and details["max"]["value"] == 0.9
    assert details["best"]["value"] == min(curve) != curve[-1]
    best_row = next(row for row in r.scan_history() if row.get("epoch/val_loss") == 0.4)
    assert details["best"]["step"] == best_row["_step"] and best_row["epoch/epoch"] == 1


@pytest.mark.parametrize("monitor, mode, curve, best", [
    ("val_accuracy", "auto", [0.5, 0.9, 0.7], 0.9),   # a compiled metric: Keras's own direction (up)
    ("val_my_auc", "auto", [0.5, 0.9, 0.7], 0.9),     # unknown to Keras: AUC-like name -> max
    ("val_mae", "auto", [0.5, 0.2, 0.7], 0.2),        # anything else -> min
    ("val_score", "max", [0.5, 0.9, 0.7], 0.9),
    ("val_accuracy", "min", [0.5, 0.2, 0.7], 0.2),
])
def test_monitor_mode(monitor, mode, curve, best):
    m = model()
    cb = TrackerCallback(project="k", monitor=monitor, mode=mode)
    fit(m, cb, epochs=3, before=(SetLogs(**{monitor: curve}),))
    r = read(cb)
    assert r.summary[f"epoch/{monitor}"] == {"best": best}
    assert r.summary["epoch/val_loss"] == series(r, "epoch/val_loss")[-1]  # not monitored: last value


def test_auto_mode_resolution_without_a_model():
    assert _keras_monitor.auto_objective("val_loss", None) == "minimize"
    assert _keras_monitor.auto_objective("loss", None) == "minimize"
    assert _keras_monitor.auto_objective("val_reconstruction_loss", None) == "minimize"
    assert _keras_monitor.auto_objective("val_acc", None) == "maximize"
    assert _keras_monitor.auto_objective("val_auc_1", None) == "maximize"
    assert _keras_monitor.auto_objective("precision", None) == "maximize"
    assert _keras_monitor.auto_objective("val_mean_squared_error", None) == "minimize"


def test_no_monitor_means_last_values():
    m = model()
    cb = TrackerCallback(project="k", monitor=None)
    fit(m, cb, epochs=2)
    r = read(cb)
    assert r.summary["epoch/val_loss"] == series(r, "epoch/val_loss")[-1]


def test_missing_monitor_warns_once_and_default_without_validation_is_silent():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(model(), TrackerCallback(project="k", monitor="val_acuracy"), epochs=3)
        fit(model(), TrackerCallback(project="k2"), epochs=2, validation=False)  # default val_loss
    ours = [str(w.message) for w in caught if "tracker_core.integrations.keras" in str(w.message)]
    assert len(ours) == 1 and "'val_acuracy'" in ours[0] and "val_accuracy" in ours[0]


def test_nonzero_rank_writes_nothing(monkeypatch, store_dir):
    monkeypatch.setenv("RANK", "1")
    m = model()
    cb = TrackerCallback(project="k", log_freq=2)
    fit(m, cb, epochs=2)
    x, y = data()
    m.evaluate(x, y, verbose=0, callbacks=[cb])
    assert cb.run is None
    with pytest.raises(tc.NoActiveRunError):
        tc.current_run()
    assert len(tc.Api().runs("k")) == 0


def test_rank_zero_from_the_environment_writes(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    m = model()
    cb = TrackerCallback(project="k")
    fit(m, cb, epochs=1)
    assert len(series(read(cb), "epoch/loss")) == 1


def test_disabled_mode_trains_and_writes_nothing(monkeypatch):
    monkeypatch.setenv("TRACKER_MODE", "disabled")
    m = model()
    cb = TrackerCallback(project="k", log_freq=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fit(m, cb, epochs=2)
        x, y = data()
        m.evaluate(x, y, verbose=0, callbacks=[cb])
    assert isinstance(cb.run, DisabledRun)
    monkeypatch.delenv("TRACKER_MODE")
    assert len(tc.Api().runs("k")) == 0


def test_a_failing_hook_never_stops_training(monkeypatch):
    m = model()
    cb = TrackerCallback(project="k", log_freq=3)

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cb.run, "log", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hist = fit(m, cb, epochs=3)
    assert len(hist.history["loss"]) == 3
    ours = sorted(str(w.message) for w in caught if "tracker_core.integrations.keras" in str(w.message))
    assert len(ours) == 2  # one per hook and cause, not one per call
    assert all("disk on fire" in msg for msg in ours)
    assert any("on_epoch_end" in msg for msg in ours) and any("_on_train_batch_end" in msg for msg in ours)


def test_config_is_recorded_and_sanitised():
    m = model()
    cfg = argparse.Namespace(lr=0.1, out=pathlib.Path("/tmp/x"), act=keras.layers.Dense, tags=("a", "b"))
    cb = TrackerCallback(project="k", config=cfg, log_freq="epoch")
    fit(m, cb, epochs=1)
    fit(m, cb, epochs=3, initial_epoch=1)
    r = read(cb)
    assert r.config["lr"] == 0.1 and r.config["out"] == "/tmp/x" and r.config["tags"] == ["a", "b"]
    assert r.config["act"] == "Dense"
    k = r.config["keras"]
    assert k["backend"] == keras.backend.backend() and k["version"] == keras.__version__
    assert k["epochs"] == 3 and k["steps_per_epoch"] == 10  # updated by the second fit, not duplicated
    assert k["model"]["num_parameters"] == m.count_params()
    assert k["optimizer"]["name"].lower().startswith("sgd") and k["optimizer"]["learning_rate"] == pytest.approx(0.1)


def test_uses_a_given_run_and_the_users_active_run():
    mine = tc.init(project="mine", config={"a": 1})
    cb = TrackerCallback(run=mine, config={"b": 2})
    fit(model(), cb, epochs=1)
    assert cb.run is mine
    cb2 = TrackerCallback(config={"c": 3})  # no run=: the user's open run is used
    fit(model(), cb2, epochs=1)
    assert cb2.run is mine
    r = read(cb)
    assert r.config["a"] == 1 and r.config["b"] == 2 and r.config["c"] == 3
    assert len(series(r, "epoch/loss")) == 2


def test_one_run_per_callback_in_a_sweep():
    paths = []
    for lr in (0.1, 0.01):
        cb = TrackerCallback(project="sweep", config={"lr": lr})
        fit(model(lr=lr), cb, epochs=1)
        paths.append(cb.run.path)
    tc.finish()
    assert len(set(paths)) == 2
    runs = tc.Api().runs("sweep")
    assert len(runs) == 2
    assert sorted(r.config["lr"] for r in runs) == [0.01, 0.1]


def test_id_resumes_the_run_in_a_later_process_like_setting():
    m = model()
    cb = TrackerCallback(project="k", id="fixed-id")
    fit(m, cb, epochs=2)
    cb.run.finish()
    cb2 = TrackerCallback(project="k", id="fixed-id")  # resume="allow" by default with an id
    fit(m, cb2, epochs=4, initial_epoch=2)
    r = read(cb2)
    assert series(r, "epoch/epoch") == [0, 1, 2, 3]
    assert series(r, "epoch/global_step") == [10, 20, 30, 40]


@pytest.mark.parametrize("kwargs, exc, words", [
    ({"log_freq": "step"}, ValueError, ["'step'", "'epoch', 'batch' or a positive int"]),
    ({"log_freq": 0}, ValueError, ["0", "positive int"]),
    ({"log_freq": True}, TypeError, ["True", "positive int"]),
    ({"log_freq": 2.5}, TypeError, ["2.5", "'epoch'"]),
    ({"mode": "maximize"}, ValueError, ["'maximize'", "'auto', 'min', 'max'"]),
    ({"monitor": 3}, TypeError, ["3", "val_loss"]),
    ({"monitor": ""}, TypeError, ["''"]),
    ({"run": "abc"}, TypeError, ["'abc'", "tracker_core.init"]),
    ({"project": 1}, TypeError, ["project", "1"]),
    ({"id": "bad id"}, ValueError, ["'bad id'"]),
    ({"config": [1, 2]}, TypeError, ["config", "list"]),
    ({"log_lr": "yes"}, TypeError, ["log_lr", "'yes'"]),
    ({"store": 5}, TypeError, ["store", "5"]),
    ({"colour": "red"}, TypeError, ["colour", "tags", "entity"]),
])
def test_arguments_are_validated_up_front(kwargs, exc, words):
    with pytest.raises(exc) as info:
        TrackerCallback(**kwargs)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_run_and_init_arguments_are_exclusive():
    run = tc.init(project="x")
    with pytest.raises(ValueError, match="either run= or init arguments.*project"):
        TrackerCallback(run=run, project="y")


# -- packaging, docs, example -------------------------------------------------------------------

WORKER = """
import sys
import numpy as np
import tracker_core.integrations.keras as k
import keras
heavy = sorted(m for m in ("tensorflow", "tf_keras", "transformers", "lightning") if m in sys.modules)
x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
cb = k.TrackerCallback(project="launched", name="one-run", log_freq=2)
model.fit(x, x[:, :1], batch_size=4, epochs=2, verbose=0, callbacks=[cb])
print(heavy, cb.run is not None)
"""


@pytest.mark.skipif(os.environ["KERAS_BACKEND"] == "tensorflow", reason="the tensorflow backend imports it")
def test_two_launched_processes_one_run_and_no_tensorflow(child_env):
    """What torchrun/SLURM do (one process per rank, RANK set): only rank 0 writes; and
    importing the adapter (then training) never imports TensorFlow."""
    procs = []
    for rank in (0, 1):
        env = dict(child_env, KERAS_BACKEND=os.environ["KERAS_BACKEND"], RANK=str(rank), WORLD_SIZE="2")
        procs.append(subprocess.Popen([PYTHON, "-c", WORKER], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    assert [out.strip() for out, _ in outs] == ["[] True", "[] False"]
    runs = list(tc.Api().runs("launched"))
    assert len(runs) == 1 and runs[0].name == "one-run"
    assert [row["batch/step"] for row in runs[0].scan_history(keys=["batch/step"])] == [2, 4, 6, 8]


@pytest.mark.parametrize("tf_config, rank_zero", [
    ('{"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "chief", "index": 0}}', True),
    ('{"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", "index": 0}}', False),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}', True),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}', False),
    ('{"cluster": {"worker": ["a:1"], "evaluator": ["c:1"]}, "task": {"type": "evaluator", "index": 0}}', False),
    ("not json", True),
])
def test_tf_distribute_workers_are_gated_without_importing_tensorflow(monkeypatch, tf_config, rank_zero):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    assert _keras_rank.is_rank_zero() is rank_zero


def test_predicted_step_path_touches_the_model_only_on_logged_batches():
    """The jax path (state lives outside the model during an epoch) gives the same rows."""
    m = model()
    cb = TrackerCallback(project="k", log_freq=4)
    cb._predict_step = True
    reads = []
    real = cb._iterations
    cb._iterations = lambda: reads.append(1) or real()
    fit(m, cb, epochs=3, validation=False)
    fit(m, cb, epochs=4, initial_epoch=3, validation=False)
    assert series(read(cb), "batch/step") == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
    # train begin + epoch begins + logged batches + epoch ends; not one per batch
    assert len(reads) == 2 + 4 + 10 + 4


def test_docstring_example_runs(capsys):
    doc = TrackerCallback.__doc__
    code = doc[doc.rindex("\n", 0, doc.index("import os")) + 1:doc.index("    Args:")]
    exec(compile(textwrap.dedent(code), "TrackerCallback.__doc__", "exec"), {})  # noqa: S102 - our own docstring
    assert "'best':" in capsys.readouterr().out


def test_example_script_runs(capsys):
    runpy.run_path(os.path.join(ROOT, "examples", "keras_example.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "best val_loss" in out and "(finished)" in out
