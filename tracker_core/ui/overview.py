"""The run Overview's data: attributes, config, the summary with how (and at which step)
each value was computed, tensor stats; and history series for the charts."""

from __future__ import annotations

import json
import math
from typing import Any

from ..cli._show import SPECIAL, _flat, how_op, how_value, summary_entries
from ..public_run import PublicRun


def edit_text(value: Any) -> str:
    """The text that ``tracker summary KEY=TEXT`` (and the UI's edit box) reads back as
    ``value`` exactly: JSON, except a string that is not JSON by itself stays bare."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False)


def summary_rows(run: PublicRun) -> tuple[list[dict], list[dict]]:
    """Summary rows and tensor stats rows.

    A row is ``{key, path, value, how, step, count, nan_count, text, editable}``: one per
    aggregate (``loss.min``, how ``min``) or one per other leaf (how ``last`` or ``set``).
    ``path`` is the leaf's key path (``["val/acc"]``); ``editable`` marks the rows the UI
    may set or delete as a whole top-level summary key (``run.summary[key] = value``), and
    ``edit_text`` is their value as text that reads back exactly (big ints, NaN, "0.5").
    """
    tree = run.summary_tree()
    rows, tensors = [], []
    for key, path, value, op, d, info in summary_entries(run, tree):
        if op is not None:  # one aggregate of the leaf
            entry = d.get(op) if isinstance(d.get(op), dict) else None
            step = entry["step"] if entry else (info.get("last_step") if op == "last" else None)
            rows.append({"key": key, "path": list(path), "value": value, "how": op, "step": step,
                         "count": d.get("count"), "nan_count": d.get("nan_count"),
                         "text": how_op(op, d, info), "editable": False, "edit_text": None})
            continue
        top = len(path) == 1
        explicit = bool(info.get("explicit")) or (d is not None and not info and not d.get("count"))
        how = "set" if explicit or d is None else "last"
        rows.append({"key": key, "path": list(path), "value": value, "how": how,
                     "step": None if how == "set" else info.get("last_step"),
                     "count": d.get("count") if d else None, "nan_count": d.get("nan_count") if d else None,
                     "text": how_value(d, info), "editable": top, "edit_text": edit_text(value) if top else None})
        if isinstance(value, dict) and "_type" in value:
            tensors.append({"key": key, **value})
    for key, how in SPECIAL.items():
        if key in tree:
            rows.append({"key": key, "path": [key], "value": tree[key], "how": key, "step": None, "count": None,
                         "nan_count": None, "text": how, "editable": False, "edit_text": None})
    return rows, tensors


def overview(run: PublicRun, editable: bool) -> dict:
    """Everything the Overview page shows; ``editable``: the server allows edits."""
    rows, tensors = summary_rows(run)
    runtime = next((r["value"] for r in rows if r["key"] == "_runtime"), None)
    meta = run.metadata or {}
    return {
        "path": "/".join(run.path), "id": run.id, "entity": run.entity, "project": run.project, "name": run.name,
        "state": run.state, "created_at": run.created_at, "runtime": runtime, "group": run.group,
        "job_type": run.job_type, "tags": list(run.tags), "notes": run.notes,
        "host": meta.get("host"), "metadata": meta, "editable": editable,
        "config": [{"key": k, "value": v} for k, v in _flat(run.config)],
        "summary": rows, "tensors": tensors, "history_keys": run.history_keys,
    }


def _number(v: Any) -> Any:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return v if math.isfinite(v) else None  # gaps in the chart
    return None


def history_series(run: PublicRun, keys: list[str] | None, samples: int) -> dict:
    """``{"keys": [...], "series": {key: {steps, values, count}}}`` of the numeric keys
    (all non-``_`` history keys by default), evenly downsampled to ``samples`` points."""
    wanted = list(keys or ()) or [k for k in run.history_keys["keys"] if not k.startswith("_")]
    series: dict[str, dict] = {k: {"steps": [], "values": []} for k in wanted}
    for row in run.scan_history():
        for k in wanted:
            if k in row:
                series[k]["steps"].append(row["_step"])
                series[k]["values"].append(row[k])
    out = {}
    for k, s in series.items():
        values = [_number(v) for v in s["values"]]
        if not any(v is not None for v in values) and s["values"]:
            continue  # not numeric: nothing to chart
        steps, n = s["steps"], len(values)
        if n > samples:  # evenly spaced, first and last kept (as PublicRun.history(samples=))
            picks = sorted({round(i * (n - 1) / (samples - 1)) for i in range(samples)})
            steps, values = [steps[i] for i in picks], [values[i] for i in picks]
        out[k] = {"steps": steps, "values": values, "count": n}
    return {"keys": list(out), "series": out}
