"""Low-cost background sampling of system metrics (CPU, memory, disk, NVIDIA GPUs).

    sampler = SystemSampler(lambda ts, values: print(ts, values), interval=15.0)
    sampler.start()        # returns at once; the first sample follows ~0.1 s later
    ...
    sampler.stop()         # wakes the thread and joins it

One sample is a flat dict::

    {"cpu_percent": 12.5,               # system-wide, 0..100
     "proc_cpu_percent": 97.0,          # this process + its live children, 0..100*cpu_count
     "memory_percent": 41.2,            # system-wide RAM in use, 0..100
     "proc_memory_rss_bytes": 123456789,
     "disk_percent": 63.0,              # filesystem holding ``disk_path``
     "gpu.0.utilization": 88.0,         # only when pynvml imports and finds GPUs
     "gpu.0.memory_used_bytes": 1234, "gpu.0.memory_percent": 1.5,
     "gpu.0.temperature_c": 61.0, "gpu.0.power_watts": 250.1}

psutil and pynvml are imported lazily, in the sampler thread, so importing this module (and
``tracker_core``) stays cheap. Without pynvml or without a GPU there are simply no ``gpu.*``
keys; without psutil only GPU keys are produced (with one warning). An exception while
sampling or inside ``on_sample`` never reaches the caller: it is reported once as a
``RuntimeWarning`` and sampling continues.

Environment: ``TRACKER_SYSTEM_METRICS=0|false|off|no`` disables sampling (see :func:`enabled`),
``TRACKER_SYSTEM_METRICS_INTERVAL`` sets the period in seconds (see :func:`interval_from_env`).
"""

from __future__ import annotations

import math
import os
import threading
import time
import warnings
from typing import Any, Callable

DEFAULT_INTERVAL = 15.0  # seconds between samples
FIRST_SAMPLE_AFTER = 0.1  # seconds: the CPU window of the first sample (psutil advises >= 0.1)
STOP_TIMEOUT = 2.0  # seconds stop() waits for an in-flight sample to finish
ENV_ENABLED = "TRACKER_SYSTEM_METRICS"
ENV_INTERVAL = "TRACKER_SYSTEM_METRICS_INTERVAL"
_OFF = frozenset({"0", "false", "off", "no"})

OnSample = Callable[[float, "dict[str, float]"], Any]


def enabled(setting: bool | None = None) -> bool:
    """Whether system metrics should be sampled.

    False when ``TRACKER_SYSTEM_METRICS`` is ``0``/``false``/``off``/``no`` (case-insensitive;
    the environment wins so a job can be silenced without code changes) or ``setting`` is
    False; True otherwise (the default).
    """
    raw = os.environ.get(ENV_ENABLED)
    if raw is not None and raw.strip().lower() in _OFF:
        return False
    return setting is not False


def interval_from_env(default: float = DEFAULT_INTERVAL) -> float:
    """Seconds between samples from ``TRACKER_SYSTEM_METRICS_INTERVAL``, else ``default``.

    Raises ValueError naming the bad value when it is not a finite number > 0.
    """
    raw = os.environ.get(ENV_INTERVAL)
    if raw is None or not raw.strip():
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{ENV_INTERVAL} must be a number of seconds, got {raw!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{ENV_INTERVAL} must be a finite number of seconds > 0, got {raw!r}")
    return value


class _Probes:
    """The psutil / NVML handles one sampler reads; set up and used in the sampler thread."""

    # (key suffix, function of (pynvml, handle) -> value); a field a GPU does not support
    # (NVML_ERROR_NOT_SUPPORTED) is dropped for that GPU instead of being asked every time.
    _GPU_FIELDS: tuple[tuple[str, Callable[[Any, Any], float]], ...] = (
        ("utilization", lambda nv, h: float(nv.nvmlDeviceGetUtilizationRates(h).gpu)),
        ("memory_used_bytes", lambda nv, h: int(nv.nvmlDeviceGetMemoryInfo(h).used)),
        ("memory_percent", lambda nv, h: _percent(nv.nvmlDeviceGetMemoryInfo(h))),
        ("temperature_c", lambda nv, h: float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))),
        ("power_watts", lambda nv, h: nv.nvmlDeviceGetPowerUsage(h) / 1000.0),
    )

    def __init__(self, disk_path: str | None, include_children: bool) -> None:
        self.disk_path = disk_path
        self.include_children = include_children
        self.psutil: Any = None
        self.proc: Any = None
        self.children: dict[int, Any] = {}
        self.nvml: Any = None
        self.gpus: list[tuple[int, Any, list[tuple[str, Callable[[Any, Any], float]]]]] = []
        self.gpu_error: Exception | None = None  # the last failed GPU read, for one warning
        self.ready = False

    def setup(self) -> list[str]:
        """Import psutil and pynvml and prime the CPU counters; returns problems to report.

        Called again (e.g. by a thread after ``SystemSampler.sample``), it starts over: psutil
        keeps one system CPU counter per thread, and NVML is shut down before re-init.
        """
        if self.ready:
            self.close()
        self.ready = True
        problems: list[str] = []
        try:
            import psutil
        except ImportError:
            problems.append("psutil is not installed: only GPU metrics are recorded "
                            "(pip install psutil)")
        else:
            self.psutil = psutil
            self.proc = psutil.Process()
            psutil.cpu_percent(interval=None)  # prime: the next call measures since now
            self.proc.cpu_percent(interval=None)
            if self.include_children:
                self._children_cpu_percent()  # prime the children seen so far
        self._setup_gpus()
        return problems

    def _setup_gpus(self) -> None:
        try:
            import pynvml
        except Exception:
            return
        try:
            pynvml.nvmlInit()
        except Exception:  # no driver, no GPU: silently no GPU keys
            return
        try:
            count = pynvml.nvmlDeviceGetCount()
            self.gpus = [(i, pynvml.nvmlDeviceGetHandleByIndex(i), list(self._GPU_FIELDS))
                         for i in range(count)]
        except Exception:
            self.gpus = []
        if self.gpus:
            self.nvml = pynvml
        else:
            _nvml_shutdown(pynvml)

    def close(self) -> None:
        if self.nvml is not None:
            _nvml_shutdown(self.nvml)
        self.nvml, self.gpus, self.children = None, [], {}
        self.ready = False

    def sample(self) -> dict[str, float]:
        values: dict[str, float] = {}
        psutil = self.psutil
        if psutil is not None:
            values["cpu_percent"] = float(psutil.cpu_percent(interval=None))
            with self.proc.oneshot():
                proc_cpu = self.proc.cpu_percent(interval=None)
                values["proc_memory_rss_bytes"] = int(self.proc.memory_info().rss)
            if self.include_children:
                proc_cpu += self._children_cpu_percent()
            values["proc_cpu_percent"] = float(proc_cpu)
            values["memory_percent"] = float(psutil.virtual_memory().percent)
            if self.disk_path is not None:
                try:
                    values["disk_percent"] = float(psutil.disk_usage(self.disk_path).percent)
                except OSError:  # the directory went away: skip the key, keep the rest
                    pass
        nvml = self.nvml
        not_supported = getattr(nvml, "NVML_ERROR_NOT_SUPPORTED", object())
        for index, handle, fields in self.gpus:
            for field in list(fields):
                key, read = field
                try:
                    values[f"gpu.{index}.{key}"] = read(nvml, handle)
                except Exception as exc:
                    if getattr(exc, "value", None) == not_supported:
                        fields.remove(field)  # this GPU cannot report it: stop asking
                    else:  # transient (or a lost GPU): skip the key this time, report once
                        self.gpu_error = exc
        return values

    def _children_cpu_percent(self) -> float:
        """Summed CPU percent of this process's live descendants (DataLoader workers, ...).

        A child seen for the first time contributes 0 (its counter is primed); psutil.Process
        objects are kept between samples so each one measures since the previous sample.
        """
        psutil = self.psutil
        try:
            current = self.proc.children(recursive=True)
        except psutil.Error:
            return 0.0
        total = 0.0
        seen: dict[int, Any] = {}
        for child in current:
            known = self.children.get(child.pid)
            if known is not None and known == child:  # same pid and creation time
                child = known
            try:
                total += child.cpu_percent(interval=None)
            except psutil.Error:  # exited or not ours to read
                continue
            seen[child.pid] = child
        self.children = seen
        return total


def _percent(memory: Any) -> float:
    return 100.0 * memory.used / memory.total if memory.total else 0.0


def _nvml_shutdown(pynvml: Any) -> None:
    try:
        pynvml.nvmlShutdown()
    except Exception:
        pass


class SystemSampler:
    """Calls ``on_sample(timestamp, values)`` every ``interval`` seconds from a daemon thread.

    ``timestamp`` is ``time.time()`` at the sample; ``values`` is described in the module
    docstring. The first sample comes ``min(0.1, interval)`` seconds after :meth:`start` (the
    window over which its CPU percentages are measured); later ones are spaced ``interval``
    seconds apart on a fixed schedule (a sample that falls behind, e.g. after a suspend, is
    skipped rather than caught up in a burst).

    ``disk_path``: a directory whose filesystem fills ``disk_percent`` (default: the cwd at
    construction); None leaves the key out. ``include_children``: add the CPU of live child
    processes (data-loader workers) to ``proc_cpu_percent``.

    Errors never propagate: a failing sample or ``on_sample`` is reported once per kind as a
    ``RuntimeWarning`` and the thread keeps going. After :meth:`stop` returns no further
    ``on_sample`` call starts.
    """

    def __init__(self, on_sample: OnSample, interval: float = DEFAULT_INTERVAL, *,
                 disk_path: str | os.PathLike | None = ".", include_children: bool = True) -> None:
        if not callable(on_sample):
            raise TypeError(f"on_sample must be callable, got {on_sample!r}")
        interval = float(interval)
        if not (interval > 0 and math.isfinite(interval)):
            raise ValueError(f"interval must be a finite number of seconds > 0, got {interval!r}")
        self.on_sample = on_sample
        self.interval = interval
        self._probes = _Probes(None if disk_path is None else os.path.abspath(disk_path),
                               include_children)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> SystemSampler:
        """Start the background thread (no-op when already running); returns immediately."""
        with self._lock:
            if self.running:
                if not self._stop.is_set() or self._thread is threading.current_thread():
                    return self
                self._thread.join()  # a stopped thread still finishing: never run two at once
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                            name="tracker-system-metrics", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop sampling: wake the thread and wait up to ``timeout`` s for it to finish.

        Returns as soon as the thread ends (immediately unless a sample is in flight). Safe to
        call twice, before ``start``, or from inside ``on_sample``.
        """
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> SystemSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sample(self) -> dict[str, float]:
        """Take one sample now, in the calling thread (for tests and cost measurement).

        Not to be used while the background thread runs: the two would share CPU counters.
        The first call imports psutil/pynvml and returns CPU percentages measured since then
        (0.0); later calls measure since the previous one.
        """
        if not self._probes.ready:
            self._report_problems(self._probes.setup())
        return self._probes.sample()

    # --- the thread --------------------------------------------------------------------

    def _run(self, stop: threading.Event) -> None:
        probes = self._probes
        try:
            try:
                self._report_problems(probes.setup())
            except Exception as exc:
                self._warn_once("setup", f"tracker_core: system metrics setup failed: {exc!r}")
            if probes.psutil is None and not probes.gpus:
                return  # nothing to measure
            next_due = time.monotonic() + min(FIRST_SAMPLE_AFTER, self.interval)
            while not stop.wait(max(0.0, next_due - time.monotonic())):
                self._tick(stop)
                next_due += self.interval
                now = time.monotonic()
                if next_due < now:  # fell behind: skip the missed samples, no burst
                    next_due = now + self.interval
        finally:
            probes.close()

    def _tick(self, stop: threading.Event) -> None:
        try:
            values = self._probes.sample()
        except Exception as exc:
            self._warn_once("sample", f"tracker_core: sampling system metrics failed "
                                      f"(will keep trying): {exc!r}")
            return
        if self._probes.gpu_error is not None:
            self._warn_once("gpu", f"tracker_core: reading a GPU metric failed "
                                   f"(will keep trying): {self._probes.gpu_error!r}")
            self._probes.gpu_error = None
        if not values or stop.is_set():
            return
        try:
            self.on_sample(time.time(), values)
        except Exception as exc:
            self._warn_once("callback", f"tracker_core: recording system metrics failed "
                                        f"(will keep trying): {exc!r}")

    def _report_problems(self, problems: list[str]) -> None:
        for problem in problems:
            self._warn_once(problem, f"tracker_core: {problem}")

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
