"""Exceptions of tracker_core's public API."""

from __future__ import annotations


class TrackerError(RuntimeError):
    """Base class of tracker_core's own errors (bad arguments raise TypeError/ValueError)."""


class NoActiveRunError(TrackerError):
    """A module-level call (``tracker_core.log`` ...) was made before ``tracker_core.init()``."""


class RunFinishedError(TrackerError):
    """A write to a run after ``finish()``; edit finished runs through ``Api().run(path)``."""


class RunNotFoundError(TrackerError, LookupError):
    """``Api().run(path)`` or ``init(resume="must")`` named a run that is not in the store."""
