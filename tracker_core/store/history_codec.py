"""History as typed chunks per key: what one flush of the writer stores.

A flush of ``n`` rows becomes one *rows chunk* (``seqs`` int64 array: each row's sequence
number, the order in which rows were opened; ``steps`` int64; ``ts`` float64) and one
*values chunk per key*
(``seqs`` int64 array of the rows holding the key, and the values). Values are packed by
kind: ``f8`` (all Python floats, NaN/inf included), ``i8`` (all ints within int64), else
``json`` (exact JSON text: bools, None, strings, lists, histograms, big ints, mixtures).

This keeps the writer's cost per step near the floor (no float-to-text conversion, one
insert per key per flush, not per value) while reading one key's history reads only that
key's chunks. Both backends share this codec; arrays are little-endian on disk.
"""

from __future__ import annotations

import sys
from array import array
from typing import Any, Iterable

from . import codec

_SWAP = sys.byteorder != "little"
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1

Row = tuple  # (seq, step, timestamp, {path: value})


def _pack(typecode: str, values: Iterable) -> bytes:
    arr = array(typecode, values)
    if _SWAP:
        arr.byteswap()
    return arr.tobytes()


def _unpack(typecode: str, data: bytes) -> list:
    arr = array(typecode)
    arr.frombytes(bytes(data))
    if _SWAP:
        arr.byteswap()
    return arr.tolist()


def pack_values(values: list) -> tuple[str, bytes]:
    """``(kind, payload)`` for one key's values, exact for every kind."""
    kinds = set(map(type, values))
    if kinds == {float}:
        return "f8", _pack("d", values)
    if kinds == {int} and _I64_MIN <= min(values) and max(values) <= _I64_MAX:
        return "i8", _pack("q", values)
    return "json", codec.dumps(values).encode("utf-8")


def unpack_values(kind: str, payload: bytes) -> list:
    if kind == "f8":
        return _unpack("d", payload)
    if kind == "i8":
        return _unpack("q", payload)
    if kind == "json":
        return codec.loads(bytes(payload).decode("utf-8"))
    raise ValueError(f"unknown history chunk kind {kind!r}")


def pack_rows(rows: list[Row]) -> tuple[dict, list[dict]]:
    """Rows of one flush -> the rows chunk and one values chunk per key."""
    seq_list, steps, stamps = [], [], []
    per_key: dict[tuple, tuple[list, list]] = {}
    for seq, step, ts, row in rows:
        seq_list.append(seq)
        steps.append(step)
        stamps.append(ts)
        for path, value in row.items():
            entry = per_key.get(path)
            if entry is None:
                entry = per_key[path] = ([], [])
            entry[0].append(seq)
            entry[1].append(value)
    seq0 = min(seq_list)
    rows_chunk = {"seq0": seq0, "max_seq": max(seq_list), "n": len(rows), "min_step": min(steps),
                  "max_step": max(steps), "seqs": _pack("q", seq_list), "steps": _pack("q", steps),
                  "ts": _pack("d", stamps)}
    value_chunks = []
    for pos, (path, (seqs, values)) in enumerate(per_key.items()):  # pos: first-appearance order
        kind, payload = pack_values(values)
        value_chunks.append({"path": codec.path_key(path), "key": codec.dotted(path), "seq0": seq0, "pos": pos,
                             "kind": kind, "seqs": _pack("q", seqs), "vals": payload})
    return rows_chunk, value_chunks


def unpack_rows(rows_chunks: Iterable[tuple[bytes, bytes, bytes]],
                value_chunks: Iterable[tuple[str, str, bytes, bytes]],
                min_step: int | None = None, max_step: int | None = None) -> list[tuple[int, float, dict]]:
    """Stored chunks -> ``[(step, timestamp, {path: value})]`` in program order.

    ``rows_chunks``: ``(seqs, steps, ts)``; ``value_chunks``: ``(path, kind, seqs, vals)``."""
    table: dict[int, tuple[int, float, dict]] = {}
    for seqs, steps, stamps in rows_chunks:
        for seq, step, ts in zip(_unpack("q", seqs), _unpack("q", steps), _unpack("d", stamps)):
            if (min_step is None or step >= min_step) and (max_step is None or step <= max_step):
                table[seq] = (step, ts, {})
    for path_text, kind, seqs, vals in value_chunks:
        path = tuple(codec.loads(path_text))
        for seq, value in zip(_unpack("q", seqs), unpack_values(kind, vals)):
            entry = table.get(seq)
            if entry is not None:
                entry[2][path] = value
    return [table[seq] for seq in sorted(table)]


def nest(row: dict) -> dict:
    """``{("a", "b"): 1, ("c",): 2}`` -> ``{"a": {"b": 1}, "c": 2}``."""
    out: dict = {}
    for path, value in row.items():
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if type(child) is not dict:
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    return out


def first_seq(seqs_prefix: bytes) -> int:
    """The first row number of a values chunk, from the first 8 bytes of its ``seqs``."""
    return _unpack("q", seqs_prefix[:8])[0]


def unpack_key(rows_chunks: Iterable[tuple[bytes, bytes]],
               value_chunks: Iterable[tuple[str, bytes, bytes]]) -> list[tuple[int, Any]]:
    """One key's history ``[(step, value)]`` in row order, from its chunks only.

    ``rows_chunks``: ``(seqs, steps)``; ``value_chunks``: ``(kind, seqs, vals)``."""
    step_of: dict[int, int] = {}
    for seqs, steps in rows_chunks:
        step_of.update(zip(_unpack("q", seqs), _unpack("q", steps)))
    out = []
    for kind, seqs, vals in value_chunks:
        for seq, value in zip(_unpack("q", seqs), unpack_values(kind, vals)):
            out.append((seq, step_of.get(seq), value))
    out.sort(key=lambda e: e[0])
    return [(step, value) for _seq, step, value in out]
