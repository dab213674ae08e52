"""The summary rules as pure code: per-leaf state, aggregation and rendering.

A run's summary is a prefix-free set of *leaves* (paths such as ``("loss",)`` or
``("val", "acc")``). Each leaf keeps its last logged value, an optional explicit
override, and aggregation state (first, min/max with their steps, sum, counts) from its
first value on, so a late ``define_metric`` covers values logged before it. Rendering
applies the run's metric definitions (``metrics.MetricRegistry``) to produce the nested
summary dict users see. The same code renders the summary in process and through the
``Api`` (from stored records), so both always agree.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from .metrics import MetricRegistry, Resolved
from .summary_columns import apply_columns

Path = tuple

# Top-level summary keys the tracker derives (DESIGN.md 3.2; ``SummaryState.render`` adds
# them): written by nobody else, so that the summary, the filters (which read the run's
# columns for them, store/query.py) and history agree.
DERIVED_KEYS = ("_step", "_runtime", "_timestamp")
_HIDDEN = object()  # rendering result of a leaf whose definition says summary="none"


class Tree(dict):
    """A rendered subtree of leaves (as opposed to a dict-valued leaf such as {"min": ..})."""


class LeafState:
    """Everything known about one summary leaf. Values are plain Python data."""

    __slots__ = (
        "pos", "last", "has_last", "last_step", "override", "has_override", "first", "has_first",
        "count", "n_num", "nan_count", "sum", "min", "min_step", "max", "max_step", "blob", "first_seq",
    )

    def __init__(self, pos: int) -> None:
        self.pos = pos
        self.last = None
        self.has_last = False
        self.last_step = None
        self.override = None
        self.has_override = False
        self.first = None
        self.has_first = False
        self.first_seq = None  # history row that gave ``first`` (not stored: only pending rows need it)
        self.count = 0  # logged values that entered the aggregates (any type)
        self.n_num = 0  # numeric, non-NaN values among them (the mean's denominator)
        self.nan_count = 0
        self.sum: Any = 0  # an int while every value is an int: exact for big ints
        self.min = None
        self.min_step = None
        self.max = None
        self.max_step = None
        self.blob = None  # name of the stored full tensor behind a stats-dict override

    def mean(self):
        try:
            return self.sum / self.n_num
        except OverflowError:  # int sum too large for a float
            return math.inf if self.sum > 0 else -math.inf

    def best(self, objective: str | None):
        if objective == "minimize":
            return self.min, self.min_step
        if objective == "maximize":
            return self.max, self.max_step
        return None, None

    def render(self, res: Resolved):
        if self.has_override:
            return self.override
        ops = res.ops
        if ops is None:
            return self.last
        if not ops:
            return _HIDDEN
        out: dict = {}
        for op in ops:
            if op == "last":
                if self.has_last:
                    out["last"] = self.last
            elif op == "first":
                if self.has_first:
                    out["first"] = self.first
            elif self.n_num:
                if op == "min":
                    out["min"] = self.min
                elif op == "max":
                    out["max"] = self.max
                elif op == "mean":
                    out["mean"] = self.mean()
                elif op == "best" and res.objective:
                    out["best"] = self.best(res.objective)[0]
        return out

    def details(self, res: Resolved) -> dict:
        out: dict = {}
        if self.n_num:
            out["min"] = {"value": self.min, "step": self.min_step}
            out["max"] = {"value": self.max, "step": self.max_step}
            if res.objective:
                value, step = self.best(res.objective)
                out["best"] = {"value": value, "step": step}
        out["count"] = self.count
        out["nan_count"] = self.nan_count
        return out

    # -- persistence: a flat record of plain values (the store maps it to columns)
    FIELDS = __slots__[:-1]

    def to_record(self) -> dict:
        return {name: getattr(self, name) for name in self.FIELDS}

    @classmethod
    def from_record(cls, rec: dict) -> "LeafState":
        st = cls(rec["pos"])
        for name in cls.FIELDS:
            if name in rec:
                setattr(st, name, rec[name])
        return st


class SummaryState:
    """All leaves of one run plus ``_step``; tracks what changed for the store."""

    def __init__(self) -> None:
        self.leaves: dict[Path, LeafState] = {}
        self._inner: dict[Path, int] = {}  # proper prefixes of leaves -> number of leaves below
        self.step: int | None = None
        self._next_pos = 0
        self.dirty: set = set()
        self.removed: set = set()
        self.dropped_blobs: list[str] = []
        self.version = 0  # bumped on every change; lets views cache the rendered tree

    # -- structure
    def _add(self, path: Path) -> LeafState:
        if path in self._inner:  # a subtree is replaced by a leaf
            for below in [p for p in self.leaves if p[: len(path)] == path]:
                self._remove(below)
        for i in range(1, len(path)):  # a leaf is replaced by a subtree
            if path[:i] in self.leaves:
                self._remove(path[:i])
        st = self.leaves[path] = LeafState(self._next_pos)
        self._next_pos += 1
        for i in range(1, len(path)):
            self._inner[path[:i]] = self._inner.get(path[:i], 0) + 1
        self.removed.discard(path)
        return st

    def _remove(self, path: Path) -> None:
        st = self.leaves.pop(path)
        if st.blob:
            self.dropped_blobs.append(st.blob)
        for i in range(1, len(path)):
            n = self._inner[path[:i]] - 1
            if n:
                self._inner[path[:i]] = n
            else:
                del self._inner[path[:i]]
        self.dirty.discard(path)
        self.removed.add(path)
        self.version += 1

    def leaf(self, path: Path) -> LeafState:
        st = self.leaves.get(path)
        return st if st is not None else self._add(path)

    def paths_under(self, path: Path) -> list:
        if path in self.leaves:
            return [path]
        if path in self._inner:
            n = len(path)
            return [p for p in self.leaves if p[:n] == path]
        return []

    # -- the three kinds of change
    def apply(self, row: dict, seq: int, step: int, observe: bool = True, aggregate: bool = True) -> None:
        """Logged values of history row ``seq`` (at ``step``).

        *observe* (when ``log()`` is called, in program order): each value becomes its leaf's
        last value and ends any override; ``first`` comes from the earliest row holding the
        key. *aggregate* (when the row is committed to history): min/max/mean/best and the
        counts take the row's final values, so they always equal what history holds. Both
        happen in one call for a row committed at once, the hot path of ``log()``; the loop
        is inlined on purpose."""
        leaves = self.leaves
        for path, value in row.items():
            st = leaves.get(path)
            if observe:
                if st is None:
                    st = self._add(path)
                st.last = value
                st.has_last = True
                st.last_step = step
                if st.has_override:
                    st.has_override = False
                    st.override = None
                    if st.blob:
                        self.dropped_blobs.append(st.blob)
                        st.blob = None
                if not st.has_first or st.first_seq == seq:  # a pending row may still change it
                    st.first, st.has_first, st.first_seq = value, True, seq
            if not aggregate or st is None:  # None: deleted while its row was pending
                continue
            st.count += 1
            tv = type(value)
            if tv is not float and tv is not int:
                continue  # bool, None, str, lists, histograms: first/last only
            if value != value:  # NaN: skipped by min/max/mean/best, counted
                st.nan_count += 1
                continue
            st.n_num += 1
            try:
                st.sum += value
            except OverflowError:  # a huge int added to a float
                st.sum = float(st.sum) + (math.inf if value > 0 else -math.inf)
            mn = st.min
            if mn is None or value < mn:
                st.min, st.min_step = value, step
            mx = st.max
            if mx is None or value > mx:
                st.max, st.max_step = value, step
        self.dirty.update(row)
        self.version += 1

    def apply_columns(self, per_key: dict, seqs: list, steps: list, kinds_out: dict | None = None) -> None:
        """Rows committed at once, regrouped by key: the same as ``apply`` row by row, a key
        at a time (see :func:`summary_columns.apply_columns`)."""
        apply_columns(self, per_key, seqs, steps, kinds_out)

    def write(self, path: Path, value, blob: str | None = None) -> None:
        """An explicit write of one leaf value: overrides until the next log of the leaf."""
        st = self.leaf(path)
        if st.blob and st.blob != blob:
            self.dropped_blobs.append(st.blob)
        st.override, st.has_override, st.blob = value, True, blob
        self.dirty.add(path)
        self.version += 1

    def replace(self, path: Path, leaves: dict) -> None:
        """``summary[k] = {...}``: the value at ``path`` becomes exactly these leaves.

        ``leaves`` maps full paths to ``(value, blob)``; leaves under ``path`` that are not
        in it are removed with all their state, as ``del`` would."""
        for old in self.paths_under(path):
            if old not in leaves:
                self._remove(old)
        for leaf_path, (value, blob) in leaves.items():
            self.write(leaf_path, value, blob)

    def delete(self, path: Path) -> None:
        paths = self.paths_under(path)
        if not paths:
            raise KeyError(path[-1])
        for p in paths:
            self._remove(p)

    # -- reading
    def render(self, registry: MetricRegistry, runtime: float | None = None, timestamp: float | None = None) -> Tree:
        root = Tree()
        for path, st in self.leaves.items():
            value = st.render(registry.resolve(path))
            if value is _HIDDEN:
                continue
            node = root
            for part in path[:-1]:
                child = node.get(part)
                if not isinstance(child, Tree):
                    child = node[part] = Tree()
                node = child
            node[path[-1]] = value
        if self.step is not None and "_step" not in root:
            root["_step"] = self.step
        if runtime is not None and "_runtime" not in root:
            root["_runtime"] = runtime
        if timestamp is not None and "_timestamp" not in root:
            root["_timestamp"] = timestamp
        return root

    def query_rows(self, path: Path, registry: MetricRegistry) -> list[tuple[str, Any]]:
        """The leaf's rendered value as ``(dotted key, value)`` rows for filters and sorting:
        ``loss`` -> ``[("loss", {..}), ("loss.min", 0.2), ("loss.max", 0.9)]``; a hidden
        or removed leaf has none."""
        st = self.leaves.get(path)
        if st is None:
            return []
        value = st.render(registry.resolve(path))
        if value is _HIDDEN:
            return []
        key = ".".join(path)
        rows = [(key, value)]
        if isinstance(value, dict):
            rows.extend((f"{key}.{k}", v) for k, v in value.items())
        return rows

    def details(self, path: Path, registry: MetricRegistry) -> dict:
        st = self.leaves.get(path)
        if st is None:
            raise KeyError(".".join(path))
        return st.details(registry.resolve(path))

    # -- shared runs: the store's merged leaves replace this process's view
    def set_record(self, path: Path, rec: dict) -> None:
        """Take a stored leaf record as the state of ``path`` (its position here is kept);
        not a change to store."""
        st = self.leaves.get(path)
        if st is None:
            st = self._add(path)
        for name in LeafState.FIELDS:
            if name != "pos" and name in rec:
                setattr(st, name, rec[name])
        self.version += 1

    def forget(self, path: Path) -> None:
        """Drop a leaf the store removed; not a change to store."""
        self._remove(path)
        self.removed.discard(path)

    # -- persistence
    def touch_all(self) -> None:
        """Every leaf must be stored again (its rendering changed: new metric definitions)."""
        self.dirty.update(self.leaves)
        self.version += 1

    def take_changes(self) -> tuple[list[tuple[Path, dict]], list[Path], list[str]]:
        """Records of changed leaves, removed paths and blobs to delete, since the last call."""
        changed = [(p, self.leaves[p].to_record()) for p in self.dirty if p in self.leaves]
        removed = [p for p in self.removed if p not in self.leaves]
        blobs = self.dropped_blobs
        self.dirty, self.removed, self.dropped_blobs = set(), set(), []
        return changed, removed, blobs

    def put_back(self, changed: Iterable[tuple[Path, dict]], removed: Iterable[Path], blobs: list[str]) -> None:
        """Undo ``take_changes`` after a failed write, so the next flush retries it."""
        self.dirty.update(p for p, _ in changed if p in self.leaves)
        self.removed.update(p for p in removed if p not in self.leaves)
        self.dropped_blobs[:0] = blobs

    @classmethod
    def from_records(cls, records: Iterable[tuple[Path, dict]], step: int | None) -> "SummaryState":
        state = cls()
        for path, rec in sorted(records, key=lambda pr: pr[1]["pos"]):
            st = LeafState.from_record(rec)
            state.leaves[path] = st
            for i in range(1, len(path)):
                state._inner[path[:i]] = state._inner.get(path[:i], 0) + 1
            state._next_pos = max(state._next_pos, st.pos + 1)
        state.step = step
        return state
