"""Workload 2: import time of each package.

``python -c "import X"`` against ``python -c pass``, every package once per repetition in
a rotating order (after one untimed warm-up of each, so the OS file cache is warm for
all); the figure is the median wall time minus the median of ``pass``. For tracker-core,
``-X importtime`` also gives the modules that cost the most (self time).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from harness import installed, rotated, summarize

PACKAGES = {  # name in the results -> module imported
    "tracker-core": "tracker_core",
    "wandb": "wandb",
    "mlflow": "mlflow",
    "trackio": "trackio",
    "tensorboardX": "tensorboardX",
    "floor-jsonl": "orjson",
}


def _time(code: str, env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def importtime_top(module: str, env: dict, n: int = 8) -> list[dict]:
    """The ``n`` modules with the largest self time under ``-X importtime``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], env=env,
                          capture_output=True, text=True, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = (p.strip() for p in line[len("import time:"):].split("|"))
        rows.append({"module": name.strip(), "self_ms": int(self_us) / 1e3, "cumulative_ms": int(cumulative_us) / 1e3})
    total = max((r["cumulative_ms"] for r in rows), default=0.0)  # the top-level import
    top = sorted(rows, key=lambda r: -r["self_ms"])[:n]
    return [{"total_ms": total}] + top


def run(reps: int, env: dict, log=print) -> dict:
    names = [n for n, m in PACKAGES.items() if installed(m)]
    skipped = {n: "not installed" for n, m in PACKAGES.items() if not installed(m)}
    codes = {"(python -c pass)": "pass", **{n: f"import {PACKAGES[n]}" for n in names}}
    for name, code in list(codes.items()):  # warm-up; a package that is there but fails to import is skipped
        try:
            _time(code, env)
        except subprocess.CalledProcessError:
            del codes[name]
            skipped[name] = "import fails"
    samples: dict[str, list[float]] = {k: [] for k in codes}
    for rep in range(reps):
        for name in rotated(list(codes), rep):
            samples[name].append(_time(codes[name], env))
    base = summarize(samples.pop("(python -c pass)"))
    results: dict = {"python_startup_s": base, "packages": {}, "skipped": skipped}
    for name, vals in samples.items():
        net = [v - base["median"] for v in vals]
        results["packages"][name] = {"module": PACKAGES[name], "import_s": summarize(net),
                                     "with_startup_s": summarize(vals)}
        log(f"  import {PACKAGES[name]:14s} {summarize(net)['median'] * 1e3:8.1f} ms")
    if installed("tracker_core"):
        results["tracker_core_importtime"] = importtime_top("tracker_core", env)
    return results


if __name__ == "__main__":
    import json

    from harness import isolated_env

    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 5, isolated_env(os.getcwd())), indent=1))
