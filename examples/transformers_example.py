"""tracker-core with Hugging Face Transformers: ``report_to="tracker_core"``.

A 1-layer BERT built from a config (nothing is downloaded) learns a toy task (is token
7 in the sequence?) for a few seconds on the CPU; the Trainer reports to tracker_core,
keeps the best evaluation by accuracy, then ``evaluate()`` and ``predict()`` log into
the same run. Writes to ./tracker_runs (or $TRACKER_STORE) and prints what it reads back.

    python examples/transformers_example.py
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
import transformers
from transformers import BertConfig, BertForSequenceClassification, PrinterCallback, Trainer, TrainingArguments

import tracker_core as tc

# importing the adapter registers report_to="tracker_core" with transformers
import tracker_core.integrations.transformers  # isort: skip

transformers.logging.set_verbosity_error()


class ToyTask(torch.utils.data.Dataset):
    """Sequences of 8 tokens; the label says whether token 7 occurs."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(8, 50, (n, 8), generator=g)
        positive = torch.rand(n, generator=g) < 0.5
        where = torch.randint(0, 8, (n,), generator=g)
        self.x[positive, where[positive]] = 7
        self.y = positive.long()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.x[i], "attention_mask": torch.ones_like(self.x[i]), "labels": self.y[i]}


def accuracy(pred) -> dict:
    return {"accuracy": float((np.argmax(pred.predictions, axis=-1) == pred.label_ids).mean())}


def main() -> None:
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=64))
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, run_name="toy-bert", report_to="tracker_core",
            max_steps=60, per_device_train_batch_size=16, learning_rate=3e-3,
            logging_steps=5, eval_strategy="steps", eval_steps=15, save_strategy="steps", save_steps=15,
            save_only_model=True, metric_for_best_model="accuracy",  # greater_is_better follows: maximise
            load_best_model_at_end=True, use_cpu=True, disable_tqdm=True, seed=0,
        )
        trainer = Trainer(model=model, args=args, train_dataset=ToyTask(512, seed=0),
                          eval_dataset=ToyTask(128, seed=1), compute_metrics=accuracy)
        trainer.remove_callback(PrinterCallback)  # quiet console: the numbers are in the run
        trainer.train()
        trainer.evaluate()  # the best model, loaded at the end: same run, same global step
        trainer.predict(ToyTask(128, seed=2))  # test/* keys
        path = tc.current_run().path
        tc.finish()

    run = tc.Api().run(path)
    history = [row["eval/accuracy"] for row in run.scan_history(keys=["eval/accuracy"])]
    print("run:", "/".join(run.path), run.state, f"(store: {tc.Api().store_url})")
    print("eval/accuracy history:", [round(v, 3) for v in history])
    print("summary eval/accuracy:", run.summary["eval/accuracy"], "== trainer best:", trainer.state.best_metric)
    print("test/accuracy:", run.summary["test/accuracy"])
    print("train_runtime:", run.summary["train_runtime"], "s; train_loss:", round(run.summary["train_loss"], 4))
    print("config: learning_rate", run.config["learning_rate"], "model/hidden_size", run.config["model/hidden_size"],
          "model/num_parameters", run.config["model/num_parameters"])


if __name__ == "__main__":
    main()
