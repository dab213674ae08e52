"""Exact text encoding of summary/config/history values for the stores.

The stdlib ``json`` module keeps what matters here: ints stay ints (big ints exact),
floats stay floats (``2.0`` is not ``2``, repr round-trips), NaN and infinities
survive (``NaN``/``Infinity``, as Python's json writes them), ``None`` is ``null``.
"""

from __future__ import annotations

import json
import math

_encode = json.JSONEncoder(allow_nan=True, separators=(",", ":"), ensure_ascii=False).encode
_decode = json.JSONDecoder().decode


def dumps(value) -> str:
    return _encode(value)


def loads(text: str | None):
    return None if text is None else _decode(text)


def path_key(path: tuple) -> str:
    """A leaf path as stored: the JSON list, so ``("a.b",)`` and ``("a", "b")`` differ."""
    return _encode(list(path))


def path_prefix(path: tuple) -> str:
    """Stored keys of leaves strictly below ``path`` start with this text."""
    return _encode(list(path))[:-1] + ","


def dotted(path: tuple) -> str:
    """The human key of a leaf, as the UI and filters show it: ``val/acc``, ``a.b``."""
    return ".".join(path)


def number(value) -> float | None:
    """The REAL column beside an exact value, so queries can filter and sort numerically."""
    if type(value) is float:
        return value if not math.isnan(value) else None
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return None


def scalar(num: float | None, text: str | None, raw: str):
    """A stored value from its typed columns, decoding JSON only when it must: a string is
    its text column, an int its exact digits, a float its REAL column (the same double)."""
    if text is not None:
        return text
    if num is not None:
        if raw.isdigit() or (raw[0] == "-" and raw[1:].isdigit()):
            return int(raw)
        return num
    return _decode(raw)
