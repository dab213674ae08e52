"""UI benchmark: the runs table's first page at 10,000 runs x ~40 columns.

Serves the JSON endpoint behind the runs table (``/api/runs``) from the store built by
``bench_api_query.py`` and times the first page (50 rows), sorted by a summary column,
and with a filter, through a real HTTP server on 127.0.0.1 (best and median of
``--repeat``). The issue's goal: under 0.5 s.

    python benchmarks/bench_ui_runs_table.py --store DIR [--runs 10000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True, help="store directory (built by bench_api_query.py if missing)")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args()
    if not os.path.exists(os.path.join(args.store, f"bench-{args.runs}.done")):
        subprocess.run([sys.executable, os.path.join(HERE, "bench_api_query.py"), "--store", args.store,
                        "--runs", str(args.runs), "--repeat", "1"], check=True)

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tracker_core.cli", "--store", args.store, "ui",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):  # wait for the server
            if server.poll() is not None:
                sys.exit(f"the UI server exited with code {server.returncode} before answering")
            try:
                urllib.request.urlopen(base + "/api/projects", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        queries = {
            "first_page": {"project": "bench-api", "limit": 50},
            "sorted_by_summary": {"project": "bench-api", "limit": 50, "order": "-summary_metrics.s1.max"},
            "filtered_sorted": {"project": "bench-api", "limit": 50, "order": "-summary_metrics.s1.max",
                                "filters": json.dumps({"config.c3": {"$gte": 30}})},
        }
        results = {}
        for name, params in queries.items():
            url = base + "/api/runs?" + urllib.parse.urlencode(params)
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                body = json.loads(urllib.request.urlopen(url, timeout=30).read())
                times.append(time.perf_counter() - t0)
            results[name] = {"s": round(min(times), 4), "median_s": round(statistics.median(times), 4),
                             "rows": len(body["runs"]), "columns": len(body["columns"]), "total": body["total"]}
        for name, r in results.items():
            print(f"{name:20s} {r['s']:.4f} s  rows={r['rows']} columns={r['columns']} total={r['total']}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
