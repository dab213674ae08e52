"""Workload 3: tensor summaries (statistics + the full tensor written to disk).

* tracker-core: ``run.summary[key] = tensor`` (stats dict of DESIGN.md section 4 + the
  blob, written synchronously) then ``run.flush()`` (the summary leaf into SQLite);
* floor: ``np.percentile(x, [10, 25, 50, 75, 90])`` + ``np.save`` of the array (for the
  bfloat16 torch tensor, ``t.float().numpy()`` first, as numpy has no bfloat16).

The peers have no equivalent (W&B keeps a 64-bin histogram of a summary array and no
tensor; MLflow, trackio and tensorboardX have no tensor summary), so only the floor is
compared. Each case is timed once per process, after a small warm-up case; peak memory
is the process's peak RSS during the operation (``/proc/self/clear_refs`` resets it just
before) above its RSS just before, i.e. what the operation allocated beyond the tensor.

    python benchmarks/tensors_bench.py --tracker tracker-core --dir /tmp/x --cases f32:1000000
"""

from __future__ import annotations

import argparse
import gc
import os
import time

QUANTILES = [10, 25, 50, 75, 90]
CASES = ("f32:1000000", "f32:10000000", "bf16:10000000")
SMOKE_CASES = ("f32:10000", "f32:100000", "bf16:100000")


def make(case: str):
    import numpy as np

    kind, n = case.split(":")
    n = int(n)
    if kind == "f32":
        x = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
        return x, x.nbytes
    import torch

    t = torch.randn(n, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
    return t, t.element_size() * t.numel()


def floor_op(tmp: str):
    import numpy as np

    def op(key: str, x) -> float:
        a = x if isinstance(x, np.ndarray) else x.float().numpy()
        q = np.percentile(a, QUANTILES)
        np.save(os.path.join(tmp, key + ".npy"), a)
        return float(q[2])

    return op, lambda: None


def tracker_core_op(tmp: str):
    import tracker_core as tc

    run = tc.init(project="bench-tensors", system_metrics=False)

    def op(key: str, x) -> float:
        run.summary[key] = x
        run.flush()
        return run.summary[key]["50%"]

    return op, run.finish


OPS = {"floor": floor_op, "tracker-core": tracker_core_op}


def worker(tracker: str, tmp: str, cases: list[str]) -> dict:
    from harness import peak_rss_bytes, reset_peak_rss

    op, finish = OPS[tracker](tmp)
    warm, _ = make("f32:1000")
    op("warmup", warm)
    if any(c.startswith("bf16") for c in cases):
        op("warmupbf16", make("bf16:1000")[0])
    out = {}
    for i, case in enumerate(cases):
        x, nbytes = make(case)
        gc.collect()
        before = reset_peak_rss()
        t0 = time.perf_counter()
        median = op(f"w{i}", x)
        seconds = time.perf_counter() - t0
        extra = max(0, peak_rss_bytes() - before)
        out[case] = {"s": seconds, "tensor_bytes": nbytes, "extra_peak_bytes": extra,
                     "peak_over_tensor": (nbytes + extra) / nbytes, "median_value": median}
        del x
        gc.collect()
    finish()
    return {"tracker": tracker, "cases": out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracker", required=True, choices=sorted(OPS))
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cases", nargs="+", default=list(CASES))
    args = ap.parse_args()
    from harness import emit

    emit(worker(args.tracker, args.dir, args.cases))


if __name__ == "__main__":
    main()


# -- driver (called by run.py) ----------------------------------------------------------------

def run(reps: int, cases: list[str], workdir: str, log=print) -> dict:
    import shutil
    import tempfile

    from harness import WorkerError, installed, isolated_env, rotated, run_worker, summarize

    results: dict = {"cases": list(cases), "trackers": {}}
    names = ["floor", "tracker-core"]
    if not installed("torch"):
        cases = [c for c in cases if not c.startswith("bf16")]
        results["cases"] = list(cases)
        results["note"] = "torch is not installed: the bfloat16 case is skipped"
    raw: dict = {n: [] for n in names}
    for rep in range(reps):
        for n in rotated(names, rep):
            tmp = tempfile.mkdtemp(prefix=f"tensors-{n}-", dir=workdir)
            try:
                r = run_worker("tensors_bench.py", ["--tracker", n, "--dir", tmp, "--cases", *cases],
                               isolated_env(tmp), timeout=300)
            except WorkerError as exc:
                results["trackers"][n] = {"status": "error", "error": str(exc)[-2000:]}
                log(f"  tensors {n}: ERROR {str(exc)[-300:]}")
                continue
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            raw[n].append(r)
            log(f"  tensors rep {rep + 1}/{reps} {n:13s} " + "  ".join(
                f"{c} {v['s'] * 1e3:.1f} ms {v['peak_over_tensor']:.2f}x" for c, v in r["cases"].items()))
    for n in names:
        if not raw[n]:
            continue
        per_case = {}
        for c in cases:
            vals = [r["cases"][c] for r in raw[n]]
            per_case[c] = {"s": summarize([v["s"] for v in vals]),
                           "peak_over_tensor": summarize([v["peak_over_tensor"] for v in vals]),
                           "extra_peak_bytes": summarize([v["extra_peak_bytes"] for v in vals]),
                           "tensor_bytes": vals[0]["tensor_bytes"], "median_value": vals[-1]["median_value"]}
        results["trackers"][n] = {"status": "ok", "reps": len(raw[n]), "cases": per_case}
    return results
