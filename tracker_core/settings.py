"""Settings resolution (DESIGN.md section 9): argument, then environment, then default.

Read each time a run starts or an ``Api`` is made, never frozen at import.
"""

from __future__ import annotations

import getpass
import os
import re

DEFAULT_STORE = "./tracker_runs"
DEFAULT_PROJECT = "uncategorized"
DB_FILE = "tracker.db"
FLUSH_INTERVAL = 0.5  # seconds between background flushes; a killed process loses at most this

_NAME = re.compile(r"^[^/\s][^/]*$")
_RUN_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def default_entity() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "user"


def resolve_name(kind: str, value, env_var: str, default: str) -> str:
    """project / entity: argument, then ``env_var``, then ``default``; validated."""
    if value is None:
        value = env(env_var) or default
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a str, got {value!r} ({type(value).__name__})")
    if not _NAME.match(value):
        raise ValueError(f"{kind} {value!r} is not valid: it must be non-empty and contain no '/'")
    return value


def resume_mode(resume, who: str) -> str | None:
    """``resume=`` (or ``TRACKER_RESUME``) as None, ``"allow"``, ``"must"`` or ``"never"``;
    ``who`` names the caller in the error (``init``, ``TrackerLogger``)."""
    if resume is None or resume is False:
        return None
    if resume is True:
        return "allow"
    if isinstance(resume, str) and resume.lower() in ("allow", "must", "never"):
        return resume.lower()
    raise ValueError(f"{who}: resume must be None, True, False, 'allow', 'must' or 'never', got {resume!r}")


def check_run_id(run_id) -> str:
    if not isinstance(run_id, str):
        raise TypeError(f"run id must be a str, got {run_id!r} ({type(run_id).__name__})")
    if not _RUN_ID.match(run_id):
        raise ValueError(f"run id {run_id!r} is not valid: use letters, digits, '_', '-' and '.'")
    return run_id


def resolve_store_url(store: str | os.PathLike | None) -> str:
    """The store location: ``store`` argument, then ``TRACKER_STORE``, then ``./tracker_runs``."""
    if store is None:
        store = env("TRACKER_STORE") or DEFAULT_STORE
    return os.fspath(store)


def sqlite_path(url: str) -> str:
    """A directory (database inside it) or ``sqlite:///file.db`` -> the database file path."""
    if url.startswith("sqlite:///"):
        return os.path.abspath(url[len("sqlite:///"):])
    if url.endswith(".db") or url.endswith(".sqlite"):
        return os.path.abspath(url)
    return os.path.abspath(os.path.join(url, DB_FILE))


CONNECT_TIMEOUT = 30.0  # seconds a database server may take to answer before init() gives up
FINISH_TIMEOUT = 60.0  # seconds finish() keeps retrying a store that fails before it raises


def _seconds(name: str, default: float) -> float:
    raw = env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {raw!r}")
    return value


def flush_interval() -> float:
    """``TRACKER_FLUSH_INTERVAL``: seconds between background flushes (default 0.5)."""
    return _seconds("TRACKER_FLUSH_INTERVAL", FLUSH_INTERVAL)


def connect_timeout() -> float:
    """``TRACKER_CONNECT_TIMEOUT``: how long opening a PostgreSQL store (and getting a
    connection later) may wait for the server before it fails with ``ConnectionError``
    (default 30 s). A ``connect_timeout`` parameter in the store URL wins."""
    return _seconds("TRACKER_CONNECT_TIMEOUT", CONNECT_TIMEOUT)


def finish_timeout() -> float:
    """``TRACKER_FINISH_TIMEOUT``: how long ``finish()`` retries writing the last rows to a
    store that fails (a database restarting) before it raises (default 60 s)."""
    return _seconds("TRACKER_FINISH_TIMEOUT", FINISH_TIMEOUT)


def mode(value: str | None) -> str:
    value = value if value is not None else (env("TRACKER_MODE") or "enabled")
    if not isinstance(value, str) or value.lower() not in ("enabled", "online", "offline", "disabled"):
        raise ValueError(f"mode must be 'enabled' or 'disabled' (also accepted: 'online', 'offline'), got {value!r}")
    return "disabled" if value.lower() == "disabled" else "enabled"
