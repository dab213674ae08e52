"""Shared runs: several processes writing one run at once (``init(id=..., shared=True)``).

Each writer process logs into its own in-memory buffers, as any run does. What differs is
the flush: a writer cannot send its summary leaves (they only know its own rows), so a
shared batch carries the raw rows and the explicit summary writes (``SharedWrite.ops``),
and the store merges them, inside the flush transaction that holds the run's lock:

1. the rows get the run's next sequence numbers (one global order of all writers' rows,
   the order in which their flushes committed);
2. the stored summary leaves are loaded and the rows replayed onto them in that order,
   with the same ``SummaryState.apply`` a live run uses, each explicit write at its place
   between the rows. So the stored summary is always exactly what replaying the stored
   history gives (``PublicRun.recompute_summary()`` agrees to the last bit, float sums
   included, since the additions happen in the same order);
3. metric definitions merge by name (the writer's version of a name wins);
4. ``_step``, ``_runtime`` and the last log time take the maximum over the writers.

Every applied batch leaves its token in ``shared_batches``: a flush retried after its
COMMIT reached the server but the answer did not is recognised and not applied twice.

Writers are rows of ``run_writers`` (host, pid, heartbeat, state). The run is ``running``
while one of them is; when the last one finishes, the run ends ``crashed`` if a writer
crashed, else ``failed`` if one failed, else ``finished``. A reader marks a writer whose
process is gone (same host: its pid; another host: a stale heartbeat) ``crashed``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..metrics import MetricDef, MetricRegistry
from ..summary import SummaryState
from . import history_codec
from .base import CRASHED, FAILED, FINISHED, RUNNING, RunExistsError, RunRecord, WriteBatch
from .liveness import is_dead
from .run_queries import RUN_COLS
from .run_reads import leaves_sql, metric_defs_from_rows, metric_defs_sql
from .sqlite_schema import leaf_record

# run fields a shared writer sends that are merged (maximum) rather than overwritten
_MAX_FIELDS = ("last_step", "runtime", "last_log_at")
# run fields that belong to one writer, not to the run
_WRITER_FIELDS = ("state", "finished_at", "exit_code")


def new_token() -> str:
    """A batch token: unique across processes and hosts."""
    return uuid.uuid4().hex


@dataclass
class SharedWrite:
    """The shared-run part of a :class:`WriteBatch`."""

    writer: str  # this process's writer id (a row of run_writers)
    token: str  # unique per batch, kept when the batch is retried
    ops: list = field(default_factory=list)  # (next local seq when made, ("set", path, leaves) | ("del", path))
    finish: dict | None = None  # {"state", "finished_at", "exit_code"} when this writer finishes
    retried: bool = False  # being sent again after a failed write
    merged: list | None = None  # out: every leaf record of the run after the merge (None: not merged)


def merge_batch(b: WriteBatch, leaves: list, defs: list[dict], next_seq: int, last_step: int | None) -> None:
    """Turn shared batch ``b`` into a plain one in place (see the module docstring):
    renumbered rows, merged leaf records with their query rows, merged definitions."""
    registry = MetricRegistry()
    registry.load(defs)
    defs_changed = False
    if b.metric_defs is not None:
        for rec in b.metric_defs:
            registry.define(MetricDef.from_record(rec), overwrite=True)
        merged_defs = registry.records()
        defs_changed = merged_defs != defs
        b.metric_defs = merged_defs if defs_changed else None
    state = SummaryState.from_records(leaves, last_step)
    ops = b.shared.ops  # type: ignore[union-attr]
    oi = 0
    rows = []
    for i, (seq, step, ts, row) in enumerate(sorted(b.rows, key=lambda r: r[0])):
        while oi < len(ops) and ops[oi][0] <= seq:
            _apply_op(state, ops[oi][1])
            oi += 1
        row = history_codec.path_row(row)
        state.apply(row, next_seq + i, step)
        rows.append((next_seq + i, step, ts, row))
    for _pos, op in ops[oi:]:
        _apply_op(state, op)
    if defs_changed:
        state.touch_all()
    changed, removed, blobs = state.take_changes()
    b.rows, b.grouped = rows, None
    b.leaves, b.removed_leaves = changed, removed
    b.query_rows = {p: state.query_rows(p, registry) for p, _ in changed}
    b.dropped_blobs = list(dict.fromkeys([*b.dropped_blobs, *blobs]))
    b.shared.merged = [(p, st.to_record()) for p, st in state.leaves.items()]  # type: ignore[union-attr]


def _apply_op(state: SummaryState, op: tuple) -> None:
    if op[0] == "set":
        state.replace(op[1], op[2])
    else:
        try:
            state.delete(op[1])
        except KeyError:  # deleted meanwhile by another writer: nothing left to delete
            pass


class SharedRunWrites:
    """Mixed into both SQL backends. Needs ``_compiler.ph``, ``_tx()``, ``_update_run`` and
    ``_LOCK`` (the row-lock suffix of ``SELECT ... FROM runs``: "" on SQLite, whose
    ``BEGIN IMMEDIATE`` already serialises writers)."""

    _compiler: Any
    _tx: Any
    _update_run: Any
    _fetch: Any
    _records: Any
    _LOCK = ""

    # -- called inside write_batch's transaction, before the plain write
    def _prepare_shared(self, c, b: WriteBatch) -> None:
        ph, uid, sh = self._compiler.ph, b.uid, b.shared
        assert sh is not None
        last_step, runtime, last_log_at = c.execute(
            f"SELECT last_step, runtime, last_log_at FROM runs WHERE uid={ph}", (uid,)).fetchone()
        seen = c.execute(f"SELECT 1 FROM shared_batches WHERE uid={ph} AND token={ph}", (uid, sh.token)).fetchone()
        if seen:  # applied before: its COMMIT got through, the answer did not
            b.rows, b.leaves, b.removed_leaves, b.query_rows, b.metric_defs = [], [], [], {}, None
            b.config, b.system_samples, b.dropped_blobs = {}, [], []
            sh.merged = None
        else:
            if b.rows or sh.ops or b.metric_defs is not None:
                leaves = [leaf_record(r) for r in c.execute(leaves_sql(ph), (uid,)).fetchall()]
                next_seq = c.execute(f"SELECT COALESCE(MAX(max_seq) + 1, 0) FROM history_rows WHERE uid={ph}",
                                     (uid,)).fetchone()[0]
                defs = metric_defs_from_rows(c.execute(metric_defs_sql(ph), (uid,)).fetchall())
                merge_batch(b, leaves, defs, next_seq, last_step)
            c.execute(f"INSERT INTO shared_batches (uid, token) VALUES ({ph}, {ph})", (uid, sh.token))
        fields = dict(b.run_fields)
        for key, stored in zip(_MAX_FIELDS, (last_step, runtime, last_log_at)):
            if fields.get(key) is not None and stored is not None:
                fields[key] = max(fields[key], stored)
        for key in _WRITER_FIELDS:
            fields.pop(key, None)
        b.run_fields = fields
        if "heartbeat_at" in fields:
            c.execute(f"UPDATE run_writers SET heartbeat_at={ph} WHERE uid={ph} AND writer={ph}",
                      (fields["heartbeat_at"], uid, sh.writer))
        if sh.finish is not None:
            c.execute(f"UPDATE run_writers SET state={ph}, finished_at={ph}, exit_code={ph} "
                      f"WHERE uid={ph} AND writer={ph}",
                      (sh.finish["state"], sh.finish["finished_at"], sh.finish["exit_code"], uid, sh.writer))
            b.run_fields.update(self._settle(c, uid, sh.finish["finished_at"]))

    def _settle(self, c, uid: int, now: float) -> dict:
        """The run's own state once no writer runs any more ({} while one still does)."""
        states = [s for (s,) in c.execute(f"SELECT state FROM run_writers WHERE uid={self._compiler.ph}",
                                          (uid,)).fetchall()]
        if RUNNING in states:
            return {}
        state = CRASHED if CRASHED in states else FAILED if FAILED in states else FINISHED
        codes = [x for (x,) in c.execute(f"SELECT exit_code FROM run_writers WHERE uid={self._compiler.ph} "
                                         "AND exit_code IS NOT NULL AND exit_code <> 0", (uid,)).fetchall()]
        return {"state": state, "finished_at": now, "exit_code": codes[0] if codes else (0 if state == FINISHED
                                                                                        else None)}

    # -- joining a shared run
    def attach_writer(self, uid: int, writer: str, host: str, pid: int,
                      fields: dict) -> tuple[RunRecord, int] | None:
        """Add this process as a writer of shared run ``uid``: the run becomes (or stays)
        ``running`` and shared, ``fields`` (name, notes, tags, ...) are applied. Returns the
        record and the step this writer counts from (None if the run is gone);
        :class:`RunExistsError` if the run is running in one process that did not start it
        shared."""
        ph = self._compiler.ph
        now = time.time()
        with self._tx() as c:
            row = c.execute(f"SELECT state, shared, entity, project, run_id, pid, host, last_step FROM runs "
                            f"WHERE uid={ph}{self._LOCK}", (uid,)).fetchone()
            if row is None:
                return None
            if row[0] == RUNNING and not row[1]:
                raise RunExistsError(
                    f"run {row[2]}/{row[3]}/{row[4]} is running in one process (pid {row[5]} on {row[6]}) and is not "
                    "shared; a run that several processes write must be started with init(shared=True) by all")
            # The writers of one session count steps from the same base: where the run stood
            # when the session began (0 for a new run), so that rank k's step i lines up
            # with every other rank's step i however late it joined.
            base = c.execute(f"SELECT MIN(base_step) FROM run_writers WHERE uid={ph} AND state={ph}",
                             (uid, RUNNING)).fetchone()[0] if row[0] == RUNNING else None
            if base is None:
                base = 0 if row[7] is None else row[7] + 1
            c.execute(f"INSERT INTO run_writers (uid, writer, host, pid, started_at, heartbeat_at, state, base_step) "
                      f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph}, {ph}, {ph}, {ph})",
                      (uid, writer, host, pid, now, now, RUNNING, base))
            update = {"shared": True, "heartbeat_at": now, "updated_at": now, **fields}
            if row[0] != RUNNING:
                update.update(state=RUNNING, finished_at=None, exit_code=None)
            self._update_run(c, uid, update)
        found = self._records(self._fetch(f"SELECT {RUN_COLS} FROM runs WHERE uid={ph}", [uid]))
        return (found[0], base) if found else None

    # -- liveness (from RunQueries._check_alive)
    def _check_shared_alive(self, run: RunRecord) -> None:
        """Writers whose process is gone are ``crashed``; the run ends when none is left."""
        ph = self._compiler.ph
        rows = self._fetch(f"SELECT writer, host, pid, heartbeat_at FROM run_writers WHERE uid={ph} AND state={ph}",
                           [run.uid, RUNNING])
        dead = [w for w, host, pid, hb in rows if is_dead(host, pid, hb)]
        if not rows:  # no writer attached yet (the creator is between its two transactions)
            if not is_dead(run.host, run.pid, run.heartbeat_at):
                return
        elif not dead:
            return
        now = time.time()
        with self._tx() as c:
            if c.execute(f"SELECT state FROM runs WHERE uid={ph}{self._LOCK}", (run.uid,)).fetchone() != (RUNNING,):
                return
            for w in dead:
                c.execute(f"UPDATE run_writers SET state={ph}, finished_at={ph} WHERE uid={ph} AND writer={ph} "
                          f"AND state={ph}", (CRASHED, now, run.uid, w, RUNNING))
            settled = self._settle(c, run.uid, now) if rows else {"state": CRASHED}
            if settled:
                settled.pop("finished_at", None)  # a crashed run has no finish time (as a single writer's)
                settled.pop("exit_code", None)
                self._update_run(c, run.uid, settled)
                run.state = settled["state"]
