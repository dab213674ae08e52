"""Is the process that owns a ``running`` run still there? Used to mark crashed runs.

A live run's background writer refreshes ``heartbeat_at`` every few seconds. A reader
on the same host asks the OS whether the writing pid still exists (a zombie counts as
gone); for a run written from another host only the heartbeat can tell.
"""

from __future__ import annotations

import os
import socket
import time

HEARTBEAT_INTERVAL = 5.0  # seconds between heartbeats of an idle run
STALE_AFTER = 120.0  # a heartbeat older than this means the writer is gone

_HOST = socket.gethostname()


def this_host() -> str:
    return _HOST


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def is_dead(host: str | None, pid: int | None, heartbeat_at: float | None, now: float | None = None) -> bool:
    if host == _HOST and pid:
        return not pid_alive(pid)
    if heartbeat_at is None:
        return False
    return (now if now is not None else time.time()) - heartbeat_at > STALE_AFTER
