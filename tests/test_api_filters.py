"""Api.runs() filters and ordering (DESIGN.md 6, store/query.py) against a store of
N >= 1,000 runs built once for this module; every expectation is the exact list of run
ids computed in Python from the same formula that generated the runs (``spec``)."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import sqlite3
import time
from types import SimpleNamespace

import pytest

import tracker_core as tc
from tracker_core.store.query import FilterError

N = 1000
ENTITY, PROJECT = "ent", "filters"
PATH = f"{ENTITY}/{PROJECT}"
CUT = 500  # runs r0500.. are created after the recorded cut-off time
NAMES = ("alpha", "beta", "gamma", "delta")
OPTS = ("adam", "sgd", "rmsprop")
TAGS = (["baseline"], ["sweep"], ["sweep", "ablation"])
NAN = float("nan")


def spec(i: int) -> SimpleNamespace:
    """Everything about run ``i``: init args, logged rows, and the expected flat config
    (``c``) and filterable summary (``m``, keys as ``summary_metrics.<key>``)."""
    base = ((i * 37) % 101) / 100  # 101 distinct values: ties between runs i, i+101, ...
    defined = i % 4 == 0  # loss min,max and val/acc best (maximize) defined
    has_acc = i % 9 != 8  # some runs never log val/acc
    losses = [1.0 + base, 0.25 + base / 2, 0.5 + base / 2]  # min in the middle
    accs = [0.1 + base / 2, 0.2 + base / 2, 0.15 + base / 2]  # best (max) is not the last
    score = NAN if i % 17 == 5 else "n/a" if i % 19 == 3 else None if i % 23 == 4 else i % 50
    status = ("ok", "diverged", "ok:early-stop")[i % 3 if i % 7 else 1]
    config = {"lr": (i % 10) / 10, "opt": OPTS[i % 3],
              "model": {"depth": i % 4 + 1, "act": "gelu" if i % 2 == 0 else "relu"},
              "use_bn": i % 2 == 0, "seed": i, "wd": None if i % 13 == 0 else 1e-4 * (i % 3)}
    if i % 4 == 1:
        config["dropout"] = 0.5
    rows = []
    for k in range(3):
        row = {"loss": losses[k]}
        if has_acc:
            row["val/acc"] = accs[k]
        if k == 2:
            row.update({"train": {"acc": base}, "score": score, "status": status, "converged": base > 0.5})
        rows.append(row)
    rows += [{"sched": k} for k in range(i % 3)]
    c = {"lr": config["lr"], "opt": config["opt"], "model.depth": config["model"]["depth"],
         "model.act": config["model"]["act"], "use_bn": config["use_bn"], "seed": i, "wd": config["wd"]}
    if "dropout" in config:
        c["dropout"] = 0.5
    m = {"train.acc": base, "score": score, "status": status, "converged": base > 0.5, "_step": len(rows) - 1}
    if defined:
        m.update({"loss.min": losses[1], "loss.max": losses[0]})
        if has_acc:
            m["val/acc.best"] = accs[1]
    else:
        m["loss"] = losses[2]
        if has_acc:
            m["val/acc"] = accs[2]
    if i % 3:
        m["sched"] = i % 3 - 1
    return SimpleNamespace(
        i=i, id=f"r{i:04d}", name=f"{NAMES[i % 4]}-{i:04d}", tags=TAGS[i % 3],
        group=None if i % 11 == 0 else f"g{i % 5}", notes=f"note {i}" if i % 100 == 0 else None,
        state="failed" if i % 25 == 7 else "finished", defined=defined, has_acc=has_acc, base=base,
        losses=losses, accs=accs, config=config, rows=rows, c=c, m=m)


SPECS = [spec(i) for i in range(N)]


def build_store(store_dir, specs=SPECS) -> SimpleNamespace:
    """Create the runs of ``specs`` (one flush each, at finish) plus 3 runs of another project."""
    times = {"cut": None}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRACKER_FLUSH_INTERVAL", "3600")  # one flush per run, at finish
        mp.setenv("TRACKER_SYSTEM_METRICS", "0")  # no sampler thread per run
        store_dir.parent.mkdir(parents=True, exist_ok=True)
        mp.chdir(store_dir.parent)  # not a git checkout: no `git status` per run
        t0, cpu0, wall0 = time.perf_counter(), time.process_time(), time.time()
        for s in specs:
            if s.i == CUT:
                time.sleep(0.002)
                times["cut"] = time.time()
                time.sleep(0.002)
            run = tc.init(project=PROJECT, entity=ENTITY, id=s.id, name=s.name, config=s.config, tags=s.tags,
                          group=s.group, notes=s.notes, store=store_dir)
            if s.defined:
                run.define_metric("loss", summary="min,max")
                run.define_metric("val/acc", summary="best", objective="maximize")
            for row in s.rows:
                run.log(row)
            run.finish(exit_code=1 if s.state == "failed" else 0)
        for j in range(3):  # other project, same ids: must never show up
            with tc.init(project="other", entity=ENTITY, id=f"r{j:04d}", config={"lr": 0.0}, tags=["sweep"],
                         store=store_dir) as run:
                run.log({"loss": 0.0})
        build_s, build_cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    return SimpleNamespace(dir=store_dir, api=tc.Api(store=store_dir), build_s=build_s, build_cpu_s=build_cpu_s,
                           cut=times["cut"], t0=wall0, t1=time.time())


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("api_filters") / "store")


def ids(runs):
    return [r.id for r in runs]


def where(pred):
    return [s.id for s in SPECS if pred(s)]


def test_store_is_big(big):
    assert len(big.api.runs(PATH)) == N
    assert ids(big.api.runs(PATH, per_page=N)) == where(lambda s: True)


@pytest.mark.parametrize("filters,order", [(None, "config.lr"), (None, "-summary_metrics.val/acc.best"),
                                           ({"config.lr": {"$gt": 0.5}}, None),
                                           ({"summary_metrics.loss.min": {"$lt": 0.6}}, "-config.seed")])
def test_query_plan_seeks_each_runs_values_by_key(big, filters, order):
    """Guard against the quadratic plan (a scan of a key's rows for every run: 2 s a page at
    4,000 runs): every config/summary lookup seeks (uid, key) in the primary key. Speed
    itself is measured in benchmarks/bench_api_query.py, not here."""
    from tracker_core.store.query import Compiler

    compiler = Compiler()
    where, params = compiler.where(filters)
    order_sql, order_params = compiler.order_by(order)
    sql = f"SELECT r.uid FROM runs r WHERE r.project = ? AND ({where}) ORDER BY {order_sql}"
    con = sqlite3.connect(os.path.join(big.dir, "tracker.db"))
    try:
        plan = [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + sql, ["filters", *params, *order_params])]
    finally:
        con.close()
    lookups = [line for line in plan if line.startswith("SEARCH v ")]
    assert lookups, plan
    assert all("PRIMARY KEY (uid=? AND key=?" in line for line in lookups), plan


M, C = "summary_metrics.", "config."
ABSENT = object()


def num(v):
    """A value that numeric comparisons see (bool, str, None and NaN do not compare)."""
    return type(v) in (int, float) and not math.isnan(v)


def mcmp(key, op):
    return lambda s: num(s.m.get(key)) and op(s.m[key])


FIELD_CASES = {
    # config.* : every operator
    "cfg-eq-implicit": ({C + "lr": 0.3}, lambda s: s.c["lr"] == 0.3),
    "cfg-eq-explicit-str": ({C + "opt": {"$eq": "sgd"}}, lambda s: s.c["opt"] == "sgd"),
    "cfg-eq-int-as-float": ({C + "model.depth": 2.0}, lambda s: s.c["model.depth"] == 2),
    "cfg-eq-bool": ({C + "use_bn": True}, lambda s: s.c["use_bn"] is True),
    "cfg-eq-null": ({C + "wd": None}, lambda s: s.c["wd"] is None),
    "cfg-ne": ({C + "model.depth": {"$ne": 2}}, lambda s: s.c["model.depth"] != 2),
    "cfg-ne-bool": ({C + "use_bn": {"$ne": True}}, lambda s: s.c["use_bn"] is not True),
    "cfg-ne-matches-missing": ({C + "dropout": {"$ne": 0.5}}, lambda s: "dropout" not in s.c),
    "cfg-gt": ({C + "lr": {"$gt": 0.5}}, lambda s: s.c["lr"] > 0.5),
    "cfg-gte": ({C + "lr": {"$gte": 0.5}}, lambda s: s.c["lr"] >= 0.5),
    "cfg-lt": ({C + "lr": {"$lt": 0.2}}, lambda s: s.c["lr"] < 0.2),
    "cfg-lte": ({C + "lr": {"$lte": 0.2}}, lambda s: s.c["lr"] <= 0.2),
    "cfg-range": ({C + "lr": {"$gt": 0.2, "$lte": 0.6}}, lambda s: 0.2 < s.c["lr"] <= 0.6),
    "cfg-gt-str": ({C + "opt": {"$gt": "r"}}, lambda s: s.c["opt"] > "r"),
    "cfg-gt-skips-null": ({C + "wd": {"$gte": 0}}, lambda s: s.c["wd"] is not None),
    "cfg-in": ({C + "opt": {"$in": ["adam", "rmsprop"]}}, lambda s: s.c["opt"] in ("adam", "rmsprop")),
    "cfg-in-ints": ({C + "seed": {"$in": [3, 500, 999, 5000]}}, lambda s: s.i in (3, 500, 999)),
    "cfg-in-empty": ({C + "seed": {"$in": []}}, lambda s: False),
    "cfg-nin": ({C + "model.depth": {"$nin": [1, 2]}}, lambda s: s.c["model.depth"] not in (1, 2)),
    "cfg-nin-matches-missing": ({C + "dropout": {"$nin": [0.5]}}, lambda s: "dropout" not in s.c),
    "cfg-exists-true": ({C + "dropout": {"$exists": True}}, lambda s: "dropout" in s.c),
    "cfg-exists-false": ({C + "dropout": {"$exists": False}}, lambda s: "dropout" not in s.c),
    "cfg-exists-null-value": ({C + "wd": {"$exists": True}}, lambda s: True),
    "cfg-regex": ({C + "model.act": {"$regex": "^ge"}}, lambda s: s.c["model.act"] == "gelu"),
    "cfg-regex-search": ({C + "opt": {"$regex": "s"}}, lambda s: "s" in s.c["opt"]),
    # summary_metrics.* : plain leaves, aggregate leaves, nested leaves, NaN / str / None / bool
    "sum-agg-min-lt": ({M + "loss.min": {"$lt": 0.5}}, mcmp("loss.min", lambda v: v < 0.5)),
    "sum-agg-max-gt": ({M + "loss.max": {"$gt": 1.5}}, mcmp("loss.max", lambda v: v > 1.5)),
    "sum-agg-best-gte": ({M + "val/acc.best": {"$gte": 0.6}}, mcmp("val/acc.best", lambda v: v >= 0.6)),
    "sum-agg-best-lte": ({M + "val/acc.best": {"$lte": 0.3}}, mcmp("val/acc.best", lambda v: v <= 0.3)),
    "sum-agg-best-eq": ({M + "val/acc.best": SPECS[4].accs[1]},
                        lambda s: s.m.get("val/acc.best") == SPECS[4].accs[1]),
    "sum-last-value": ({M + "loss": {"$lte": 0.6}}, mcmp("loss", lambda v: v <= 0.6)),
    "sum-nested": ({M + "train.acc": {"$gt": 0.5}}, mcmp("train.acc", lambda v: v > 0.5)),
    "sum-int-gt": ({M + "score": {"$gt": 30}}, mcmp("score", lambda v: v > 30)),
    "sum-lt-skips-nan": ({M + "score": {"$lt": 5}}, mcmp("score", lambda v: v < 5)),
    "sum-str-eq": ({M + "score": "n/a"}, lambda s: s.m["score"] == "n/a"),
    "sum-null-eq": ({M + "score": None}, lambda s: s.m["score"] is None),
    "sum-ne-keeps-nan-str-null": ({M + "score": {"$ne": 7}}, lambda s: not (num(s.m["score"]) and s.m["score"] == 7)),
    "sum-regex": ({M + "status": {"$regex": "^ok"}}, lambda s: s.m["status"].startswith("ok")),
    "sum-regex-only-strings": ({M + "score": {"$regex": "^n"}}, lambda s: s.m["score"] == "n/a"),
    "sum-in": ({M + "status": {"$in": ["diverged", "ok:early-stop"]}}, lambda s: s.m["status"] != "ok"),
    "sum-nin": ({M + "status": {"$nin": ["ok"]}}, lambda s: s.m["status"] != "ok"),
    "sum-bool": ({M + "converged": True}, lambda s: s.m["converged"] is True),
    "sum-exists-false": ({M + "val/acc": {"$exists": False}}, lambda s: not s.has_acc),
    "sum-agg-exists-true": ({M + "val/acc.best": {"$exists": True}}, lambda s: "val/acc.best" in s.m),
    "sum-agg-ne-missing": ({M + "loss.min": {"$ne": SPECS[0].losses[1]}},
                           lambda s: s.m.get("loss.min", ABSENT) != SPECS[0].losses[1]),
    "sum-step": ({M + "_step": {"$gte": 4}}, lambda s: s.m["_step"] >= 4),
    "sum-alias-summary": ({"summary.sched": 1}, lambda s: s.m.get("sched") == 1),
    # run columns
    "state-eq": ({"state": "failed"}, lambda s: s.state == "failed"),
    "state-ne": ({"state": {"$ne": "finished"}}, lambda s: s.state != "finished"),
    "state-in": ({"state": {"$in": ["failed", "crashed"]}}, lambda s: s.state == "failed"),
    "tags-eq": ({"tags": "ablation"}, lambda s: "ablation" in s.tags),
    "tags-in": ({"tags": {"$in": ["baseline", "ablation"]}}, lambda s: {"baseline", "ablation"} & set(s.tags)),
    "tags-nin": ({"tags": {"$nin": ["sweep"]}}, lambda s: "sweep" not in s.tags),
    "tags-ne": ({"tags": {"$ne": "baseline"}}, lambda s: "baseline" not in s.tags),
    "group-eq": ({"group": "g3"}, lambda s: s.group == "g3"),
    "group-ne-keeps-none": ({"group": {"$ne": "g1"}}, lambda s: s.group != "g1"),
    "group-exists-false": ({"group": {"$exists": False}}, lambda s: s.group is None),
    "group-null": ({"group": None}, lambda s: s.group is None),
    "group-regex": ({"group": {"$regex": "^g[0-2]$"}}, lambda s: s.group in ("g0", "g1", "g2")),
    "name-regex": ({"name": {"$regex": "^gamma-0[0-4]"}}, lambda s: re.match("^gamma-0[0-4]", s.name)),
    "display-name-eq": ({"display_name": "beta-0005"}, lambda s: s.i == 5),
    "name-nin": ({"display_name": {"$nin": ["alpha-0000", "beta-0001"]}}, lambda s: s.i not in (0, 1)),
    "id-in": ({"id": {"$in": ["r0001", "r0999", "r1000"]}}, lambda s: s.i in (1, 999)),
    "notes-exists": ({"notes": {"$exists": True}}, lambda s: s.notes is not None),
    "created-after-old-date": ({"created_at": {"$gt": "2000-01-01T00:00:00Z"}}, lambda s: True),
    "created-before-old-date": ({"created_at": {"$lt": "2000-01-01"}}, lambda s: False),
    # logical operators
    "and": ({"$and": [{C + "opt": "adam"}, {M + "loss.min": {"$lt": 0.5}}]},
            lambda s: s.c["opt"] == "adam" and num(s.m.get("loss.min")) and s.m["loss.min"] < 0.5),
    "implicit-and": ({C + "opt": "sgd", "tags": "sweep", "state": "finished"},
                     lambda s: s.c["opt"] == "sgd" and "sweep" in s.tags and s.state == "finished"),
    "or": ({"$or": [{C + "lr": 0.1}, {"tags": "ablation"}]}, lambda s: s.c["lr"] == 0.1 or "ablation" in s.tags),
    "nor": ({"$nor": [{C + "opt": "sgd"}, {"state": "failed"}]},
            lambda s: not (s.c["opt"] == "sgd" or s.state == "failed")),
    "nor-matches-missing": ({"$nor": [{C + "dropout": {"$gt": 0.1}}]}, lambda s: "dropout" not in s.c),
    "nested": ({"$or": [{"$and": [{M + "val/acc.best": {"$gt": 0.55}}, {"group": {"$in": ["g0", "g2"]}}]},
                        {"$nor": [{"group": {"$exists": True}}, {C + "use_bn": True}]}]},
               lambda s: (num(s.m.get("val/acc.best")) and s.m["val/acc.best"] > 0.55 and s.group in ("g0", "g2"))
               or not (s.group is not None or s.c["use_bn"])),
    "empty-filter": ({}, lambda s: True),
}


EVERYTHING = {"empty-filter", "created-after-old-date", "cfg-exists-null-value"}
NOTHING = {"cfg-in-empty", "created-before-old-date"}


@pytest.mark.parametrize("case", list(FIELD_CASES))
def test_filter_gives_exact_ids(big, case):
    filters, pred = FIELD_CASES[case]
    expected = where(pred)
    # the generator gives every case a proper subset, unless it is meant to match all / none
    assert len(expected) == N if case in EVERYTHING else not expected if case in NOTHING else 0 < len(expected) < N
    runs = big.api.runs(PATH, filters=filters, per_page=N)
    assert ids(runs) == expected
    assert len(runs) == len(expected)


def _iso(ts: float, z: bool) -> str:
    d = dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z" if z else d.isoformat()


@pytest.mark.parametrize("z", [True, False])
def test_created_at_with_iso_string(big, z):
    cut = _iso(big.cut, z)
    assert ids(big.api.runs(PATH, {"created_at": {"$gte": cut}}, per_page=N)) == where(lambda s: s.i >= CUT)
    assert ids(big.api.runs(PATH, {"created_at": {"$lt": cut}}, per_page=N)) == where(lambda s: s.i < CUT)
    between = {"$and": [{"created_at": {"$gt": cut}}, {C + "seed": {"$lt": CUT + 10}}]}
    assert ids(big.api.runs(PATH, between)) == where(lambda s: CUT <= s.i < CUT + 10)


def test_created_at_whole_seconds_iso_as_wandb_writes_it(big):
    first = big.api.run(f"{PATH}/r0000").created_at  # "YYYY-MM-DDTHH:MM:SSZ", truncated to the second
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first)
    assert ids(big.api.runs(PATH, {"created_at": {"$gte": first}}, per_page=N)) == where(lambda s: True)


def test_other_project_and_entity_are_out_of_scope(big):
    assert ids(big.api.runs(f"{ENTITY}/other")) == ["r0000", "r0001", "r0002"]
    assert ids(big.api.runs(PROJECT, {C + "lr": 0.0}, per_page=N)) == where(lambda s: s.c["lr"] == 0.0)
    assert len(big.api.runs(f"nobody/{PROJECT}")) == 0


NULL_CASES = {
    "cfg-eq-null-missing": ({C + "dropout": None}, lambda s: "dropout" not in s.c),
    "cfg-ne-null-missing": ({C + "dropout": {"$ne": None}}, lambda s: "dropout" in s.c),
    "sum-ne-null-missing": ({M + "val/acc": {"$ne": None}}, lambda s: s.has_acc),
    "sum-in-null-missing": ({M + "val/acc.best": {"$in": [None]}}, lambda s: "val/acc.best" not in s.m),
}


@pytest.mark.parametrize("case", list(NULL_CASES))
def test_null_matches_missing_field_like_mongodb(big, case):
    """MongoDB: {f: null} matches null or missing; {f: {$ne: null}} matches present non-null
    (store/query.py promises MongoDB semantics for $ne/$nin; `$ne: None` is the idiom for "has f")."""
    filters, pred = NULL_CASES[case]
    assert ids(big.api.runs(PATH, filters, per_page=N)) == where(pred)


# -- ordering


def _sorted(key_of, desc=False):
    """Runs with a value sorted by it (ties: creation order), then runs without it (creation order)."""
    have = [s for s in SPECS if key_of(s) is not ABSENT]
    have.sort(key=lambda s: s.i)
    have.sort(key=key_of, reverse=desc)  # stable: ties keep creation order
    return [s.id for s in have] + [s.id for s in SPECS if key_of(s) is ABSENT]


def mkey(key):
    return lambda s: s.m[key] if num(s.m.get(key)) else ABSENT


ORDER_CASES = {
    "-summary_metrics.val/acc.best": _sorted(mkey("val/acc.best"), desc=True),
    "+summary_metrics.loss.min": _sorted(mkey("loss.min")),
    "summary_metrics.loss.max": _sorted(mkey("loss.max")),
    "-summary_metrics.train.acc": _sorted(mkey("train.acc"), desc=True),
    "-summary_metrics.loss": _sorted(mkey("loss"), desc=True),
    "config.lr": _sorted(lambda s: s.c["lr"]),
    "-config.lr": _sorted(lambda s: s.c["lr"], desc=True),
    "+config.dropout": _sorted(lambda s: s.c.get("dropout", ABSENT)),
    "-config.dropout": _sorted(lambda s: s.c.get("dropout", ABSENT), desc=True),
    "-config.wd": _sorted(lambda s: ABSENT if s.c["wd"] is None else s.c["wd"], desc=True),
    "config.opt": _sorted(lambda s: s.c["opt"]),
    "-summary_metrics._step": _sorted(lambda s: s.m["_step"], desc=True),
    "group": _sorted(lambda s: ABSENT if s.group is None else s.group),
    "-group": _sorted(lambda s: ABSENT if s.group is None else s.group, desc=True),
    "-created_at": [s.id for s in reversed(SPECS)],
    "created_at": [s.id for s in SPECS],
    "-name": sorted((s.id for s in SPECS), key=lambda r: SPECS[int(r[1:])].name, reverse=True),
}


@pytest.mark.parametrize("order", list(ORDER_CASES))
def test_order_gives_exact_sequence(big, order):
    for key in ("val/acc.best", "loss.min"):  # the generator gives the aggregates ties and missing values
        values = [s.m[key] for s in SPECS if key in s.m]
        assert len(set(values)) < len(values) < N
    assert ids(big.api.runs(PATH, order=order, per_page=N)) == ORDER_CASES[order]


def test_order_by_several_keys(big):
    expected = [s.id for s in sorted(SPECS, key=lambda s: (s.c["opt"], -s.base, s.i))]
    assert ids(big.api.runs(PATH, order=["config.opt", "-summary_metrics.train.acc"], per_page=N)) == expected
    assert ids(big.api.runs(PATH, order="config.opt,-summary_metrics.train.acc", per_page=N)) == expected


def test_filter_and_order_together(big):
    filters = {"$and": [{"tags": "sweep"}, {M + "val/acc.best": {"$exists": True}}]}
    got = ids(big.api.runs(PATH, filters=filters, order="-summary_metrics.val/acc.best", per_page=N))
    chosen = [s for s in SPECS if "sweep" in s.tags and "val/acc.best" in s.m]
    assert got == [s.id for s in sorted(chosen, key=lambda s: (-s.m["val/acc.best"], s.i))]


# -- errors: a FilterError (a ValueError) that names the bad part, raised by runs() itself

ERROR_CASES = [
    ({C + "lr": {"$foo": 1}}, None, r"\$foo"),
    ({"$xor": [{C + "lr": 0.1}]}, None, r"\$xor"),
    ({"bogus_field": 1}, None, "bogus_field"),
    ({"$or": [{"state": "finished"}, {"nosuchfield": {"$gt": 1}}]}, None, "nosuchfield"),
    ({C + "opt": {"$in": "adam"}}, None, r"\$in"),
    ({C + "opt": {"$nin": "adam"}}, None, r"\$nin"),
    ({C + "dropout": {"$exists": 1}}, None, r"\$exists"),
    ({C + "dropout": {"$exists": "yes"}}, None, r"\$exists"),
    ({C + "opt": {"$regex": 5}}, None, r"\$regex"),
    ({"$and": {C + "lr": 0.1}}, None, r"\$and"),
    ({"$or": []}, None, r"\$or"),
    ({C + "lr": {"$gt": [1, 2]}}, None, r"\[1, 2\]"),
    ({C + "lr": {"$gt": None}}, None, "null"),
    ({"created_at": {"$gt": "yesterday"}}, None, "yesterday"),
    ({"tags": {"$gt": "a"}}, None, "tags"),
    (["state", "finished"], None, "dict"),
    (None, 5, "order"),
    (None, ["-config.lr", 3], "order"),
    (None, {"config.lr": 1}, "order"),
    (None, "-no_such_column", "no_such_column"),
    (None, "tags", "tags"),
]


@pytest.mark.parametrize("filters,order,message", ERROR_CASES)
def test_bad_filter_or_order_is_a_filter_error(big, filters, order, message):
    with pytest.raises(FilterError, match=message) as exc:
        big.api.runs(PATH, filters=filters, order=order)
    assert isinstance(exc.value, ValueError)
