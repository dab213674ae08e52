"""``run.summary``: a MutableMapping view over a run's summary leaves.

The same view serves a live run (``tracker_core.Run``) and a stored run read through the
``Api``; both implement the small *owner* protocol below. Nested subtrees come back as
views too, so ``summary["m"]["b"] = 2`` changes one leaf and keeps its siblings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

import uuid
from collections.abc import Mapping, MutableMapping
from typing import Any, Callable, Iterator, Protocol

from .summary import DERIVED_KEYS, Tree
from .values import convert_log_value, summary_leaf_value


class SummaryOwner(Protocol):
    def summary_tree(self) -> Tree: ...
    def summary_set(self, path: tuple, value: Any) -> None: ...
    def summary_delete(self, path: tuple) -> None: ...
    def summary_details(self, path: tuple) -> dict: ...
    def summary_load_tensor(self, path: tuple) -> np.ndarray: ...
    def summary_flush(self) -> None: ...


def is_subtree_value(value: Any) -> bool:
    """A written Mapping is a subtree of leaves, unless it is a typed value (``_type``)."""
    return isinstance(value, Mapping) and "_type" not in value


def _plain(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"summary key {key!r}: nested keys must be str, got {k!r} ({type(k).__name__})")
            out[k] = _plain(v, f"{key}.{k}")
        return out
    return convert_log_value(value, key)


def _collect(path: tuple, value: Any, out: dict) -> None:
    if is_subtree_value(value):
        if not value:
            out[path] = ({}, None)
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"summary keys must be str, got {k!r} ({type(k).__name__}) under {'.'.join(path)!r}")
            _collect(path + (k,), v, out)
    elif isinstance(value, Mapping):
        out[path] = (_plain(value, ".".join(path)), None)
    else:
        out[path] = summary_leaf_value(value, ".".join(path))


def leaves_of(path: tuple, value: Any, put_blob: Callable[[str, Any], None]) -> dict:
    """Convert an explicitly written value into ``{leaf_path: (plain value, blob name)}``.

    Every value is converted (and may raise) before any tensor is written, so a rejected
    write stores nothing. ``put_blob`` must write the array (with ``np.save``) before it
    returns: the array is not a copy, the user may change the tensor right after the
    summary write, and a bfloat16 tensor's array converts to float32 while it is saved.
    Nothing else runs between the conversion and the writes."""
    converted: dict = {}
    _collect(path, value, converted)
    out = {}
    for leaf_path, (plain, array) in converted.items():
        blob = None
        if array is not None:
            blob = uuid.uuid4().hex
            put_blob(blob, array)
        out[leaf_path] = (plain, blob)
    return out


def to_plain(value: Any) -> Any:
    """Rendered tree -> plain nested dicts (what ``summary.to_dict()`` returns)."""
    if isinstance(value, Tree):
        return {k: to_plain(v) for k, v in value.items()}
    return value


class SummaryView(MutableMapping):
    """Dict-like summary with attribute access: ``summary["acc"]``, ``summary.acc = 0.9``.

    Extra methods: ``details(key)`` (step of min/max/best, counts), ``load_tensor(key)``
    (the full array behind a tensor summary) and ``to_dict()``. ``update()`` with no
    arguments persists pending edits (a no-op on a live run, which persists by itself)."""

    __slots__ = ("_owner", "_prefix")

    def __init__(self, owner: SummaryOwner, prefix: tuple = ()) -> None:
        object.__setattr__(self, "_owner", owner)
        object.__setattr__(self, "_prefix", prefix)

    def _node(self) -> Tree:
        node = self._owner.summary_tree()
        for part in self._prefix:
            node = node.get(part)
            if not isinstance(node, Tree):
                return Tree()
        return node

    def _path(self, key: Any) -> tuple:
        if not isinstance(key, str):
            raise TypeError(f"summary keys must be str, got {key!r} ({type(key).__name__})")
        return self._prefix + (key,)

    def __getitem__(self, key: str) -> Any:
        value = self._node()[key]
        if isinstance(value, Tree):
            return SummaryView(self._owner, self._path(key))
        return value

    def _writable(self, key: Any, verb: str) -> tuple:
        path = self._path(key)
        if path[0] in DERIVED_KEYS and len(path) == 1:
            raise ValueError(f"summary key {key!r} cannot be {verb}: {', '.join(DERIVED_KEYS)} are kept by the "
                             f"tracker (the largest step logged, the run time, the last log time); "
                             f"use log(..., step=) for steps")
        return path

    def __setitem__(self, key: str, value: Any) -> None:
        path = self._writable(key, "set")
        if isinstance(value, SummaryView):
            value = value.to_dict()
        self._owner.summary_set(path, value)

    def __delitem__(self, key: str) -> None:
        self._owner.summary_delete(self._writable(key, "deleted"))

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._node()))

    def __len__(self) -> int:
        return len(self._node())

    def __contains__(self, key: object) -> bool:
        return key in self._node()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"summary has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Set several keys (dict semantics: each value replaces the one at its key), then persist."""
        if args or kwargs:
            super().update(*args, **kwargs)
        self._owner.summary_flush()

    def details(self, key: str) -> dict:
        """``{"min": {"value", "step"}, "max": ..., "best": ..., "count", "nan_count"}`` of a leaf."""
        return self._owner.summary_details(self._path(key))

    def load_tensor(self, key: str) -> np.ndarray:
        """The full array stored behind a tensor summary (stats dict), dtype and shape kept."""
        return self._owner.summary_load_tensor(self._path(key))

    def to_dict(self) -> dict:
        return to_plain(self._node())

    def __repr__(self) -> str:
        return repr(self.to_dict())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SummaryView):
            other = other.to_dict()
        return self.to_dict() == other if isinstance(other, Mapping) else NotImplemented

    __hash__ = None  # type: ignore[assignment]
