"""The benchmark suite at smoke size (``benchmarks/run.py --smoke``), so that it cannot rot.

It asserts the shape of the results and that tracker-core really logged what it was
timed logging; nothing about speed. Peers (W&B, MLflow, trackio, tensorboardX) are not
installed in the test environment and must be reported as "not installed".
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import tracker_core as tc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_MODULES = {"trackio": "trackio", "wandb": "wandb", "wandb-lean": "wandb", "tensorboardX": "tensorboardX",
                "mlflow": "mlflow"}


def _med(entry: dict, key: str) -> float:
    return entry[key]["median"]


def test_benchmark_suite_smoke(tmp_path):
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--smoke", "--out", str(out),
                           "--workdir", str(tmp_path / "work")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "## Hot path" in proc.stdout and "## Targets" in proc.stdout
    assert (tmp_path / "results.md").read_text().startswith("## Hot path")

    results = json.loads(out.read_text())
    meta = results["meta"]
    assert meta["smoke"] is True and meta["reps"] >= 2
    assert meta["machine"]["nproc"] >= 1 and meta["versions"]["tracker-core"]
    workloads = results["workloads"]
    assert set(workloads) == {"hot_path", "imports", "tensors", "listing", "query_ui", "adapters"}
    for name, data in workloads.items():
        assert data.get("status", "ok") == "ok", (name, data)

    # hot path: both floors and tracker-core ran every repetition; peers ran or are "not installed"
    hot = workloads["hot_path"]["trackers"]
    for name in ("floor-dict", "floor-jsonl", "tracker-core", "tracker-core-lean"):
        assert hot[name]["status"] == "ok", (name, hot[name])
        assert hot[name]["reps"] == meta["reps"]
        assert 0 < hot[name]["log_us"]["min"] <= _med(hot[name], "log_us") <= hot[name]["log_us"]["max"]
        assert _med(hot[name], "cpu_us_per_step") > 0 and _med(hot[name], "tree_cpu_s") > 0
    for name, module in PEER_MODULES.items():
        expected = "ok" if importlib.util.find_spec(module) else "not installed"
        assert hot[name]["status"] == expected, (name, hot[name])

    # tracker-core's rows were really logged: read the last timed run back from its store
    entry = hot["tracker-core"]
    run = tc.Api(store=entry["store"]).run(entry["run_path"])
    assert run.state == "finished"
    assert run.summary["_step"] == entry["steps"] - 1
    floor = hot["floor-dict"]["summary"]  # the floors' running min/max over the same rows
    assert set(floor) == set(workloads["hot_path"]["minmax"])
    for key, minmax in floor.items():
        assert run.summary[key] == minmax, key
    assert set(workloads["hot_path"]["metrics"]) <= set(run.summary.keys())
    rows = list(run.scan_history(keys=["train/loss"]))
    assert len(rows) == entry["steps"]

    imports = workloads["imports"]["packages"]
    assert _med(imports["tracker-core"], "import_s") > 0

    tensors = workloads["tensors"]
    for name in ("floor", "tracker-core"):
        cases = tensors["trackers"][name]["cases"]
        assert set(cases) == set(tensors["cases"]) and tensors["cases"]
        for case in cases.values():
            assert _med(case, "s") > 0 and _med(case, "peak_over_tensor") >= 1
    # tracker-core's tensor median equals numpy's
    for case, value in tensors["trackers"]["tracker-core"]["cases"].items():
        assert abs(value["median_value"] - tensors["trackers"]["floor"]["cases"][case]["median_value"]) < 1e-6

    listing = workloads["listing"]
    for name in ("floor-sqlite", "floor-sqlite-kv", "tracker-core"):
        got = listing["trackers"][name]
        assert got["status"] == "ok" and got["rows"] == listing["runs"], (name, got)
        assert got["columns"] >= 20
    for name in ("trackio", "mlflow", "wandb"):
        module = PEER_MODULES[name]
        assert listing["trackers"][name]["status"] == ("ok" if importlib.util.find_spec(module) else "not installed")

    query = workloads["query_ui"]["query"]
    assert query["status"] == "ok", query
    assert query["result"]["all_rows"] == query["result"]["runs"]
    ui = workloads["query_ui"]["ui"]
    assert ui["status"] == "ok" or ui["status"].startswith("not installed"), ui
    for name, adapter in workloads["adapters"]["frameworks"].items():
        assert adapter["status"] in ("ok", "not installed"), (name, adapter)

    names = {t["target"] for t in results["targets"]}
    assert {"log() vs JSONL floor", "import tracker_core"} <= names
    assert all(isinstance(t["met"], bool) for t in results["targets"])
