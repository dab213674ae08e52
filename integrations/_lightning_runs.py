"""Process-wide bookkeeping behind every ``TrackerLogger``: the rank, the run ids handed to
the scripts Lightning's ``ddp`` strategy starts again, and how a logger's run ends.

Module state, not logger state: a run outlives the logger that started it (a new logger
finishes the previous one's run, the exit hook finishes a failed one), and the id of the
n-th logger of a script must reach the n-th logger of its ``ddp`` copies.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from typing import Any, Optional

from ._common import process_rank

# Run ids handed from a launching process to the scripts Lightning's `ddp` strategy starts
# again for local ranks 1..n-1 (``_SubprocessScriptLauncher``: same script, LOCAL_RANK set,
# os.environ copied): "<pid of the launcher>:<id of its 1st logger>,<id of its 2nd>,...".
IDS_ENV = "TRACKER_LIGHTNING_RUN_IDS"

# Every run a TrackerLogger started or adopted -> the status of its last stage; decides
# whether it ends "failed" (finish_run, the exit hook) and marks it as not the user's own.
run_status: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()

_lock = threading.Lock()
_loggers_made = 0  # loggers constructed in this process (index into IDS_ENV in a ddp child)
_atexit_pid: Optional[int] = None
_rank_zero_only: Any = None


def global_rank() -> int:
    """Lightning's global rank (set by the strategy, shared by both packages), else the env."""
    global _rank_zero_only
    rzo = _rank_zero_only
    if rzo is None:
        try:
            from lightning_utilities.core.rank_zero import rank_zero_only as rzo
        except ImportError:  # pragma: no cover - both packages depend on lightning_utilities
            return process_rank()
        _rank_zero_only = rzo
    rank = getattr(rzo, "rank", None)
    return rank if isinstance(rank, int) else process_rank()


def shared_run_id(given: Optional[str]) -> str:
    """The run id of a new logger: ``given``, else the one the ``ddp`` launcher made for the
    logger at the same position in its script, else a new one (recorded for our children)."""
    global _loggers_made
    from tracker_core.sdk import new_run_id

    with _lock:
        index = _loggers_made
        _loggers_made += 1
        owner, ids = None, []
        raw = os.environ.get(IDS_ENV, "")
        if ":" in raw:
            head, _, tail = raw.partition(":")
            owner = int(head) if head.isdigit() else None
            ids = [i for i in tail.split(",") if i]
        is_ddp_child = os.environ.get("LOCAL_RANK", "0") not in ("", "0") and owner == os.getppid()
        if is_ddp_child:
            return given or (ids[index] if index < len(ids) else new_run_id())
        run_id = given or new_run_id()
        if owner != os.getpid():
            ids = []
        ids.append(run_id)
        os.environ[IDS_ENV] = f"{os.getpid()}:{','.join(ids)}"
        return run_id


def finish_run(run: Any, exit_code: Optional[int] = None) -> None:
    """Finish ``run``; a run whose last stage failed ends ``failed`` unless told otherwise."""
    if exit_code is None:
        exit_code = 1 if run_status.get(run) == "failed" else 0
    run.finish(exit_code=exit_code)


def _finish_failed_at_exit(pid: int) -> None:
    """Runs before tracker_core's own exit hook (registered later, so called first): a run
    whose last Lightning stage failed ends ``failed`` even when the script caught the error."""
    if os.getpid() != pid:
        return
    for run, status in list(run_status.items()):
        if status == "failed" and not getattr(run, "finished", True):
            try:
                run.finish(exit_code=1)
            except Exception:  # noqa: BLE001 - tracker_core's hook reports it
                pass


def register_exit_hook() -> None:
    global _atexit_pid
    if _atexit_pid != os.getpid():
        _atexit_pid = os.getpid()
        atexit.register(_finish_failed_at_exit, os.getpid())
