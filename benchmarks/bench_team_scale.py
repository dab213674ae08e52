"""Team scale (issue 6): many writer processes into one store at once, nothing lost.

N processes each log ROWS rows of 10 metrics into their own run, while S more processes
log ROWS rows each into ONE shared run (``init(id=..., shared=True)``), all at the same
time, into one store (PostgreSQL for the issue's figure; SQLite works too). Afterwards
every row is checked (each process's rows, once each, in its order) and every run's
stored summary is compared with the summary replayed from its stored history
(``PublicRun.recompute_summary``), which must be identical.

    python benchmarks/bench_team_scale.py --store postgresql://... [--procs 16 --shared 4 --rows 5000]

Prints one JSON object: wall time from the common start to the last finish, rows/s over
all processes, the slowest process's ``log()`` mean, and the verification result.
``tests/test_team_scale.py`` runs :func:`run_scale` with small counts in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

WORKER = r"""
import json, os, sys, time
import tracker_core as tc
kind, k, rows, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if kind == "own":
    run = tc.init(project="scale", id=f"own{k}", config={"proc": k})
else:
    run = tc.init(project="scale", id="shared", shared=True, config={f"proc{k}": k})
for name in ("m0", "m1"):
    tc.define_metric(name, summary="min,max")
tc.define_metric("m2", summary="mean,last")
tc.define_metric("m3", summary="best", objective="maximize")
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.002)
t0 = time.perf_counter()
for i in range(rows):
    x = (i * 7919 + k * 104729) % 1000 / 1000.0
    tc.log({"m0": x, "m1": -x, "m2": x * 2, "m3": 1 - x, "m4": i, "m5": x + k, "m6": float(i % 13),
            "m7": i * 0.5, "proc": k, "i": i})
t_log = time.perf_counter() - t0
tc.finish()
print(json.dumps({"log_us": t_log / rows * 1e6, "done": time.time()}), flush=True)
"""


def _spawn(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(WORKER), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_scale(store: str, procs: int, shared: int, rows: int, flush_interval: float | None = None,
              timeout: float = 600) -> dict:
    """Run the workload, verify it, return the figures (raises AssertionError on a lost row
    or a summary that differs from its replay)."""
    env = dict(os.environ, TRACKER_STORE=store, TRACKER_SYSTEM_METRICS="0")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    if flush_interval is not None:
        env["TRACKER_FLUSH_INTERVAL"] = str(flush_interval)
    with tempfile.TemporaryDirectory() as tmp:
        go = os.path.join(tmp, "go")
        children = [_spawn(["own", str(k), str(rows), go], env) for k in range(procs)]
        children += [_spawn(["shared", str(k), str(rows), go], env) for k in range(shared)]
        try:
            for child in children:
                line = child.stdout.readline()
                if line.strip() != "ready":
                    raise RuntimeError(f"a writer failed to start: {line!r} {child.stderr.read()}")
            start = time.time()
            open(go, "w").close()
            results = []
            for child in children:
                out, err = child.communicate(timeout=timeout)
                if child.returncode != 0:
                    raise RuntimeError(f"a writer failed ({child.returncode}): {err[-2000:]}")
                results.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
    wall = max(r["done"] for r in results) - start
    total = (procs + shared) * rows
    verify_s = time.perf_counter()
    _verify(store, procs, shared, rows)
    return {"store": store.split("@")[-1], "own_processes": procs, "shared_processes": shared, "rows_each": rows,
            "metrics_per_row": 10, "rows_total": total, "wall_s": round(wall, 3), "rows_per_s": round(total / wall),
            "log_us_mean_slowest_process": round(max(r["log_us"] for r in results), 2),
            "verified_s": round(time.perf_counter() - verify_s, 2), "verified": True}


def _verify(store: str, procs: int, shared: int, rows: int) -> None:
    import tracker_core as tc

    runs = {r.id: r for r in tc.Api(store=store).runs("scale")}
    expected = {f"own{k}" for k in range(procs)} | ({"shared"} if shared else set())
    assert set(runs) == expected, sorted(runs)
    for run_id, run in runs.items():
        assert run.state == "finished", (run_id, run.state)
        history = list(run.scan_history())
        writers = range(shared) if run_id == "shared" else [int(run_id[3:])]
        assert len(history) == len(writers) * rows, (run_id, len(history))
        for k in writers:
            assert [r["i"] for r in history if r["proc"] == k] == list(range(rows)), (run_id, k)
        before = {k: v for k, v in dict(run.summary).items() if k != "_runtime"}
        run.recompute_summary()
        again = tc.Api(store=store).run("/".join(run.path))
        after = {k: v for k, v in dict(again.summary).items() if k != "_runtime"}
        assert after == before, (run_id, before, after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="store URL or directory (an empty one)")
    parser.add_argument("--procs", type=int, default=16)
    parser.add_argument("--shared", type=int, default=4)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--flush-interval", type=float, default=None)
    args = parser.parse_args()
    print(json.dumps(run_scale(args.store, args.procs, args.shared, args.rows, args.flush_interval), indent=2))


if __name__ == "__main__":
    main()
