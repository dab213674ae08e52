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
from operator import itemgetter
from typing import Any, Iterable, NamedTuple

from . import codec

_SWAP = sys.byteorder != "little"
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1

Row = tuple  # (seq, step, timestamp, {path or top-level str key: value})


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


def pack_values(values: list, kinds: set | None = None) -> tuple[str, bytes]:
    """``(kind, payload)`` for one key's values, exact for every kind (``kinds``: the set of
    the values' types, when the caller has it)."""
    if kinds is None:
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


class Grouped(NamedTuple):
    """Rows of one flush regrouped by key: what the history chunks and the summary's
    batch aggregation (``SummaryState.apply_columns``) both read, built once."""

    seqs: list  # each row's sequence number, in the rows' order
    steps: list
    stamps: list
    per_key: dict  # path -> (seqs of the rows holding it, their values), first-appearance order
    kinds: dict  # path -> set of its values' types, where the summary computed it already


def group_rows(rows: list[Row]) -> Grouped:
    """``[(seq, step, ts, {path: value})]`` -> :class:`Grouped`.

    A row's key is a path tuple, or a str ``k`` standing for the path ``(k,)`` (the rows of
    ``Run.log``'s fast path keep the caller's keys); both spellings land in one entry.
    Consecutive rows with the same keys in the same order (a training loop logs the same
    dict every step) are transposed as a block by ``zip``: no Python loop per value."""
    seq_list = [r[0] for r in rows]
    steps, stamps = [r[1] for r in rows], [r[2] for r in rows]
    n = len(rows)
    dicts = [r[3] for r in rows]
    if n:  # the commonest case first: every row has the same keys (in any order)
        keys = tuple(dicts[0])
        if list(map(len, dicts)).count(len(keys)) == n:
            try:  # a row without one of these keys (so with another one) raises KeyError
                columns = [list(map(itemgetter(key), dicts)) for key in keys]
            except KeyError:
                pass
            else:  # one seqs list serves every key: readers never change it
                return Grouped(seq_list, steps, stamps, {
                    (key if type(key) is tuple else (key,)): (seq_list, column) for key, column in zip(keys, columns)},
                    {})
    per_key: dict[tuple, tuple[list, list]] = {}
    entries: dict = {}  # a row's key as written -> its entry of per_key
    sigs = [tuple(d) for d in dicts]
    start = 0
    while start < n:
        sig = sigs[start]
        end = start + 1
        while end < n and sigs[end] == sig:
            end += 1
        if sig:
            seqs = seq_list[start:end]
            columns = zip(*[d.values() for d in dicts[start:end]])
            for key, column in zip(sig, columns):
                entry = entries.get(key)
                if entry is None:
                    path = key if type(key) is tuple else (key,)
                    entry = per_key.get(path)
                    if entry is None:
                        entry = per_key[path] = ([], [])
                    entries[key] = entry
                entry[0].extend(seqs)
                entry[1].extend(column)
        start = end
    return Grouped(seq_list, steps, stamps, per_key, {})


def concat_grouped(first: Grouped, then: Grouped) -> Grouped:
    """The grouping of ``first``'s rows followed by ``then``'s (neither is changed)."""
    per_key = {p: (list(s), list(v)) for p, (s, v) in first.per_key.items()}
    kinds = {}
    for path, (seqs, vals) in then.per_key.items():
        entry = per_key.get(path)
        if entry is None:
            per_key[path] = (list(seqs), list(vals))
        else:
            entry[0].extend(seqs)
            entry[1].extend(vals)
        known = then.kinds.get(path)
        if known is not None:  # the types of ``first``'s few values are added to those known
            kinds[path] = known.union(map(type, first.per_key[path][1])) if path in first.per_key else known
    return Grouped(first.seqs + then.seqs, first.steps + then.steps, first.stamps + then.stamps, per_key, kinds)


def path_row(row: dict) -> dict:
    """A row with every key a path tuple (see :func:`group_rows` for the str spelling)."""
    return {key if type(key) is tuple else (key,): value for key, value in row.items()}


def pack_rows(rows: list[Row], grouped: Grouped | None = None) -> tuple[dict, list[dict]]:
    """Rows of one flush -> the rows chunk and one values chunk per key (``grouped``:
    ``group_rows(rows)`` when the caller has it already)."""
    seq_list, steps, stamps, per_key, kinds = grouped if grouped is not None else group_rows(rows)
    packed: dict[int, bytes] = {}  # id(list) -> its bytes: rows holding every key share one seqs list

    def pack_seqs(seqs: list) -> bytes:
        data = packed.get(id(seqs))
        if data is None:
            data = packed[id(seqs)] = _pack("q", seqs)
        return data

    seq0 = min(seq_list)
    rows_chunk = {"seq0": seq0, "max_seq": max(seq_list), "n": len(rows), "min_step": min(steps),
                  "max_step": max(steps), "seqs": pack_seqs(seq_list), "steps": _pack("q", steps),
                  "ts": _pack("d", stamps)}
    value_chunks = []
    for pos, (path, (seqs, values)) in enumerate(per_key.items()):  # pos: first-appearance order
        kind, payload = pack_values(values, kinds.get(path))
        value_chunks.append({"path": codec.path_key(path), "key": codec.dotted(path), "seq0": seq0, "pos": pos,
                             "kind": kind, "seqs": pack_seqs(seqs), "vals": payload})
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
