"""The store interface: a narrow write path and a few reads (DESIGN.md section 5).

Backends (SQLite now, PostgreSQL later) implement :class:`Store`. Values cross this
boundary as plain Python data; encoding them (JSON text with exact ints, floats, NaN and
infinities) is the backend's business, through :mod:`tracker_core.store.codec`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Iterator

Path = tuple

RUNNING, FINISHED, FAILED, CRASHED = "running", "finished", "failed", "crashed"
STATES = (RUNNING, FINISHED, FAILED, CRASHED)


@dataclass
class RunRecord:
    """One row of the runs table."""

    entity: str
    project: str
    run_id: str
    name: str
    state: str = RUNNING
    created_at: float = 0.0
    updated_at: float | None = None
    heartbeat_at: float | None = None
    finished_at: float | None = None
    runtime: float | None = None
    last_step: int | None = None
    last_log_at: float | None = None  # time of the last history row: the summary's ``_timestamp``
    notes: str | None = None
    tags: list[str] = field(default_factory=list)
    group: str | None = None
    job_type: str | None = None
    host: str | None = None
    pid: int | None = None
    exit_code: int | None = None
    metadata: dict = field(default_factory=dict)
    shared: bool = False  # written by several processes at once (``init(shared=True)``)
    uid: int | None = None  # the backend's key, set once stored


@dataclass
class WriteBatch:
    """Everything one flush of the background writer sends to the store, applied atomically."""

    uid: int
    rows: list[tuple[int, int, float, dict]] = field(default_factory=list)  # (seq, step, timestamp, {path: value})
    leaves: list[tuple[Path, dict]] = field(default_factory=list)  # LeafState records
    query_rows: dict = field(default_factory=dict)  # leaf path -> [(dotted key, rendered value)]
    removed_leaves: list[Path] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)  # top-level key -> new value
    metric_defs: list[dict] | None = None  # the full set, when it changed
    run_fields: dict[str, Any] = field(default_factory=dict)  # state, last_step, heartbeat_at, ...
    dropped_blobs: list[str] = field(default_factory=list)
    system_samples: list[tuple[float, dict]] = field(default_factory=list)  # (timestamp, {metric: value})
    shared: Any = None  # shared_runs.SharedWrite for a run several processes write; the store merges it
    grouped: Any = None  # history_codec.group_rows(rows), when the run built it already (plain runs only)

    def has_data(self) -> bool:
        return bool(self.rows or self.leaves or self.removed_leaves or self.config or self.metric_defs is not None
                    or self.query_rows or self.system_samples or (self.shared is not None and self.shared.ops))


class RunExistsError(ValueError):
    """``init(id=...)`` named a run that already exists and resume was not asked for."""


class Store(ABC):
    """Interface every backend implements; one instance may serve several runs."""

    url: str

    # -- runs
    @abstractmethod
    def create_run(self, run: RunRecord) -> int:
        """Insert a new run and return its uid; :class:`RunExistsError` if the id is taken."""

    @abstractmethod
    def get_run(self, entity: str | None, project: str, run_id: str) -> RunRecord | None:
        """One run by path (``entity`` None: any entity), crash-checked (see :meth:`check_alive`)."""

    @abstractmethod
    def list_runs(self, entity: str | None, project: str) -> list[RunRecord]:
        """The runs of a project in creation order, crash-checked."""

    @abstractmethod
    def list_all_runs(self, project: str | None = None) -> list[RunRecord]:
        """Every run of the store (of ``project`` if given, any entity) in creation order,
        crash-checked (``tracker sync``)."""

    @abstractmethod
    def list_projects(self, entity: str | None = None) -> list[tuple[str, str, int]]:
        """``(entity, project, number of runs)`` for every project, sorted."""

    @abstractmethod
    def update_run(self, uid: int, **fields: Any) -> None:
        """Change run-level columns (state, notes, tags, name, finished_at, ...)."""

    # -- the write path of a live run
    @abstractmethod
    def write_batch(self, batch: WriteBatch) -> None:
        """Append history rows and apply leaf/config/definition changes in one transaction
        (a shared batch is merged first: ``shared_runs.py``)."""

    @abstractmethod
    def attach_writer(self, uid: int, writer: str, host: str, pid: int,
                      fields: dict) -> tuple[RunRecord, int] | None:
        """Join shared run ``uid`` as one more writer process: ``(record, first step)``
        (``shared_runs.py``)."""

    # -- reads
    @abstractmethod
    def load_leaves(self, uid: int) -> list[tuple[Path, dict]]:
        """Every summary leaf of a run as ``(path, LeafState record)``."""

    @abstractmethod
    def load_metric_defs(self, uid: int) -> list[dict]:
        ...

    @abstractmethod
    def load_config(self, uid: int) -> dict:
        """The run's config as a nested dict."""

    @abstractmethod
    def read_history(self, uid: int, min_step: int | None = None,
                     max_step: int | None = None) -> Iterator[tuple[int, float, dict]]:
        """History rows ``(step, timestamp, nested row)`` in the order they were logged."""

    @abstractmethod
    def read_key_history(self, uid: int, path: Path) -> list[tuple[int, Any]]:
        """One key's history ``[(step, value)]`` in the order logged, reading only that key."""

    @abstractmethod
    def history_paths(self, uid: int) -> list[Path]:
        """Every leaf path that appears in the run's history, in order of first appearance."""

    @abstractmethod
    def history_length(self, uid: int) -> int:
        """Number of history rows stored (the next row's sequence number)."""

    # -- edits of a (possibly finished) run's summary, from the Api
    @abstractmethod
    def apply_summary_ops(self, uid: int, ops: list[tuple]) -> None:
        """Apply ``("set", path, {leaf_path: (value, blob)}, {leaf_path: query rows})`` /
        ``("del", path)`` ops atomically.

        Only the named keys are touched, so two processes editing different keys of one run
        both keep their change."""

    @abstractmethod
    def replace_summary(self, uid: int, leaves: list[tuple[Path, dict]], query_rows: dict) -> None:
        """Replace every summary leaf of a run (``PublicRun.recompute_summary``)."""

    @abstractmethod
    def delete_run(self, uid: int) -> None:
        """Delete a run and everything stored for it, blobs included."""

    @abstractmethod
    def query_runs(self, entity: str | None, project: str, filters: Any = None, order: Any = None,
                   limit: int | None = None, offset: int = 0) -> list[RunRecord]:
        """Runs matching W&B-style ``filters`` in ``order`` (``store/query.py``), evaluated by the database."""

    @abstractmethod
    def count_runs(self, entity: str | None, project: str, filters: Any = None) -> int:
        ...

    @abstractmethod
    def query_table(self, entity: str | None, project: str, filters: Any = None, order: Any = None) -> tuple:
        """``(records, config rows, summary rows)`` for ``Runs.to_pandas()``."""

    @abstractmethod
    def last_system_sample(self, uid: int) -> dict:
        ...

    @abstractmethod
    def read_system_samples(self, uid: int) -> list[tuple[float, dict]]:
        """Every system sample of a run, ``[(timestamp, sample)]`` in time order."""

    # -- blobs: full tensors behind stats-dict summaries
    @abstractmethod
    def put_blob(self, uid: int, name: str, array: np.ndarray) -> None:
        ...

    @abstractmethod
    def get_blob(self, uid: int, name: str) -> np.ndarray:
        ...

    @abstractmethod
    def delete_blobs(self, uid: int, names: list[str]) -> None:
        ...

    def is_transient(self, exc: BaseException) -> bool:
        """Whether a failed write may succeed if retried (a database restarting, a lock held
        too long); ``finish()`` retries those for ``TRACKER_FINISH_TIMEOUT`` seconds."""
        return False

    def close(self) -> None:
        """Release connections; the store may not be used afterwards."""
