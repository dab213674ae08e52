"""tracker-core: local-first experiment tracking with W&B-style run summaries.

    import tracker_core as tc
    run = tc.init(project="mnist", config={"lr": 0.01})
    tc.define_metric("val/acc", summary="best", objective="maximize")
    tc.log({"loss": 0.3, "val/acc": 0.91})
    tc.finish()
    tc.Api().run(run.path).summary["val/acc"]   # {"best": 0.91}

Importing this package loads no ML framework (and not pandas); tensors from numpy,
torch, TensorFlow and JAX are recognised by their type when they arrive.
"""

from __future__ import annotations

from .api import Api, PublicRun, Runs
from .errors import NoActiveRunError, RunFinishedError, RunNotFoundError, TrackerError
from .run import Run
from .sdk import config, current_run, define_metric, finish, init, log, summary
from .store import RunExistsError

__version__ = "0.1.0"

__all__ = [
    "init", "log", "define_metric", "summary", "config", "finish", "current_run",
    "Api", "Run", "PublicRun", "Runs",
    "TrackerError", "NoActiveRunError", "RunFinishedError", "RunNotFoundError", "RunExistsError",
    "__version__",
]
