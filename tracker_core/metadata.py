"""What a run records about where it ran: host, OS, Python, command line, git state, libraries.

Two collectors:

``collect()``
    Cheap on purpose (it runs inside ``init``, budget ~2 ms): no subprocess, no imports of
    third-party packages; git is read from ``.git`` files.
``collect_slow()``
    Meant for a background thread started after ``init``: runs ``git status`` (subprocess,
    5 s timeout), looks up library versions with :mod:`importlib.metadata` (without importing
    the libraries), and asks psutil / pynvml about memory and GPUs when they are available.
    Its keys are meant to be merged with a plain ``dict.update`` over ``collect()``'s: its
    ``"git"`` entry repeats ``commit`` / ``branch`` alongside ``dirty`` / ``remote``.

Nothing here raises for a missing tool or package: the corresponding value is ``None`` (or
the key/list is empty).
"""

from __future__ import annotations

import copy
import getpass
import os
import platform
import re
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

from .store.liveness import this_host

GIT_STATUS_TIMEOUT = 5.0  # seconds; a huge or network-mounted repo must not hang the thread

# Distribution names (as ``pip`` knows them) whose versions matter for reproducing an ML run.
LIBRARIES: tuple[str, ...] = (
    "tracker-core",
    "numpy", "scipy", "pandas", "polars", "pyarrow", "scikit-learn", "xgboost", "lightgbm", "catboost",
    "torch", "torchvision", "torchaudio", "triton", "lightning", "pytorch-lightning", "torchmetrics",
    "tensorflow", "tensorflow-cpu", "tf-keras", "keras",
    "jax", "jaxlib", "flax", "optax",
    "transformers", "accelerate", "datasets", "tokenizers", "peft", "trl", "diffusers", "timm",
    "deepspeed", "sentence-transformers", "safetensors", "huggingface-hub",
    "onnx", "onnxruntime",
)


# --- git, from files (cheap) -------------------------------------------------------------

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
        branch = ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else ref.rsplit("/", 1)[-1]
        for base in (gdir, _common_dir(gdir)):
            ref_file = os.path.join(base, ref)
            if os.path.isfile(ref_file):
                with open(ref_file, encoding="utf-8") as f:
                    return {"commit": f.read().strip(), "branch": branch}
        packed = os.path.join(_common_dir(gdir), "packed-refs")
        if os.path.isfile(packed):
            with open(packed, encoding="utf-8") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2 and parts[1] == ref:
                        return {"commit": parts[0], "branch": branch}
        return {"commit": None, "branch": branch}  # a branch with no commit yet
    except OSError:
        return None


def _common_dir(gdir: str) -> str:
    common = os.path.join(gdir, "commondir")
    if os.path.isfile(common):
        with open(common, encoding="utf-8") as f:
            return os.path.normpath(os.path.join(gdir, f.read().strip()))
    return gdir


_SECTION = re.compile(r'^\[\s*([^\s\]"]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]')


def git_remote(start: str | None = None, name: str = "origin") -> str | None:
    """URL of remote ``name`` from the repository's config file, credentials stripped; or None.

    Reads ``config`` in the (common) git directory with a small parser (git's format indents
    keys with tabs, which :mod:`configparser` would take as continuation lines).
    """
    try:
        gdir = _git_dir(start or os.getcwd())
        if gdir is None:
            return None
        with open(os.path.join(_common_dir(gdir), "config"), encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return None
    in_section = False
    for raw in lines:
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        match = _SECTION.match(line)
        if match:
            in_section = match.group(1).lower() == "remote" and match.group(2) == name
            continue
        if in_section and "=" in line:
            key, value = line.split("=", 1)
            if key.strip().lower() == "url":
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                return strip_credentials(value)
    return None


def strip_credentials(url: str) -> str:
    """``url`` without secrets: ``https://user:token@host/x`` -> ``https://host/x``.

    For http(s) and other schemes the whole user part goes (tokens are often put in the user
    slot); for ``ssh://`` only a password goes (``git@`` is a login name, not a secret).
    scp-like addresses (``git@github.com:org/repo.git``) carry no password and are kept.
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    if parts.scheme in ("ssh", "git+ssh", "ssh+git") and ":" not in userinfo:
        return url
    netloc = host
    if parts.scheme in ("ssh", "git+ssh", "ssh+git"):
        netloc = userinfo.split(":", 1)[0] + "@" + host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


# --- git, from a subprocess (slow) -------------------------------------------------------

def git_dirty(start: str | None = None, timeout: float = GIT_STATUS_TIMEOUT) -> bool | None:
    """Whether tracked files in the repository around ``start`` (cwd) have uncommitted changes.

    Runs ``git status --porcelain --untracked-files=no``. None when ``start`` is not in a git
    repository, git is missing, git fails (e.g. an unsafe ownership) or takes over ``timeout``.
    Untracked files do not count. ``GIT_OPTIONAL_LOCKS=0`` keeps git from taking the index
    lock, so a user's concurrent git command is never disturbed.
    """
    start = start or os.getcwd()
    try:
        if _git_dir(start) is None:
            return None
    except OSError:
        return None
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=start, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # git missing, cwd gone, timeout
        return None
    if result.returncode != 0:
        return None
    return bool(result.stdout.strip())


# --- libraries and hardware --------------------------------------------------------------

def _normalize(name: str) -> str:
    """PEP 503 normalisation (``Scikit_Learn`` -> ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_versions() -> dict[str, str | None]:
    """``{normalised distribution name: version}`` from the names of the ``*.dist-info``
    directories on ``sys.path`` (``torch-2.13.0.dist-info``): one directory listing per
    path entry, no metadata file read, no ``email`` parser imported (importlib.metadata
    costs ~20 ms of CPU for the ~40 libraries asked about). The first entry of a name wins,
    as for imports; an ``.egg-info`` directory (a develop install) has no version in its
    name: None, for :func:`library_versions` to ask importlib.metadata."""
    found: dict[str, str | None] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # not a directory (a zip), gone, unreadable
            continue
        for dirname in names:
            if dirname.endswith(".dist-info"):
                name, sep, version = dirname[: -len(".dist-info")].partition("-")
                if sep and version:
                    found.setdefault(_normalize(name), version)
            elif dirname.endswith(".egg-info"):
                found.setdefault(_normalize(dirname[: -len(".egg-info")].partition("-")[0]), None)
    return found


def library_versions(names: tuple[str, ...] | list[str] = LIBRARIES) -> dict[str, str]:
    """``{distribution name: version}`` for those of ``names`` that are installed.

    Reads the installed distributions' directory names (:func:`_installed_versions`),
    never imports the packages themselves (so torch, TensorFlow, ... stay unloaded); an
    ``.egg-info`` install is asked of :func:`importlib.metadata.version`, which also only
    reads metadata files.
    """
    installed = _installed_versions()
    found: dict[str, str] = {}
    for name in names:
        key = _normalize(name)
        if key not in installed:
            continue
        version = installed[key]
        if version is None:
            from importlib import metadata as importlib_metadata

            try:
                version = importlib_metadata.version(name)
            except Exception:  # PackageNotFoundError, or broken metadata
                continue
        if version:
            found[name] = version
    return found


def memory_total_bytes() -> int | None:
    """Physical memory of the machine in bytes: ``os.sysconf``, else psutil, else None."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        if total > 0:
            return int(total)
    except (AttributeError, ValueError, OSError):  # no sysconf on Windows
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:
        return None


def gpu_info() -> list[dict]:
    """``[{"index", "name", "memory_total_bytes"}, ...]`` from NVML; ``[]`` without pynvml or GPUs."""
    try:
        import pynvml
    except Exception:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver / no GPU
        return []
    gpus: list[dict] = []
    try:
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            if isinstance(name, bytes):  # older pynvml releases return bytes
                name = name.decode("utf-8", "replace")
            gpus.append({
                "index": index,
                "name": name,
                "memory_total_bytes": int(pynvml.nvmlDeviceGetMemoryInfo(handle).total),
            })
    except Exception:
        pass  # keep what was read before the failure
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass
    return gpus


# --- the collectors ----------------------------------------------------------------------

def os_string() -> str:
    """Same text as :func:`platform.platform`, e.g. ``Linux-6.1.0-x86_64-with-glibc2.36``.

    On Linux it is built from ``os.uname`` and ``os.confstr``: ``platform.platform()`` itself
    runs ``uname -p`` in a subprocess on its first call (~1.5 ms, a fork of a possibly big
    process), which ``collect()`` must not do.
    """
    if sys.platform.startswith("linux"):
        uname = os.uname()
        parts = [uname.sysname, uname.release, uname.machine]
        try:
            libc = os.confstr("CS_GNU_LIBC_VERSION") or ""  # "glibc 2.36"; absent on musl
        except (AttributeError, ValueError, OSError):
            libc = ""
        if libc:
            parts += ["with", libc.replace(" ", "", 1)]
        return "-".join(part.replace(" ", "_") for part in parts if part)
    return platform.platform()


def _user() -> str:
    """Who started the run (the OS user): W&B's ``run.user``, distinct from a team entity."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "user"


def collect() -> dict:
    """Cheap metadata for ``init`` (no subprocess, no third-party imports; well under 2 ms)."""
    return {
        "host": this_host(),
        "user": _user(),
        "os": os_string(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "executable": sys.executable,
        "args": list(sys.argv),
        "program": sys.argv[0] if sys.argv else None,
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "cpu_count": os.cpu_count(),
        "git": git_info(),
    }


def collect_slow(start: str | None = None) -> dict:
    """Metadata too slow for ``init``; run it in a background thread and merge with ``update``.

    Returns ``{"git": {"commit", "branch", "dirty", "remote"} or None, "libraries": {...},
    "cpu_count", "memory_total_bytes", "gpu": [...], "executable"}``. ``start`` (default: the
    cwd) is where the git repository is looked for. Never raises for a missing tool.
    """
    start = start or os.getcwd()
    git = git_info(start)
    if git is not None:
        git = {**git, "dirty": git_dirty(start), "remote": git_remote(start)}
    return {"git": git, **_process_facts()}


_FACTS: dict | None = None


def _process_facts() -> dict:
    """What cannot change while this process lives (installed libraries, memory, GPUs):
    collected once, so a script that starts many runs pays for it once."""
    global _FACTS
    if _FACTS is None:
        _FACTS = {
            "libraries": library_versions(),
            "cpu_count": os.cpu_count(),
            "memory_total_bytes": memory_total_bytes(),
            "gpu": gpu_info(),
            "executable": sys.executable,
        }
    return copy.deepcopy(_FACTS)
