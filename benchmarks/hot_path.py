"""Workload 1, the hot path: N steps x 10 scalar metrics, min/max defined on four of them.

One subprocess per (tracker, repetition), started by ``run.py`` through the harness's
launcher. The worker times, after its imports and ``init``:

* ``log_us``: the loop (building the row dict included, the same code for every tracker)
  divided by the number of steps;
* ``finish_s``: the tracker's ``finish()`` (everything on disk when it returns); W&B's
  ``wandb.teardown()`` (which stops ``wandb-core``, as the interpreter's exit would) is
  timed apart as ``teardown_s``;
* ``cpu_us_per_step``: the CPU of the whole process tree (all threads, ``wandb-core``
  and other helper processes included) from just before the loop to the end of
  finish/teardown, divided by the number of steps;
* peak RSS of the Python process and of its largest helper process.

The launcher adds the whole tree's CPU from start to exit (imports and init included).

    python benchmarks/hot_path.py --tracker tracker-core --steps 20000 --dir /tmp/x
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

# ten metrics; each value is a cheap deterministic function of the step
SPEC = tuple((k, a, b) for k, a, b in zip(
    ("train/loss", "train/acc", "val/loss", "val/acc", "lr", "grad_norm", "epoch", "throughput", "gpu_mem",
     "tokens"), (7, 11, 13, 17, 19, 23, 29, 31, 37, 41), (3, 5, 7, 11, 13, 17, 19, 23, 29, 31)))
MINMAX = ("train/loss", "train/acc", "val/loss", "val/acc")  # define_metric(summary="min,max")
CONFIG = {"lr": 0.001, "batch_size": 64, "optimizer": "adamw", "seed": 0, "layers": 12}
PROJECT = "bench-hot"

# tracker name -> (module that must be importable, distribution whose version is reported)
TRACKERS = {
    "floor-dict": (None, None),
    "floor-jsonl": (None, "orjson"),  # stdlib json where orjson is missing (then said so)
    "tracker-core": ("tracker_core", "tracker-core"),
    "tracker-core-lean": ("tracker_core", "tracker-core"),
    "trackio": ("trackio", "trackio"),
    "wandb": ("wandb", "wandb"),
    "wandb-lean": ("wandb", "wandb"),
    "tensorboardX": ("tensorboardX", "tensorboardX"),
    "mlflow": ("mlflow", "mlflow"),
}
DESCRIPTION = {
    "floor-dict": "build the dict + running min/max in Python",
    "floor-jsonl": "floor-dict + orjson line appended to a buffered file",
    "tracker-core": "defaults (system metrics sampled every 15 s)",
    "tracker-core-lean": "TRACKER_SYSTEM_METRICS=0",
    "trackio": "local SQLite, defaults",
    "wandb": "WANDB_MODE=offline, defaults (system metrics on)",
    "wandb-lean": "offline, x_disable_stats/meta/machine_info, no code/git",
    "tensorboardX": "SummaryWriter.add_scalar per metric (no define_metric)",
    "mlflow": "SQLite tracking URI, log_metrics(row, step) (no define_metric)",
}


class MinMax:
    """The floors' running min/max over the four defined metrics."""

    def __init__(self) -> None:
        self.lo = dict.fromkeys(MINMAX, float("inf"))
        self.hi = dict.fromkeys(MINMAX, float("-inf"))

    def update(self, row: dict) -> None:
        lo, hi = self.lo, self.hi
        for k in MINMAX:
            v = row[k]
            if v < lo[k]:
                lo[k] = v
            if v > hi[k]:
                hi[k] = v

    def as_dict(self) -> dict:
        return {k: {"min": self.lo[k], "max": self.hi[k]} for k in MINMAX}


def _floor_dict(tmp: str):
    mm = MinMax()
    return mm.update, lambda: None, lambda: {"summary": mm.as_dict()}


def _floor_jsonl(tmp: str):
    mm = MinMax()
    try:
        import orjson
    except ImportError:  # not a tracker-core dependency: CI's test environment may lack it
        import json

        f = open(os.path.join(tmp, "history.jsonl"), "w")  # noqa: SIM115  closed by finish
        write, dumps = f.write, json.dumps

        def log(row: dict) -> None:
            write(dumps(row) + "\n")
            mm.update(row)

        return log, f.close, lambda: {"summary": mm.as_dict(), "encoder": "json (orjson is not installed)"}
    f = open(os.path.join(tmp, "history.jsonl"), "wb")  # noqa: SIM115  closed by finish
    write, dumps, nl = f.write, orjson.dumps, orjson.OPT_APPEND_NEWLINE

    def log(row: dict) -> None:
        write(dumps(row, option=nl))
        mm.update(row)

    return log, f.close, lambda: {"summary": mm.as_dict(), "encoder": "orjson"}


def _tracker_core(tmp: str, lean: bool = False):
    import tracker_core as tc

    run = tc.init(project=PROJECT, config=CONFIG, system_metrics=False if lean else None)
    for k in MINMAX:
        run.define_metric(k, summary="min,max")
    return run.log, run.finish, lambda: {"run_path": run.path, "store": os.environ["TRACKER_STORE"]}


def _wandb(tmp: str, lean: bool = False):
    import wandb

    settings = None
    if lean:
        settings = wandb.Settings(x_disable_stats=True, x_disable_meta=True, x_disable_machine_info=True,
                                  disable_code=True, disable_git=True, save_code=False)
    run = wandb.init(project=PROJECT, config=CONFIG, settings=settings)
    for k in MINMAX:
        run.define_metric(k, summary="min,max")
    return run.log, run.finish, lambda: {"run_dir": run.dir}


def _trackio(tmp: str):
    import trackio

    run = trackio.init(project=PROJECT, config=CONFIG)
    return run.log, trackio.finish, lambda: {}


def _tensorboardx(tmp: str):
    from tensorboardX import SummaryWriter

    w = SummaryWriter(logdir=os.path.join(tmp, "tb"))
    counter = itertools.count()
    add = w.add_scalar

    def log(row: dict) -> None:
        step = next(counter)
        for k, v in row.items():
            add(k, v, step)

    return log, w.close, lambda: {}


def _mlflow(tmp: str):
    import mlflow

    mlflow.set_experiment(PROJECT)
    mlflow.start_run()
    mlflow.log_params(CONFIG)
    counter = itertools.count()
    log_metrics = mlflow.log_metrics

    def log(row: dict) -> None:
        log_metrics(row, step=next(counter))

    return log, mlflow.end_run, lambda: {}


SETUP = {
    "floor-dict": _floor_dict, "floor-jsonl": _floor_jsonl,
    "tracker-core": _tracker_core, "tracker-core-lean": lambda tmp: _tracker_core(tmp, lean=True),
    "trackio": _trackio, "wandb": _wandb, "wandb-lean": lambda tmp: _wandb(tmp, lean=True),
    "tensorboardX": _tensorboardx, "mlflow": _mlflow,
}


def worker(tracker: str, steps: int, tmp: str, profile: str | None = None) -> dict:
    from harness import cpu_snapshot, peak_rss_mb

    t0 = time.perf_counter()
    log, finish, info = SETUP[tracker](tmp)
    init_s = time.perf_counter() - t0
    spec = SPEC
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    c0 = cpu_snapshot()
    t0 = time.perf_counter()
    for i in range(steps):
        log({k: ((i * a + b) % 997) / 997.0 for k, a, b in spec})
    t1 = time.perf_counter()
    finish()
    t2 = time.perf_counter()
    teardown_s = None
    if tracker.startswith("wandb"):
        import wandb

        wandb.teardown()  # stops wandb-core; what the interpreter's exit does otherwise
        teardown_s = time.perf_counter() - t2
    c1 = cpu_snapshot()
    if prof is not None:
        prof.disable()
        prof.dump_stats(profile)
    rss = peak_rss_mb()
    return {"tracker": tracker, "steps": steps, "init_s": init_s, "log_us": (t1 - t0) / steps * 1e6,
            "finish_s": t2 - t1, "teardown_s": teardown_s, "cpu_us_per_step": (c1 - c0) / steps * 1e6,
            "loop_cpu_s": c1 - c0, "peak_rss_mb": rss["self"] + rss["children"], "rss_mb": rss, **info()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracker", required=True, choices=sorted(SETUP))
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--dir", required=True, help="scratch directory for this run")
    ap.add_argument("--profile", help="write a cProfile of the loop and finish() here")
    args = ap.parse_args()
    t0 = time.perf_counter()
    from harness import emit

    result = worker(args.tracker, args.steps, args.dir, args.profile)
    result["worker_wall_s"] = time.perf_counter() - t0
    emit(result)


if __name__ == "__main__":
    main()


# -- driver (called by run.py) ----------------------------------------------------------------

def run(reps: int, steps: dict, workdir: str, log=print) -> dict:
    """``reps`` repetitions of every installed tracker, one subprocess each, order rotated."""
    import shutil
    import tempfile

    from harness import WorkerError, installed, isolated_env, rotated, run_worker, summarize

    results: dict = {"trackers": {}, "steps": steps, "metrics": [k for k, _, _ in SPEC], "minmax": list(MINMAX)}
    names = [n for n, (mod, _) in TRACKERS.items() if mod is None or installed(mod)]
    for n, (mod, _) in TRACKERS.items():
        if n not in names:
            results["trackers"][n] = {"status": "not installed", "description": DESCRIPTION[n]}
    raw: dict = {n: [] for n in names}
    errors: dict = {}
    for rep in range(reps):
        for n in rotated(names, rep):
            if n in errors:
                continue
            tmp = tempfile.mkdtemp(prefix=f"hot-{n}-", dir=workdir)
            try:
                r = run_worker("hot_path.py", ["--tracker", n, "--steps", str(steps[n]), "--dir", tmp],
                               isolated_env(tmp), timeout=600)
            except WorkerError as exc:
                errors[n] = str(exc)
                log(f"  hot path {n}: ERROR {str(exc)[-300:]}")
                continue
            raw[n].append(r)
            log(f"  hot path rep {rep + 1}/{reps} {n:18s} {r['log_us']:9.2f} us/call  "
                f"cpu {r['cpu_us_per_step']:9.2f} us/step  finish {r['finish_s'] * 1e3:8.1f} ms")
            if not n.startswith("tracker-core"):  # keep tracker-core's stores: the smoke test reads them back
                shutil.rmtree(tmp, ignore_errors=True)
    # Cross-check of the in-process CPU figure: one run of each tracker with a single step;
    # (median tree CPU of the timed runs - that) / (steps - 1) is the per-step CPU by difference.
    baseline: dict = {}
    for n in names:
        if n in errors or not raw[n]:
            continue
        tmp = tempfile.mkdtemp(prefix=f"hot1-{n}-", dir=workdir)
        try:
            baseline[n] = run_worker("hot_path.py", ["--tracker", n, "--steps", "1", "--dir", tmp],
                                     isolated_env(tmp), timeout=600)["tree"]["tree_cpu_s"]
        except WorkerError as exc:
            log(f"  hot path {n} (1 step): ERROR {str(exc)[-300:]}")
        shutil.rmtree(tmp, ignore_errors=True)
    for n in names:
        if n in errors and not raw[n]:
            results["trackers"][n] = {"status": "error", "error": errors[n][-2000:], "description": DESCRIPTION[n]}
            continue
        rs = raw[n]
        entry = {"status": "ok", "description": DESCRIPTION[n], "steps": steps[n], "reps": len(rs)}
        for key in ("log_us", "finish_s", "cpu_us_per_step", "init_s", "peak_rss_mb"):
            entry[key] = summarize([r[key] for r in rs])
        entry["teardown_s"] = summarize([r["teardown_s"] for r in rs if r.get("teardown_s") is not None])
        entry["tree_cpu_s"] = summarize([r["tree"]["tree_cpu_s"] for r in rs])
        entry["tree_wall_s"] = summarize([r["tree"]["tree_wall_s"] for r in rs])
        if n in baseline and steps[n] > 1:
            entry["tree_cpu_1_step_s"] = baseline[n]
            entry["cpu_us_per_step_by_difference"] = \
                (entry["tree_cpu_s"]["median"] - baseline[n]) / (steps[n] - 1) * 1e6
        entry["rss_mb"] = rs[-1]["rss_mb"]
        for key in ("run_path", "store", "summary", "encoder"):
            if key in rs[-1]:
                entry[key] = rs[-1][key]
        if n in errors:
            entry["error"] = errors[n][-2000:]
        results["trackers"][n] = entry
    results["trackers"] = {n: results["trackers"][n] for n in TRACKERS}  # the table's order
    return results
