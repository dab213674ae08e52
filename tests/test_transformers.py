"""HF Transformers adapter: real tiny trainings on CPU, read back through ``tracker_core.Api``.

Every training is a 1-layer BERT with a 50-token vocabulary (built from a config, no
download), 8 optimizer steps of 4 samples; a whole training takes well under a second.
The 2-process ``torchrun`` case is in ``test_transformers_ddp.py``.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import types
import warnings

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from transformers import (
    BertConfig,
    BertForSequenceClassification,
    HfArgumentParser,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.integrations import integration_utils

import tracker_core as tc
import tracker_core.integrations.transformers as hf
from tracker_core.integrations.transformers import STEP_METRIC, TrackerCallback

transformers.logging.set_verbosity_error()

STEPS = 8  # optimizer steps per training
EVERY = 2  # logging_steps == eval_steps: 4 in-training evaluations


class TinyDataset(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(1, 50, (n, 8), generator=g)
        self.y = torch.randint(0, 2, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.x[i], "attention_mask": torch.ones_like(self.x[i]), "labels": self.y[i]}


def tiny_model():
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                    num_attention_heads=2, intermediate_size=32))


def tiny_args(out, **overrides) -> TrainingArguments:
    kw = dict(output_dir=str(out), max_steps=STEPS, per_device_train_batch_size=4, per_device_eval_batch_size=8,
              learning_rate=1e-3, logging_steps=EVERY, eval_strategy="steps", eval_steps=EVERY, save_strategy="no",
              report_to="tracker_core", use_cpu=True, disable_tqdm=True, seed=0, dataloader_num_workers=0)
    kw.update(overrides)
    return TrainingArguments(**kw)


def tiny_trainer(out, model=None, callbacks=None, compute_metrics=None, **overrides) -> Trainer:
    return Trainer(model=model or tiny_model(), args=tiny_args(out, **overrides), train_dataset=TinyDataset(32),
                   eval_dataset=TinyDataset(8, seed=1), compute_metrics=compute_metrics, callbacks=callbacks)


def our_callback(trainer) -> TrackerCallback:
    found = [c for c in trainer.callback_handler.callbacks if isinstance(c, TrackerCallback)]
    assert len(found) == 1, trainer.callback_handler.callbacks
    return found[0]


def finish_and_read(trainer, api):
    """Close the run (flushes everything) and read it back from the store."""
    run = our_callback(trainer).run
    assert run is not None and not run.finished  # train() never finishes the run
    tc.finish()
    return api.run(run.path)


def points(run, key) -> list:
    """``[(train/global_step, value), ...]`` for every history row holding ``key``."""
    return [(row[STEP_METRIC], row[key]) for row in run.scan_history(keys=[key, STEP_METRIC])]


def scripted(name: str, values: list):
    """compute_metrics returning the next scripted value: deterministic eval curves."""
    it = iter(values)
    return lambda _pred: {name: next(it)}


# -- registration ------------------------------------------------------------------------

def test_report_to_name_registered_in_transformers_table():
    assert integration_utils.INTEGRATION_TO_CALLBACK["tracker_core"] is TrackerCallback
    assert transformers.integrations.INTEGRATION_TO_CALLBACK is integration_utils.INTEGRATION_TO_CALLBACK
    assert hf.register() is True  # idempotent


def test_report_to_puts_callback_in_trainer(tmp_path):
    trainer = tiny_trainer(tmp_path / "out")
    names = [type(c).__name__ for c in trainer.callback_handler.callbacks]
    assert names == ["DefaultFlowCallback", "TrackerCallback", "PrinterCallback"]
    assert our_callback(trainer).run is None  # nothing is created before training starts


def test_report_to_list_activates_every_integration(tmp_path, monkeypatch):
    class OtherTracker(TrainerCallback):
        pass

    monkeypatch.setitem(integration_utils.INTEGRATION_TO_CALLBACK, "other_tracker", OtherTracker)
    trainer = tiny_trainer(tmp_path / "out", report_to=["tracker_core", "other_tracker"])
    kinds = {type(c) for c in trainer.callback_handler.callbacks}
    assert {TrackerCallback, OtherTracker} <= kinds


def test_hf_argument_parser_report_to(tmp_path, api):
    parser = HfArgumentParser(TrainingArguments)
    (args,) = parser.parse_args_into_dataclasses(
        ["--output_dir", str(tmp_path / "out"), "--report_to", "tracker_core", "--use_cpu", "--max_steps", "2",
         "--logging_steps", "1", "--per_device_train_batch_size", "4", "--disable_tqdm", "true"])
    assert args.report_to == ["tracker_core"]
    trainer = Trainer(model=tiny_model(), args=args, train_dataset=TinyDataset(8))
    trainer.train()
    run = finish_and_read(trainer, api)
    assert run.project == "huggingface"
    assert [s for s, _ in points(run, "train/loss")] == [1, 2]


WITHOUT_IMPORT = """
import sys, torch
import tracker_core  # the core alone registers nothing (it imports no framework)
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments
args = TrainingArguments(output_dir=sys.argv[1], report_to="tracker_core", use_cpu=True)  # accepted here
model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                 num_attention_heads=2, intermediate_size=32))
try:
    Trainer(model=model, args=args)
except ValueError as exc:
    print("ValueError:", exc)
    sys.exit(3)
"""


def test_without_import_trainer_raises_value_error_naming_it(tmp_path, child_env):
    env = dict(child_env, HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", WITHOUT_IMPORT, str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr[-3000:]
    assert "ValueError: tracker_core is not supported, only " in proc.stdout
    assert "wandb" in proc.stdout  # transformers lists the names it knows


# -- one training, read back ---------------------------------------------------------------

def test_train_evaluate_predict_one_run(tmp_path, api):
    trainer = tiny_trainer(tmp_path / "out", save_strategy="steps", save_steps=EVERY, save_only_model=True,
                           metric_for_best_model="eval_loss", load_best_model_at_end=True)
    trainer.train()
    final = trainer.evaluate()  # after train(): same run, repeated global step
    predicted = trainer.predict(TinyDataset(8, seed=2))
    state = trainer.state
    run = finish_and_read(trainer, api)

    assert len(api.runs("huggingface")) == 1
    assert [r.id for r in api.runs("huggingface")] == [run.id]
    assert run.state == "finished"

    # history: the trainer step is a metric; the core steps are just 0..n-1 (no step= passed)
    assert [s for s, _ in points(run, "train/loss")] == [2, 4, 6, 8]
    evals = points(run, "eval/loss")
    assert [s for s, _ in evals] == [2, 4, 6, 8, 8]  # 4 evaluations + evaluate(); 8 if on_evaluate logged too
    assert evals[-1][1] == final["eval_loss"]
    core_steps = [row["_step"] for row in run.scan_history()]
    assert core_steps == list(range(len(core_steps)))

    # best, not last: summary == min(history) == the trainer's own best
    eval_values = [v for _, v in evals]
    assert run.summary["eval/loss"] == {"best": min(eval_values)}
    assert run.summary["eval/loss"]["best"] == state.best_metric
    assert run.summary["best_metric"] == state.best_metric
    assert run.summary["best_model_checkpoint"] == os.path.abspath(state.best_model_checkpoint)
    assert run.summary["last_checkpoint"] == os.path.abspath(str(tmp_path / "out" / f"checkpoint-{STEPS}"))

    # one-off values: in the summary, not in history
    keys = set(run.history_keys["keys"])
    for single in ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos"):
        assert isinstance(run.summary[single], float), single
        assert not any(single in k for k in keys), (single, keys)
    assert run.summary["train_loss"] == next(h["train_loss"] for h in state.log_history if "train_loss" in h)
    assert run.summary["total_flos"] == state.total_flos
    assert run.summary["global_step"] == STEPS
    assert run.summary["epoch"] == state.epoch
    assert run.summary["train_status"] == "completed"
    assert len(points(run, "train/epoch")) == STEPS // EVERY * 2 + 1  # train rows, eval rows, evaluate()

    # predict(): test/* keys, one row at the final step
    assert points(run, "test/loss") == [(STEPS, predicted.metrics["test_loss"])]
    assert {"test/loss", "test/runtime"} <= keys
    assert run.summary["test/loss"] == predicted.metrics["test_loss"]

    # config: TrainingArguments fields + model/* from model.config
    config = run.config
    assert config["learning_rate"] == 1e-3
    assert config["max_steps"] == STEPS
    assert config["metric_for_best_model"] == "eval_loss"
    assert config["report_to"] == ["tracker_core"]
    assert config["model/vocab_size"] == 50
    assert config["model/hidden_size"] == 16
    assert config["model/model_type"] == "bert"
    assert config["model/id2label"] == {"0": "LABEL_0", "1": "LABEL_1"}
    assert config["model/num_parameters"] == trainer.model.num_parameters()


@pytest.mark.parametrize("metric, greater, values, best", [
    ("accuracy", None, [0.5, 0.9, 0.7, 0.6], 0.9),   # greater_is_better defaults to True
    ("eval_error", False, [0.4, 0.1, 0.3, 0.2], 0.1),
])
def test_best_summary_follows_metric_for_best_model(tmp_path, api, metric, greater, values, best):
    trainer = tiny_trainer(tmp_path / "out", compute_metrics=scripted(metric.replace("eval_", ""), values),
                           save_strategy="steps", save_steps=EVERY, save_only_model=True,
                           metric_for_best_model=metric, greater_is_better=greater)
    trainer.train()
    state = trainer.state
    run = finish_and_read(trainer, api)
    key = "eval/" + metric.replace("eval_", "")
    history = [v for _, v in points(run, key)]
    assert history == values
    assert history[-1] != best  # the best evaluation is not the last one
    assert run.summary[key] == {"best": best}
    assert best == (max(history) if greater is not False else min(history)) == state.best_metric
    assert run.summary.details(key)["best"]["value"] == best
    assert isinstance(run.summary["eval/loss"], float)  # other eval metrics keep the last value


def test_evaluate_only_creates_the_run(tmp_path, api):
    trainer = tiny_trainer(tmp_path / "out")
    metrics = trainer.evaluate()
    run = finish_and_read(trainer, api)
    assert points(run, "eval/loss") == [(0, metrics["eval_loss"])]
    assert run.config["model/vocab_size"] == 50


def test_project_from_env_and_arguments(tmp_path, api, monkeypatch):
    monkeypatch.setenv("TRACKER_PROJECT", "from-env")
    trainer = tiny_trainer(tmp_path / "a", run_name="my-run")
    trainer.evaluate()
    run = finish_and_read(trainer, api)
    assert (run.project, run.name) == ("from-env", "my-run")

    cb = TrackerCallback(project="explicit", tags=["hf"], notes="tiny")
    trainer = tiny_trainer(tmp_path / "b", report_to="none", callbacks=[cb])
    trainer.evaluate()
    run = finish_and_read(trainer, api)
    assert (run.project, run.tags, run.notes) == ("explicit", ["hf"], "tiny")


def test_active_user_run_is_reused_in_strict_mode(tmp_path, api):
    user_run = tc.init(project="mine", strict=True)  # strict: a lower step= would raise
    trainer = tiny_trainer(tmp_path / "out")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a hook failure would warn: make it fail
        trainer.train()
        trainer.evaluate()
    assert our_callback(trainer).run is user_run
    assert not user_run.finished
    user_run.finish()
    assert len(api.runs("huggingface")) == 0
    run = api.run(user_run.path)
    assert [s for s, _ in points(run, "eval/loss")] == [2, 4, 6, 8, 8]


def test_new_trainer_starts_a_new_run(tmp_path, api):
    first = tiny_trainer(tmp_path / "a")
    first.evaluate()
    second = tiny_trainer(tmp_path / "b")
    second.evaluate()
    a, b = our_callback(first).run, our_callback(second).run
    assert a.id != b.id and a.finished and not b.finished
    tc.finish()
    assert len(api.runs("huggingface")) == 2


def test_report_to_plus_explicit_callback_logs_once(tmp_path, api):
    # the argument-less instance built by report_to yields to the configured one
    trainer = tiny_trainer(tmp_path / "out", callbacks=[TrackerCallback(project="explicit")])
    assert [type(c) for c in trainer.callback_handler.callbacks].count(TrackerCallback) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        trainer.train()
        trainer.evaluate()
    tc.finish()
    assert len(api.runs("huggingface")) == 0
    (run,) = list(api.runs("explicit"))
    assert [s for s, _ in points(run, "eval/loss")] == [2, 4, 6, 8, 8]


def test_two_configured_callbacks_first_one_logs(tmp_path, api):
    trainer = tiny_trainer(tmp_path / "out", report_to="none",
                           callbacks=[TrackerCallback(project="one"), TrackerCallback(project="two")])
    with pytest.warns(RuntimeWarning, match="two TrackerCallbacks"):
        trainer.train()
    tc.finish()
    assert len(api.runs("two")) == 0
    (run,) = list(api.runs("one"))
    assert [s for s, _ in points(run, "train/loss")] == [2, 4, 6, 8]


# -- robustness ------------------------------------------------------------------------------

def test_odd_values_are_skipped_with_one_warning(tmp_path, api):
    trainer = tiny_trainer(tmp_path / "out", eval_strategy="no")
    trainer.train()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for ok in (1.5, 2.5):
            trainer.log({"weird": object(), "ok": ok})
    assert len([w for w in caught if "'train/weird' skipped" in str(w.message)]) == 1
    run = finish_and_read(trainer, api)
    assert [v for _, v in points(run, "train/ok")] == [1.5, 2.5]
    assert "train/weird" not in run.history_keys["keys"]


class BrokenRun:
    """A run whose every write raises: the training must still complete."""

    id, project, entity, finished = "broken", "p", "e", False
    summary = property(lambda self: self)

    def __setitem__(self, key, value):
        raise RuntimeError("summary write failed")

    def log(self, *args, **kwargs):
        raise RuntimeError("disk on fire")

    def define_metric(self, *args, **kwargs):
        pass

    config = types.SimpleNamespace(update=lambda *a, **k: None)


def test_hook_exceptions_never_stop_training(tmp_path):
    cb = TrackerCallback(run=BrokenRun())
    trainer = tiny_trainer(tmp_path / "out", report_to="none", callbacks=[cb])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train()
        trainer.evaluate()
    assert trainer.state.global_step == STEPS
    ours = [str(w.message) for w in caught if "tracker_core.integrations.transformers" in str(w.message)]
    assert len([m for m in ours if "on_log" in m]) == 1, ours  # once per hook and cause, not per call
    assert len([m for m in ours if "on_train_end" in m]) == 1, ours


def test_unusable_store_warns_once_and_training_goes_on(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("TRACKER_STORE", str(blocker / "store"))
    trainer = tiny_trainer(tmp_path / "out")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train()
        trainer.evaluate()
    assert trainer.state.global_step == STEPS
    ours = [str(w.message) for w in caught if "tracker_core.integrations.transformers" in str(w.message)]
    assert len(ours) == 1 and "not tracked" in ours[0], ours
    assert our_callback(trainer).run is None


def test_other_processes_write_nothing(tmp_path, api):
    cb = TrackerCallback()
    args = tiny_args(tmp_path / "out")
    state = types.SimpleNamespace(is_world_process_zero=False, global_step=3, epoch=1.0, best_metric=None,
                                  best_model_checkpoint=None, max_steps=8, is_hyper_param_search=False)
    for hook, extra in (("on_train_begin", {}), ("on_log", {"logs": {"loss": 1.0}}),
                        ("on_predict", {"metrics": {"test_loss": 1.0}}), ("on_save", {}), ("on_train_end", {})):
        assert getattr(cb, hook)(args, state, None, model=tiny_model(), **extra) is None
    assert cb.run is None
    assert len(api.runs("huggingface")) == 0


def test_disabled_mode_trains_and_writes_nothing(tmp_path, api, monkeypatch, store_dir):
    monkeypatch.setenv("TRACKER_MODE", "disabled")
    trainer = tiny_trainer(tmp_path / "out")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        trainer.train()
        trainer.predict(TinyDataset(4))
    assert trainer.state.global_step == STEPS
    tc.finish()
    monkeypatch.delenv("TRACKER_MODE")
    assert len(tc.Api().runs("huggingface")) == 0


@dataclasses.dataclass
class FakeLoraConfig:
    r: int = 8
    target_modules: set = dataclasses.field(default_factory=lambda: {"query", "value"})
    task_type: object = None


def test_peft_config_is_sanitised(tmp_path, api):
    model = tiny_model()
    model.peft_config = {"default": FakeLoraConfig(task_type=TinyDataset)}
    trainer = tiny_trainer(tmp_path / "out", model=model)
    trainer.evaluate()
    run = finish_and_read(trainer, api)
    assert run.config["peft_config"] == {"default": {"r": 8, "target_modules": ["query", "value"],
                                                     "task_type": "TinyDataset"}}


# -- resume and hyperparameter search ---------------------------------------------------------

@pytest.mark.parametrize("restore", [False, True], ids=["state-json", "restore-callback-states"])
def test_resume_from_checkpoint_continues_the_run(tmp_path, api, restore):
    # the run id travels in trainer_state.json; with restore_callback_states_from_checkpoint
    # the Trainer also rebuilds the callback from it (constructor arguments included)
    out = tmp_path / "out"
    cb_args = dict(project="resumable", tags=["r"])
    first = tiny_trainer(out, max_steps=4, save_strategy="steps", save_steps=4, report_to="none",
                         callbacks=[TrackerCallback(**cb_args)], restore_callback_states_from_checkpoint=restore)
    first.train()
    run_id = our_callback(first).run.id
    tc.finish()  # the first process ends
    rng_file = out / "checkpoint-4" / "rng_state.pth"
    try:  # transformers 4.46 pickles numpy RNG state that torch >= 2.6 refuses to load with weights_only
        torch.load(rng_file, weights_only=True)
    except Exception:  # noqa: BLE001 - not what this test is about: resume without restoring the RNG
        rng_file.unlink()

    second = tiny_trainer(out, max_steps=STEPS, save_strategy="steps", save_steps=4, report_to="none",
                          callbacks=[TrackerCallback(**cb_args)], restore_callback_states_from_checkpoint=restore)
    second.train(resume_from_checkpoint=True)  # as in a new process: a new Trainer and callback
    run = finish_and_read(second, api)
    assert run.id == run_id
    assert len(api.runs("resumable")) == 1
    assert run.tags == ["r"]
    assert [s for s, _ in points(run, "train/loss")] == [2, 4, 6, 8]
    assert [s for s, _ in points(run, "eval/loss")] == [2, 4, 6, 8]


def test_hyperparameter_search_one_run_per_trial(tmp_path, api):
    cb = TrackerCallback()
    args = tiny_args(tmp_path / "out", run_name="sweep")
    model = tiny_model()
    paths = []
    for trial in ("trial-0", "trial-1"):
        state = types.SimpleNamespace(is_world_process_zero=True, is_hyper_param_search=True, trial_name=trial,
                                      global_step=0, epoch=0.0, best_metric=None, best_model_checkpoint=None,
                                      max_steps=2, stateful_callbacks={})
        cb.on_train_begin(args, state, None, model=model)
        state.global_step = 2
        cb.on_log(args, state, None, logs={"loss": 0.5}, model=model)
        paths.append(cb.run.path)
    tc.finish()
    assert paths[0] != paths[1]
    runs = [api.run(p) for p in paths]
    assert [(r.name, r.group, r.state) for r in runs] == [("trial-0", "sweep", "finished"),
                                                          ("trial-1", "sweep", "finished")]
    assert all(points(r, "train/loss") == [(2, 0.5)] for r in runs)
