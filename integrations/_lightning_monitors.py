"""What the trainer's ``ModelCheckpoint`` / ``EarlyStopping`` callbacks say about the best
model: which metric they monitor and in which direction (-> best summaries), and where the
checkpoints are (-> summary keys).

Read by duck typing (attribute names, class names in the MRO), so it works for the
callbacks of ``lightning.pytorch`` and ``pytorch_lightning`` alike and imports neither.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Optional

BEST_CKPT_KEY = "best_checkpoint"
BEST_SCORE_KEY = "best_checkpoint_score"
LAST_CKPT_KEY = "last_checkpoint"

_MONITOR_CLASSES = ("ModelCheckpoint", "EarlyStopping")


def monitor_of(callback: Any) -> Optional[tuple]:
    """``(monitor, mode)`` of a callback with a usable ``monitor`` and a ``"min"``/``"max"``
    ``mode``, else None."""
    monitor, mode = getattr(callback, "monitor", None), getattr(callback, "mode", None)
    if isinstance(monitor, str) and monitor and mode in ("min", "max"):
        return monitor, mode
    return None


def trainer_monitors(callbacks: Iterable[Any]) -> list:
    """``(monitor, mode)`` of every ModelCheckpoint / EarlyStopping (or subclass) among the
    trainer's callbacks, in callback order."""
    found = []
    for cb in callbacks:
        if not any(c.__name__ in _MONITOR_CLASSES for c in type(cb).__mro__):
            continue
        pair = monitor_of(cb)
        if pair is not None:
            found.append(pair)
    return found


def checkpoint_state(callback: Any) -> tuple:
    """``(best path, best score as a float or None, last path)`` of a ModelCheckpoint; paths
    are ``""`` when there is none yet."""
    best = getattr(callback, "best_model_path", "") or ""
    score = getattr(callback, "best_model_score", None)
    if score is not None:
        score = float(score.item() if hasattr(score, "item") else score)
    last = getattr(callback, "last_model_path", "") or getattr(callback, "_last_checkpoint_saved", "") or ""
    return best, score, last


def checkpoint_summary(state: tuple) -> dict:
    """The summary keys for a ``checkpoint_state``: only what is known."""
    best, score, last = state
    updates: dict = {}
    if best:
        updates[BEST_CKPT_KEY] = os.fspath(best)
    if score is not None:
        updates[BEST_SCORE_KEY] = score
    if last:
        updates[LAST_CKPT_KEY] = os.fspath(last)
    return updates
