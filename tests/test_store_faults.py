"""Faults on PostgreSQL (issue 6): the server restarting under a live run, the server
unreachable when a run starts. (A writer killed with SIGKILL: ``test_store_backends.py::
test_killed_process_run_is_crashed``, on both backends.)

The restart tests run their own throwaway server (``helpers_pg.PrivateCluster``), which
they stop and start; they need PostgreSQL's server binaries (installed by
``.ci/postgres.sh``) and psycopg, and are skipped, saying so, where those are missing.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

import tracker_core as tc

from .helpers_pg import PrivateCluster, forget_stores, pg_bin

psycopg = pytest.importorskip("psycopg")


@pytest.fixture(scope="module")
def cluster():
    if pg_bin() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed; .ci/postgres.sh installs them")
    c = PrivateCluster()
    c.start()
    yield c
    c.destroy()


@pytest.fixture
def pg_url(cluster, monkeypatch):
    """A fresh database on the private server per test; short timeouts so that a flush
    against a stopped server fails (and is retried) quickly."""
    name = f"t{int(time.time() * 1e6)}"
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = cluster.url.rsplit("/", 1)[0] + "/" + name
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "0.05")
    monkeypatch.setenv("TRACKER_CONNECT_TIMEOUT", "2")
    yield url
    for run in list(tc.sdk._live):
        run.finish()
    forget_stores(url)


def _log_rows(start: int, n: int, worst: list) -> None:
    for i in range(start, start + n):
        t0 = time.perf_counter()
        tc.log({"i": i, "loss": 1000.0 - i if i != 450 else -5.0, "acc": (i % 97) / 97})
        worst[0] = max(worst[0], time.perf_counter() - t0)


def _check_all_rows(url: str, path: str, n: int) -> None:
    r = tc.Api(store=url).run(path)
    rows = list(r.scan_history())
    assert [row["i"] for row in rows] == list(range(n))  # every row, once, in order
    assert [row["_step"] for row in rows] == list(range(n))
    assert r.summary["loss"] == {"min": -5.0, "max": 1000.0}
    assert r.summary["i"] == n - 1 and r.summary["_step"] == n - 1
    before = dict(r.summary)
    r.recompute_summary()  # the stored summary equals the one replayed from stored history
    after = dict(tc.Api(store=url).run(path).summary)
    assert {k: v for k, v in after.items() if k != "_runtime"} == {k: v for k, v in before.items() if k != "_runtime"}


def test_database_restart_mid_run_loses_nothing(cluster, pg_url):
    run = tc.init(project="faults", id="restart", store=pg_url)
    tc.define_metric("loss", summary="min,max")
    worst = [0.0]
    _log_rows(0, 300, worst)
    run.flush()
    cluster.stop()
    cluster.wait_down()
    _log_rows(300, 300, worst)  # accepted while the server is down: buffered, not lost
    time.sleep(0.5)  # several flushes fail and are put back meanwhile
    assert tc.Api  # the run is still live and logging
    cluster.start()
    _log_rows(600, 300, worst)
    run.finish()
    assert worst[0] < 0.5  # log() never waited on the dead server (its connect timeout is 2 s)
    _check_all_rows(pg_url, run.path, 900)
    assert tc.Api(store=pg_url).run(run.path).state == "finished"


def test_finish_while_the_database_restarts_waits_and_writes_everything(cluster, pg_url):
    run = tc.init(project="faults", id="finish", store=pg_url)
    tc.define_metric("loss", summary="min,max")
    worst = [0.0]
    _log_rows(0, 500, worst)
    cluster.stop()
    cluster.wait_down()
    _log_rows(500, 100, worst)
    done = threading.Event()
    errors: list = []

    def finish():
        try:
            run.finish()
        except BaseException as exc:  # reported below
            errors.append(exc)
        done.set()

    threading.Thread(target=finish, daemon=True).start()
    time.sleep(1.0)
    assert not done.is_set()  # finish() keeps retrying while the server is down
    cluster.start()
    assert done.wait(60), "finish() did not return after the server came back"
    assert errors == []
    _check_all_rows(pg_url, run.path, 600)


def test_finish_gives_up_after_the_finish_timeout(cluster, pg_url, monkeypatch):
    monkeypatch.setenv("TRACKER_FINISH_TIMEOUT", "1.5")
    run = tc.init(project="faults", id="giveup", store=pg_url)
    tc.log({"i": 0})
    cluster.stop()
    cluster.wait_down()
    try:
        t0 = time.monotonic()
        with pytest.raises(Exception) as info:
            run.finish()
        assert time.monotonic() - t0 < 15
        assert "connect" in str(info.value).lower() or "timeout" in type(info.value).__name__.lower()
    finally:
        cluster.start()
    monkeypatch.setenv("TRACKER_FINISH_TIMEOUT", "30")  # the pool may still be backing off for a moment
    run.finish()  # a second call retries what is still buffered: nothing was lost
    r = tc.Api(store=pg_url).run(run.path)
    assert [row["i"] for row in r.scan_history()] == [0] and r.state == "finished"
    assert tc.sdk._live == []


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections (the kernel completes the handshake) and never
    answers: a database host that hangs, as a firewall dropping packets would."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


def test_unreachable_database_at_init_fails_clearly_within_the_timeout(silent_server, monkeypatch):
    monkeypatch.setenv("TRACKER_CONNECT_TIMEOUT", "2")
    url = f"postgresql://tracker:s3cret@127.0.0.1:{silent_server}/db"
    t0 = time.monotonic()
    with pytest.raises(ConnectionError) as info:
        tc.init(project="p", store=url)
    elapsed = time.monotonic() - t0
    assert elapsed < 10, elapsed  # bounded by the timeout, not libpq's default of forever
    msg = str(info.value)
    assert "cannot connect to the store postgresql://tracker:***@127.0.0.1" in msg and "s3cret" not in msg
    assert "2 s" in msg
    assert tc.sdk._live == []


def test_nothing_listening_at_init_fails_at_once(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    t0 = time.monotonic()
    with pytest.raises(ConnectionError) as info:
        tc.init(project="p", store=f"postgresql://tracker@127.0.0.1:{port}/db")
    assert time.monotonic() - t0 < 5
    assert "refused" in str(info.value).lower() or "connect" in str(info.value).lower()


def test_connect_timeout_in_the_url_wins_and_bad_values_are_named(silent_server, monkeypatch):
    monkeypatch.setenv("TRACKER_CONNECT_TIMEOUT", "100")
    t0 = time.monotonic()
    with pytest.raises(ConnectionError):
        tc.init(project="p", store=f"postgresql://tracker@127.0.0.1:{silent_server}/db?connect_timeout=2")
    assert time.monotonic() - t0 < 10
    with pytest.raises(ValueError, match="connect_timeout .* got 'soon'"):
        tc.init(project="p", store=f"postgresql://tracker@127.0.0.1:{silent_server}/db?connect_timeout=soon")
    monkeypatch.setenv("TRACKER_CONNECT_TIMEOUT", "-1")
    with pytest.raises(ValueError, match="TRACKER_CONNECT_TIMEOUT must be > 0"):
        tc.init(project="p", store=f"postgresql://tracker@127.0.0.1:{silent_server}/db")
