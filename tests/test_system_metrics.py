"""SystemSampler: real values, interval, quick stop, errors contained; env switches."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import types
import warnings

import pytest

from tracker_core import system_metrics
from tracker_core.system_metrics import SystemSampler, enabled, interval_from_env

from .conftest import PYTHON

try:
    import psutil
except ImportError:  # a declared dependency; without it only the GPU / settings tests run
    psutil = None
needs_psutil = pytest.mark.skipif(psutil is None, reason="psutil is not installed")
CPUS = os.cpu_count() or 1


class Recorder:
    """An ``on_sample`` that keeps every sample and can wait for the n-th one."""

    def __init__(self):
        self.samples: list[tuple[float, dict]] = []
        self.cond = threading.Condition()

    def __call__(self, ts, values):
        with self.cond:
            self.samples.append((ts, values))
            self.cond.notify_all()

    def wait_for(self, n, timeout=2.0):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.samples) >= n, timeout), \
                f"only {len(self.samples)} of {n} samples within {timeout}s"
        return self.samples


def sampler_threads():
    return [t for t in threading.enumerate() if t.name == "tracker-system-metrics"]


# --- values ------------------------------------------------------------------------------

@needs_psutil
def test_samples_have_plausible_values():
    rec = Recorder()
    before = time.time()
    sampler = SystemSampler(rec, interval=0.05).start()
    deadline = time.monotonic() + 30  # generous: a loaded 2-core CI machine; it ends at 4 samples
    while len(rec.samples) < 4 and time.monotonic() < deadline:
        sum(range(1000))  # keep this process busy: proc_cpu_percent must see it
    sampler.stop()
    samples = list(rec.samples)

    assert len(samples) >= 4
    assert before <= samples[0][0] <= time.time()
    for _, values in samples:
        assert 0 <= values["cpu_percent"] <= 100
        assert 0 <= values["proc_cpu_percent"] <= 100 * CPUS * 1.1
        assert 0 < values["memory_percent"] < 100
        assert values["proc_memory_rss_bytes"] > 2 ** 20
        assert 0 < values["disk_percent"] <= 100
        assert all(isinstance(v, (int, float)) for v in values.values())
    assert max(v["proc_cpu_percent"] for _, v in samples[1:]) > 10  # the busy loop shows up
    rss = psutil.Process().memory_info().rss
    assert samples[-1][1]["proc_memory_rss_bytes"] == pytest.approx(rss, rel=0.2)
    assert samples[-1][1]["disk_percent"] == pytest.approx(psutil.disk_usage(os.getcwd()).percent, abs=1)


@needs_psutil
def test_samples_follow_the_interval():
    rec = Recorder()
    start = time.monotonic()
    sampler = SystemSampler(rec, interval=0.05).start()
    time.sleep(0.3)
    deadline = time.monotonic() + 30  # a loaded machine may be slow to give the first samples
    while len(rec.samples) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    sampler.stop()
    elapsed = time.monotonic() - start
    stamps = [ts for ts, _ in rec.samples]
    assert 3 <= len(stamps) <= elapsed / 0.05 + 2, (len(stamps), elapsed)  # one per interval, never a burst
    assert stamps == sorted(stamps)
    assert min(b - a for a, b in zip(stamps, stamps[1:])) > 0.025  # spaced, not a burst


@needs_psutil
def test_first_sample_comes_right_after_start_without_blocking():
    rec = Recorder()
    t0 = time.monotonic()
    sampler = SystemSampler(rec, interval=60.0).start()
    started = time.monotonic() - t0
    rec.wait_for(1, timeout=1.5)
    first = time.monotonic() - t0
    sampler.stop()
    assert started < 0.05  # psutil import and priming happen in the thread
    assert first < 1.0  # not after the 60 s interval


@needs_psutil
def test_children_cpu_counts_towards_proc_cpu_percent():
    spin = "import time\nend = time.time() + 3\nwhile time.time() < end: pass"
    child = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(0.05)  # let it exist before the sampler primes
        child_proc = psutil.Process(child.pid)
        c0, w0 = sum(child_proc.cpu_times()[:2]), time.monotonic()
        rec = Recorder()
        sampler = SystemSampler(rec, interval=0.1, disk_path=None).start()
        samples = rec.wait_for(4)
        sampler.stop()
        child_share = (sum(child_proc.cpu_times()[:2]) - c0) / (time.monotonic() - w0) * 100
    finally:
        child.kill()
        child.wait()
    assert "disk_percent" not in samples[-1][1]
    assert child_share > 5  # the child spun (~100 % of a core on an idle machine)
    # the sampling process itself sleeps: what proc_cpu_percent shows is mostly the child
    assert max(v["proc_cpu_percent"] for _, v in samples) >= 0.5 * child_share


# --- lifecycle ---------------------------------------------------------------------------

@needs_psutil
def test_stop_returns_quickly_and_no_sample_after_stop():
    rec = Recorder()
    sampler = SystemSampler(rec, interval=30.0).start()
    rec.wait_for(1)
    t0 = time.monotonic()
    sampler.stop()
    assert time.monotonic() - t0 < 1.0
    assert not sampler.running and not sampler_threads()

    fast = Recorder()
    sampler = SystemSampler(fast, interval=0.02).start()
    fast.wait_for(2)
    sampler.stop()
    count = len(fast.samples)
    time.sleep(0.1)
    assert len(fast.samples) == count


@needs_psutil
def test_start_and_stop_are_idempotent_and_restartable():
    rec = Recorder()
    sampler = SystemSampler(rec, interval=0.05)
    sampler.stop()  # before start: nothing to do
    sampler.start()
    sampler.start()
    assert len(sampler_threads()) == 1
    rec.wait_for(1)
    sampler.stop()
    sampler.stop()
    n = len(rec.samples)
    with sampler:  # restart as a context manager
        rec.wait_for(n + 1)
    assert not sampler.running


@needs_psutil
def test_stop_from_inside_on_sample():
    box = {}

    def on_sample(ts, values):
        box["n"] = box.get("n", 0) + 1
        sampler.stop()

    sampler = SystemSampler(on_sample, interval=0.02).start()
    time.sleep(0.2)
    assert box["n"] == 1 and not sampler.running


def test_interval_must_be_positive():
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            SystemSampler(lambda ts, v: None, interval=bad)
    with pytest.raises(TypeError):
        SystemSampler("not callable")


# --- errors never propagate ----------------------------------------------------------------

@needs_psutil
def test_raising_on_sample_warns_once_and_keeps_sampling():
    calls = []

    def on_sample(ts, values):
        calls.append(ts)
        raise RuntimeError("store is gone")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampler = SystemSampler(on_sample, interval=0.02).start()
        deadline = time.monotonic() + 30  # ends as soon as 4 calls happened
        while len(calls) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        alive = sampler.running
        sampler.stop()
    assert len(calls) >= 4 and alive
    msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len([m for m in msgs if "store is gone" in m]) == 1


@needs_psutil
def test_failing_sample_warns_once_and_recovers(monkeypatch):
    rec = Recorder()
    sampler = SystemSampler(rec, interval=0.02)
    real = system_metrics._Probes.sample
    failures = []

    def flaky(self):
        if len(failures) < 3:
            failures.append(1)
            raise OSError("proc unreadable")
        return real(self)

    monkeypatch.setattr(system_metrics._Probes, "sample", flaky)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampler.start()
        rec.wait_for(2)
        sampler.stop()
    assert len(failures) == 3
    assert len([w for w in caught if "proc unreadable" in str(w.message)]) == 1
    assert rec.samples[-1][1]["proc_memory_rss_bytes"] > 0


# --- GPU via pynvml --------------------------------------------------------------------------

class FakeNVMLError(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value


def fake_pynvml(count=1, fail_init=False):
    nv = types.ModuleType("pynvml")
    nv.NVMLError = FakeNVMLError
    nv.NVML_ERROR_NOT_SUPPORTED = 3
    nv.NVML_TEMPERATURE_GPU = 0
    nv.calls = []

    def init():
        if fail_init:
            raise FakeNVMLError(9)
        nv.calls.append("init")

    def power(h):
        raise FakeNVMLError(3)  # this GPU cannot report power

    nv.nvmlInit = init
    nv.nvmlShutdown = lambda: nv.calls.append("shutdown")
    nv.nvmlDeviceGetCount = lambda: count
    nv.nvmlDeviceGetHandleByIndex = lambda i: i
    nv.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=40 + h, memory=5)
    nv.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=2 ** 30, total=2 ** 32, free=0)
    nv.nvmlDeviceGetTemperature = lambda h, sensor: 60 + h

    def counted_power(h):
        nv.calls.append("power")
        power(h)

    nv.nvmlDeviceGetPowerUsage = counted_power
    return nv


def test_gpu_keys_when_pynvml_works(monkeypatch):
    fake = fake_pynvml(count=2)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    rec = Recorder()
    sampler = SystemSampler(rec, interval=0.02).start()
    samples = rec.wait_for(3)
    sampler.stop()
    values = samples[-1][1]
    assert values["gpu.0.utilization"] == 40 and values["gpu.1.utilization"] == 41
    assert values["gpu.0.memory_used_bytes"] == 2 ** 30
    assert values["gpu.1.memory_percent"] == 25.0
    assert values["gpu.1.temperature_c"] == 61
    assert "gpu.0.power_watts" not in values
    assert fake.calls.count("power") == 2  # unsupported: asked once per GPU, then dropped
    assert fake.calls[0] == "init" and fake.calls[-1] == "shutdown"


@needs_psutil
@pytest.mark.parametrize("module", [None, "no-driver"])
def test_no_gpu_keys_without_pynvml_or_driver(monkeypatch, module):
    monkeypatch.setitem(sys.modules, "pynvml", None if module is None else fake_pynvml(fail_init=True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = SystemSampler(lambda ts, v: None).sample()
    assert not [k for k in values if k.startswith("gpu.")]
    assert values["proc_memory_rss_bytes"] > 0
    assert not caught  # silently


def test_without_psutil_only_gpu_keys_and_one_warning(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampler = SystemSampler(lambda ts, v: None)
        values = sampler.sample()
        sampler.sample()
    assert set(values) == {"gpu.0.utilization", "gpu.0.memory_used_bytes", "gpu.0.memory_percent",
                           "gpu.0.temperature_c"}
    assert len([w for w in caught if "psutil" in str(w.message)]) == 1


# --- settings ------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["0", "false", "FALSE", "Off", " off ", "no"])
def test_env_disables(monkeypatch, raw):
    monkeypatch.setenv("TRACKER_SYSTEM_METRICS", raw)
    assert enabled(None) is False
    assert enabled(True) is False  # the environment wins


@pytest.mark.parametrize("raw", [None, "1", "true", "on", ""])
def test_enabled_by_default_and_setting_false(monkeypatch, raw):
    if raw is None:
        monkeypatch.delenv("TRACKER_SYSTEM_METRICS", raising=False)
    else:
        monkeypatch.setenv("TRACKER_SYSTEM_METRICS", raw)
    assert enabled() is True and enabled(None) is True and enabled(True) is True
    assert enabled(False) is False


def test_interval_from_env(monkeypatch):
    monkeypatch.delenv("TRACKER_SYSTEM_METRICS_INTERVAL", raising=False)
    assert interval_from_env() == 15.0
    assert interval_from_env(default=2.5) == 2.5
    monkeypatch.setenv("TRACKER_SYSTEM_METRICS_INTERVAL", "0.5")
    assert interval_from_env() == 0.5
    for bad in ("fast", "0", "-3", "nan", "inf"):
        monkeypatch.setenv("TRACKER_SYSTEM_METRICS_INTERVAL", bad)
        with pytest.raises(ValueError, match=f"TRACKER_SYSTEM_METRICS_INTERVAL.*'{bad}'"):
            interval_from_env()


def test_import_loads_neither_psutil_nor_pynvml(child_env):
    code = ("import sys, tracker_core, tracker_core.system_metrics, tracker_core.metadata; "
            "print([m for m in ('psutil', 'pynvml', 'torch') if m in sys.modules])")
    out = subprocess.run([PYTHON, "-c", code], env=child_env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
