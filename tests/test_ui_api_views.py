"""The UI's column catalogue, CSV export and edits through FastAPI's TestClient (issue 5,
points 1, 2, 4 and 5 at the API level; the browser tests drive the same endpoints)."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

import tracker_core as tc

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from tracker_core.ui import table
from tracker_core.ui.app import create_app
from tracker_core.ui.csv_export import export_cell, file_name, safe_text

from .test_ui_api import XSS_KEY, XSS_NAME, client, edit_client, get, make_runs  # noqa: F401 - fixtures

FORMULAS = {"eq": "=1+2", "plus": "+cmd|' /C calc'!A0", "at": "@SUM(A1)", "dash": "-2+3", "tab": "\tx", "cr": "\rx"}


def make_csv_runs() -> None:
    """team/csv: c1 holds every kind of awkward value; c2 a few plain ones; c3 a negative loss."""
    c1 = tc.init(project="csv", entity="team", id="c1", name="=HYPERLINK(\"http://x\")", notes="a,b\"c\nd",
                 config={"neg": -3, "negf": -0.1, "numstr": "-5", "big": 2**70, **FORMULAS, "list": [1, "=x"]})
    c1.define_metric("loss", summary="min,max")
    for v in (0.5, -0.25, float("nan")):
        c1.log({"loss": v})
    c1.summary.update({"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "pi": math.pi,
                       "tiny": 1e-300, "flag": True, "none": None, "text": "@home", "neg": -7})
    c1.finish()
    c2 = tc.init(project="csv", entity="team", id="c2", name="plain", config={"neg": 4, "eq": "safe"})
    c2.log({"loss": 2})
    c2.finish()
    c3 = tc.init(project="csv", entity="team", id="c3", name="third", config={"neg": -1})
    c3.define_metric("loss", summary="min,max")
    c3.log({"loss": -1.5})
    c3.finish()


def read_csv(text: str) -> list[list[str]]:
    assert "\r\n" in text or text.count("\n") <= 1
    return list(csv.reader(io.StringIO(text, newline="")))


# -- columns -----------------------------------------------------------------------------------


def test_columns_cover_every_matching_run(client):
    keys = [c["key"] for c in get(client, "/api/columns", project="team/ui")["columns"]]
    assert keys[:10] == ["name", "state", "created_at", "runtime", "tags", "notes", "group", "id", "job_type", "host"]
    assert keys[10:14] == [f"config.{XSS_KEY}", "config.layers.n", "config.lr", "config.opt"]
    assert {"summary.loss.min", "summary.loss.max", "summary.val/acc.best", "summary.ratio", "summary.w",
            "summary.w.mean", "summary._step"} <= set(keys)
    assert keys[-1] == "summary._step" and "summary._runtime" not in keys
    cols = {c["key"]: c for c in get(client, "/api/columns", project="team/ui")["columns"]}
    assert cols["summary.w"] == {"key": "summary.w", "kind": "summary", "order": None, "default": True}
    assert cols["summary.w.mean"]["default"] is False and cols["summary.w.mean"]["order"] == "summary_metrics.w.mean"
    assert cols["summary.loss.min"] == {"key": "summary.loss.min", "kind": "summary",
                                        "order": "summary_metrics.loss.min", "default": True}
    assert cols["runtime"]["order"] == "summary_metrics._runtime" and cols["tags"]["order"] is None
    # only the runs matching the filter count: rb has neither val/acc.best nor a tensor
    failed = get(client, "/api/columns", project="team/ui", filters='{"state": "failed"}')["columns"]
    failed = [c["key"] for c in failed]
    assert [k for k in failed if "." in k] == ["config.layers.n", "config.lr", "config.opt", "summary.loss.min",
                                               "summary._step"]
    none = get(client, "/api/columns", project="team/ui", filters='{"state": "crashed"}')["columns"]
    assert [c["key"] for c in none] == keys[:10]
    assert "unknown filter field 'x'" in get(client, "/api/columns", status=400, project="team/ui",
                                             filters='{"x": 1}')["detail"]


def test_column_keys_follow_new_runs_and_edits(client, api):
    def keys():
        return {c["key"] for c in get(client, "/api/columns", project="team/ui")["columns"]}

    assert "summary.fresh" not in keys()
    run = api.run("team/ui/ra")
    run.summary["fresh"] = 1  # an Api edit moves the run's updated_at: the cache is renewed
    run.summary.update()
    assert "summary.fresh" in keys()
    new = tc.init(project="ui", entity="team", id="rd", config={"extra": {"deep": 1}})
    new.log({"brand/new": 3})
    new.finish()
    assert {"config.extra.deep", "summary.brand/new"} <= keys()
    api.run("team/ui/rd").delete()
    assert "config.extra.deep" not in keys()


def test_a_store_with_column_keys_answers_directly(client, monkeypatch):
    store = client.app.state.store
    calls = []

    def column_keys(entity, project, filters):
        calls.append((entity, project, filters))
        return ["lr"], ["acc.best", "w._type", "w.mean"]

    monkeypatch.setattr(store, "column_keys", column_keys, raising=False)
    cols = get(client, "/api/columns", project="team/ui", filters='{"state": "finished"}')["columns"]
    assert calls == [("team", "ui", {"state": "finished"})]
    assert [c["key"] for c in cols][10:] == ["config.lr", "summary.acc.best", "summary.w", "summary.w._type",
                                             "summary.w.mean", "summary._step"]


def test_runs_page_sends_only_the_asked_columns(client):
    data = get(client, "/api/runs", project="team/ui", col=["name", "config.lr", "summary.loss.min", "summary.w"])
    assert [(r["id"], r["config"], r["summary"]) for r in data["runs"]] == [
        ("ra", {"lr": 0.1}, {"loss.min": 0.2}), ("rb", {"lr": 0.01}, {"loss.min": 0.05}),
        ("rc", {"lr": 0.5}, {"w": data["runs"][2]["summary"]["w"]})]
    assert data["runs"][2]["summary"]["w"]["_type"] and data["runs"][2]["summary"]["w"]["size"] == 1000
    assert [c["key"] for c in data["columns"]] == ["config.lr", "summary.loss.min", "summary.w"]
    assert data["columns"][2]["order"] is None  # a tensor: sort by summary.w.mean instead
    page = get(client, "/api/runs", project="team/ui", filters='{"id": "rc"}')["columns"]  # the page's columns
    assert [c["key"] for c in page if c["default"]] == [f"config.{XSS_KEY}", "config.layers.n", "config.lr",
                                                         "config.opt", "summary.html", "summary.loss.max", "summary.w",
                                                         "summary._step"]
    assert {"summary.w.mean": False, "summary.w": True}.items() <= {c["key"]: c["default"] for c in page}.items()
    bad = get(client, "/api/runs", status=400, project="team/ui", col=["bogus"])
    assert bad["detail"].startswith("unknown column 'bogus'")
    assert get(client, "/api/runs", status=400, project="team/ui", col=["config."])["detail"].startswith(
        "unknown column 'config.'")


# -- CSV -----------------------------------------------------------------------------------------


def test_csv_cells_are_exact_and_safe():
    assert [export_cell(v) for v in (3, -3, 2**70, 0.1, -0.1, 1e-300, float("nan"), float("inf"), float("-inf"))] == [
        "3", "-3", str(2**70), "0.1", "-0.1", "1e-300", "NaN", "Infinity", "-Infinity"]
    assert [export_cell(v) for v in (True, None, "x", [1, "=x"], {"a": 1})] == ["true", "", "x", '[1, "=x"]',
                                                                               '{"a": 1}']
    assert [safe_text(t) for t in FORMULAS.values()] == ["'" + t for t in FORMULAS.values()]
    assert [safe_text(t) for t in ("-5", "+1.5e-3", "-.5", "plain", "a=b", "")] == ["-5", "+1.5e-3", "-.5", "plain",
                                                                                  "a=b", ""]
    assert safe_text("-Infinity") == "'-Infinity"  # the text, not the number
    assert file_name(XSS_NAME) == "script_window.__xss_1_script-runs.csv"
    assert file_name("my project") == "my_project-runs.csv" and file_name("..") == "runs-runs.csv"


def test_csv_export_is_the_view_with_exact_values(client, api, monkeypatch):
    make_csv_runs()
    monkeypatch.setattr(table, "PAGE", 2)  # several store pages, streamed
    res = client.get("/api/runs.csv", params={"project": "team/csv", "order": "-config.neg", "pin": "config.neg",
                                               "col": ["name", "config.neg", "summary.loss.min", "config.eq",
                                                       "summary.nan", "summary.inf", "summary.ninf", "notes"]})
    assert res.status_code == 200 and res.headers["content-type"] == "text/csv; charset=utf-8"
    assert res.headers["content-disposition"] == 'attachment; filename="csv-runs.csv"'
    rows = read_csv(res.text)
    assert rows[0] == ["config.neg", "name", "summary.loss.min", "config.eq", "summary.nan", "summary.inf",
                       "summary.ninf", "notes"]
    order = [r.id for r in api.runs("team/csv", order="-config.neg")]
    assert order == ["c2", "c3", "c1"] and [r[1] for r in rows[1:]] == ["plain", "third",
                                                                         "'=HYPERLINK(\"http://x\")"]
    assert rows[1:] == [["4", "plain", "", "safe", "", "", "", ""],
                        ["-1", "third", "-1.5", "", "", "", "", ""],
                        ["-3", "'=HYPERLINK(\"http://x\")", "-0.25", "'=1+2", "NaN", "Infinity", "-Infinity",
                         'a,b"c\nd']]
    assert 'a,b""c\nd"' in res.text  # RFC 4180 quoting of the notes


def test_csv_default_view_every_value_against_the_api(client, api):
    make_csv_runs()
    res = client.get("/api/runs.csv", params={"project": "team/csv", "hide": ["created_at", "runtime", "notes"]})
    rows = read_csv(res.text)
    header, body = rows[0], rows[1:]
    cols = [c["key"] for c in get(client, "/api/columns", project="team/csv")["columns"]
            if c["default"] and c["key"] not in ("created_at", "runtime", "notes")]
    assert header == cols
    assert [r[header.index("name")] for r in body] == ["'=HYPERLINK(\"http://x\")", "plain", "third"]
    for line, run in zip(body, api.runs("team/csv")):
        cells = dict(zip(header, line))
        assert cells["state"] == run.state and json.loads(cells["tags"]) == run.tags
        for key, value in tc_flat(run.config).items():
            assert cells["config." + key] == export_cell(value), key
        for key, value in tc_flat(run.summary.to_dict()).items():
            if "summary." + key in cells:
                assert cells["summary." + key] == export_cell(value), key
    c1 = dict(zip(header, body[0]))
    assert (c1["config.neg"], c1["config.negf"], c1["config.numstr"], c1["config.big"]) == ("-3", "-0.1", "-5",
                                                                                           str(2**70))
    assert float(c1["summary.pi"]) == math.pi and float(c1["summary.tiny"]) == 1e-300
    assert (c1["summary.flag"], c1["summary.none"], c1["summary.text"], c1["summary.neg"]) == ("true", "", "'@home",
                                                                                              "-7")
    assert [c1["config." + k] for k in FORMULAS] == ["'" + v for v in FORMULAS.values()]
    assert c1["config.list"] == '[1, "=x"]'
    assert (c1["summary.loss.min"], c1["summary.loss.max"]) == ("-0.25", "0.5")


def tc_flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v and "_type" not in v:
            out.update(tc_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def test_csv_errors_are_json_before_any_row(client):
    for params, status, text in (
        ({"project": "team/ui", "filters": '{"nope": 1}'}, 400, "unknown filter field 'nope'"),
        ({"project": "team/ui", "filters": "{bad"}, 400, "not valid JSON"),
        ({"project": "team/ui", "order": "tags"}, 400, "cannot order by tags"),
        ({"project": "team/ui", "col": "what"}, 400, "unknown column 'what'"),
        ({"project": "team/ui", "hide": "config"}, 400, "unknown column 'config'"),
        ({"project": "a/b/c"}, 400, "project must be"),
    ):
        res = client.get("/api/runs.csv", params=params)
        assert res.status_code == status and text in res.json()["detail"], (params, res.text)
        assert "Traceback" not in res.text
    empty = client.get("/api/runs.csv", params={"project": "team/none", "col": ["name", "config.lr"]})
    assert empty.status_code == 200 and empty.text == "name,config.lr\r\n"


# -- edits ---------------------------------------------------------------------------------------


def test_summary_text_edits_go_through_the_api(edit_client, api):
    res = edit_client.patch("/api/runs/team/ui/ra", json={"summary_text": {"test/acc": "0.93", "opt": "adam",
                                                                           "quoted": '"0.5"', "bad": "NaN"}})
    assert res.status_code == 200, res.text
    summary = api.run("team/ui/ra").summary
    assert (summary["test/acc"], summary["opt"], summary["quoted"]) == (0.93, "adam", "0.5")
    assert math.isnan(summary["bad"])
    rows = {r["key"]: r for r in res.json()["summary"]}
    assert rows["test/acc"]["how"] == "set" and rows["test/acc"]["editable"] is True
    assert rows["loss.min"]["editable"] is False and rows["loss.min"]["path"] == ["loss"]
    # the edit box's text reads back exactly
    assert [rows[k]["edit_text"] for k in ("test/acc", "opt", "quoted", "bad", "loss.min")] == [
        "0.93", "adam", '"0.5"', "NaN", None]
    assert res.json()["editable"] is True
    for body, text in (({"summary_text": {"_step": "1"}}, "'_step' cannot be edited"),
                       ({"summary_text": {"": "1"}}, "'' cannot be edited"),
                       ({"summary": {"a": 1}, "summary_text": {"a": "2"}}, "both summary and summary_text"),
                       ({"summary": {"a": 1}, "delete_summary": ["a"]}, "both set and deleted"),
                       ({"tags": "notalist"}, "tags")):
        res = edit_client.patch("/api/runs/team/ui/ra", json=body)
        assert res.status_code in (400, 422) and text in res.json()["detail"], (body, res.text)
    assert "a" not in api.run("team/ui/ra").summary


def test_read_only_server_refuses_every_edit(client, api):
    for body in ({"notes": "x"}, {"tags": ["x"]}, {"summary": {"a": 1}}, {"summary_text": {"a": "1"}},
                 {"delete_summary": ["ratio"]}):
        res = client.patch("/api/runs/team/ui/ra", json=body)
        assert res.status_code == 403 and "--allow-edits" in res.json()["detail"]
    run = api.run("team/ui/ra")
    assert (run.notes, run.tags, run.summary["ratio"]) == ("first try", ["base"], 0.123456789)
    assert get(client, "/api/runs/team/ui/ra")["editable"] is False


def test_a_project_named_runs_is_not_mistaken_for_a_url(store_dir):
    run = tc.init(project="runs", entity="team", id="x1", name="in runs")
    run.finish()
    data = get(TestClient(create_app()), "/api/runs/team/runs/x1")
    assert (data["project"], data["name"]) == ("runs", "in runs")


@pytest.fixture
def pg_client(monkeypatch, tmp_path, store_dir):
    """The UI over a fresh PostgreSQL schema (TRACKER_TEST_POSTGRES_URL; skipped without it)."""
    from .helpers_pg import fresh_schema
    from .test_store_backends import _finish_live

    with fresh_schema("ui_") as url:
        monkeypatch.setenv("TRACKER_STORE", url)
        try:
            make_runs()
            make_csv_runs()
            yield TestClient(create_app(url, allow_edits=True))
        finally:
            _finish_live()


def test_postgres_columns_csv_and_edits(pg_client):
    keys = [c["key"] for c in get(pg_client, "/api/columns", project="team/ui")["columns"]]
    assert {"summary.loss.max", "summary.w", "summary.val/acc.best", f"config.{XSS_KEY}"} <= set(keys)
    rows = read_csv(pg_client.get("/api/runs.csv", params={"project": "team/csv", "order": "-config.neg",
                                                           "col": ["name", "config.neg", "summary.ninf"]}).text)
    assert rows == [["name", "config.neg", "summary.ninf"], ["plain", "4", ""], ["third", "-1", ""],
                    ["'=HYPERLINK(\"http://x\")", "-3", "-Infinity"]]
    res = pg_client.patch("/api/runs/team/ui/ra", json={"tags": ["pg"], "summary_text": {"k": "1"}})
    assert res.status_code == 200, res.text
    run = tc.Api().run("team/ui/ra")
    assert (run.tags, run.summary["k"]) == (["pg"], 1)
