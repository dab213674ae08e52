"""Workloads 4b, 4c and 5: the existing single-purpose benchmarks, run as subprocesses.

* ``bench_api_query.py``: the 10,000-run filtered and ordered query into pandas;
* ``bench_ui_runs_table.py``: the UI's runs-table page at 10,000 runs over HTTP (same store);
* ``bench_lightning_overhead.py`` / ``bench_transformers_overhead.py``: a tiny Lightning
  and HF training with and without the tracker's logger.

Each writes its own JSON (``--json``), which is returned as is; its output goes to a log
file in the work directory. These are tracker-core only: the peers have no Mongo-style
filtered query to compare at 10,000 runs within the time budget (building 10,000 MLflow
runs takes ~12 minutes here) and their adapters are not what this tracker replaces.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from harness import HERE, installed


def _script(name: str, args: list[str], env: dict, workdir: str, timeout: float) -> dict:
    out = os.path.join(workdir, name.replace(".py", ".json"))
    log = os.path.join(workdir, name.replace(".py", ".log"))
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run([sys.executable, os.path.join(HERE, name), *args, "--json", out], env=env,
                              stdout=f, stderr=subprocess.STDOUT, timeout=timeout, cwd=workdir)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not os.path.exists(out):
        with open(log) as f:
            tail = f.read()[-1500:]
        return {"status": f"error (rc={proc.returncode})", "log_tail": tail, "wall_s": wall}
    with open(out) as f:
        result = json.load(f)
    return {"status": "ok", "wall_s": wall, "result": result, "log": log}


def query_and_ui(runs: int, repeat: int, env: dict, workdir: str) -> dict:
    store = os.path.join(workdir, f"store-{runs}")
    env = dict(env, TRACKER_STORE=store)
    query = _script("bench_api_query.py", ["--runs", str(runs), "--store", store, "--repeat", str(repeat)], env,
                    workdir, timeout=900)
    if not (installed("fastapi") and installed("uvicorn")):
        ui = {"status": "not installed (fastapi, uvicorn)"}
    elif query["status"] != "ok":
        ui = {"status": "skipped: the store was not built"}
    else:
        ui = _script("bench_ui_runs_table.py", ["--store", store, "--runs", str(runs), "--repeat", str(repeat)],
                     env, workdir, timeout=300)
    return {"query": query, "ui": ui}


def adapters(smoke: bool, repeat: int, env: dict, workdir: str) -> dict:
    out: dict = {}
    if installed("lightning") or installed("pytorch_lightning"):
        args = ["--repeat", "1", "--steps", "100"] if smoke else ["--repeat", str(repeat), "--steps", "400"]
        out["lightning"] = _script("bench_lightning_overhead.py", args, env, workdir, timeout=600)
    else:
        out["lightning"] = {"status": "not installed"}
    if installed("transformers") and installed("torch"):
        args = ["--steps", "10", "--repeat", "1", "--hook-calls", "50"] if smoke else \
            ["--steps", "100", "--repeat", str(repeat), "--hook-calls", "2000"]
        out["transformers"] = _script("bench_transformers_overhead.py", args, env, workdir, timeout=600)
    else:
        out["transformers"] = {"status": "not installed"}
    return {"frameworks": out}
