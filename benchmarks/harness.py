"""Shared machinery of the benchmark suite: subprocesses, process-tree CPU, statistics.

Every measurement runs in its own Python subprocess, started through this module's
launcher (``python harness.py launch -- CMD...``). The launcher makes itself the Linux
*child subreaper* (``PR_SET_CHILD_SUBREAPER``), so every process the measured command
starts (W&B's ``wandb-core`` and ``wandb-symon``, a tensorboard writer, ...) is reaped
either by its parent or, if it outlives it, by the launcher; the launcher adds up the
``wait4`` resource usage of everything it reaps. The total CPU of the whole process tree
is therefore exact, whatever the peer does in other processes.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PR_SET_CHILD_SUBREAPER = 36


# -- the launcher -------------------------------------------------------------------------

def _launch(report_path: str, timeout: float, cmd: list[str]) -> int:
    """Run ``cmd`` as a child subreaper; write the tree's resource usage to ``report_path``."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux: only what the worker reaps itself counts
        subreaper = False
    t0 = time.perf_counter()
    child = os.posix_spawn(cmd[0], cmd, os.environ)
    deadline, grace = time.monotonic() + timeout, float("inf")
    user = system = 0.0
    peaks: list[int] = []  # ru_maxrss (KiB): the worker (max over what it reaped), then each orphan
    rc = wall = None
    while True:
        try:
            pid, status, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break  # everything reaped
        if pid == 0:
            now = time.monotonic()
            if rc is None and now > deadline:  # the worker ran too long: stop it and its tree
                rc, grace = 124, now
                _kill(child)
            if now >= grace:  # orphans left behind (a daemon a peer did not stop)
                for p in _orphans():
                    _kill(p)
            time.sleep(0.005)
            continue
        user += ru.ru_utime
        system += ru.ru_stime
        peaks.append(ru.ru_maxrss)
        if pid == child:
            wall = time.perf_counter() - t0
            if rc is None:
                rc = os.waitstatus_to_exitcode(status)
            grace = min(grace, time.monotonic() + 10)
    with open(report_path, "w") as f:
        json.dump({"rc": rc, "tree_cpu_s": user + system, "tree_user_s": user, "tree_sys_s": system,
                   "tree_wall_s": wall, "subreaper": subreaper, "reaped_peak_rss_kib": peaks}, f)
    return 0


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _orphans() -> list[int]:
    """Live children of this process (the orphans reparented to the subreaper)."""
    me = str(os.getpid())
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me and fields[0] != "Z":
                out.append(int(pid))
    return out


# -- running a measured worker ------------------------------------------------------------

class WorkerError(RuntimeError):
    pass


def run_worker(script: str, args: list[str], env: dict, timeout: float = 600) -> dict:
    """Run ``python benchmarks/<script> ARGS`` under the launcher; return the worker's JSON
    result (its last stdout line starting with ``{``) plus ``tree``: the process tree's
    resource usage."""
    import tempfile

    cmd = [sys.executable, os.path.join(HERE, script), *args]
    fd, report = tempfile.mkstemp(prefix="bench-tree-", suffix=".json")
    os.close(fd)
    launcher = [sys.executable, os.path.join(HERE, "harness.py"), "launch", report, str(timeout), "--", *cmd]
    try:
        proc = subprocess.run(launcher, env=env, capture_output=True, timeout=timeout + 60)
        with open(report) as f:
            text = f.read().strip()
    finally:
        os.unlink(report)
    tree = json.loads(text) if text else {"rc": proc.returncode}
    lines = [ln for ln in proc.stdout.decode(errors="replace").splitlines() if ln.startswith("{")]
    if tree.get("rc") != 0 or not lines:
        raise WorkerError(f"{script} {' '.join(args)} failed (rc={tree.get('rc')}): "
                          f"{proc.stderr.decode(errors='replace')[-2000:]}")
    result = json.loads(lines[-1])
    result["tree"] = {k: v for k, v in tree.items() if k != "rc"}
    return result


def emit(result: dict) -> None:
    """A worker's last word: one JSON line on stdout."""
    sys.stdout.flush()
    print(json.dumps(result), flush=True)


# -- inside a worker ----------------------------------------------------------------------

def cpu_snapshot() -> float:
    """CPU seconds of this process (all threads) + its live descendants + the reaped ones.

    The difference of two snapshots is the CPU the whole tree used in between: a child
    alive at the first and reaped before the second is counted once (by psutil, then in
    RUSAGE_CHILDREN, which includes all of it)."""
    import psutil

    me = resource.getrusage(resource.RUSAGE_SELF)
    dead = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = me.ru_utime + me.ru_stime + dead.ru_utime + dead.ru_stime
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def peak_rss_mb() -> dict:
    """Peak RSS of this process and of the largest reaped child, MiB."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self": me, "children": kids}


def reset_peak_rss() -> int:
    """Reset this process's peak RSS (VmHWM) to its current RSS; return it in bytes.

    Where the kernel refuses (not Linux >= 4.0, or /proc read-only), the peak is not reset
    and the growth measured after is a lower bound."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return _status_kib("VmHWM") * 1024
    return _status_kib("VmRSS") * 1024


def peak_rss_bytes() -> int:
    return _status_kib("VmHWM") * 1024


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+)", f.read(), re.M).group(1))


# -- environment and statistics -----------------------------------------------------------

def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    try:
        return v(dist)
    except PackageNotFoundError:
        return None


def isolated_env(tmp: str, extra: dict | None = None) -> dict:
    """An environment whose every tracker writes under ``tmp``, offline, quietly."""
    env = dict(os.environ)
    # Bytecode caches as after any first import: without them every lazy import of an
    # editable install (tracker-core) is compiled from source again, while the peers'
    # site-packages came precompiled by pip. run.py byte-compiles the checkout first.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for var in list(env):  # a developer's own tracker settings must not leak in
        if var.startswith(("TRACKER_", "WANDB_", "MLFLOW_", "TRACKIO_")):
            del env[var]
    env.update({
        "TRACKER_STORE": os.path.join(tmp, "tracker_store"),
        "WANDB_MODE": "offline", "WANDB_DIR": tmp, "WANDB_SILENT": "true", "WANDB_CONSOLE": "off",
        "WANDB_CACHE_DIR": os.path.join(tmp, "wandb_cache"), "WANDB_CONFIG_DIR": os.path.join(tmp, "wandb_cfg"),
        "WANDB_DATA_DIR": os.path.join(tmp, "wandb_data"),
        "MLFLOW_TRACKING_URI": "sqlite:///" + os.path.join(tmp, "mlflow.db"),
        "MLFLOW_ARTIFACT_ROOT": os.path.join(tmp, "mlartifacts"),
        "HF_HOME": os.path.join(tmp, "hf_home"), "TRACKIO_DIR": os.path.join(tmp, "trackio"),
        "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1",
        "GRADIO_ANALYTICS_ENABLED": "False", "DISABLE_MLFLOW_INTEGRATION": "TRUE",
        "TOKENIZERS_PARALLELISM": "false", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    })
    env["PYTHONPATH"] = os.pathsep.join(p for p in (HERE, env.get("PYTHONPATH")) if p)
    if extra:
        env.update(extra)
    return env


def rotated(items: list, rep: int) -> list:
    """The order of repetition ``rep``: rotated by one each time, reversed every other."""
    k = rep % len(items) if items else 0
    order = items[k:] + items[:k]
    return order[::-1] if rep % 2 else order


def summarize(values: list[float]) -> dict:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


if __name__ == "__main__":
    if len(sys.argv) > 5 and sys.argv[1] == "launch" and sys.argv[4] == "--":
        sys.exit(_launch(sys.argv[2], float(sys.argv[3]), sys.argv[5:]))
    sys.exit("usage: harness.py launch REPORT.json TIMEOUT -- CMD...")
