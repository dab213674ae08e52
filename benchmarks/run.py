"""tracker-core side by side with W&B, MLflow, trackio and tensorboardX (issue #7).

One command runs every workload, each tracker in its own subprocess, the order rotated
between repetitions, and prints medians, min-max and ratios; the results (and the raw
figures) go to a JSON file, the tables to a Markdown file beside it:

    .venv-bench/bin/python benchmarks/run.py [--out benchmarks/results/latest.json] [--reps 5]
    .venv/bin/python benchmarks/run.py --smoke --out /tmp/results.json      # seconds; CI

Peers that are not installed are reported as "not installed" and skipped. Everything
is offline and under a temporary directory (``--workdir`` keeps it). See
benchmarks/README.md for what each workload measures and the latest figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import hot_path  # noqa: E402
import imports_bench  # noqa: E402
import listing_bench  # noqa: E402
import profile_bench  # noqa: E402
import report  # noqa: E402
import reused_bench  # noqa: E402
import tensors_bench  # noqa: E402

WORKLOADS = ("hot_path", "imports", "tensors", "listing", "query_ui", "adapters")
FULL = {"steps": 20_000, "slow_steps": {"mlflow": 1_000}, "list_runs": 200, "query_runs": 10_000,
        "cases": list(tensors_bench.CASES)}
SMOKE = {"steps": 300, "slow_steps": {"mlflow": 30, "tensorboardX": 100}, "list_runs": 20, "query_runs": 30,
         "cases": list(tensors_bench.SMOKE_CASES)}
DISTRIBUTIONS = ("tracker-core", "wandb", "mlflow", "trackio", "tensorboardX", "orjson", "numpy", "pandas", "torch",
                 "psutil", "lightning", "transformers", "fastapi", "py-spy")


def machine() -> dict:
    info = {"nproc": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    try:
        info["nproc"] = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip())
        info["free_g"] = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.rstrip()
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/meminfo") as f:
            info["mem_total_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), None)
    except OSError:
        pass
    return info


def git_state() -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "tracker_core"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return {"commit": commit, "tracker_core_dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {}


def precompile(env: dict) -> None:
    """Byte-compile the checkout (tracker_core is an editable install), as after any first
    import; the peers' packages were compiled by pip when they were installed."""
    import importlib.util

    root = os.path.dirname(harness.HERE)
    dirs = [harness.HERE, os.path.join(root, "integrations")]
    spec = importlib.util.find_spec("tracker_core")
    if spec and spec.origin:
        dirs.append(os.path.dirname(spec.origin))
    subprocess.run([sys.executable, "-m", "compileall", "-q", *[d for d in dirs if os.path.isdir(d)]], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition of the slow parts: seconds")
    ap.add_argument("--out", default=os.path.join(harness.HERE, "results", "latest.json"),
                    help="results JSON (the tables go beside it, as .md)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 5; 2 with --smoke)")
    ap.add_argument("--only", nargs="+", choices=WORKLOADS, help="run only these workloads")
    ap.add_argument("--workdir", help="keep every store and log here (default: a temporary directory, removed)")
    ap.add_argument("--no-profile", action="store_true", help="skip the py-spy profiles of tracker-core")
    args = ap.parse_args()

    sizes = SMOKE if args.smoke else FULL
    reps = args.reps or (2 if args.smoke else 5)
    workloads = args.only or list(WORKLOADS)
    workdir = args.workdir or tempfile.mkdtemp(prefix="tracker-bench-")
    os.makedirs(workdir, exist_ok=True)
    t_start = time.perf_counter()
    steps = {n: sizes["slow_steps"].get(n, sizes["steps"]) for n in hot_path.TRACKERS}
    results: dict = {
        "meta": {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                 "command": " ".join([os.path.relpath(sys.executable), *sys.argv]), "smoke": args.smoke,
                 "reps": reps, "machine": machine(), "git": git_state(),
                 "versions": {d: harness.version(d) for d in DISTRIBUTIONS},
                 "workdir": workdir if args.workdir else None},
        "workloads": {},
    }
    notes = {
        "hot_path": f"{sizes['steps']:,} steps x 10 scalar metrics (MLflow: {steps['mlflow']:,} steps, it takes "
                    "~5 ms per call), min/max defined on four where the tracker supports it; "
                    f"median [min-max] of {reps} runs, each in its own process, order rotated. CPU us/step: the "
                    "whole process tree (threads, wandb-core, ...) from the loop's start to the end of "
                    "finish(), per step. Ratios: log() to floor-jsonl, CPU to tracker-core.",
        "imports": f"python -c 'import X' minus python -c pass, median of {reps} (warm file cache)",
        "tensors": "run.summary[k] = tensor (stats + blob) then flush(), against np.percentile + np.save; "
                   "peak/tensor = (tensor bytes + peak RSS growth during the call) / tensor bytes",
        "listing": f"{sizes['list_runs']} runs (config + 10 metrics x 3 steps) into one DataFrame, each listing in a "
                   "fresh process, imports excluded. W&B: offline runs cannot be listed through wandb.Api; "
                   "this replays each run's .wandb record log with wandb's protobuf classes.",
        "query_ui": f"{sizes['query_runs']:,} runs x 20 summary + 20 config keys; bench_api_query.py and "
                    "bench_ui_runs_table.py, tracker-core only",
        "adapters": "bench_lightning_overhead.py / bench_transformers_overhead.py: the same tiny training with "
                    "and without the logger, alternated",
    }

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:6.1f}s] {msg}", flush=True)

    precompile(harness.isolated_env(workdir))

    for name in workloads:
        log(f"== {name}")
        t0 = time.perf_counter()
        try:
            if name == "hot_path":
                data = hot_path.run(reps, steps, workdir, log)
            elif name == "imports":
                data = imports_bench.run(1 if args.smoke else reps, harness.isolated_env(workdir), log)
            elif name == "tensors":
                data = tensors_bench.run(1 if args.smoke else reps, sizes["cases"], workdir, log)
            elif name == "listing":
                data = listing_bench.run(reps, sizes["list_runs"], workdir, log)
            elif name == "query_ui":
                data = reused_bench.query_and_ui(sizes["query_runs"], 1 if args.smoke else reps,
                                                 harness.isolated_env(workdir), workdir)
            else:
                data = reused_bench.adapters(args.smoke, 1 if args.smoke else reps,
                                             harness.isolated_env(workdir), workdir)
            data.setdefault("note", notes[name])
        except Exception as exc:  # one broken workload must not hide the others
            data = {"status": f"error: {exc!r}", "traceback": traceback.format_exc()[-3000:]}
            log(f"   {name} failed: {exc!r}")
        data["wall_s"] = round(time.perf_counter() - t0, 2)
        results["workloads"][name] = data
        log(f"   {name} done in {data['wall_s']:.1f} s")

    if not args.smoke and not args.no_profile and "hot_path" in workloads:
        log("== profiles (py-spy)")
        prof_dir = os.path.join(workdir, "profiles")
        os.makedirs(prof_dir, exist_ok=True)
        profiles = {}
        tmp = tempfile.mkdtemp(prefix="prof-hot-", dir=workdir)
        profiles["hot_path"] = profile_bench.profile(  # 5x the steps: enough samples past the imports
            "hot_path.py", ["--tracker", "tracker-core", "--steps", str(5 * steps["tracker-core"]), "--dir", tmp],
            harness.isolated_env(tmp), prof_dir)
        lst = results["workloads"].get("listing", {}).get("dirs", {}).get("tracker-core")
        if lst:
            profiles["listing"] = profile_bench.profile(
                "listing_bench.py", ["--tracker", "tracker-core", "--mode", "list", "--dir", lst, "--calls", "100"],
                harness.isolated_env(lst), prof_dir)
        results["profiles"] = profiles

    results["targets"] = report.targets(results["workloads"])
    results["meta"]["wall_s"] = round(time.perf_counter() - t_start, 1)
    text = report.render(results)
    for name, prof in results.get("profiles", {}).items():
        text += "\n\n" + profile_bench.render(f"py-spy profile, tracker-core {name}", prof)
    text += f"\n\nwall time of the suite: {results['meta']['wall_s']:.0f} s ({reps} repetitions)"
    print("\n" + text)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1, default=str)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(text + "\n")
    log(f"results: {args.out}")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
