"""Run metadata: cheap ``collect()`` for init, ``collect_slow()`` for a background thread."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import types

import pytest

from tracker_core import metadata

from .conftest import PYTHON

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo, *args) -> str:
    out = subprocess.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV},
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A git repository with one commit on branch ``feature/x`` and a tracked file."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    git(path, "symbolic-ref", "HEAD", "refs/heads/feature/x")
    (path / "train.py").write_text("print('hi')\n")
    git(path, "add", "train.py")
    git(path, "commit", "-q", "-m", "first")
    return path


# --- collect() ---------------------------------------------------------------------------

def test_collect_has_the_cheap_fields():
    meta = metadata.collect()
    assert meta["pid"] == os.getpid()
    assert meta["cwd"] == os.getcwd()
    assert meta["python"] == ".".join(map(str, sys.version_info[:3]))
    assert meta["executable"] == meta["python_executable"] == sys.executable
    assert meta["cpu_count"] == os.cpu_count()
    assert meta["args"] == sys.argv


def test_os_matches_platform_platform():
    assert metadata.collect()["os"] == platform.platform()


def test_collect_starts_no_subprocess(child_env):
    # In a fresh interpreter: platform.platform() would run `uname -p` on its first call.
    code = ("import subprocess, time\n"
            "def forbidden(*a, **k): raise AssertionError(f'subprocess {a!r}')\n"
            "subprocess.Popen = forbidden\n"
            "from tracker_core import metadata\n"
            "t = time.perf_counter(); meta = metadata.collect(); ms = (time.perf_counter() - t) * 1e3\n"
            "print(meta['os'], ms)")
    out = subprocess.run([PYTHON, "-c", code], env=child_env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    os_text, ms = out.stdout.split()
    assert os_text == platform.platform()
    assert float(ms) < 50  # ~0.2 ms in practice; generous for loaded CI machines


@needs_git
def test_collect_reads_commit_and_branch_in_a_repo(repo, monkeypatch):
    monkeypatch.chdir(repo)
    assert metadata.collect()["git"] == {"commit": git(repo, "rev-parse", "HEAD"), "branch": "feature/x"}


# --- collect_slow(): git -----------------------------------------------------------------

@needs_git
def test_slow_git_clean_then_dirty(repo, monkeypatch):
    monkeypatch.chdir(repo / ".")
    head = git(repo, "rev-parse", "HEAD")
    slow = metadata.collect_slow()
    assert slow["git"] == {"commit": head, "branch": "feature/x", "dirty": False, "remote": None}

    (repo / "notes.txt").write_text("untracked files do not make a checkout dirty\n")
    assert metadata.collect_slow()["git"]["dirty"] is False

    (repo / "train.py").write_text("print('changed')\n")
    slow = metadata.collect_slow()
    assert slow["git"]["dirty"] is True
    assert slow["git"]["commit"] == head

    git(repo, "commit", "-q", "-am", "second")
    slow = metadata.collect_slow()
    assert slow["git"]["dirty"] is False
    assert slow["git"]["commit"] == git(repo, "rev-parse", "HEAD") != head


@needs_git
def test_slow_git_from_a_subdirectory_and_merges_over_collect(repo, monkeypatch):
    sub = repo / "src" / "pkg"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    (repo / "train.py").write_text("edited\n")
    meta = metadata.collect()
    meta.update(metadata.collect_slow())
    assert meta["git"]["commit"] == git(repo, "rev-parse", "HEAD")
    assert meta["git"]["dirty"] is True
    assert meta["pid"] == os.getpid()  # the fast fields survive the merge


@needs_git
def test_remote_is_read_from_config_without_credentials(repo):
    git(repo, "remote", "add", "origin", "https://alice:ghp_SECRET@github.com/org/proj.git")
    git(repo, "remote", "add", "upstream", "git@github.com:other/proj.git")
    remote = metadata.collect_slow(str(repo))["git"]["remote"]
    assert remote == "https://github.com/org/proj.git"
    assert metadata.git_remote(str(repo), "upstream") == "git@github.com:other/proj.git"


@pytest.mark.parametrize("url, expected", [
    ("https://user:token@host.com/a/b.git", "https://host.com/a/b.git"),
    ("https://ghp_token@host.com:8443/a.git", "https://host.com:8443/a.git"),
    ("https://host.com/a.git", "https://host.com/a.git"),
    ("ssh://git@host.com/a.git", "ssh://git@host.com/a.git"),
    ("ssh://git:pw@host.com/a.git", "ssh://git@host.com/a.git"),
    ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
    ("/srv/repos/a.git", "/srv/repos/a.git"),
])
def test_strip_credentials(url, expected):
    assert metadata.strip_credentials(url) == expected


@needs_git
def test_dirty_is_none_when_git_is_missing(repo, monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert metadata.git_dirty(str(repo)) is None
    assert metadata.collect_slow(str(repo))["git"]["commit"] == metadata.git_info(str(repo))["commit"]


def test_outside_a_repository_git_is_none(tmp_path, monkeypatch):
    outside = tmp_path / "plain"
    outside.mkdir()
    if metadata._git_dir(str(outside)) is not None:
        pytest.skip("the temporary directory is itself inside a git repository")
    monkeypatch.chdir(outside)
    assert metadata.collect()["git"] is None
    assert metadata.collect_slow()["git"] is None
    assert metadata.git_dirty() is None
    assert metadata.git_remote() is None


# --- collect_slow(): libraries and hardware ------------------------------------------------

def test_libraries_report_exact_installed_versions():
    libs = metadata.collect_slow()["libraries"]
    assert libs["numpy"] == importlib.metadata.version("numpy")
    assert libs["tracker-core"] == importlib.metadata.version("tracker-core")
    for name, version in libs.items():
        assert name in metadata.LIBRARIES
        assert version == importlib.metadata.version(name)
    assert "surely-not-installed-pkg" not in metadata.library_versions(["numpy", "surely-not-installed-pkg"])


def test_collect_slow_imports_no_framework(child_env):
    heavy = ("torch", "tensorflow", "keras", "transformers", "lightning", "pytorch_lightning",
             "pandas", "jax", "sklearn")
    code = ("import sys, json; from tracker_core import metadata\n"
            "libs = metadata.collect_slow()['libraries']\n"
            f"print(json.dumps([libs, [m for m in {heavy!r} if m in sys.modules]]))")
    out = subprocess.run([PYTHON, "-c", code], env=child_env, capture_output=True, text=True, check=True)
    libs, loaded = json.loads(out.stdout)
    assert loaded == []
    for name in ("torch", "pandas", "jax"):  # reported when installed, yet not imported
        try:
            expected = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            assert name not in libs
        else:
            assert libs[name] == expected


def test_hardware_fields():
    slow = metadata.collect_slow()
    assert slow["cpu_count"] == os.cpu_count()
    assert slow["executable"] == sys.executable
    assert isinstance(slow["memory_total_bytes"], int) and slow["memory_total_bytes"] > 2 ** 26
    assert isinstance(slow["gpu"], list)
    try:
        import psutil
    except ImportError:
        return
    assert slow["memory_total_bytes"] == pytest.approx(psutil.virtual_memory().total, rel=0.05)


def _fake_pynvml(names=("NVIDIA H200", b"NVIDIA A100"), fail_init=False):
    nv = types.ModuleType("pynvml")
    nv.calls = []

    def init():
        if fail_init:
            raise RuntimeError("NVML Shared Library Not Found")
        nv.calls.append("init")

    nv.nvmlInit = init
    nv.nvmlShutdown = lambda: nv.calls.append("shutdown")
    nv.nvmlDeviceGetCount = lambda: len(names)
    nv.nvmlDeviceGetHandleByIndex = lambda i: i
    nv.nvmlDeviceGetName = lambda h: names[h]
    nv.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(total=(h + 1) * 2 ** 30, used=2 ** 20)
    return nv


def test_gpu_list_from_pynvml(monkeypatch):
    fake = _fake_pynvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setattr(metadata, "_FACTS", None)  # process facts are cached after the first run
    assert metadata.collect_slow()["gpu"] == [
        {"index": 0, "name": "NVIDIA H200", "memory_total_bytes": 2 ** 30},
        {"index": 1, "name": "NVIDIA A100", "memory_total_bytes": 2 ** 31},
    ]
    assert fake.calls == ["init", "shutdown"]


def test_gpu_list_empty_without_pynvml_or_driver(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    assert metadata.gpu_info() == []
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(fail_init=True))
    assert metadata.gpu_info() == []


def test_library_versions_agree_with_importlib_metadata_for_every_installed_distribution():
    """The directory-name scan gives what importlib.metadata.version gives, for every
    distribution installed here (first on sys.path wins in both), names in any spelling."""
    names = sorted({d.metadata["Name"] for d in importlib.metadata.distributions() if d.metadata["Name"]})
    assert len(names) > 20
    expected = {}
    for name in names:
        try:
            expected[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - broken metadata
            continue
    assert metadata.library_versions(names) == expected
    odd = ["Scikit_Learn", "PyYAML", "typing-extensions", "typing_extensions"]
    got = metadata.library_versions(odd)
    for name in odd:
        try:
            want = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            assert name not in got
        else:
            assert got[name] == want
