"""Best, not last: the direction of the Keras callback's ``monitor`` (DESIGN.md section 8).

``mode="min"``/``"max"`` say it; ``mode="auto"`` is resolved the way Keras's
``MonitorCallback`` does it, with a name-based fallback where Keras would raise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

MODES = ("auto", "min", "max")
# mode="auto" for a metric Keras cannot place: names that grow when the model gets better.
_MAXIMIZED = ("acc", "auc", "precision", "recall", "f1", "fbeta", "iou", "r2", "sensitivity", "specificity",
              "true_positives", "true_negatives")


def auto_objective(monitor: str, model: Any) -> str:
    """``mode="auto"`` the way Keras's ``MonitorCallback`` resolves it, with a name-based
    fallback (accuracy/AUC-like -> maximize, anything else -> minimize) where Keras would
    raise."""
    name = monitor.removeprefix("val_")
    if name == "loss" or name.endswith("_loss"):
        return "minimize"
    metrics: list = []
    with contextlib.suppress(Exception):  # a model we cannot inspect falls back to the name
        for m in getattr(model, "metrics", None) or []:
            metrics.extend(getattr(m, "metrics", None) or [m])  # CompileMetrics / MetricsList hold the real ones
    for m in metrics:
        direction = getattr(m, "_direction", None)
        if getattr(m, "name", None) == name and direction in ("up", "down"):
            return "maximize" if direction == "up" else "minimize"
    lowered = name.lower()
    return "maximize" if any(part in lowered for part in _MAXIMIZED) else "minimize"


def missing_monitor_warning(monitor: str | None, logs: Mapping) -> str | None:
    """The warning for a monitored key that is not in the epoch logs (a typo, or no
    validation data for a ``val_*`` key); None when it is there, when there is no monitor,
    and for the default ``val_loss`` of a fit without validation."""
    if monitor is None or monitor in logs:
        return None
    if monitor == "val_loss" and not any(k.startswith("val_") for k in logs):
        return None
    return (f"monitor={monitor!r} is not in the epoch logs, so epoch/{monitor} has no best summary; "
            f"available: {', '.join(sorted(logs))}")
