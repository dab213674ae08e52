"""``define_metric``: argument validation, merging of definitions and glob resolution.

Pure code, no I/O. A :class:`MetricRegistry` holds the definitions of one run; the
summary asks it, per leaf, for the :class:`Resolved` definition that applies (exact name
first, then the longest matching glob, field by field; DESIGN.md section 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

ALLOWED_OPS = ("min", "max", "mean", "first", "last", "best", "none")
_OBJECTIVES = {"minimize": "minimize", "min": "minimize", "maximize": "maximize", "max": "maximize"}

Path = tuple  # a leaf path: ("loss",) or ("val", "acc")


@dataclass
class MetricDef:
    """One stored definition. ``None`` in a field means "left unset by the user"."""

    name: str
    ops: tuple[str, ...] | None = None  # () means summary="none": the leaf is hidden
    objective: str | None = None  # "minimize" | "maximize"
    step_metric: str | None = None
    step_sync: bool | None = None
    hidden: bool | None = None

    @property
    def is_glob(self) -> bool:
        return self.name.endswith("*")

    def to_record(self) -> dict:
        return {
            "name": self.name,
            "ops": None if self.ops is None else list(self.ops),
            "objective": self.objective,
            "step_metric": self.step_metric,
            "step_sync": self.step_sync,
            "hidden": self.hidden,
        }

    @classmethod
    def from_record(cls, rec: dict) -> "MetricDef":
        ops = rec.get("ops")
        return cls(
            name=rec["name"],
            ops=None if ops is None else tuple(ops),
            objective=rec.get("objective"),
            step_metric=rec.get("step_metric"),
            step_sync=rec.get("step_sync"),
            hidden=rec.get("hidden"),
        )


@dataclass(frozen=True)
class Resolved:
    """The effective definition of one leaf after exact/glob resolution."""

    ops: tuple[str, ...] | None = None  # None: undefined (bare last value); (): hidden
    objective: str | None = None
    step_metric: str | None = None
    step_sync: bool = False
    hidden: bool = False


UNDEFINED = Resolved()


def _check_bool(arg: str, value) -> None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"define_metric: {arg} must be True, False or None, got {value!r} ({type(value).__name__})")


def parse_ops(summary) -> tuple[str, ...] | None:
    """``"min, Max"`` or ``["min", "max"]`` -> ``("min", "max")``; ``"none"`` wins -> ``()``."""
    if summary is None:
        return None
    if isinstance(summary, str):
        items: Sequence = summary.split(",")
    elif isinstance(summary, (list, tuple)):
        items = summary
    else:
        raise TypeError(
            f"define_metric: summary must be a comma-separated str or a list of str, got {type(summary).__name__}"
        )
    ops: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"define_metric: summary ops must be str, got {item!r} ({type(item).__name__})")
        op = item.strip().lower()
        if not op:
            continue
        if op == "copy":
            raise ValueError('define_metric: summary op "copy" is deprecated; use "last"')
        if op not in ALLOWED_OPS:
            raise ValueError(f"define_metric: unknown summary op {item.strip()!r}; allowed: {', '.join(ALLOWED_OPS)}")
        if op not in ops:
            ops.append(op)
    if not ops:
        return None  # summary="" means no summary argument
    if "none" in ops:
        return ()
    return tuple(ops)


def parse_objective(objective) -> str | None:
    if objective is None:
        return None
    if not isinstance(objective, str):
        raise TypeError(f"define_metric: objective must be a str, got {objective!r} ({type(objective).__name__})")
    norm = _OBJECTIVES.get(objective.strip().lower())
    if norm is None:
        raise ValueError(f"define_metric: unknown objective {objective!r}; allowed: minimize, maximize (or min, max)")
    return norm


def build_def(
    name,
    step_metric=None,
    step_sync=None,
    hidden=None,
    summary=None,
    objective=None,
    goal=None,
) -> MetricDef:
    """Validate one ``define_metric`` call and return its definition (nothing is stored)."""
    if not isinstance(name, str):
        raise TypeError(f"define_metric: name must be a str, got {name!r} ({type(name).__name__})")
    if not name:
        raise ValueError("define_metric: name must not be empty")
    if "*" in name[:-1]:
        raise ValueError(f"define_metric: {name!r}: '*' is only allowed as the last character (e.g. 'train/*' or '*')")
    if step_metric is not None:
        if not isinstance(step_metric, str):
            raise TypeError(f"define_metric: step_metric must be a str, got {step_metric!r} ({type(step_metric).__name__})")
        if not step_metric or "*" in step_metric:
            raise ValueError(f"define_metric: step_metric must be a non-empty metric name without '*', got {step_metric!r}")
    _check_bool("step_sync", step_sync)
    _check_bool("hidden", hidden)
    if objective is not None and goal is not None and parse_objective(objective) != parse_objective(goal):
        raise ValueError(f"define_metric: objective={objective!r} and goal={goal!r} disagree; goal is an alias, pass one")
    obj = parse_objective(objective if objective is not None else goal)
    ops = parse_ops(summary)
    if step_metric is not None and step_sync is None:
        step_sync = True
    return MetricDef(name=name, ops=ops, objective=obj, step_metric=step_metric, step_sync=step_sync, hidden=hidden)


def merge(old: MetricDef, new: MetricDef) -> MetricDef:
    """A later call on the same name merges: ops are added, set fields override."""
    if new.ops is None:
        ops = old.ops
    elif new.ops == () or not old.ops:
        ops = new.ops  # "none" disables; ops after "none" re-enable
    else:
        ops = old.ops + tuple(op for op in new.ops if op not in old.ops)
    merged = replace(old, ops=ops)
    for fname in ("objective", "step_metric", "step_sync", "hidden"):
        value = getattr(new, fname)
        if value is not None:
            merged = replace(merged, **{fname: value})
    return merged


def _check_best(d: MetricDef, defs: dict[str, MetricDef]) -> None:
    """``best`` needs an objective: the definition's own, or one a matching glob supplies."""
    if not d.ops or "best" not in d.ops or d.objective is not None:
        return
    prefix = d.name[:-1] if d.is_glob else d.name
    if not any(g.is_glob and g.name != d.name and g.objective and prefix.startswith(g.name[:-1])
               for g in defs.values()):
        raise ValueError(
            f"define_metric: {d.name!r}: summary 'best' needs objective='minimize' or objective='maximize' "
            "(goal= is an alias), in this call or an earlier one on the same name"
        )


def leaf_names(path: Path) -> tuple[str, ...]:
    """Names a definition can match for a leaf: a flat key, or the dotted nested path."""
    return (path[0],) if len(path) == 1 else (".".join(path),)


def _private(path: Path) -> bool:
    return any(part.startswith("_") for part in path)


@dataclass
class MetricRegistry:
    """All definitions of a run, with a per-leaf resolution cache."""

    defs: dict[str, MetricDef] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)

    def define(self, new: MetricDef, overwrite: bool | None = None) -> MetricDef:
        _check_bool("overwrite", overwrite)
        old = self.defs.get(new.name)
        stored = new if (old is None or overwrite) else merge(old, new)
        _check_best(stored, self.defs)  # before storing: a rejected call defines nothing
        self.defs[new.name] = stored
        self._cache.clear()
        return stored

    def load(self, records: Iterable[dict]) -> None:
        for rec in records:
            d = MetricDef.from_record(rec)
            self.defs[d.name] = d
        self._cache.clear()

    @property
    def has_step_metrics(self) -> bool:
        """Whether any definition names a step metric: only then does ``log()`` look at
        each row's keys for step-metric syncing."""
        return any(d.step_metric for d in self.defs.values())

    def resolve(self, path: Path) -> Resolved:
        cached = self._cache.get(path)
        if cached is None:
            cached = self._cache[path] = self._resolve(path)
        return cached

    def _resolve(self, path: Path) -> Resolved:
        if not self.defs:
            return UNDEFINED
        (name,) = leaf_names(path)
        chain: list[MetricDef] = []
        exact = self.defs.get(name)
        if exact is not None and not exact.is_glob:
            chain.append(exact)
        if not _private(path):
            globs = [d for d in self.defs.values() if d.is_glob and name.startswith(d.name[:-1])]
            globs.sort(key=lambda d: len(d.name), reverse=True)
            chain.extend(globs)
        if not chain:
            return UNDEFINED

        def first(fname):
            for d in chain:
                value = getattr(d, fname)
                if value is not None:
                    return value
            return None

        step_metric = first("step_metric")
        if step_metric is not None and step_metric == name:
            step_metric = None  # a step metric is never synced into its own rows
        step_sync = first("step_sync")
        return Resolved(
            ops=first("ops"),
            objective=first("objective"),
            step_metric=step_metric,
            step_sync=bool(step_sync) if step_sync is not None else step_metric is not None,
            hidden=bool(first("hidden")),
        )

    def records(self) -> list[dict]:
        return [d.to_record() for d in self.defs.values()]
