"""The summary's batch path: rows committed at once (``Run.log``'s fast path), regrouped
by key (``store.history_codec.group_rows``), enter the leaves a key at a time.

The result is the one ``SummaryState.apply`` gives row by row, to the bit: builtins
(``sum``/``min``/``max``/``list.index``) do in C what the row loop does in Python, and a
column with anything they would treat differently (NaN, a non-number, an overflow) goes
value by value.
"""

from __future__ import annotations

import math
import sys
from functools import reduce
from operator import add
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .summary import LeafState, SummaryState

_NUMBERS = frozenset((int, float))  # bool is neither: it is not aggregated

# The sum of a column as ``+=`` value by value computes it. CPython's sum() does exactly
# that, in C, up to 3.11; from 3.12 it compensates float rounding, which a replay of the
# history one value at a time would not reproduce, so there a left fold of ``+`` does it.
_sum = sum if sys.version_info < (3, 12) else (lambda values, start: reduce(add, values, start))


class _StepLookup:
    """The step of the i-th value of a column in a batch of rows (``apply_columns``)."""

    __slots__ = ("seqs", "steps", "by_seq")

    def __init__(self, seqs: list, steps: list) -> None:
        self.seqs, self.steps, self.by_seq = seqs, steps, None

    def __call__(self, col_seqs: list, i: int) -> int:
        if col_seqs is self.seqs:  # the column holds every row: positions coincide
            return self.steps[i]
        if self.by_seq is None:
            self.by_seq = dict(zip(self.seqs, self.steps))
        return self.by_seq[col_seqs[i]]


def apply_columns(state: SummaryState, per_key: dict, seqs: list, steps: list, kinds_out: dict | None = None) -> None:
    """Rows committed at once, in program order, regrouped by key
    (``history_codec.group_rows``): ``per_key`` maps a path to the sequence numbers of
    the rows holding it and its values; ``seqs``/``steps``: every row's, in order.

    The same result as ``SummaryState.apply`` row by row (observe and aggregate), computed a key at a
    time: the sum left to right (what ``+=`` does, so means stay bit-identical to a
    replay), min/max and their first step with builtins. A column with NaN, a
    non-number or an overflow takes the value-by-value loop. ``kinds_out`` receives each
    path's set of value types (the history chunks need it too). Only for rows with no
    pending part and paths that cannot collide within the batch (top-level keys:
    ``Run.log``'s fast path)."""
    leaves = state.leaves
    step_at = _StepLookup(seqs, steps)
    for path, (col_seqs, vals) in per_key.items():
        st = leaves.get(path)
        if st is None:
            st = state._add(path)
        st.last, st.has_last, st.last_step = vals[-1], True, step_at(col_seqs, -1)
        if st.has_override:
            st.has_override, st.override = False, None
            if st.blob:
                state.dropped_blobs.append(st.blob)
                st.blob = None
        if not st.has_first:
            st.first, st.has_first, st.first_seq = vals[0], True, col_seqs[0]
        st.count += len(vals)
        kinds = set(map(type, vals))
        if kinds_out is not None:
            kinds_out[path] = kinds
        if not kinds <= _NUMBERS:
            if kinds & _NUMBERS:
                _aggregate_each(st, col_seqs, vals, step_at)
            continue
        try:
            total = _sum(vals, st.sum)
        except OverflowError:
            total = math.nan
        if total != total:  # a NaN among the values (or inf - inf, an overflow): one by one
            _aggregate_each(st, col_seqs, vals, step_at)
            continue
        st.sum = total
        st.n_num += len(vals)
        mn, mx = min(vals), max(vals)
        if st.min is None or mn < st.min:  # strict: the earliest row keeps an equal extreme
            st.min, st.min_step = mn, step_at(col_seqs, vals.index(mn))
        if st.max is None or mx > st.max:
            st.max, st.max_step = mx, step_at(col_seqs, vals.index(mx))
    if steps:
        top = max(steps)
        if state.step is None or top > state.step:
            state.step = top
    state.dirty.update(per_key)
    state.version += 1


def _aggregate_each(st: LeafState, seqs: list, vals: list, step_at: _StepLookup) -> None:
    """``apply``'s aggregation, value by value (NaN, mixed types, huge ints)."""
    for i, value in enumerate(vals):
        tv = type(value)
        if tv is not float and tv is not int:
            continue
        if value != value:
            st.nan_count += 1
            continue
        st.n_num += 1
        try:
            st.sum += value
        except OverflowError:
            st.sum = float(st.sum) + (math.inf if value > 0 else -math.inf)
        if st.min is None or value < st.min:
            st.min, st.min_step = value, step_at(seqs, i)
        if st.max is None or value > st.max:
            st.max, st.max_step = value, step_at(seqs, i)
