"""log()'s fast path (a plain dict of known keys, committed at once; the summary takes the
rows later, a batch at a time) must give exactly what the general path gives, value by
value: random sequences of every kind of call run against two runs, one of them with the
fast path switched off, and their summaries, details and histories are compared."""

from __future__ import annotations

import math
import random
import threading

import pytest

import tracker_core as tc
from tracker_core.store import history_codec
from tracker_core.summary import SummaryState

from .helpers_rules import check, rows, same, stored, user_view

KEYS = ("a", "b", "c", "d", "e.f")
VALUES = (0.5, -1.25, 3, 7, 0, -0.0, 0.0, float("nan"), float("inf"), float("-inf"), True, False, None, "txt",
          2**70, -(2**64), 1e308, 2**53 + 1, 1.5)


class _NoFastPath(set):
    """Put in place of ``Run._known``: no key counts as known, so every call takes the
    general path (which is the value-by-value reference)."""

    def issuperset(self, other) -> bool:
        return False


def _value(rng: random.Random):
    return rng.choice(VALUES) if rng.random() < 0.4 else rng.choice((rng.random(), rng.randint(-5, 5)))


def _ops(rng: random.Random, n: int) -> list[tuple]:
    ops = []
    mono = 0  # a step that mostly moves forward, as a training loop's log(row, step=i)
    for _ in range(n):
        r = rng.random()
        row = {k: _value(rng) for k in rng.sample(KEYS, rng.randint(0, len(KEYS)))}
        if r < 0.35:
            ops.append(("log", row, {}))
        elif r < 0.55:
            mono += rng.choice((0, 0, 1, 1, 2, 40))
            ops.append(("log", row, {"step": mono}))
        elif r < 0.62:
            ops.append(("log", row, {"commit": False}))
        elif r < 0.68:
            ops.append(("log", row, {"step": rng.randint(0, 60)}))
        elif r < 0.72:
            ops.append(("log", {"n": {"x": _value(rng)}, **row}, {}))
        elif r < 0.76:
            ops.append(("write", rng.choice(KEYS), rng.choice((1.5, 2, "w", {"k": 1}))))
        elif r < 0.79:
            ops.append(("delete", rng.choice(KEYS + ("n",)), None))
        elif r < 0.84:
            ops.append(("define", rng.choice(KEYS + ("*",)),
                        rng.choice(("min,max", "mean,last", "first,best", "none", "min,max,mean,first,last,best"))))
        elif r < 0.86:  # rows then need the step metric's latest value unless they hold it
            ops.append(("step_metric", rng.choice(("b", "c", "*")), rng.choice(("a", "d"))))
        elif r < 0.92:
            ops.append(("read", None, None))
        else:
            ops.append(("flush", None, None))
    return ops


def _apply(run, op) -> None:
    kind, a, b = op
    if kind == "log":
        run.log(dict(a), **b)
    elif kind == "write":
        run.summary[a] = b
    elif kind == "delete":
        if a in run.summary:
            del run.summary[a]
    elif kind == "define":
        run.define_metric(a, summary=b, objective="minimize" if "best" in b else None)
    elif kind == "step_metric":
        run.define_metric(a, step_metric=b)
    elif kind == "flush":
        run.flush()


def _details(run) -> dict:
    out = {}
    for key in KEYS:
        try:
            out[key] = run.summary.details(key)
        except KeyError:
            out[key] = None
    return out


def _play(ops: list, name: str, fast: bool) -> tuple[list, object]:
    """Run ``ops`` on a new run; the summary and details at every read, and the run."""
    run = tc.init(project="fp", name=name, system_metrics=False)
    if not fast:
        run._known = _NoFastPath()
    seen = []
    for i, op in enumerate(ops):
        _apply(run, op)
        if op[0] == "read" or i % 40 == 39:
            seen.append((user_view(run.summary), _details(run), run.step))
    seen.append((user_view(run.summary), _details(run), run.step))
    run.finish()
    seen.append(({}, {}, run.step))
    return seen, run


@pytest.mark.parametrize("seed", range(16))
def test_fast_path_equals_general_path(seed, monkeypatch):
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "0.01")  # the writer drains between calls, too
    ops = _ops(random.Random(seed), 160)
    seen_fast, fast = _play(ops, "fast", True)
    seen_slow, slow = _play(ops, "slow", False)
    assert len(seen_fast) == len(seen_slow)
    for (summary_f, details_f, step_f), (summary_s, details_s, step_s) in zip(seen_fast, seen_slow):
        check(summary_f, summary_s)
        assert same(details_f, details_s), (details_f, details_s)
        assert step_f == step_s
    check(stored(fast), stored(slow))
    assert same(rows(fast), rows(slow))


def test_fast_path_is_taken_and_copies_the_callers_dict():
    run = tc.init(project="fp", system_metrics=False)
    row = {"loss": 1.0, "acc": 0.5}
    run.log(row)  # new keys: the general path checks them
    run.log(row)  # known keys, plain values: the fast path
    assert run._applied < len(run._rows) or run._rows == []  # the summary has not taken it yet
    row["loss"] = 99.0  # the caller reuses its dict: what was logged stays
    run.log({"loss": 0.25})
    assert run.summary["loss"] == 0.25
    run.define_metric("loss", summary="min,max,mean")
    assert user_view(run.summary)["loss"] == {"min": 0.25, "max": 1.0, "mean": 0.75}
    run.finish()
    assert [r["loss"] for r in rows(run)] == [1.0, 1.0, 0.25]


def test_threads_logging_at_once_lose_nothing(monkeypatch):
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "0.002")
    run = tc.init(project="fp", system_metrics=False)
    run.define_metric("v", summary="min,max,mean")
    n = 3000

    def worker(offset: int) -> None:
        for i in range(n):
            run.log({"v": float(offset + i), "t": offset})

    threads = [threading.Thread(target=worker, args=(k * n,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.finish()
    history = rows(run)
    assert len(history) == 3 * n
    assert sorted(r["_step"] for r in history) == list(range(3 * n))
    assert sorted(r["v"] for r in history) == [float(i) for i in range(3 * n)]
    summary = stored(run)
    assert summary["v"] == {"min": 0.0, "max": float(3 * n - 1), "mean": sum(range(3 * n)) / (3 * n)}
    assert summary["_step"] == 3 * n - 1


def _reference_groups(rows_: list) -> dict:
    per_key: dict = {}
    for seq, _step, _ts, row in rows_:
        for key, value in row.items():
            path = key if type(key) is tuple else (key,)
            entry = per_key.setdefault(path, ([], []))
            entry[0].append(seq)
            entry[1].append(value)
    return per_key


@pytest.mark.parametrize("seed", range(6))
def test_group_rows_matches_a_row_by_row_regrouping(seed):
    rng = random.Random(seed)
    keysets = [("a", "b"), ("b", "a"), ("a", ("b",)), (("a",), ("n", "x")), ("c",), ()]
    out, seq = [], 0
    for _ in range(rng.randint(1, 60)):
        keys = rng.choice(keysets) if rng.random() < 0.3 or not out else tuple(out[-1][3])
        out.append((seq, seq // 2, 1.0 + seq, {k: rng.choice((rng.random(), 3, None, True)) for k in keys}))
        seq += rng.randint(1, 3)
    g = history_codec.group_rows(out)
    ref = _reference_groups(out)
    assert list(g.per_key) == list(ref)  # first-appearance order
    assert {p: (list(s), list(v)) for p, (s, v) in g.per_key.items()} == ref
    assert g.seqs == [r[0] for r in out] and g.steps == [r[1] for r in out] and g.stamps == [r[2] for r in out]
    head = rng.randint(0, len(out))
    then = history_codec.group_rows(out[head:])
    if then.seqs:  # the summary takes the second part and records its value types on the way
        SummaryState().apply_columns(then.per_key, then.seqs, then.steps, then.kinds)
    both = history_codec.concat_grouped(history_codec.group_rows(out[:head]), then)
    assert {p: (list(s), list(v)) for p, (s, v) in both.per_key.items()} == ref
    assert history_codec.pack_rows(out, both) == history_codec.pack_rows(out)  # kinds carried over exactly
    assert history_codec.pack_rows(out, g) == history_codec.pack_rows(out)


@pytest.mark.parametrize("values", [
    [0.5, 0.25, 0.25, 1.0], [3, 1, 1, 7], [1, 1.0, 0.5, 0.5], [0.0, -0.0], [-0.0, 0.0],
    [1.0, float("nan"), 0.5], [float("inf"), float("-inf"), 2.0], [2**70, 1.0], [10**400, 1.0, -1.0],
    [True, 1.0, 2], [None, "x", 3.5], [1e308, 1e308, -1e308], [0.1] * 50,
])
def test_apply_columns_equals_apply_row_by_row(values):
    steps = [s * 3 for s in range(len(values))]
    rows_ = [(i, steps[i], 0.0, {"k": v}) for i, v in enumerate(values)]
    batch, single = SummaryState(), SummaryState()
    for state in (batch, single):  # a leaf with earlier state: the batch continues it
        state.apply({("k",): 0.75}, -1, 0)
    g = history_codec.group_rows(rows_)
    batch.apply_columns(g.per_key, g.seqs, g.steps)
    for seq, step, _ts, row in rows_:
        single.apply({("k",): row["k"]}, seq, step)
    a, b = batch.leaves[("k",)].to_record(), single.leaves[("k",)].to_record()
    for name in a:
        assert same(a[name], b[name]), (name, a[name], b[name])
        if isinstance(a[name], float) and a[name] == 0.0:
            assert math.copysign(1, a[name]) == math.copysign(1, b[name]), name
    assert batch.step == steps[-1]  # apply() leaves the step to Run._commit; apply_columns takes it


def test_open_row_at_a_step_is_visible_merged_and_committed_by_finish(monkeypatch):
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "3600")  # no drain in between: the fast path's open row stays
    run = tc.init(project="fp", system_metrics=False)
    run.log({"loss": 2.0, "acc": 0.1}, step=0)  # new keys: general path
    run.log({"loss": 1.5}, step=3)  # known keys: the open row of the fast path
    assert run._row_fast
    run.log({"acc": 0.25}, step=3)  # same step: merged into the open row
    run.log({"loss": 1.0}, step=7)
    assert run._row_fast and run.step == 7
    run.finish()  # commits the open row at step 7, then the next step is 8
    assert run.step == 8
    got = [(r["_step"], r.get("loss"), r.get("acc")) for r in rows(run)]
    assert got == [(0, 2.0, 0.1), (3, 1.5, 0.25), (7, 1.0, None)]
    assert stored(run)["loss"] == 1.0 and stored(run)["_step"] == 7


def test_summary_read_sees_the_open_row_of_the_fast_path(monkeypatch):
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "3600")
    run = tc.init(project="fp", system_metrics=False)
    run.define_metric("loss", summary="min,last")
    run.log({"loss": 2.0}, step=0)
    run.log({"loss": 0.5}, step=1)  # open: not aggregated yet (W&B: until the row is committed)
    assert run._row_fast
    assert user_view(run.summary)["loss"] == {"min": 2.0, "last": 0.5}
    run.log({"loss": 3.0}, step=2)  # commits step 1's row
    assert user_view(run.summary)["loss"] == {"min": 0.5, "last": 3.0}
    run.finish()
    assert stored(run)["loss"] == {"min": 0.5, "last": 3.0}


def test_rows_of_one_step_metric_group_take_the_fast_path_and_sync_as_before(monkeypatch):
    """Keras logs batch/* rows with batch/step and epoch/* rows with epoch/epoch: a row that
    holds its own group's step metric needs no syncing, even without the other group's."""
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "3600")

    def play(fast: bool):
        run = tc.init(project="fp", system_metrics=False)
        if not fast:
            run._known = _NoFastPath()
        run.define_metric("batch/*", step_metric="batch/step")
        run.define_metric("epoch/*", step_metric="epoch/epoch")
        taken = []
        for epoch in range(3):
            for b in range(4):
                before = len(run._rows) - run._applied
                run.log({"batch/step": epoch * 4 + b, "batch/loss": 1.0 / (1 + b)})
                taken.append(len(run._rows) - run._applied > before)  # left for the batch: fast
            run.log({"epoch/epoch": epoch, "epoch/val_loss": 0.5 - epoch / 10})
        run.log({"batch/loss": 0.01})  # no batch/step in the row: synced from its last value
        run.finish()
        return taken, stored(run), rows(run)

    taken, summary, history = play(True)
    assert taken[1:] == [True] * 11  # all but the very first row (new keys)
    _, summary_slow, history_slow = play(False)
    check(summary, summary_slow)
    assert same(history, history_slow)
    assert history[-1]["batch/step"] == 11 and history[-1]["batch/loss"] == 0.01
