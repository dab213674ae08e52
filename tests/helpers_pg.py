"""PostgreSQL for the tests: a fresh schema on the shared test server (:func:`fresh_schema`),
and a private server for fault tests, one the test may stop and restart at will.

The shared test server (``TRACKER_TEST_POSTGRES_URL``) must not be restarted under other
tests, so the fault tests make their own cluster with the system's ``initdb`` / ``pg_ctl``
(Debian's ``postgresql`` package, which ``.ci/postgres.sh`` installs) in a temporary
directory, on a free port of 127.0.0.1, with trust authentication. As root the server
runs as the ``postgres`` system user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from typing import Iterator

import pytest

PG_ENV = "TRACKER_TEST_POSTGRES_URL"


def pg_bin() -> str | None:
    """The directory of the newest installed PostgreSQL's server binaries, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(x) for x in p.split("/")[4].split(".") if x.isdigit()])
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateCluster:
    """``start()`` / ``stop()`` / ``restart()`` a throwaway server; ``url`` reaches it."""

    def __init__(self) -> None:
        bindir = pg_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb) are not installed")
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="tc-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.url = f"postgresql://tracker@127.0.0.1:{self.port}/postgres"
        self._as = []
        if os.geteuid() == 0:  # the server must not run as root
            os.chmod(self.dir, 0o755)
            shutil.chown(self.dir, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", self.data, "-U", "tracker", "--auth=trust", "-E", "UTF8", "--no-sync")

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        proc = subprocess.run([*self._as, os.path.join(self.bindir, tool), *args], capture_output=True, text=True,
                              timeout=timeout, cwd=self.dir)
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed ({proc.returncode}): {proc.stdout}\n{proc.stderr}")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-o", opts, "-w", "-t", "60",
                  "start")

    def stop(self) -> None:
        """A fast shutdown, as a restart by an operator does: open connections are cut."""
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop")

    def wait_down(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                return
            time.sleep(0.05)
        raise RuntimeError("the server is still accepting connections")

    def destroy(self) -> None:
        try:
            self.stop()
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def forget_stores(url: str) -> None:
    """Close and drop this process's cached stores for ``url`` (their pools included)."""
    from tracker_core import store as st

    with st._lock:
        keys = [k for k in st._open if k[0] == url or getattr(st._open[k], "url", None) == url]
        found = [st._open.pop(k) for k in keys]
    for s in found:
        s.close()


def with_schema(base: str, schema: str) -> str:
    """``base`` with its search_path set to ``schema`` (what the tracker's URL may carry)."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def pg_admin(base: str):
    import psycopg

    return psycopg.connect(base, autocommit=True, connect_timeout=10)


@contextlib.contextmanager
def fresh_schema(prefix: str = "tc_") -> Iterator[str]:
    """A store URL on the shared test server (``TRACKER_TEST_POSTGRES_URL``) whose
    search_path is a new, empty schema; afterwards this process's stores for it are closed
    and the schema is dropped. Skips the test when the variable is unset."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set (.ci/postgres.sh prints a URL for it)")
    pytest.importorskip("psycopg")
    schema = prefix + uuid.uuid4().hex[:12]
    with pg_admin(base) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = with_schema(base, schema)
    try:
        yield url
    finally:
        forget_stores(url)
        with pg_admin(base) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
