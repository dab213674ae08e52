"""Whether this process is the one that writes: Keras has no rank gating of its own.

Reads the launcher's variables and ``TF_CONFIG`` (without importing TensorFlow), then the
backend's own notion of the process, only where that backend is already imported.
"""

from __future__ import annotations

import json
import os
import sys

import keras

from ._common import process_rank


def tf_config_rank() -> int:
    """The ``tf.distribute`` worker from ``TF_CONFIG`` without importing TensorFlow: 0 for
    the chief (or worker 0 when there is no chief), 1 for any other task."""
    try:
        cfg = json.loads(os.environ.get("TF_CONFIG") or "{}")
        task = cfg.get("task") or {}
        kind, index = task.get("type"), int(task.get("index", 0))
    except Exception:  # noqa: BLE001 - a malformed TF_CONFIG is TensorFlow's problem, not ours
        return 0
    if kind is None or kind == "chief":
        return 0
    if kind == "worker" and index == 0 and "chief" not in (cfg.get("cluster") or {}):
        return 0
    return 1


def is_rank_zero() -> bool:
    """Keras has no rank gating: the launcher's variables, then the backend's own notion."""
    if process_rank() != 0 or tf_config_rank() != 0:
        return False
    backend = keras.backend.backend()
    try:
        if backend == "torch" and "torch.distributed" in sys.modules:
            dist = sys.modules["torch.distributed"]
            return not (dist.is_available() and dist.is_initialized() and dist.get_rank() != 0)
        if backend == "jax" and "jax" in sys.modules:
            return sys.modules["jax"].process_index() == 0
    except Exception:  # noqa: BLE001 - an unusual setup: the environment variables decided
        return True
    return True
