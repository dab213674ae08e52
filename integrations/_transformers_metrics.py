"""Where the ``Trainer``'s values go: history keys renamed like W&B's, the step axis, the
end-of-training values that belong in the summary, and the best-model metric.

Framework-free: plain names and ``TrainingArguments`` attributes, no transformers import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STEP_METRIC = "train/global_step"

SINGLE_VALUE_KEYS = frozenset({
    "train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos",
    "train_tokens_per_second",
})
"""End-of-training values: written to the summary under these names, never to history."""

_PREFIXES = ("train/", "eval/", "test/")


def rename_logs(logs: Mapping[str, Any]) -> dict:
    """Trainer log keys -> tracker keys, as W&B's ``rewrite_logs``: ``eval_x`` -> ``eval/x``,
    ``test_x`` -> ``test/x``, anything else -> ``train/x``; keys that already start with
    ``train/``, ``eval/`` or ``test/`` (TRL) are kept as they are."""
    out = {}
    for key, value in logs.items():
        key = str(key)
        if key.startswith(_PREFIXES):
            out[key] = value
        elif key.startswith("eval_"):
            out["eval/" + key[5:]] = value
        elif key.startswith("test_"):
            out["test/" + key[5:]] = value
        else:
            out["train/" + key] = value
    return out


def best_metric_key(args: Any) -> tuple[str, str] | None:
    """``(history key, objective)`` for ``args.metric_for_best_model``, or ``None``.

    The trainer prefixes the name with ``eval_`` when it lacks it, and defaults
    ``greater_is_better`` to "the name does not end with ``loss``"; so do we."""
    metric = getattr(args, "metric_for_best_model", None)
    if not metric or not isinstance(metric, str):
        return None
    name = metric.removeprefix("eval_")
    greater = getattr(args, "greater_is_better", None)
    if greater is None:
        greater = not metric.endswith("loss")
    return "eval/" + name, ("maximize" if greater else "minimize")
