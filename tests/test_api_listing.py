"""Api().runs() listing paths on both backends (issue #7's listing benchmark): the fast
``to_pandas`` (one query on SQLite, keys and values aggregated per run) gives exactly the
frame the value-by-value rows give; ``runs()`` queries nothing until used; metadata is
decoded on first use; ordering by a summary key that holds a dict of aggregates is a
FilterError naming the keys one can order by (HTTP 400 in the UI's API)."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import pytest

import tracker_core as tc
from tracker_core.store import RunRecord
from tracker_core.store.liveness import this_host
from tracker_core.store.query import FilterError

from .test_store_backends import backend, open_store, store_url  # noqa: F401 - fixtures

pd = pytest.importorskip("pandas")

PROJECT = "listing"
STRANGE = ['quote"d', "back\\slash", "tab\there", "nl\nline", "ünï😀", "a.b", "ctrl\x1e\x01"]


def reference_frame(store, entity, project, filters=None, order=None):
    """What ``to_pandas`` returned before the fast path: records and value-by-value rows
    (``query_table``, decoded by ``codec.scalar``) pivoted into a list of dicts."""
    records, config_rows, summary_rows = store.query_table(entity, project, filters, order)
    rows: dict[int, dict] = {}
    for r in records:
        rows[r.uid] = {"id": r.run_id, "name": r.name, "state": r.state,
                       "created_at": pd.Timestamp(r.created_at, unit="s", tz="UTC"), "tags": list(r.tags),
                       "group": r.group, "summary._step": r.last_step, "summary._runtime": r.runtime}
    for uid, key, value in config_rows:
        rows[uid]["config." + key] = value
    for uid, key, value in summary_rows:
        rows[uid]["summary." + key] = value
    return pd.DataFrame(list(rows.values()))


def assert_same_frame(actual, expected):
    assert list(actual.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(actual, expected, check_exact=True)
    for col in expected.columns:  # exact Python types too: 2.0 is not 2, big ints stay exact
        for a, e in zip(actual[col], expected[col]):
            if isinstance(e, float) and math.isnan(e):
                assert isinstance(a, float) and math.isnan(a), (col, a, e)
            else:
                assert type(a) is type(e) and (a == e if not isinstance(e, list) else list(a) == e), (col, a, e)


def make_runs(store_url):
    """Runs whose config and summaries cover every kind of stored value and key."""
    specs = [
        dict(config={"lr": 0.1, "layers": 4, "opt": "adam", "big": 2 ** 70, "neg": -(2 ** 63), "flag": True,
                     "none": None, "nested": {"depth": 2, "width": {"a": 1.5}}, "seq": [1, 2.5, "x"],
                     "f2": 2.0, "inf": float("inf")},
             log=[{"loss": 0.5, "acc": 0.1}, {"loss": 0.25, "acc": 0.3}], tags=["base", "x"]),
        dict(config={"opt": "sgd", "lr": float("nan"), "empty": {}, "ninf": float("-inf"),
                     **{f"k{s}": s for s in STRANGE}},
             log=[{"loss": float("nan"), "acc": 0.2, "name": "text"}], tags=[]),
        dict(config={}, log=[], tags=["only-tag"]),
        dict(config={"layers": 2, "lr": 0.01}, log=[{"loss": 1, "acc": 1.0}, {"loss": 3}],
             summary={"user": {"a": 1, "b": "two"}, "flag": False, "none": None, "big": -(2 ** 80), "txt": "{x",
                      "lst": [1, 2], "f": 1e-300, **{f"s{s}": i for i, s in enumerate(STRANGE)}},
             tags=["z", "a"]),
    ]
    for i, spec in enumerate(specs):
        run = tc.init(project=PROJECT, entity="team", id=f"r{i}", name=f"run {i}", config=spec["config"],
                      tags=spec["tags"], group="g" if i % 2 else None, store=store_url)
        run.define_metric("loss", summary="min,max")
        run.define_metric("acc", summary="best", objective="maximize")
        for row in spec["log"]:
            run.log(row)
        for key, value in spec.get("summary", {}).items():
            run.summary[key] = value
        run.finish()
    return open_store(store_url)


QUERIES = [
    (None, None),
    ({"config.opt": {"$in": ["adam", "sgd"]}}, "-summary_metrics.loss.min"),
    ({"tags": "z"}, "config.lr"),
    ({"state": "running"}, None),  # no run: an empty frame
]


@pytest.mark.parametrize("q", range(len(QUERIES)))
def test_to_pandas_is_the_value_by_value_frame(store_url, q):  # noqa: F811
    store = make_runs(store_url)
    filters, order = QUERIES[q]
    for entity in ("team", None):
        actual = tc.Api(store=store_url).runs(f"{entity}/{PROJECT}" if entity else PROJECT, filters=filters,
                                             order=order).to_pandas()
        assert_same_frame(actual, reference_frame(store, entity, PROJECT, filters, order))
    if q == 0:
        assert len(actual) == 4 and actual["config.big"][0] == 2 ** 70
        assert "summary.loss" not in actual.columns and actual["summary.loss.min"][0] == 0.25
        assert actual["created_at"].dt.tz is not None


def test_a_key_with_the_separator_in_it_takes_the_exact_path(store_url, monkeypatch):  # noqa: F811
    store = make_runs(store_url)
    run = tc.init(project=PROJECT, entity="team", id="sep", config={"a\x1fb": 1, "c": 2}, store=store_url)
    run.summary["x\x1fy"] = "v"
    run.finish()
    actual = tc.Api(store=store_url).runs(f"team/{PROJECT}").to_pandas()
    assert_same_frame(actual, reference_frame(store, "team", PROJECT))
    assert actual["config.a\x1fb"].iloc[-1] == 1 and actual["summary.x\x1fy"].iloc[-1] == "v"


def test_a_running_run_whose_process_is_gone_is_listed_crashed(store_url):  # noqa: F811
    store = make_runs(store_url)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    store.create_run(RunRecord(entity="team", project=PROJECT, run_id="dead", name="dead", state="running",
                               created_at=1e9, host=this_host(), pid=int(gone.stdout)))
    df = tc.Api(store=store_url).runs(f"team/{PROJECT}").to_pandas()
    assert df.set_index("id").loc["dead", "state"] == "crashed"
    assert store.get_run("team", PROJECT, "dead").state == "crashed"  # marked for good, as every read does


def test_runs_queries_nothing_until_used_but_checks_at_once(store_url, monkeypatch):  # noqa: F811
    store = make_runs(store_url)
    api = tc.Api(store=store_url)
    with pytest.raises(FilterError, match="nosuch"):
        api.runs(PROJECT, filters={"nosuch": 1})
    for name in ("query_runs", "count_runs", "run_table", "query_table"):
        monkeypatch.setattr(store, name, lambda *a, _n=name, **k: pytest.fail(f"runs() called {_n}"))
    runs = api.runs(PROJECT, filters={"config.opt": "adam"}, order="-config.lr")
    monkeypatch.undo()
    assert [r.id for r in runs] == ["r0"] and len(runs) == 1 and runs[0].id == "r0"
    assert list(runs.to_pandas()["id"]) == ["r0"]


def test_metadata_is_decoded_on_first_use(store_url):  # noqa: F811
    make_runs(store_url)
    store = open_store(store_url)
    rec = store.get_run("team", PROJECT, "r0")
    assert "_metadata" in vars(rec) and type(vars(rec)["_metadata"]) is not dict  # not decoded yet
    meta = rec.metadata
    assert isinstance(meta, dict) and meta["host"] and rec.metadata is meta
    copy = dataclasses.replace(rec, metadata={"x": 1})
    assert copy.metadata == {"x": 1} and copy.run_id == "r0" and rec.metadata is meta
    assert tc.Api(store=store_url).run(f"team/{PROJECT}/r0").metadata == meta
    assert dataclasses.asdict(rec)["metadata"] == meta
    other = store.get_run("team", PROJECT, "r0")
    assert other == rec  # equality decodes both


@pytest.mark.parametrize("spelling", ["summary_metrics.", "summary."])
def test_order_by_a_dict_of_aggregates_names_the_keys_to_use(store_url, spelling):  # noqa: F811
    make_runs(store_url)
    api = tc.Api(store=store_url)
    for order in (f"-{spelling}loss", ["config.lr", f"+{spelling}loss"]):
        with pytest.raises(FilterError) as info:
            api.runs(PROJECT, order=order)
        message = str(info.value)
        assert f"'{spelling}loss'" in message and f"'{spelling}loss.max', '{spelling}loss.min'" in message
        with pytest.raises(ValueError, match="loss.min"):
            open_store(store_url).query_runs(None, PROJECT, None, order, limit=1)
    with pytest.raises(FilterError, match=f"'{spelling}user.a', '{spelling}user.b'"):
        api.runs(PROJECT, order=f"{spelling}user")  # a nested user dict: the same mistake
    # what one can order by works (NaN and no value come last); a key nobody has stays
    # "missing values last", i.e. creation order
    assert [r.id for r in api.runs(PROJECT, order=f"{spelling}loss.min")] == ["r0", "r3", "r1", "r2"]
    assert [r.id for r in api.runs(PROJECT, order=f"-{spelling}nosuchkey")] == ["r0", "r1", "r2", "r3"]


@pytest.mark.parametrize("spelling", ["summary_metrics.", "summary."])
def test_filter_on_a_dict_of_aggregates_names_the_keys_to_use(store_url, spelling):  # noqa: F811
    """Comparing a dict-valued summary key with a value would match nothing, silently."""
    make_runs(store_url)
    api = tc.Api(store=store_url)
    for filters in ({f"{spelling}loss": {"$lt": 1}}, {f"{spelling}loss": 0.5},
                    {"$or": [{"state": "finished"}, {f"{spelling}loss": {"$in": [1, 2]}}]},
                    {f"{spelling}user": {"$ne": 3}}):
        with pytest.raises(FilterError) as info:
            api.runs(PROJECT, filters=filters)
        assert "cannot filter on" in str(info.value) and f"'{spelling}" in str(info.value)
        assert ".min'" in str(info.value) or ".a'" in str(info.value)
        with pytest.raises(FilterError):
            open_store(store_url).count_runs(None, PROJECT, filters)
    # what is allowed: its keys, $exists, equality with null (= missing)
    # (r1 logged only NaN: no min; r2 logged nothing: no loss at all)
    assert [r.id for r in api.runs(PROJECT, filters={f"{spelling}loss.min": {"$lt": 10}})] == ["r0", "r3"]
    assert [r.id for r in api.runs(PROJECT, filters={f"{spelling}loss": {"$exists": True}})] == ["r0", "r1", "r3"]
    assert [r.id for r in api.runs(PROJECT, filters={f"{spelling}loss": None})] == ["r2"]


def test_order_by_a_key_some_runs_hold_as_one_value_is_allowed(store_url):  # noqa: F811
    make_runs(store_url)
    run = tc.init(project=PROJECT, entity="team", id="plain", store=store_url)
    run.log({"loss": 0.01})  # no definition: summary loss is the last value
    run.finish()
    ids = [r.id for r in tc.Api(store=store_url).runs(PROJECT, order="summary_metrics.loss")]
    assert ids[0] == "plain" and len(ids) == 5  # the dict-valued runs come last, like missing values


def test_ui_answers_400_for_order_by_a_dict_of_aggregates(store_url, backend):  # noqa: F811
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from tracker_core.ui.app import create_app

    make_runs(store_url)
    client = TestClient(create_app(store_url))
    resp = client.get("/api/runs", params={"project": f"team/{PROJECT}", "order": "-summary_metrics.loss"})
    assert resp.status_code == 400, resp.text
    assert "summary_metrics.loss.min" in resp.json()["detail"]
    ok = client.get("/api/runs", params={"project": f"team/{PROJECT}", "order": "-summary_metrics.loss.min"})
    assert ok.status_code == 200 and ok.json()["total"] == 4


def test_a_current_store_opens_without_migrating(tmp_path, monkeypatch):
    from tracker_core.store import migrations, sqlite_schema
    from tracker_core.store.sqlite import SQLiteStore

    assert sqlite_schema.SCHEMA_VERSION == migrations.latest(migrations.sqlite_migrations())
    db = str(tmp_path / "s.db")
    SQLiteStore(db).close()  # creates the schema, records the version
    with monkeypatch.context() as m:
        m.setattr(migrations, "migrate", lambda *a, **k: pytest.fail("migrated a current store"))
        store = SQLiteStore(db)  # reads the version; no write lock, no migration
    assert store._query("PRAGMA journal_mode")[0][0] == "wal"
    store._query("UPDATE schema_version SET version = 999")
    store.close()
    with pytest.raises(migrations.SchemaVersionError, match="999"):  # a newer store still refused
        SQLiteStore(db)
