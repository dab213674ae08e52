"""Workload 4a: list N runs (default 200) with their config and summaries into pandas.

Each tracker's store is built once (``--mode build``, not timed: 3 steps of the hot
path's 10 metrics per run, min/max defined on four where the tracker can), then each
listing runs in a fresh process (``--mode list``); the time counted starts after the
imports (pandas and the tracker) and ends with the DataFrame: ``cold_s`` is the first
call (opening the store included), ``warm_s`` the best of three more in the same process.

* floor-sqlite: a bare ``sqlite3`` SELECT of a wide table (one row per run, one column
  per config/summary value) into ``pd.DataFrame``; floor-sqlite-kv: the same data as
  key/value rows (runs, config, summary tables) pivoted in Python, the shape a tracker
  with arbitrary keys stores;
* tracker-core: ``tc.Api().runs(project).to_pandas()``;
* trackio: ``trackio.Api().runs(project)``, each run's ``config`` and the last value of
  each metric from ``SQLiteStorage.get_logs`` (trackio has no summary);
* MLflow: ``mlflow.search_runs(experiment_names=[...])`` (a DataFrame already);
* W&B: offline runs cannot be listed through ``wandb.Api()`` (it needs the server), and
  the SDK has no reader for ``.wandb`` files any more; what is possible is to replay each
  run's ``run-*.wandb`` record log (LevelDB-style blocks of ``wandb_internal_pb2.Record``)
  for its config and summary updates. The store holds one real offline run copied N-1
  times (creating 200 offline runs takes minutes; the reader's cost is the same).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import struct
import time

from hot_path import CONFIG, MINMAX, SPEC

PROJECT = "bench-list"
TRACKERS = {  # name -> module that must be importable
    "floor-sqlite": "sqlite3", "floor-sqlite-kv": "sqlite3", "tracker-core": "tracker_core",
    "trackio": "trackio", "mlflow": "mlflow", "wandb": "wandb",
}


def rows_of(i: int) -> tuple[dict, list[dict]]:
    config = dict(CONFIG, seed=i, lr=CONFIG["lr"] * (1 + i % 7))
    return config, [{k: ((i * 31 + s * a + b) % 997) / 997.0 for k, a, b in SPEC} for s in range(3)]


# -- build ----------------------------------------------------------------------------------

def build(tracker: str, n: int, tmp: str) -> None:
    if tracker.startswith("floor"):
        return _build_floor(tracker, n, tmp)
    if tracker == "tracker-core":
        import tracker_core as tc

        for i in range(n):
            config, rows = rows_of(i)
            run = tc.init(project=PROJECT, name=f"run-{i}", config=config, system_metrics=False)
            for k in MINMAX:
                run.define_metric(k, summary="min,max")
            for row in rows:
                run.log(row)
            run.finish()
    elif tracker == "trackio":
        import trackio

        for i in range(n):
            config, rows = rows_of(i)
            trackio.init(project=PROJECT, name=f"run-{i}", config=config)
            for row in rows:
                trackio.log(row)
            trackio.finish()
    elif tracker == "mlflow":
        from mlflow import MlflowClient
        from mlflow.entities import Metric, Param

        client = MlflowClient()
        exp = client.create_experiment(PROJECT)
        for i in range(n):
            config, rows = rows_of(i)
            run = client.create_run(exp, run_name=f"run-{i}")
            now = int(time.time() * 1000)
            metrics = [Metric(k, v, now, s) for s, row in enumerate(rows) for k, v in row.items()]
            client.log_batch(run.info.run_id, metrics=metrics, params=[Param(k, str(v)) for k, v in config.items()])
            client.set_terminated(run.info.run_id)
    elif tracker == "wandb":
        import wandb

        config, rows = rows_of(0)
        run = wandb.init(project=PROJECT, name="run-0", config=config)
        for k in MINMAX:
            run.define_metric(k, summary="min,max")
        for row in rows:
            run.log(row)
        run.finish()
        wandb.teardown()
        (src,) = glob.glob(os.path.join(tmp, "wandb", "offline-run-*"))
        stem, run_id = src.rsplit("-", 1)
        for i in range(1, n):
            dst = f"{stem}-c{i:07d}"
            shutil.copytree(src, dst)
            os.rename(os.path.join(dst, f"run-{run_id}.wandb"), os.path.join(dst, f"run-c{i:07d}.wandb"))


def _build_floor(tracker: str, n: int, tmp: str) -> None:
    import sqlite3

    conn = sqlite3.connect(os.path.join(tmp, "floor.db"))
    if tracker == "floor-sqlite":
        cols = [f'"config.{k}"' for k in CONFIG] + [f'"summary.{k}"' for k, _, _ in SPEC]
        cols += [f'"summary.{k}.{op}"' for k in MINMAX for op in ("min", "max")]
        conn.execute(f"CREATE TABLE runs (run_id TEXT PRIMARY KEY, name TEXT, state TEXT, created_at REAL, "
                     f"{', '.join(cols)})")
        for i in range(n):
            config, rows = rows_of(i)
            values = [*config.values(), *rows[-1].values()]
            values += [f(r[k] for r in rows) for k in MINMAX for f in (min, max)]
            conn.execute(f"INSERT INTO runs VALUES ({', '.join('?' * (4 + len(values)))})",
                         (f"r{i}", f"run-{i}", "finished", time.time(), *values))
    else:
        conn.executescript("CREATE TABLE runs (uid INTEGER PRIMARY KEY, run_id TEXT, name TEXT, state TEXT, "
                           "created_at REAL); CREATE TABLE config (uid INTEGER, key TEXT, value); "
                           "CREATE TABLE summary (uid INTEGER, key TEXT, value)")
        for i in range(n):
            config, rows = rows_of(i)
            conn.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?)", (i, f"r{i}", f"run-{i}", "finished", time.time()))
            conn.executemany("INSERT INTO config VALUES (?, ?, ?)", [(i, k, v) for k, v in config.items()])
            summary = dict(rows[-1])
            summary.update({f"{k}.{op}": f(r[k] for r in rows) for k in MINMAX for op, f in (("min", min),
                                                                                             ("max", max))})
            conn.executemany("INSERT INTO summary VALUES (?, ?, ?)", [(i, k, v) for k, v in summary.items()])
    conn.commit()
    conn.close()


# -- list -------------------------------------------------------------------------------------

def lister(tracker: str, tmp: str):
    """Import what the listing needs (not timed) and return the listing function."""
    import pandas as pd

    if tracker == "floor-sqlite":
        import sqlite3

        def listing():
            conn = sqlite3.connect(os.path.join(tmp, "floor.db"))
            cur = conn.execute("SELECT * FROM runs")
            df = pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])
            conn.close()
            return df
    elif tracker == "floor-sqlite-kv":
        import sqlite3

        def listing():
            conn = sqlite3.connect(os.path.join(tmp, "floor.db"))
            rows = {uid: {"id": rid, "name": name, "state": state, "created_at": ts}
                    for uid, rid, name, state, ts in conn.execute("SELECT * FROM runs")}
            for prefix in ("config", "summary"):
                for uid, key, value in conn.execute(f"SELECT uid, key, value FROM {prefix}"):
                    rows[uid][f"{prefix}.{key}"] = value
            conn.close()
            return pd.DataFrame(list(rows.values()))
    elif tracker == "tracker-core":
        import tracker_core as tc

        def listing():
            return tc.Api().runs(PROJECT).to_pandas()
    elif tracker == "trackio":
        import trackio
        from trackio.sqlite_storage import SQLiteStorage

        def listing():
            rows = []
            for r in trackio.Api().runs(PROJECT):
                row = {"id": r.id, "name": r.name}
                row.update({f"config.{k}": v for k, v in (r.config or {}).items()})
                last: dict = {}
                for entry in SQLiteStorage.get_logs(PROJECT, r.name, run_id=r.id):
                    last.update(entry)
                row.update({f"summary.{k}": v for k, v in last.items()})
                rows.append(row)
            return pd.DataFrame(rows)
    elif tracker == "mlflow":
        import mlflow

        def listing():
            return mlflow.search_runs(experiment_names=[PROJECT], max_results=100_000)
    elif tracker == "wandb":
        from wandb.proto import wandb_internal_pb2 as pb

        def listing():
            rows = []
            for path in sorted(glob.glob(os.path.join(tmp, "wandb", "offline-run-*", "run-*.wandb"))):
                rows.append(_wandb_run_row(path, pb))
            return pd.DataFrame(rows)
    return listing


def _wandb_records(path: str):
    """The payloads of a W&B transaction log: a 7-byte header, then 32 KiB blocks of
    records with a 7-byte header (crc32, length, type: full/first/middle/last)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b":W&B":
        raise ValueError(f"{path}: not a W&B transaction log")
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack_from("<IHB", data, pos)
        if kind == 0:
            pos += left
            continue
        chunk = data[pos + 7: pos + 7 + length]
        pos += 7 + length
        if kind == 1:
            yield chunk
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        else:
            yield pending + chunk
            pending = b""


def _wandb_run_row(path: str, pb) -> dict:
    row: dict = {"id": os.path.basename(path)[4:-6]}
    for raw in _wandb_records(path):
        rec = pb.Record()
        rec.ParseFromString(raw)
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            row["name"] = rec.run.display_name
            for item in rec.run.config.update:
                row["config." + item.key] = json.loads(item.value_json)
        elif kind == "config":
            for item in rec.config.update:
                row["config." + item.key] = json.loads(item.value_json)
        elif kind == "summary":
            for item in rec.summary.update:
                key = item.key or ".".join(item.nested_key)
                value = json.loads(item.value_json)
                if isinstance(value, dict):
                    row.update({f"summary.{key}.{k}": v for k, v in value.items()})
                else:
                    row["summary." + key] = value
    return row


def list_worker(tracker: str, tmp: str, calls: int = 3) -> dict:
    listing = lister(tracker, tmp)
    t0 = time.perf_counter()
    df = listing()
    cold = time.perf_counter() - t0
    warm = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        listing()
        warm = min(warm, time.perf_counter() - t0)
    return {"tracker": tracker, "cold_s": cold, "warm_s": warm, "rows": len(df), "columns": len(df.columns)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracker", required=True, choices=sorted(TRACKERS))
    ap.add_argument("--mode", choices=("build", "list"), required=True)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--calls", type=int, default=3, help="warm listings after the first (more for a profile)")
    args = ap.parse_args()
    from harness import emit

    if args.mode == "build":
        t0 = time.perf_counter()
        build(args.tracker, args.runs, args.dir)
        emit({"tracker": args.tracker, "build_s": time.perf_counter() - t0})
    else:
        emit(list_worker(args.tracker, args.dir, args.calls))


if __name__ == "__main__":
    main()


# -- driver (called by run.py) ----------------------------------------------------------------

def run(reps: int, n_runs: int, workdir: str, log=print) -> dict:
    import tempfile

    from harness import WorkerError, installed, isolated_env, rotated, run_worker, summarize

    results: dict = {"runs": n_runs, "trackers": {}}
    names, dirs = [], {}
    for n, mod in TRACKERS.items():
        if not installed(mod) or (n != "tracker-core" and not installed("pandas")):
            results["trackers"][n] = {"status": "not installed"}
            continue
        tmp = dirs[n] = tempfile.mkdtemp(prefix=f"list-{n}-", dir=workdir)
        try:
            b = run_worker("listing_bench.py", ["--tracker", n, "--mode", "build", "--runs", str(n_runs),
                                                "--dir", tmp], isolated_env(tmp), timeout=600)
        except WorkerError as exc:
            results["trackers"][n] = {"status": "error", "error": str(exc)[-2000:]}
            log(f"  listing {n}: build ERROR {str(exc)[-300:]}")
            continue
        results["trackers"][n] = {"build_s": b["build_s"]}
        names.append(n)
    raw: dict = {n: [] for n in names}
    for rep in range(reps):
        for n in rotated(names, rep):
            try:
                r = run_worker("listing_bench.py", ["--tracker", n, "--mode", "list", "--dir", dirs[n]],
                               isolated_env(dirs[n]), timeout=300)
            except WorkerError as exc:
                results["trackers"][n].update(status="error", error=str(exc)[-2000:])
                log(f"  listing {n}: ERROR {str(exc)[-300:]}")
                continue
            raw[n].append(r)
            log(f"  listing rep {rep + 1}/{reps} {n:16s} first {r['cold_s'] * 1e3:8.1f} ms  "
                f"warm {r['warm_s'] * 1e3:8.1f} ms  {r['rows']}x{r['columns']}")
    for n in names:
        if raw[n]:
            results["trackers"][n].update(status="ok", reps=len(raw[n]), rows=raw[n][-1]["rows"],
                                          columns=raw[n][-1]["columns"],
                                          cold_s=summarize([r["cold_s"] for r in raw[n]]),
                                          warm_s=summarize([r["warm_s"] for r in raw[n]]))
    results["trackers"] = {n: results["trackers"][n] for n in TRACKERS}  # the table's order
    results["dirs"] = dirs
    return results
