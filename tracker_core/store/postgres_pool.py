"""The PostgreSQL store's connection side: importing psycopg, the store URL (its password
masked, its connect timeout) and opening the connection pool.

Used by :class:`tracker_core.store.postgres.PostgresStore`. psycopg is imported only when
a store is opened (``import_psycopg``), never when this module is imported.

- One ``psycopg_pool.ConnectionPool`` per store (per process), ``POOL_MIN`` to
  ``POOL_MAX`` connections, checked on checkout where psycopg_pool can; connections run in
  autocommit and every write is one explicit transaction.
- Connecting waits at most the URL's ``connect_timeout`` or ``TRACKER_CONNECT_TIMEOUT``
  (default 30 s); the same bound applies to getting a pooled connection later.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit, urlunsplit

from .. import settings

POOL_MIN, POOL_MAX = 1, 8


def redact(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://***"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def import_psycopg():
    """``(psycopg, psycopg_pool)``, or an ImportError that says what to install."""
    try:
        import psycopg
        import psycopg_pool
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the PostgreSQL store needs psycopg 3 and its pool: pip install \"tracker-core[postgres]\" "
            f"(or pip install \"psycopg[binary,pool]\"): {exc}"
        ) from exc
    return psycopg, psycopg_pool


def connect_timeout(psycopg, url: str) -> float:
    """Seconds to wait for the server: the URL's ``connect_timeout`` if it has one, else
    ``TRACKER_CONNECT_TIMEOUT`` (default 30)."""
    try:
        given = psycopg.conninfo.conninfo_to_dict(url).get("connect_timeout")
    except psycopg.ProgrammingError as exc:
        raise ValueError(f"not a valid PostgreSQL URL {redact(url)!r}: {exc}") from None
    if given is None:
        return settings.connect_timeout()
    try:
        return max(2.0, float(given))
    except ValueError:
        raise ValueError(f"connect_timeout in the store URL must be a number of seconds, got {given!r}") from None


def open_pool(psycopg, psycopg_pool, url: str, *, min_size: int = POOL_MIN, max_size: int = POOL_MAX):
    """An open ``ConnectionPool`` on ``url``; ConnectionError (the URL's password masked)
    if the server cannot be reached within the connect timeout."""
    shown = redact(url)
    timeout = connect_timeout(psycopg, url)
    connect_kw: dict = {"autocommit": True}
    if "connect_timeout" not in psycopg.conninfo.conninfo_to_dict(url):
        connect_kw["connect_timeout"] = max(2, math.ceil(timeout))  # libpq: whole seconds, at least 2
    # one direct connection first: a wrong password, database or host fails now, with
    # libpq's own message, not after the pool's retries time out
    try:
        psycopg.connect(url, **connect_kw).close()
    except psycopg.Error as exc:
        raise ConnectionError(f"cannot connect to the store {shown} (waited at most {timeout:g} s): "
                              f"{exc}") from None
    extra = {}
    if hasattr(psycopg_pool.ConnectionPool, "check_connection"):  # psycopg_pool >= 3.2
        extra["check"] = psycopg_pool.ConnectionPool.check_connection  # a dropped connection is replaced
    # ``timeout`` also bounds how long a flush waits for a connection while the server
    # is down (the rows stay buffered and the next flush retries)
    pool = psycopg_pool.ConnectionPool(
        url, min_size=min_size, max_size=max_size, kwargs=connect_kw, timeout=timeout,
        name="tracker-core", open=False, **extra,
    )
    try:
        pool.open(wait=True, timeout=timeout)
    except psycopg_pool.PoolTimeout as exc:
        pool.close()
        raise ConnectionError(f"cannot connect to the store {shown}: {exc}") from None
    return pool
