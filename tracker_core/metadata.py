"""What a run records about where it ran: host, OS, Python, command line, git state.

Cheap on purpose (it runs in ``init``): git is read from ``.git`` files, no subprocess.
"""

from __future__ import annotations

import os
import platform
import sys

from .store.liveness import this_host


def _git_dir(start: str) -> str | None:
    path = os.path.abspath(start)
    while True:
        candidate = os.path.join(path, ".git")
        if os.path.isdir(candidate):
            return candidate
        if os.path.isfile(candidate):  # a worktree or submodule: "gitdir: <path>"
            with open(candidate, encoding="utf-8") as f:
                text = f.read().strip()
            if text.startswith("gitdir:"):
                return os.path.join(path, text[len("gitdir:"):].strip())
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def git_info(start: str | None = None) -> dict | None:
    """``{"commit", "branch"}`` of the repository around ``start`` (cwd), or None."""
    try:
        gdir = _git_dir(start or os.getcwd())
        if gdir is None:
            return None
        with open(os.path.join(gdir, "HEAD"), encoding="utf-8") as f:
            head = f.read().strip()
        if not head.startswith("ref:"):
            return {"commit": head, "branch": None}
        ref = head[4:].strip()
        for base in (gdir, _common_dir(gdir)):
            ref_file = os.path.join(base, ref)
            if os.path.isfile(ref_file):
                with open(ref_file, encoding="utf-8") as f:
                    return {"commit": f.read().strip(), "branch": ref.rsplit("/", 1)[-1]}
        packed = os.path.join(_common_dir(gdir), "packed-refs")
        if os.path.isfile(packed):
            with open(packed, encoding="utf-8") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2 and parts[1] == ref:
                        return {"commit": parts[0], "branch": ref.rsplit("/", 1)[-1]}
        return {"commit": None, "branch": ref.rsplit("/", 1)[-1]}  # a branch with no commit yet
    except OSError:
        return None


def _common_dir(gdir: str) -> str:
    common = os.path.join(gdir, "commondir")
    if os.path.isfile(common):
        with open(common, encoding="utf-8") as f:
            return os.path.normpath(os.path.join(gdir, f.read().strip()))
    return gdir


def collect() -> dict:
    return {
        "host": this_host(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "args": list(sys.argv),
        "program": sys.argv[0] if sys.argv else None,
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "git": git_info(),
    }
