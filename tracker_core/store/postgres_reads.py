"""The read side of the PostgreSQL store: run queries (filters, order, tables) in
PostgreSQL's dialect, and the snapshot that history reads run in (the history and system
sample reads themselves are shared: ``run_reads.RunReads``).

A mixin of :class:`tracker_core.store.postgres.PostgresStore`, kept apart so each file holds
one concern (as ``sqlite_reads.py`` for SQLite); it relies on the store's ``_query``,
``_pool``, ``_psycopg``, ``_records`` and ``_compiler`` (a :class:`PgCompiler`).

- Filters and orders compile with ``query.Compiler("%s", "{col} ~ {ph}")``: ``$regex``
  uses PostgreSQL's regular expressions (ARE: Python's syntax for the common cases), the
  pattern checked with Python's ``re`` first and rewritten where the dialects differ
  (:func:`pg_regex`).
- A NaN parameter is bound as NULL, as SQLite binds it.
- A run's history is read in one ``REPEATABLE READ`` snapshot (rows and values chunks agree):
  ``_read_together``, the hook ``RunReads`` runs a history read's queries with.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .query import Compiler, FilterError
from .run_queries import RunQueries
from .run_reads import RunReads


def _nan_to_null(params: list) -> tuple:
    """SQLite binds a NaN parameter as NULL (comparisons with it are never true); do the same,
    since PostgreSQL orders NaN above every number (``x < 'NaN'`` would be true)."""
    return tuple(None if type(p) is float and math.isnan(p) else p for p in params)


def pg_regex(pattern: str) -> str:
    """A Python ``re`` pattern (MongoDB's $regex as the SQLite store runs it) as a PostgreSQL
    ARE. The common syntax is the same; what differs is rewritten: the word boundaries
    ``\\b``/``\\B`` (``\\y``/``\\Y`` in PostgreSQL, where ``\\b`` is a backspace) and named groups
    ``(?P<name>...)`` (plain groups). Inside ``[...]`` nothing changes."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    class_start = -1
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            out.append({"b": "\\y", "B": "\\Y"}[nxt] if nxt in "bB" and not in_class else ch + nxt)
            i += 2
            continue
        if in_class:
            # a "]" right after "[" or "[^" is a literal member
            if ch == "]" and i != class_start and not (i == class_start + 1 and pattern[class_start] == "^"):
                in_class = False
        elif ch == "[":
            in_class, class_start = True, i + 1
        elif pattern.startswith("(?P<", i):
            end = pattern.find(">", i)
            if end != -1:
                out.append("(")
                i = end + 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


class PgCompiler(Compiler):
    """``query.Compiler`` with PostgreSQL's placeholder and ``~``; $regex patterns are checked
    with Python's ``re`` (a bad one is a FilterError, not a database error) and rewritten by
    :func:`pg_regex`."""

    def __init__(self) -> None:
        super().__init__(placeholder="%s", regexp="{col} ~ {ph}")

    def _cond(self, col_num, col_text, col_json, sql_op, value, params):  # type: ignore[override]
        if sql_op == "REGEXP" and isinstance(value, str):
            try:
                re.compile(value)
            except re.error as exc:
                raise FilterError(f"$regex: {value!r} is not a valid regular expression: {exc}") from None
            value = pg_regex(value)
        return super()._cond(col_num, col_text, col_json, sql_op, value, params)


class PostgresReads(RunQueries, RunReads):
    """Queries over runs, summaries, config and history (no writes but crash marking)."""

    _query: Any
    _pool: Any
    _psycopg: Any

    def _fetch(self, sql: str, params: list) -> list:
        return self._filtered(sql, params)

    def _filtered(self, sql: str, params: list) -> list:
        """A query built from user filters: NaN parameters as NULL (as SQLite binds them;
        PostgreSQL would order NaN above every number), PostgreSQL's regex errors as FilterError."""
        try:
            return self._query(sql, _nan_to_null(params))
        except self._psycopg.errors.InvalidRegularExpression as exc:
            raise FilterError(f"$regex: PostgreSQL cannot run this pattern: {exc}") from None

    # -- history and system samples: RunReads, with this backend hook
    def _read_together(self, *queries: tuple[str, tuple]) -> list[list]:
        """The queries of one history read in one ``REPEATABLE READ`` snapshot, so the rows
        and values chunks agree even while a writer commits flushes in between."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return [conn.execute(sql, args).fetchall() for sql, args in queries]
