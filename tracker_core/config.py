"""``run.config``: the run's hyperparameters, a dict with attribute access.

``init(config=...)`` accepts a Mapping, an ``argparse.Namespace`` / ``SimpleNamespace``
or a dataclass instance. Values are converted like logged values (numpy/torch scalars
become numbers, small arrays lists); ``pathlib.Path`` and ``Enum`` members are stored as
their text / value. Anything else is a ``TypeError`` naming the key, never a silent str().
"""

from __future__ import annotations

import dataclasses
import enum
import os
from collections.abc import Mapping, MutableMapping
from typing import Any, Callable, Iterator

from .values import convert_log_value


def config_dict(obj: Any) -> dict:
    """Normalise what users pass as config into a plain dict of top-level keys."""
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if hasattr(obj, "__dict__") and type(obj).__name__ in ("Namespace", "SimpleNamespace"):
        return dict(vars(obj))
    raise TypeError(
        f"config must be a dict, argparse.Namespace, SimpleNamespace or dataclass instance, got {type(obj).__name__}"
    )


def config_value(value: Any, key: str) -> Any:
    """A config value as plain data; raises TypeError naming ``key`` for what cannot be stored."""
    if isinstance(value, Mapping) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        out = {}
        for k, v in config_dict(value).items():
            if not isinstance(k, str):
                raise TypeError(f"config key under {key!r} must be str, got {k!r} ({type(k).__name__})")
            out[k] = config_value(v, f"{key}.{k}")
        return out
    if isinstance(value, enum.Enum):
        return config_value(value.value, key)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        return [config_value(v, f"{key}[{i}]") for i, v in enumerate(value)]
    plain = convert_log_value(value, key)
    if isinstance(plain, dict):  # a histogram: an array too large to be a hyperparameter
        raise TypeError(f"config key {key!r}: arrays of more than 32 values are not config values")
    return plain


def plain_config(obj: Any = None, **kwargs: Any) -> dict:
    """Validate and convert a whole config update at once (all or nothing)."""
    merged = config_dict(obj)
    merged.update(kwargs)
    for key in merged:
        if not isinstance(key, str) or not key:
            raise TypeError(f"config keys must be non-empty str, got {key!r}")
    return {k: config_value(v, k) for k, v in merged.items()}


class Config(MutableMapping):
    """Dict-like config; every change is handed to ``on_change(key, value)`` for storage."""

    def __init__(self, on_change: Callable[[str, Any], None], initial: dict | None = None) -> None:
        object.__setattr__(self, "_on_change", on_change)
        object.__setattr__(self, "_data", dict(initial or {}))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str) or not key:
            raise TypeError(f"config keys must be non-empty str, got {key!r}")
        plain = config_value(value, key)
        self._data[key] = plain
        self._on_change(key, plain)

    def __delitem__(self, key: str) -> None:
        raise TypeError("config keys cannot be deleted; set a new value instead")

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Merge keys into the config: accepts what ``init(config=...)`` accepts, and kwargs."""
        if len(args) > 1:
            raise TypeError(f"update expected at most 1 positional argument, got {len(args)}")
        plain = plain_config(args[0] if args else None, **kwargs)
        for key, value in plain.items():
            self._data[key] = value
            self._on_change(key, value)

    def as_dict(self) -> dict:
        return dict(self._data)

    def __repr__(self) -> str:
        return repr(self._data)
