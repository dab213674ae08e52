"""``tracker sync SRC DST``: copy runs from one store to another, idempotently.

Each run of SRC (all projects, or one) is compared with the run of the same
``entity/project/run_id`` in DST:

- absent in DST: **copied** with every run field (state, timestamps, runtime, last step,
  notes, tags, group, job type, host, pid, exit code, metadata), its history rows (same
  order, steps, timestamps and values), its summary leaves as stored (aggregation state,
  overrides, blob names) with their rendered query rows, its metric definitions, config,
  tensor blobs and system samples;
- present and identical (run fields, tags, history length, summary leaves, config,
  definitions and system samples equal): **skipped**, so a second sync copies nothing;
- present and different, where DST is an older copy of the same run (same ``created_at``,
  DST not running, DST's history a prefix of SRC's, DST's ``updated_at`` not later than
  SRC's): **updated** by deleting the DST run and copying SRC again (not atomic: a sync
  killed in between leaves DST without the run, or with a partial copy; syncing again
  repairs it);
- present and different otherwise (another run with the same id, or a DST copy edited or
  extended since): a **conflict**, reported and left untouched. Two runs are never merged.

A run still ``running`` in SRC is skipped with a message (a dead one is ``crashed`` once
read, and copied as such).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from typing import Any

from . import settings
from .metrics import MetricRegistry
from .public_run import _flatten_row
from .store import RUNNING, RunRecord, Store, WriteBatch, codec, open_store
from .summary import SummaryState

HISTORY_BATCH = 5000  # history rows per write transaction
_RUN_FIELDS = [f.name for f in dataclasses.fields(RunRecord) if f.name != "uid"]


@dataclasses.dataclass
class RunSync:
    """What sync did (or, with ``dry_run``, would do) with one run."""

    path: str  # entity/project/run_id
    action: str  # "copied" | "updated" | "skipped" | "conflict"
    reason: str = ""

    def line(self, dry_run: bool = False) -> str:
        verb = {"copied": "copy", "updated": "update", "skipped": "skip", "conflict": "conflict"}[self.action]
        head = f"{('would ' + verb) if dry_run and self.action in ('copied', 'updated') else self.action}"
        return f"{head:<12} {self.path}" + (f"  ({self.reason})" if self.reason else "")


@dataclasses.dataclass
class SyncReport:
    copied: int = 0
    updated: int = 0
    skipped: int = 0
    conflicts: int = 0
    runs: list[RunSync] = dataclasses.field(default_factory=list)
    dry_run: bool = False

    def add(self, item: RunSync) -> None:
        self.runs.append(item)
        if item.action == "conflict":
            self.conflicts += 1
        else:
            setattr(self, item.action, getattr(self, item.action) + 1)

    def summary_line(self) -> str:
        pre = "dry run: would have " if self.dry_run else ""
        return (f"{pre}{self.copied} copied, {self.updated} updated, {self.skipped} skipped, "
                f"{self.conflicts} conflict(s)")


# -- comparison --------------------------------------------------------------------------------

def _fingerprint(store: Store, rec: RunRecord) -> str:
    """Exact text of everything sync copies except the history rows themselves."""
    uid = rec.uid
    parts: dict[str, Any] = {f: getattr(rec, f) for f in _RUN_FIELDS}
    parts["history_length"] = store.history_length(uid)
    parts["leaves"] = [[list(p), r] for p, r in store.load_leaves(uid)]
    parts["config"] = store.load_config(uid)
    parts["metric_defs"] = store.load_metric_defs(uid)
    parts["system_samples"] = store.read_system_samples(uid)
    return codec.dumps(parts)  # NaN-safe and type-exact (2 != 2.0)


def _history(store: Store, uid: int) -> list[tuple[int, int, float, dict]]:
    """The run's history as write rows ``(seq, step, ts, {path: value})``, seq = position.

    Rows are flattened back to leaf paths as the live run stored them: a dict holding
    ``_type`` (histogram, tensor stats) is one value, not a subtree."""
    order = {p: i for i, p in enumerate(store.history_paths(uid))}
    last = len(order)
    out = []
    for seq, (step, ts, row) in enumerate(store.read_history(uid)):
        flat: dict = {}
        _flatten_row(row, (), flat, as_paths=True)
        # keys in first-logged order (read_history gives them in storage order), so the
        # copy's history_keys (first appearance) come out as the source's
        flat = dict(sorted(flat.items(), key=lambda kv: order.get(kv[0], last)))
        out.append((seq, step, ts, flat))
    return out


def _row_text(row: tuple) -> str:
    _seq, step, ts, flat = row
    return codec.dumps([step, ts, [[list(p), v] for p, v in flat.items()]])


def _decide(src: Store, dst: Store, rec: RunRecord, dst_rec: RunRecord | None) -> tuple[str, str]:
    if dst_rec is None:
        return "copied", ""
    if _fingerprint(src, rec) == _fingerprint(dst, dst_rec):
        return "skipped", "identical"
    if dst_rec.created_at != rec.created_at:
        return "conflict", "a different run with the same id exists in the destination (created_at differs)"
    if dst_rec.state == RUNNING:
        return "conflict", "the destination's copy is running"
    if (dst_rec.updated_at or 0.0) > (rec.updated_at or 0.0):
        return "conflict", "the destination's copy was changed after the source's"
    dst_rows = _history(dst, dst_rec.uid)
    src_rows = _history(src, rec.uid)
    if len(dst_rows) > len(src_rows) or any(_row_text(a) != _row_text(b) for a, b in zip(dst_rows, src_rows)):
        return "conflict", "the destination's history is not a prefix of the source's"
    return "updated", f"{len(src_rows) - len(dst_rows)} new history row(s)" if len(src_rows) > len(dst_rows) \
        else "source changed"


# -- copying -----------------------------------------------------------------------------------

def copy_run(src: Store, dst: Store, rec: RunRecord) -> int:
    """Create ``rec`` (a run of ``src``) in ``dst`` with all its content; returns the new uid.

    On an error the partial copy is deleted again."""
    suid = rec.uid
    new = dataclasses.replace(rec, uid=None, tags=list(rec.tags), metadata=dict(rec.metadata))
    uid = dst.create_run(new)
    try:
        rows = _history(src, suid)
        n_src = src.history_length(suid)
        if rows and n_src > len(rows):
            # the source has gaps in its row numbers (rows lost in a crash): keep the next
            # row's number, so a resumed run and the idempotence check agree on both sides
            _seq, step, ts, flat = rows[-1]
            rows[-1] = (n_src - 1, step, ts, flat)
        for i in range(0, len(rows), HISTORY_BATCH):
            dst.write_batch(WriteBatch(uid=uid, rows=rows[i:i + HISTORY_BATCH]))
        defs = src.load_metric_defs(suid)
        dst.write_batch(WriteBatch(uid=uid, config=src.load_config(suid), metric_defs=defs,
                                   system_samples=src.read_system_samples(suid)))
        leaves = src.load_leaves(suid)
        for _path, leaf in leaves:
            if leaf.get("blob"):
                dst.put_blob(uid, leaf["blob"], src.get_blob(suid, leaf["blob"]))
        registry = MetricRegistry()
        registry.load(defs)
        state = SummaryState.from_records(leaves, rec.last_step)
        dst.replace_summary(uid, leaves, {p: state.query_rows(p, registry) for p in state.leaves})
    except BaseException:
        with contextlib.suppress(Exception):  # the copy's own error is what matters
            dst.delete_run(uid)
        raise
    return uid


def _open_dst(url: str, dry_run: bool) -> Store | None:
    """The destination store; None for a SQLite one that does not exist in a dry run (so a
    dry run creates nothing)."""
    resolved = settings.resolve_store_url(url)
    if (dry_run and not resolved.startswith(("postgresql://", "postgres://"))
            and not os.path.exists(settings.sqlite_path(resolved))):
        return None
    return open_store(url)


def same_store(src_url: str, dst_url: str) -> bool:
    a, b = settings.resolve_store_url(src_url), settings.resolve_store_url(dst_url)
    if a == b:
        return True
    pg = ("postgresql://", "postgres://")
    if a.startswith(pg) or b.startswith(pg):
        return False
    return os.path.abspath(settings.sqlite_path(a)) == os.path.abspath(settings.sqlite_path(b))


def sync(src_url: str, dst_url: str, project: str | None = None, dry_run: bool = False,
         progress=None) -> SyncReport:
    """Copy the runs of ``src_url`` (of ``project``, or all) into ``dst_url``; see the module doc.

    ``progress(RunSync)`` is called after each run. With ``dry_run`` nothing is written."""
    if same_store(src_url, dst_url):
        raise ValueError("source and destination are the same store")
    src = open_store(src_url)
    dst = _open_dst(dst_url, dry_run)
    report = SyncReport(dry_run=dry_run)
    for rec in src.list_all_runs(project):
        path = f"{rec.entity}/{rec.project}/{rec.run_id}"
        if rec.state == RUNNING:
            item = RunSync(path, "skipped", "running in the source; sync it when it has finished")
        else:
            dst_rec = None if dst is None else dst.get_run(rec.entity, rec.project, rec.run_id)
            action, reason = _decide(src, dst, rec, dst_rec) if dst is not None else ("copied", "")
            item = RunSync(path, action, reason)
            if not dry_run:
                if action == "updated":
                    dst.delete_run(dst_rec.uid)  # type: ignore[union-attr]
                if action in ("copied", "updated"):
                    copy_run(src, dst, rec)  # type: ignore[arg-type]
        report.add(item)
        if progress is not None:
            progress(item)
    return report
