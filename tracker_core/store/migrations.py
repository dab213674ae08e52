"""Schema creation and migration, for every backend: the tracker owns its schema.

Each dialect has an ordered list of :class:`Migration` ``(version, statements)``. Opening
a store calls :func:`migrate`, which, in ONE transaction that holds the dialect's
exclusive lock (``BEGIN IMMEDIATE`` on SQLite; ``pg_advisory_xact_lock`` on PostgreSQL,
keyed by the current schema):

1. creates ``schema_version (version INTEGER NOT NULL)`` if it is missing;
2. reads the recorded version (none: an empty store, version 0);
3. refuses a store whose version is newer than this tracker-core knows
   (:class:`SchemaVersionError`: use the version that wrote it);
4. runs every migration above the recorded version, in order, and records the new
   version.

So many processes may open a new store at once: one creates it, the others wait on the
lock and then find it current. A failing migration rolls back entirely (DDL is
transactional in both databases); nothing is half-migrated.

To change the schema, append ``Migration(n + 1, (...statements...))`` to the dialect's
list (never edit a released one) and bump the schema docs. Statements are plain SQL
without parameters; a callable ``fn(conn)`` may stand in for a statement when a step
needs Python (e.g. re-encoding values).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable, NamedTuple, Union

Statement = Union[str, Callable[[Any], None]]

#: first key of PostgreSQL's two-key advisory lock used while migrating ("trak")
PG_LOCK_CLASS = 0x7472616B & 0x7FFFFFFF


class Migration(NamedTuple):
    version: int
    statements: Sequence[Statement]
    description: str = ""


class SchemaVersionError(RuntimeError):
    """The store was written by a newer tracker-core (a schema version this one does not know)."""


class _Dialect:
    name = ""
    ph = "?"

    def begin(self, conn) -> None:
        raise NotImplementedError

    def end(self, conn, ok: bool) -> None:
        conn.execute("COMMIT" if ok else "ROLLBACK")


class _SQLite(_Dialect):
    """``conn``: a ``sqlite3.Connection`` opened with ``isolation_level=None``."""

    name = "sqlite"
    ph = "?"

    def begin(self, conn) -> None:
        conn.execute("BEGIN IMMEDIATE")  # the database's write lock, until COMMIT


class _Postgres(_Dialect):
    """``conn``: a psycopg 3 connection in autocommit mode (the statements below open and
    close the transaction themselves)."""

    name = "postgresql"
    ph = "%s"

    def begin(self, conn) -> None:
        conn.execute("BEGIN")
        # one migrator per schema at a time; released at COMMIT / ROLLBACK
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(COALESCE(current_schema(), '')))",
                     (PG_LOCK_CLASS,))


DIALECTS = {"sqlite": _SQLite(), "postgresql": _Postgres()}


def latest(migrations: Sequence[Migration]) -> int:
    return migrations[-1].version if migrations else 0


def _check(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)) or (versions and versions[0] < 1):
        raise ValueError(f"migrations must have strictly increasing versions >= 1, got {versions}")


def current_version(conn, dialect: str) -> int:
    """The recorded schema version (0: none recorded / no ``schema_version`` table yet)."""
    if dialect == "sqlite":
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone()
    else:
        exists = conn.execute("SELECT to_regclass('schema_version')").fetchone()[0]
    if not exists:
        return 0
    found = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    return int(found or 0)


def migrate(conn, dialect: str, migrations: Sequence[Migration], where: str = "the store",
            target: int | None = None) -> int:
    """Bring the schema behind ``conn`` to ``target`` (default: the last migration) in one
    locked transaction; return the version it is at afterwards. ``where`` names the store
    in error messages."""
    _check(migrations)
    d = DIALECTS[dialect]
    goal = latest(migrations) if target is None else target
    d.begin(conn)
    ok = False
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        found = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        found = int(found or 0)
        if found > latest(migrations):
            raise SchemaVersionError(
                f"{where} has schema version {found}; this tracker-core reads version {latest(migrations)}. "
                "Use the tracker-core version that wrote it, or a new store.")
        for m in migrations:
            if found < m.version <= goal:
                for stmt in m.statements:
                    if callable(stmt):
                        stmt(conn)
                    else:
                        conn.execute(stmt)
                conn.execute("DELETE FROM schema_version")
                conn.execute(f"INSERT INTO schema_version (version) VALUES ({d.ph})", (m.version,))
                found = m.version
        ok = True
        return found
    finally:
        d.end(conn, ok)


def sqlite_migrations() -> list[Migration]:
    """The SQLite store's schema history. Version 1 is ``sqlite_schema.SCHEMA`` (every
    statement ``IF NOT EXISTS``, so stores made before this mechanism, which recorded
    version 1 themselves, are recognised as current)."""
    from . import sqlite_schema

    stmts = tuple(s.strip() for s in sqlite_schema.SCHEMA.split(";") if s.strip())
    return [Migration(1, stmts, "initial schema"),
            Migration(2, sqlite_schema.SHARED_RUNS, "shared runs: runs.shared, run_writers, shared_batches")]


def postgres_migrations() -> list[Migration]:
    """The PostgreSQL store's schema history (``postgres_schema.py``)."""
    from . import postgres_schema

    return [Migration(1, postgres_schema.STATEMENTS, "initial schema"),
            Migration(2, postgres_schema.SHARED_RUNS, "shared runs: runs.shared, run_writers, shared_batches")]


def migrations_for(dialect: str) -> list[Migration]:
    return {"sqlite": sqlite_migrations, "postgresql": postgres_migrations}[dialect]()
