"""What both SQL backends share to find runs: the row -> RunRecord mapping and the
filtered, ordered run queries built by ``query.Compiler``.

A backend mixes :class:`RunQueries` in and provides ``_compiler`` (with its placeholder),
``_fetch(sql, params)`` and ``_records(rows)``.
"""

from __future__ import annotations

from typing import Any

from . import codec
from .base import CRASHED, RUNNING, RunRecord
from .liveness import is_dead
from .query import FilterError

# a summary_values row that holds one value, not the dict of a metric's aggregates (numbers
# and strings are known by their typed columns, without reading the JSON text)
SCALAR_VALUE = ("({v}value_num IS NOT NULL OR {v}value_text IS NOT NULL OR "
                "substr({v}value_json, 1, 1) NOT IN ('{{', '['))")


class _MetadataText(str):
    """The stored JSON text of a run's metadata, not decoded yet (see :class:`StoredRunRecord`)."""


class StoredRunRecord(RunRecord):
    """A :class:`RunRecord` read from the store. ``metadata`` (host, Python, packages, git: a
    document of a few KiB) is decoded on first use: listing runs never reads it, and
    decoding it for every run was a tenth of ``Api().runs()``."""

    @property  # type: ignore[override]
    def metadata(self) -> dict:
        value = self.__dict__["_metadata"]
        if type(value) is _MetadataText:
            value = self.__dict__["_metadata"] = codec.loads(value) or {}
        return value

    @metadata.setter
    def metadata(self, value: dict) -> None:
        self.__dict__["_metadata"] = value

# run fields ``update_run`` may change, and the columns named differently from the field
UPDATABLE = {
    "name", "state", "updated_at", "heartbeat_at", "finished_at", "runtime", "last_step", "last_log_at", "notes",
    "group", "job_type", "host", "pid", "exit_code", "metadata", "shared",
}
RUN_FIELD_COLUMN = {"group": "group_name"}

# the runs columns in the order ``record_from_row`` reads them
RUN_COLS = (
    "uid, entity, project, run_id, name, state, created_at, updated_at, heartbeat_at, finished_at, "
    "runtime, last_step, last_log_at, notes, group_name, job_type, host, pid, exit_code, metadata, shared"
)


def record_from_row(row: tuple) -> RunRecord:
    (uid, entity, project, run_id, name, state, created_at, updated_at, heartbeat_at, finished_at,
     runtime, last_step, last_log_at, notes, group, job_type, host, pid, exit_code, metadata, shared) = row
    return StoredRunRecord(
        entity=entity, project=project, run_id=run_id, name=name, state=state, created_at=created_at,
        updated_at=updated_at, heartbeat_at=heartbeat_at, finished_at=finished_at, runtime=runtime,
        last_step=last_step, last_log_at=last_log_at, notes=notes, group=group, job_type=job_type, host=host,
        pid=pid, exit_code=exit_code, metadata={} if metadata is None else _MetadataText(metadata),
        shared=bool(shared), uid=uid,
    )


def run_values(run: RunRecord) -> tuple:
    """The values of ``RUN_COLS`` but ``uid``, for an INSERT."""
    return (run.entity, run.project, run.run_id, run.name, run.state, run.created_at, run.updated_at,
            run.heartbeat_at, run.finished_at, run.runtime, run.last_step, run.last_log_at, run.notes, run.group,
            run.job_type, run.host, run.pid, run.exit_code, codec.dumps(run.metadata), bool(run.shared))


class RunQueries:
    """Mixed into a backend that provides ``_compiler``, ``_fetch(sql, params)``,
    ``_tags_of(uids)``, ``_write_tags(c, uid, tags)`` and ``_tx()`` (a transaction whose
    ``execute`` takes the dialect's placeholders)."""

    _compiler: Any
    _fetch: Any
    _tags_of: Any
    _write_tags: Any
    _tx: Any
    _check_shared_alive: Any

    def _records(self, rows: list) -> list[RunRecord]:
        """Rows of ``RUN_COLS`` -> records with their tags, crash-checked."""
        out = [record_from_row(row) for row in rows]
        if out:
            tags: dict[int, list] = {}
            for uid, tag in self._tags_of([r.uid for r in out]):
                tags.setdefault(uid, []).append(tag)
            for r in out:
                r.tags = tags.get(r.uid, [])
        for r in out:
            self._check_alive(r)
        return out

    def _check_alive(self, run: RunRecord) -> None:
        """A run left ``running`` by a process that is gone is marked ``crashed``, for good."""
        if run.state != RUNNING:
            return
        if run.shared:
            self._check_shared_alive(run)  # shared_runs.SharedRunWrites: one verdict per writer
        elif is_dead(run.host, run.pid, run.heartbeat_at):
            ph = self._compiler.ph
            with self._tx() as c:
                c.execute(f"UPDATE runs SET state={ph} WHERE uid={ph} AND state={ph}", (CRASHED, run.uid, RUNNING))
            run.state = CRASHED

    def _select(self, entity: str | None, project: str, filters: Any) -> tuple[str, list]:
        where, params = self._compiler.where(filters)
        ph = self._compiler.ph
        scope = f"r.project = {ph}" + (f" AND r.entity = {ph}" if entity is not None else "")
        scope_params = [project] + ([entity] if entity is not None else [])
        fields = self._compiler.summary_filter_fields(filters) if filters else []
        if fields:  # the project's runs, not the filtered ones: the filter is what is checked
            self._check_dict_fields(f"FROM runs r WHERE {scope}", scope_params, fields, "filter on")
        return f"FROM runs r WHERE {scope} AND ({where})", scope_params + params

    def _check_order(self, body: str, params: list, order: Any) -> None:
        """A FilterError for ordering by a summary key that holds a dict (see
        :meth:`_check_dict_fields`): that order would silently fall back to creation order."""
        self._check_dict_fields(body, params, self._compiler.summary_order_fields(order), "order by")

    def _check_dict_fields(self, body: str, params: list, fields: list[tuple[str, str]], verb: str) -> None:
        """A FilterError for each summary key in ``fields`` that no run of ``body`` holds as
        one value while some hold values below it (``loss`` of a metric with
        ``summary="min,max"`` is ``{"min": .., "max": ..}``): ordering by it or comparing it
        with a value would silently sort by nothing or match nothing. The message names the
        keys to use. Costs one query per such key (a seek per run), none otherwise."""
        ph, sub = self._compiler.ph, f"SELECT r.uid {body}"
        for field, key in fields:
            if self._fetch(f"SELECT 1 FROM summary_values v WHERE v.uid IN ({sub}) AND v.key = {ph} AND "
                           f"{SCALAR_VALUE.format(v='v.')} LIMIT 1", params + [key]):
                continue
            prefix = key + "."
            below = [k for (k,) in self._fetch(
                f"SELECT DISTINCT v.key FROM summary_values v WHERE v.uid IN ({sub}) AND "
                f"substr(v.key, 1, {len(prefix)}) = {ph} AND {SCALAR_VALUE.format(v='v.')} ORDER BY v.key LIMIT 21",
                params + [prefix])]
            if below:
                written = field[:len(field) - len(key)]  # "summary_metrics." or "summary."
                allowed = ", ".join(repr(written + k) for k in below[:20]) + (", ..." if len(below) > 20 else "")
                raise FilterError(f"cannot {verb} {field!r}: its value is a dict (e.g. a metric's aggregates), "
                                  f"not one value; {verb} one of its keys: {allowed}")

    def validate_query(self, entity: str | None, project: str, filters: Any = None, order: Any = None) -> None:
        """Raise :class:`FilterError` for a bad filter or order without fetching runs
        (``Api.runs()`` checks at once, queries when iterated)."""
        body, params = self._select(entity, project, filters)
        self._compiler.order_by(order)
        self._check_order(body, params, order)

    def query_runs(self, entity: str | None, project: str, filters: Any = None, order: Any = None,
                   limit: int | None = None, offset: int = 0) -> list[RunRecord]:
        body, params = self._select(entity, project, filters)
        order_sql, order_params = self._compiler.order_by(order)
        self._check_order(body, params, order)
        cols = ", ".join("r." + c.strip() for c in RUN_COLS.split(","))
        sql = f"SELECT {cols} {body} ORDER BY {order_sql}"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return self._records(self._fetch(sql, params + order_params))

    def count_runs(self, entity: str | None, project: str, filters: Any = None) -> int:
        body, params = self._select(entity, project, filters)
        return self._fetch(f"SELECT COUNT(*) {body}", params)[0][0]

    def list_runs(self, entity: str | None, project: str) -> list[RunRecord]:
        return self.query_runs(entity, project)

    def list_all_runs(self, project: str | None = None) -> list[RunRecord]:
        if project is None:
            return self._records(self._fetch(f"SELECT {RUN_COLS} FROM runs ORDER BY uid", []))
        ph = self._compiler.ph
        return self._records(self._fetch(f"SELECT {RUN_COLS} FROM runs WHERE project = {ph} ORDER BY uid",
                                         [project]))

    def list_projects(self, entity: str | None = None) -> list[tuple[str, str, int]]:
        """``(entity, project, number of runs)`` for every project in the store."""
        ph = self._compiler.ph
        where, params = (f" WHERE entity = {ph}", [entity]) if entity is not None else ("", [])
        rows = self._fetch(f"SELECT entity, project, COUNT(*) FROM runs{where} GROUP BY entity, project "
                           "ORDER BY entity, project", params)
        return [(e, p, int(n)) for e, p, n in rows]

    def query_table(self, entity: str | None, project: str, filters: Any = None, order: Any = None):
        """Runs matching ``filters`` in ``order``, with their config and scalar summary values
        as ``(uid, dotted key, value)`` rows (the CLI's table), in 4 queries."""
        records = self.query_runs(entity, project, filters, order)
        body, params = self._select(entity, project, filters)
        config, summary = self._value_rows(f"SELECT r.uid {body}", params)
        return records, config, summary

    def _value_rows(self, sub: str, params: list) -> tuple[list, list]:
        """``(uid, dotted key, value)`` rows of the config (in each run's key order) and the
        scalar summary values of the runs ``sub`` selects."""
        config = self._fetch("SELECT uid, key, value_num, value_text, value_json FROM config "
                             f"WHERE uid IN ({sub}) ORDER BY pos, sub", params)
        summary = self._fetch("SELECT uid, key, value_num, value_text, value_json FROM summary_values "
                              f"WHERE uid IN ({sub}) AND {SCALAR_VALUE.format(v='')}", params)
        scalar = codec.scalar
        return ([(u, k, scalar(n, t, j)) for u, k, n, t, j in config],
                [(u, k, scalar(n, t, j)) for u, k, n, t, j in summary])

    # the run columns of a table row (``run_table``), then the backend's value columns
    TABLE_COLS = "r.uid, r.run_id, r.name, r.state, r.created_at, r.group_name, r.last_step, r.runtime"

    def run_table(self, entity: str | None, project: str, filters: Any = None, order: Any = None,
                  check_order: bool = True) -> list[tuple]:
        """What ``Runs.to_pandas()`` shows, without building records: one tuple per matching
        run in ``order``, ``(run_id, name, state, created_at, tags, group, last_step, runtime,
        values)`` where ``values`` maps ``"config.<key>"`` (in the run's key order) then
        ``"summary.<key>"`` (scalar summary values, sorted by key) to exact values. A running
        run whose process is gone is marked crashed first, as every read does."""
        body, params = self._select(entity, project, filters)
        order_sql, order_params = self._compiler.order_by(order)
        if check_order:
            self._check_order(body, params, order)
        rows = self._table_rows(body, params, order_sql, order_params)
        if not rows:
            return []
        uids = [row[0] for row in rows]
        tags: dict[int, list] = {}
        for uid, tag in self._tags_of(uids):
            tags.setdefault(uid, []).append(tag)
        running = [row[0] for row in rows if row[3] == RUNNING]
        states: dict[int, str] = {}
        ph = self._compiler.ph
        for i in range(0, len(running), 1000):  # the liveness check needs whole records; rare in a listing
            chunk = running[i:i + 1000]
            found = self._records(self._fetch(
                f"SELECT {RUN_COLS} FROM runs WHERE uid IN ({', '.join([ph] * len(chunk))})", chunk))
            states.update((r.uid, r.state) for r in found)
        return [(run_id, name, states.get(uid, state), created_at, tags.get(uid, []), group, last_step, runtime,
                 values) for uid, run_id, name, state, created_at, group, last_step, runtime, values in rows]

    def _table_rows(self, body: str, params: list, order_sql: str, order_params: list) -> list[tuple]:
        """``TABLE_COLS`` plus the values dict of each run (see ``run_table``); a backend
        may fetch the values in the same query (SQLite: ``sqlite_reads``)."""
        rows = self._fetch(f"SELECT {self.TABLE_COLS} {body} ORDER BY {order_sql}", params + order_params)
        values: dict[int, dict] = {row[0]: {} for row in rows}
        if rows:
            config, summary = self._value_rows(f"SELECT r.uid {body}", params)
            for uid, key, value in config:
                values[uid]["config." + key] = value
            for uid, key, value in summary:
                values[uid]["summary." + key] = value
        return [(*row, values[row[0]]) for row in rows]

    def column_keys(self, entity: str | None, project: str, filters: Any = None) -> tuple[list[str], list[str]]:
        """The dotted config keys and scalar summary keys that any run matching ``filters``
        has (the UI's column catalogue): config keys in the order runs first set them,
        summary keys sorted. Two ``DISTINCT`` queries, no values read."""
        body, params = self._select(entity, project, filters)
        sub = f"SELECT r.uid {body}"
        config = self._fetch(f"SELECT key FROM config WHERE uid IN ({sub}) GROUP BY key "
                             "ORDER BY MIN(pos), MIN(sub), key", params)
        summary = self._fetch(f"SELECT DISTINCT key FROM summary_values WHERE uid IN ({sub}) "
                              f"AND substr(value_json, 1, 1) NOT IN ('{{', '[') ORDER BY key", params)
        return [k for (k,) in config], [k for (k,) in summary]

    def _update_run(self, c: Any, uid: int, fields: dict) -> None:
        """Change run columns and tags inside the caller's transaction ``c``."""
        fields = dict(fields)
        tags = fields.pop("tags", None)
        bad = set(fields) - UPDATABLE
        if bad:
            raise ValueError(f"cannot update run field(s) {sorted(bad)}; allowed: {sorted(UPDATABLE | {'tags'})}")
        if "metadata" in fields:
            fields["metadata"] = codec.dumps(fields["metadata"])
        ph = self._compiler.ph
        if fields:
            cols = ", ".join(f"{RUN_FIELD_COLUMN.get(k, k)}={ph}" for k in fields)
            c.execute(f"UPDATE runs SET {cols} WHERE uid={ph}", (*fields.values(), uid))
        if tags is not None:
            c.execute(f"DELETE FROM run_tags WHERE uid={ph}", (uid,))
            self._write_tags(c, uid, tags)
