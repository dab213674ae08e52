"""W&B's Mongo-style run filters and orders, compiled to SQL over the typed tables.

Fields: ``config.<key>`` (flattened, dotted), ``summary_metrics.<key>`` (the rendered
summary, aggregate leaves included: ``summary_metrics.loss.min``), and the run columns
``state``, ``tags``, ``group``, ``created_at``, ``name`` (alias ``display_name``), ``id``,
``notes``, ``job_type``, ``entity``, ``host``. Operators: ``$and $or $nor`` over
sub-filters; ``$eq $ne $gt $gte $lt $lte $in $nin $exists $regex`` on a field (a bare
value means ``$eq``). ``$ne``/``$nin`` also match runs without the field, as in MongoDB.
Everything is evaluated by the database; :class:`FilterError` names what is wrong.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Any

from ..summary import DERIVED_KEYS

LOGICAL = ("$and", "$or", "$nor")
COMPARE = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
FIELD_OPS = tuple(COMPARE) + ("$in", "$nin", "$exists", "$regex")

RUN_COLUMNS = {
    "state": "r.state", "group": "r.group_name", "created_at": "r.created_at", "name": "r.name",
    "display_name": "r.name", "id": "r.run_id", "notes": "r.notes", "job_type": "r.job_type",
    "entity": "r.entity", "username": "r.entity", "host": "r.host", "updated_at": "r.updated_at",
    "heartbeat_at": "r.heartbeat_at",
}
# the summary keys the tracker derives, read from the run's columns
_SPECIAL_SUMMARY = dict(zip(DERIVED_KEYS, ("r.last_step", "r.runtime", "r.last_log_at")))
_TIME_FIELDS = ("r.created_at", "r.updated_at", "r.heartbeat_at")


class FilterError(ValueError):
    """A malformed filter or order; the message names the bad part and what is allowed."""


def _time_value(value: Any) -> Any:
    """``created_at`` compares as epoch seconds; ISO 8601 strings (W&B's form) are converted."""
    if isinstance(value, str):
        try:
            ts = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise FilterError(f"created_at: {value!r} is not an ISO 8601 date/time") from None
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=_dt.timezone.utc)
        return ts.timestamp()
    return value


class Compiler:
    """Builds ``(sql, params)``; ``regexp`` is the dialect's regex match template."""

    def __init__(self, placeholder: str = "?", regexp: str = "{col} REGEXP {ph}") -> None:
        self.ph = placeholder
        self.regexp = regexp

    # -- filters
    def where(self, filters: Any) -> tuple[str, list]:
        if filters is None or filters == {}:
            return "1=1", []
        params: list = []
        return self._doc(filters, params), params

    def _doc(self, doc: Any, params: list) -> str:
        if not isinstance(doc, dict):
            raise FilterError(f"a filter must be a dict like {{'state': 'finished'}}, got {type(doc).__name__}")
        parts = []
        for key, cond in doc.items():
            if not isinstance(key, str):
                raise FilterError(f"filter keys must be str, got {key!r}")
            if key.startswith("$"):
                if key not in LOGICAL:
                    raise FilterError(f"unknown operator {key!r} at the top of a filter; allowed: {', '.join(LOGICAL)}")
                if not isinstance(cond, list) or not cond:
                    raise FilterError(f"{key} needs a non-empty list of filters, got {cond!r}")
                subs = [self._doc(d, params) for d in cond]
                joined = (" AND " if key == "$and" else " OR ").join(f"({s})" for s in subs)
                parts.append(f"NOT COALESCE(({joined}), FALSE)" if key == "$nor" else f"({joined})")
            else:
                parts.append(self._field(key, cond, params))
        return " AND ".join(parts) if parts else "1=1"

    def _field(self, field: str, cond: Any, params: list) -> str:
        if isinstance(cond, dict) and any(isinstance(k, str) and k.startswith("$") for k in cond):
            clauses = []
            for op, arg in cond.items():
                if op not in FIELD_OPS:
                    raise FilterError(f"unknown operator {op!r} on {field!r}; allowed: {', '.join(FIELD_OPS)}")
                clauses.append(self._op(field, op, arg, params))
            return " AND ".join(clauses)
        return self._op(field, "$eq", cond, params)

    def _op(self, field: str, op: str, arg: Any, params: list) -> str:
        if op == "$exists":
            if not isinstance(arg, bool):
                raise FilterError(f"$exists on {field!r} takes true or false, got {arg!r}")
            return self._exists(field, params) if arg else f"NOT {self._exists(field, params)}"
        if op in ("$in", "$nin"):
            if not isinstance(arg, (list, tuple)):
                raise FilterError(f"{op} on {field!r} takes a list, got {arg!r}")
            if not arg:
                return "1=0" if op == "$in" else "1=1"
            any_of = " OR ".join(f"({self._match(field, '=', v, params)})" for v in arg)
            return f"({any_of})" if op == "$in" else f"NOT COALESCE(({any_of}), FALSE)"
        if op == "$ne":  # like MongoDB, also true where the field is missing (NULL)
            return f"NOT COALESCE(({self._match(field, '=', arg, params)}), FALSE)"
        if op == "$regex":
            if not isinstance(arg, str):
                raise FilterError(f"$regex on {field!r} takes a pattern string, got {arg!r}")
            try:
                re.compile(arg)
            except re.error as exc:
                raise FilterError(f"$regex on {field!r}: {arg!r} is not a valid regular expression: {exc}") from None
            return self._match(field, "REGEXP", arg, params)
        return self._match(field, COMPARE[op], arg, params)

    def _exists(self, field: str, params: list) -> str:
        table, key = self._split(field)
        if table is None:
            return "1=1" if key == "r.tags" else f"({key} IS NOT NULL)"
        params.append(key)
        return f"EXISTS (SELECT 1 FROM {table} v WHERE v.uid = r.uid AND v.key = {self.ph})"

    def _cond(self, col_num: str, col_text: str, col_json: str | None, sql_op: str, value: Any,
              params: list) -> str:
        ph = self.ph
        if sql_op == "REGEXP":
            params.append(value)
            return self.regexp.format(col=col_text, ph=ph)
        if isinstance(value, bool) or value is None:
            if sql_op != "=" or col_json is None:
                raise FilterError(f"only equality is defined for {json.dumps(value)}")
            params.append(json.dumps(value))
            return f"{col_json} = {ph}"
        if isinstance(value, (int, float)):
            params.append(value)
            return f"{col_num} {sql_op} {ph}"
        if isinstance(value, str):
            params.append(value)
            return f"{col_text} {sql_op} {ph}"
        raise FilterError(f"cannot compare with {value!r} ({type(value).__name__}): use a number, str, bool or null")

    def _match(self, field: str, sql_op: str, value: Any, params: list) -> str:
        table, key = self._split(field)
        if table is None:
            if key == "r.tags":
                if sql_op != "=" or not isinstance(value, str):
                    raise FilterError("tags supports equality with a tag (also in $in/$nin/$ne) and $exists")
                params.append(value)
                return f"EXISTS (SELECT 1 FROM run_tags t WHERE t.uid = r.uid AND t.tag = {self.ph})"
            if key in _TIME_FIELDS:
                value = _time_value(value)
            if value is None and sql_op == "=":
                return f"{key} IS NULL"
            return self._cond(key, key, None, sql_op, value, params)
        if value is None and sql_op == "=":  # MongoDB: {field: null} matches null or missing
            params.extend([key, key, "null"])
            return (f"(NOT EXISTS (SELECT 1 FROM {table} v WHERE v.uid = r.uid AND v.key = {self.ph}) OR "
                    f"EXISTS (SELECT 1 FROM {table} v WHERE v.uid = r.uid AND v.key = {self.ph} "
                    f"AND v.value_json = {self.ph}))")
        params.append(key)
        inner = self._cond("v.value_num", "v.value_text", "v.value_json", sql_op, value, params)
        return f"EXISTS (SELECT 1 FROM {table} v WHERE v.uid = r.uid AND v.key = {self.ph} AND {inner})"

    @staticmethod
    def _split(field: str) -> tuple[str | None, str]:
        """``(table, key)`` for config/summary fields, ``(None, column)`` for run columns."""
        for prefix, table in (("config.", "config"), ("summary_metrics.", "summary_values"),
                              ("summary.", "summary_values")):
            if field.startswith(prefix) and len(field) > len(prefix):
                key = field[len(prefix):]
                if table == "summary_values" and key in _SPECIAL_SUMMARY:
                    return None, _SPECIAL_SUMMARY[key]
                return table, key
        if field == "tags":
            return None, "r.tags"
        column = RUN_COLUMNS.get(field)
        if column is None:
            allowed = ", ".join(["config.<key>", "summary_metrics.<key>", "tags", *RUN_COLUMNS])
            raise FilterError(f"unknown filter field {field!r}; allowed: {allowed}")
        return None, column

    # -- order
    @staticmethod
    def _order_items(order: Any) -> list[str]:
        items = [o.strip() for o in order.split(",")] if isinstance(order, str) else order
        if not isinstance(items, (list, tuple)) or not all(isinstance(o, str) and o for o in items):
            raise FilterError(f"order must be a str like '-summary_metrics.acc' or a list of them, got {order!r}")
        return list(items)

    def summary_filter_fields(self, filters: Any) -> list[tuple[str, str]]:
        """``(field as written, summary key)`` of every summary value ``filters`` compares
        with a value (``$exists`` and equality with null excepted): like the order's, the
        keys a store checks against dict-valued summaries. Call after :meth:`where`."""
        out: list[tuple[str, str]] = []

        def walk(doc: Any) -> None:
            for key, cond in doc.items():
                if key in LOGICAL:
                    for sub in cond:
                        walk(sub)
                    continue
                table, summary_key = self._split(key)
                if table != "summary_values":
                    continue
                ops = (cond.items() if isinstance(cond, dict) and any(str(k).startswith("$") for k in cond)
                       else [("$eq", cond)])
                if any(op != "$exists" and not (op in ("$eq", "$ne") and arg is None) for op, arg in ops):
                    out.append((key, summary_key))

        if isinstance(filters, dict):
            walk(filters)
        return out

    def summary_order_fields(self, order: Any) -> list[tuple[str, str]]:
        """``(field as written, summary key)`` of every summary value ``order`` sorts by: the
        keys a store checks against dict-valued summaries (see ``run_queries``)."""
        if order is None or order == "":
            return []
        out = []
        for item in self._order_items(order):
            field = item[1:] if item[0] in "+-" else item
            table, key = self._split(field)
            if table == "summary_values":
                out.append((field, key))
        return out

    def order_by(self, order: Any) -> tuple[str, list]:
        """``"-summary_metrics.acc"`` / ``"+config.lr"`` / a list of them -> ORDER BY; missing last."""
        if order is None or order == "":
            return "r.created_at, r.uid", []
        terms, params = [], []
        for item in self._order_items(order):
            desc = item.startswith("-")
            field = item[1:] if item[0] in "+-" else item
            direction = "DESC" if desc else "ASC"
            table, key = self._split(field)
            if table is None:
                if key == "r.tags":
                    raise FilterError("cannot order by tags")
                terms.append(f"({key} IS NULL), {key} {direction}")
                continue
            num = f"(SELECT MAX(v.value_num) FROM {table} v WHERE v.uid = r.uid AND v.key = {self.ph})"
            text = f"(SELECT MAX(v.value_text) FROM {table} v WHERE v.uid = r.uid AND v.key = {self.ph})"
            params += [key] * 5
            # numbers first, then strings, then runs without the value, in either direction
            terms.append(f"({num} IS NULL AND {text} IS NULL), ({num} IS NULL), {num} {direction}, {text} {direction}")
        terms.append("r.created_at, r.uid")
        return ", ".join(terms), params
