"""Read-side benchmark: 10,000 runs x 20 summary keys x 20 config keys.

Measures, best (and median, under ``medians``) of ``--repeat`` runs:
  * ``api.runs(project, filters=..., order=...).to_pandas()``: a filtered, ordered query
    into pandas (the issue's goal: under 1 s on a 2-core machine);
  * the same without a filter (all 10,000 runs into pandas);
  * ``len(api.runs(...))`` and the first page of 50 runs with their summaries;
  * the ``tracker runs`` CLI table (``--format csv`` and ``table``) as a subprocess.

    python benchmarks/bench_api_query.py [--runs 10000] [--store DIR] [--json out.json]

The store is built once through the public API (``tracker_core.init/log/finish``) and
reused when ``--store`` points at a directory that already holds it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

PROJECT = "bench-api"
FILTER = {"config.c3": {"$gte": 30}, "summary_metrics.s5.min": {"$lt": 0.5}}
ORDER = "-summary_metrics.s1.max"  # s1 has min,max: its plain key is a dict, not an order (FilterError)


def build(store: str, n_runs: int) -> float:
    os.environ["TRACKER_FLUSH_INTERVAL"] = "1000"  # one flush per run, at finish
    import tracker_core as tc

    t0 = time.perf_counter()
    for i in range(n_runs):
        run = tc.init(project=PROJECT, store=store, id=f"r{i:05d}", name=f"run-{i}",
                      config={f"c{j}": (i * (j + 1)) % 100 for j in range(19)} | {"opt": ["adam", "sgd"][i % 2]},
                      tags=[f"t{i % 3}"])
        for j in range(0, 20, 4):
            run.define_metric(f"s{j + 1}", summary="min,max")
        for step in range(3):
            run.log({f"s{j}": ((i * 7919 + j * 104729 + step * 31) % 1000) / 1000 for j in range(20)})
        run.finish()
    return time.perf_counter() - t0


MEDIANS: dict = {}  # label -> median seconds, filled by best_of(..., label=...)


def best_of(repeat: int, fn, label: str | None = None) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    if label:
        MEDIANS[label] = round(statistics.median(times), 4)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--store", default=None, help="store directory (built if missing)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args()

    store = args.store or os.path.join(tempfile.mkdtemp(prefix="tracker-bench-"), "store")
    marker = os.path.join(store, f"bench-{args.runs}.done")
    results: dict = {"runs": args.runs, "cores": os.cpu_count(), "python": sys.version.split()[0]}
    if not os.path.exists(marker):
        results["build_s"] = round(build(store, args.runs), 2)
        open(marker, "w").close()

    import tracker_core as tc

    api = tc.Api(store=store)
    t, df = best_of(args.repeat, lambda: api.runs(PROJECT, filters=FILTER, order=ORDER).to_pandas(),
                    "filtered_ordered_to_pandas_s")
    results["filtered_ordered_to_pandas_s"] = round(t, 4)
    results["filtered_rows"] = len(df)
    results["filtered_columns"] = len(df.columns)
    t, df_all = best_of(args.repeat, lambda: api.runs(PROJECT).to_pandas(), "all_to_pandas_s")
    results["all_to_pandas_s"] = round(t, 4)
    results["all_rows"] = len(df_all)
    t, n = best_of(args.repeat, lambda: len(api.runs(PROJECT, filters=FILTER)), "filtered_count_s")
    results["filtered_count_s"] = round(t, 4)
    t, _ = best_of(args.repeat, lambda: [r.summary.to_dict() for r in api.runs(PROJECT, order=ORDER)[:50]],
                   "first_page_50_with_summaries_s")
    results["first_page_50_with_summaries_s"] = round(t, 4)

    env = dict(os.environ, TRACKER_STORE=store)
    for fmt in ("csv", "table"):
        cmd = [sys.executable, "-m", "tracker_core.cli", "runs", PROJECT, "--filter", json.dumps(FILTER),
               "--sort", ORDER, "--format", fmt]
        t, proc = best_of(args.repeat, lambda: subprocess.run(cmd, env=env, capture_output=True, text=True),
                          f"cli_{fmt}_s")
        results[f"cli_{fmt}_s"] = round(t, 4) if proc.returncode == 0 else f"failed: {proc.stderr[-300:]}"

    results["medians"] = dict(MEDIANS)
    for key, value in results.items():
        print(f"{key:36s} {value}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
