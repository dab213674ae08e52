"""``TRACKER_MODE=disabled``: a run whose every call is a no-op that never fails."""

from __future__ import annotations

from typing import Any


class _AttrDict(dict):
    """A plain dict with attribute access that accepts anything and stores it in memory."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        try:
            super().update(*args, **kwargs)
        except Exception:
            pass


class DisabledRun:
    """Stands in for :class:`tracker_core.Run` when tracking is disabled."""

    id = entity = "disabled"
    resumed = False
    finished = False

    def __init__(self, project: Any = None, name: Any = None, config: Any = None) -> None:
        self.project = project if isinstance(project, str) else "disabled"
        self.name = name if isinstance(name, str) else "disabled"
        self.summary = _AttrDict()
        self.config = _AttrDict()
        if isinstance(config, dict):
            self.config.update(config)

    path = property(lambda self: f"disabled/{self.project}/disabled")

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass

    def define_metric(self, *args: Any, **kwargs: Any) -> None:
        pass

    def finish(self, *args: Any, **kwargs: Any) -> None:
        self.finished = True
        from . import sdk

        sdk._forget(self)

    def __enter__(self) -> "DisabledRun":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()
