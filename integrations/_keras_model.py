"""What the Keras callback reads from the model, as plain data: backend scalars (the
optimizer's step and learning rate) as Python numbers on any backend, and the
``config["keras"]`` description of the training."""

from __future__ import annotations

import contextlib
from typing import Any

import keras


def scalar(value: Any, kind: type) -> Any:
    """A 0-d backend value (Variable, tensor, array) as a Python number. ``int()`` /
    ``float()`` first: the ``convert_to_numpy`` path warns on numpy 2 with torch tensors."""
    try:
        return kind(value)
    except Exception:  # noqa: BLE001 - whatever float() rejects, numpy may still read
        return kind(keras.ops.convert_to_numpy(value).item())


def keras_config(model: Any, params: dict) -> dict:
    """Keras version and backend, ``epochs`` and ``steps_per_epoch`` from the callback's
    params, the model's name, class and parameter count, the optimizer's config."""
    cfg: dict = {"version": keras.__version__, "backend": keras.backend.backend(),
                 "epochs": params.get("epochs"), "steps_per_epoch": params.get("steps")}
    model_cfg: dict = {"name": getattr(model, "name", None), "class": type(model).__name__}
    with contextlib.suppress(Exception):  # an unbuilt model has no parameter count yet
        model_cfg["num_parameters"] = int(model.count_params())
    cfg["model"] = model_cfg
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        try:
            cfg["optimizer"] = optimizer.get_config()
        except Exception:  # noqa: BLE001
            cfg["optimizer"] = {"name": type(optimizer).__name__}
    return cfg
