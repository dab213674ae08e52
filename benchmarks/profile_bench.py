"""Sampling profiles (py-spy) of tracker-core's workloads, summarised for the report.

``py-spy record --format raw`` runs a worker script and samples every thread (the
background writer included) that is not idle or waiting; the summary is the share of samples per
function at the top of the stack (self time) and, for tracker_core's own functions, the
share of samples in which they appear anywhere (inclusive time). Samples spent importing
are counted apart. Where py-spy is not installed, the profile is reported as such.
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys

from harness import HERE

# leaves of a thread that waits (py-spy's idle detection does not always see these)
WAITING = ("Condition.wait ", "Event.wait ", "Thread.join ", "Thread._wait_for_tstate_lock ", "sleep ",
           "select ", "poll ")


def pyspy() -> str | None:
    local = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return local if os.path.exists(local) else shutil.which("py-spy")


def _name(frame: str) -> str:
    """``func (path/to/file.py:123)`` -> ``func (file.py)``."""
    func, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    parts = path.split("/")
    short = "/".join(parts[-2:]) if "tracker_core" in parts[-2:-1] else parts[-1]
    return f"{func} ({short})"


def summarise(raw_path: str, top: int = 12, focus: str = "tracker_core") -> dict:
    self_time: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    total = imports = 0
    with open(raw_path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            total += n
            frames = stack.split(";")
            if any(fr.startswith(("_find_and_load", "_call_with_frames_removed")) for fr in frames):
                imports += n
                continue
            if frames[-1].startswith(WAITING):
                total -= n
                continue
            self_time[_name(frames[-1])] += n
            for name in {_name(fr) for fr in frames if focus in fr}:
                inclusive[name] += n
    busy = max(total - imports, 1)
    return {
        "samples": total, "import_share": round(imports / max(total, 1), 3),
        "self_top": [{"function": k, "share": round(v / busy, 3)} for k, v in self_time.most_common(top)],
        "inclusive_top": [{"function": k, "share": round(v / busy, 3)} for k, v in inclusive.most_common(top)],
    }


def profile(script: str, args: list[str], env: dict, out_dir: str, rate: int = 1000) -> dict:
    exe = pyspy()
    if exe is None:
        return {"status": "py-spy not installed"}
    raw = os.path.join(out_dir, f"pyspy-{script.replace('.py', '')}-{len(os.listdir(out_dir))}.txt")
    cmd = [exe, "record", "--format", "raw", "-r", str(rate), "-o", raw, "--", sys.executable,
           os.path.join(HERE, script), *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or not os.path.exists(raw):
        return {"status": f"py-spy failed (rc={proc.returncode}): {proc.stderr[-500:]}"}
    return {"status": "ok", "command": " ".join([script, *args]), **summarise(raw)}


def render(name: str, prof: dict, n: int = 8) -> str:
    if prof.get("status") != "ok":
        return f"{name}: {prof.get('status')}"
    lines = [f"{name}: {prof['samples']} samples, {prof['import_share'] * 100:.0f}% in imports; "
             "of the rest, top of stack:"]
    lines += [f"    {e['share'] * 100:5.1f}%  {e['function']}" for e in prof["self_top"][:n]]
    lines.append("  tracker_core functions, inclusive:")
    lines += [f"    {e['share'] * 100:5.1f}%  {e['function']}" for e in prof["inclusive_top"][:n]]
    return "\n".join(lines)
