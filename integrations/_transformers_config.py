"""The run config of a ``Trainer``: the sanitised ``TrainingArguments``, ``model/<key>`` for
every field of ``model.config``, ``model/num_parameters`` and ``peft_config``.

Framework-free: reads ``to_dict()``, ``peft_config`` and ``num_parameters()`` by duck typing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._common import WarnOnce, sanitize_config


def trainer_config(args: Any, model: Any, warn: WarnOnce) -> dict:
    """The config keys for ``args`` and ``model`` (either may be None); what cannot be read
    is left out with one warning, never raised."""
    config: dict = {}
    peft = getattr(model, "peft_config", None)
    if peft:
        config["peft_config"] = sanitize_config(peft)
    model_config = getattr(model, "config", None)
    if model_config is not None:
        try:
            items = model_config if isinstance(model_config, Mapping) else model_config.to_dict()
        except Exception as exc:  # noqa: BLE001 - a custom config must not stop training
            warn("config:model", f"model.config could not be read: {exc!r}")
            items = {}
        for key, value in items.items():
            config[f"model/{key}"] = sanitize_config(value)
    if args is not None:
        try:
            items = args.to_dict()  # hub tokens are redacted by transformers
        except Exception as exc:  # noqa: BLE001
            warn("config:args", f"TrainingArguments.to_dict() failed: {exc!r}")
            items = {}
        for key, value in items.items():
            config[str(key)] = sanitize_config(value)
    if model is not None:
        try:
            n = model.num_parameters() if hasattr(model, "num_parameters") else sum(
                p.numel() for p in model.parameters())
            config["model/num_parameters"] = int(n)
        except Exception:  # noqa: BLE001, S110 - not a torch module: no count
            pass
    return config
