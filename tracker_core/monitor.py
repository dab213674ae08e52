"""Side work of a live run, off the training thread: system samples and slow metadata.

``init()`` records the cheap metadata at once (host, Python, command line, git commit);
the parts that need a subprocess or a package scan (git dirty flag, library versions,
memory, GPUs) are collected here in a background thread, and a :class:`SystemSampler`
samples CPU/RAM/GPU every ``TRACKER_SYSTEM_METRICS_INTERVAL`` seconds (15 by default;
``TRACKER_SYSTEM_METRICS=0`` or ``init(system_metrics=False)`` turns it off). The run's
writer picks both up at its next flush.
"""

from __future__ import annotations

import threading
import time
import warnings

from . import metadata, system_metrics


class RunMonitor:
    def __init__(self, base_metadata: dict, system_metrics_setting: bool | None) -> None:
        self._lock = threading.Lock()
        self._samples: list[tuple[float, dict]] = []
        self._sampled = False
        self._metadata: dict | None = None
        self._meta_thread = threading.Thread(target=self._collect, args=(dict(base_metadata),),
                                             name="tracker-core-metadata", daemon=True)
        self._meta_thread.start()
        self._sampler = None
        if system_metrics.enabled(system_metrics_setting):
            # children=False: scanning every process for children costs ~1-3 ms a sample here;
            # the system-wide cpu_percent already counts DataLoader workers.
            self._sampler = system_metrics.SystemSampler(self._on_sample, system_metrics.interval_from_env(),
                                                         include_children=False)
            self._sampler.start()

    def _collect(self, base: dict) -> None:
        try:
            merged = {**base, **metadata.collect_slow()}
        except Exception as exc:  # metadata is best effort; never disturb the run
            warnings.warn(f"tracker_core: could not collect run metadata: {exc!r}", RuntimeWarning, stacklevel=1)
            return
        with self._lock:
            self._metadata = merged

    def _on_sample(self, ts: float, sample: dict) -> None:
        with self._lock:
            self._samples.append((ts, sample))
            self._sampled = True

    def take(self) -> tuple[list[tuple[float, dict]], dict | None]:
        """Samples and completed metadata gathered since the last call."""
        with self._lock:
            samples, self._samples = self._samples, []
            meta, self._metadata = self._metadata, None
        return samples, meta

    def close(self) -> None:
        """Stop sampling (a run too short for a sample gets one now) and wait for metadata."""
        if self._sampler is not None:
            self._sampler.stop()
            if not self._sampled:
                try:
                    self._on_sample(time.time(), self._sampler.sample())
                except Exception as exc:
                    warnings.warn(f"tracker_core: system sample failed: {exc!r}", RuntimeWarning, stacklevel=1)
        self._meta_thread.join(timeout=metadata.GIT_STATUS_TIMEOUT + 1)
