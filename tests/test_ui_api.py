"""The UI's JSON API (tracker_core.ui.app) through FastAPI's TestClient, on a store built here."""

import json
import math

import numpy as np
import pytest

import tracker_core as tc

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient

from tracker_core.ui.app import create_app

XSS_NAME = "<script>window.__xss=1</script>"
XSS_NOTES = "<img src=x onerror=window.__xss=2>"
XSS_KEY = "<svg onload=window.__xss=3>"  # a config key: a column name in the table, picker and CSV


def make_runs():
    """team/ui: ra (finished), rb (failed), rc (finished, hostile strings); other/misc: one run."""
    ra = tc.init(project="ui", entity="team", id="ra", name="alpha", tags=["base"], notes="first try",
                 config={"lr": 0.1, "opt": "adam", "layers": {"n": 2}})
    ra.define_metric("loss", summary="min")
    ra.define_metric("val/acc", summary="best", objective="maximize")
    for step, (loss, acc) in enumerate(((0.9, 0.5), (0.2, 0.7), (float("nan"), 0.9), (0.4, 0.8))):
        ra.log({"loss": loss, "val/acc": acc}, step=step * 100)
    ra.summary["ratio"] = 0.123456789
    ra.finish()

    rb = tc.init(project="ui", entity="team", id="rb", name="beta",
                 config={"lr": 0.01, "opt": "sgd", "layers": {"n": 4}})
    rb.define_metric("loss", summary="min")
    for loss in (0.8, 0.05, 0.3):
        rb.log({"loss": loss})
    rb.finish(exit_code=1)

    rc = tc.init(project="ui", entity="team", id="rc", name=XSS_NAME, notes=XSS_NOTES, tags=[XSS_NAME],
                 config={"lr": 0.5, "opt": XSS_NOTES, "layers": {"n": 1},
                         XSS_KEY: XSS_NAME})
    rc.define_metric("loss", summary="max")
    for loss in (0.6, 0.7):
        rc.log({"loss": loss})
    rc.summary["w"] = np.arange(1000, dtype=np.float32)
    rc.summary["html"] = XSS_NAME
    rc.finish()

    other = tc.init(project="misc", entity="other", id="o1", name="solo")
    other.log({"x": 1})
    other.finish()


@pytest.fixture
def client(store_dir):
    make_runs()
    return TestClient(create_app())


@pytest.fixture
def edit_client(store_dir):
    make_runs()
    return TestClient(create_app(allow_edits=True))


def get(client, url, status=200, **params):
    res = client.get(url, params=params)
    assert res.status_code == status, res.text
    assert res.headers["content-type"].startswith("application/json")
    return res.json()


def test_projects(client):
    assert get(client, "/api/projects") == {"projects": [{"entity": "other", "project": "misc", "runs": 1},
                                                         {"entity": "team", "project": "ui", "runs": 3}]}
    assert get(client, "/api/projects", entity="team") == {"projects": [{"entity": "team", "project": "ui", "runs": 3}]}


def strip_created(data):
    for r in data["runs"]:
        assert r.pop("created_at").endswith("Z")
        assert isinstance(r.pop("runtime"), float)
    return data


def column(key, order=None, default=True, kind=None):
    kind = kind or key.split(".")[0]
    return {"key": key, "kind": kind, "order": order or key.replace("summary.", "summary_metrics.", 1),
            "default": default}


def test_runs_table_sorted_exact(client, api):
    data = strip_created(get(client, "/api/runs", project="team/ui", order="summary_metrics.loss.min", limit=2))
    assert data == {
        "total": 3, "offset": 0, "limit": 2,
        "runs": [
            {"id": "rb", "entity": "team", "project": "ui", "name": "beta", "state": "failed", "tags": [],
             "group": None, "notes": "", "job_type": None, "config": {"lr": 0.01, "opt": "sgd", "layers.n": 4},
             "summary": {"loss.min": 0.05, "_step": 2}},
            {"id": "ra", "entity": "team", "project": "ui", "name": "alpha", "state": "finished", "tags": ["base"],
             "group": None, "notes": "first try", "job_type": None,
             "config": {"lr": 0.1, "opt": "adam", "layers.n": 2},
             "summary": {"loss.min": 0.2, "val/acc.best": 0.9, "ratio": 0.123456789, "_step": 300}},
        ],
        # the config and summary columns of this page's rows (the picker's list is /api/columns)
        "columns": [column("config.layers.n"), column("config.lr"), column("config.opt"), column("summary.loss.min"),
                    column("summary.ratio"), column("summary.val/acc.best"), column("summary._step")],
    }
    # the same order as the public Api, and page 2 holds the rest
    assert [r.id for r in api.runs("team/ui", order="summary_metrics.loss.min")] == ["rb", "ra", "rc"]
    page2 = get(client, "/api/runs", project="ui", entity="team", order="summary_metrics.loss.min", offset=2, limit=2)
    assert [r["id"] for r in page2["runs"]] == ["rc"] and page2["total"] == 3
    desc = get(client, "/api/runs", project="team/ui", order="-config.lr")
    assert [r["id"] for r in desc["runs"]] == ["rc", "ra", "rb"]


def test_runs_table_filtered(client, api):
    flt = {"$and": [{"state": "finished"}, {"config.lr": {"$lt": 0.3}}]}
    data = strip_created(get(client, "/api/runs", project="team/ui", filters=json.dumps(flt)))
    assert [r["id"] for r in data["runs"]] == ["ra"] and data["total"] == 1
    assert data["runs"][0]["summary"] == {"loss.min": 0.2, "val/acc.best": 0.9, "ratio": 0.123456789, "_step": 300}
    assert [r.id for r in api.runs("team/ui", filters=flt)] == ["ra"]
    tags = get(client, "/api/runs", project="team/ui", filters='{"tags": "base"}')
    assert [r["id"] for r in tags["runs"]] == ["ra"]
    none = get(client, "/api/runs", project="team/ui", filters='{"summary_metrics.loss.min": {"$gt": 5}}')
    assert none == {"total": 0, "offset": 0, "limit": 50, "runs": [], "columns": []}


def test_overview_summary_matches_api(client, api):
    data = get(client, "/api/runs/team/ui/ra")
    run = api.run("team/ui/ra")
    assert (data["id"], data["name"], data["state"], data["notes"], data["tags"]) == ("ra", "alpha", "finished",
                                                                                       "first try", ["base"])
    assert data["created_at"] == run.created_at
    assert data["config"] == [{"key": "lr", "value": 0.1}, {"key": "opt", "value": "adam"},
                              {"key": "layers.n", "value": 2}]
    rows = {r["key"]: r for r in data["summary"]}
    loss, acc = run.summary.details("loss"), run.summary.details("val/acc")
    assert rows["loss.min"]["value"] == run.summary["loss"]["min"] == loss["min"]["value"] == 0.2
    assert (rows["loss.min"]["how"], rows["loss.min"]["step"]) == ("min", loss["min"]["step"]) == ("min", 100)
    assert rows["loss.min"]["text"] == "min @ step 100 (4 values, 1 NaN)"
    assert (rows["loss.min"]["count"], rows["loss.min"]["nan_count"]) == (4, 1)
    assert rows["val/acc.best"]["value"] == acc["best"]["value"] == 0.9
    assert (rows["val/acc.best"]["how"], rows["val/acc.best"]["step"]) == ("best", acc["best"]["step"]) == ("best", 200)
    assert rows["val/acc.best"]["text"] == "best, maximize @ step 200 (4 values)"
    assert rows["ratio"]["value"] == run.summary["ratio"] == 0.123456789
    assert rows["ratio"]["how"] == "set" and rows["ratio"]["step"] is None
    assert rows["_step"]["value"] == 300
    rb = {r["key"]: r for r in get(client, "/api/runs/team/ui/rb")["summary"]}
    assert (rb["loss.min"]["value"], rb["loss.min"]["step"]) == (0.05, 1)
    rc = {r["key"]: r for r in get(client, "/api/runs/team/ui/rc")["summary"]}
    d = api.run("team/ui/rc").summary.details("loss")
    assert (rc["loss.max"]["value"], rc["loss.max"]["how"], rc["loss.max"]["step"]) == (0.7, "max", d["max"]["step"])


def test_tensor_stats_and_history(client, api):
    data = get(client, "/api/runs/team/ui/rc")
    tensors = {t["key"]: t for t in data["tensors"]}
    assert tensors["w"]["_type"] and tensors["w"] == {"key": "w", **api.run("team/ui/rc").summary["w"]}
    hist = get(client, "/api/runs/team/ui/ra/history")
    assert hist["keys"] == ["loss", "val/acc"]
    assert hist["series"]["loss"] == {"steps": [0, 100, 200, 300], "values": [0.9, 0.2, None, 0.4], "count": 4}
    one = client.get("/api/runs/team/ui/ra/history", params={"keys": ["val/acc"], "samples": 2}).json()
    assert one["series"] == {"val/acc": {"steps": [0, 300], "values": [0.5, 0.8], "count": 4}}


def test_errors_are_json_without_traceback(client):
    for url in ("/api/runs/team/ui/nope", "/api/runs/team/nope/ra", "/api/runs/nobody/ui/ra/history"):
        body = get(client, url, status=404)
        assert "not found" in body["detail"]
    bad = get(client, "/api/runs", status=400, project="team/ui", filters='{"nonsense.x": 1}')
    assert bad["detail"].startswith("unknown filter field 'nonsense.x'")
    assert "Traceback" not in json.dumps(bad)
    op = get(client, "/api/runs", status=400, project="team/ui", filters='{"config.lr": {"$bogus": 1}}')
    assert "unknown operator '$bogus'" in op["detail"]
    assert "not valid JSON" in get(client, "/api/runs", status=400, project="team/ui", filters="{nope")["detail"]
    assert "cannot order by tags" in get(client, "/api/runs", status=400, project="team/ui", order="tags")["detail"]
    assert get(client, "/api/runs", status=422, project="team/ui", limit=0)["detail"]


def test_edits_forbidden_by_default(client, api):
    res = client.patch("/api/runs/team/ui/ra", json={"notes": "changed", "tags": ["x"]})
    assert res.status_code == 403 and "read-only" in res.json()["detail"]
    assert api.run("team/ui/ra").notes == "first try"


def test_edits_when_allowed(edit_client, api):
    res = edit_client.patch("/api/runs/team/ui/ra", json={"notes": "changed", "tags": ["x", "y"],
                                                          "summary": {"test/acc": 0.93}, "delete_summary": ["ratio"]})
    assert res.status_code == 200, res.text
    run = api.run("team/ui/ra")
    assert (run.notes, run.tags, run.summary["test/acc"]) == ("changed", ["x", "y"], 0.93)
    assert "ratio" not in run.summary
    assert edit_client.patch("/api/runs/team/ui/zz", json={"notes": "x"}).status_code == 404
    assert edit_client.patch("/api/runs/team/ui/ra", json={"delete_summary": ["nope"]}).status_code == 400


def test_hostile_strings_are_plain_json_strings(client):
    table = get(client, "/api/runs", project="team/ui", filters='{"id": "rc"}')
    row = table["runs"][0]
    assert (row["name"], row["notes"], row["tags"], row["config"]["opt"], row["summary"]["html"]) == (
        XSS_NAME, XSS_NOTES, [XSS_NAME], XSS_NOTES, XSS_NAME)
    data = get(client, "/api/runs/team/ui/rc")
    assert (data["name"], data["notes"]) == (XSS_NAME, XSS_NOTES)
    assert {"key": "opt", "value": XSS_NOTES} in data["config"]


def test_nan_is_a_string_and_pages_are_served(client, store_dir):
    r = tc.init(project="nan", entity="team", id="n1")
    r.summary["bad"] = float("nan")
    r.summary["big"] = float("inf")
    r.finish()
    summary = get(client, "/api/runs", project="team/nan")["runs"][0]["summary"]
    assert summary["bad"] == "NaN" and summary["big"] == "Infinity"
    for url in ("/", "/team/ui", "/team/ui/runs/ra"):
        res = client.get(url)
        assert res.status_code == 200 and res.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in res.headers["content-security-policy"]
    js = client.get("/static/vendor/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000 and b"plotly" in js.content[:2000].lower()
    assert client.get("/static/app.js").status_code == 200
    schema = get(client, "/openapi.json")
    assert {"/api/projects", "/api/runs", "/api/runs/{entity}/{project}/{run_id}",
            "/api/runs/{entity}/{project}/{run_id}/history"} <= set(schema["paths"])
    assert math.isfinite(len(schema["paths"]))


def test_ui_command_serves_on_loopback(store_dir, child_env):
    """``python -m tracker_core.ui`` (what ``tracker ui`` runs): serves the store, rejects foreign Host headers."""
    import socket
    import subprocess
    import time
    import urllib.error
    import urllib.request

    from .conftest import PYTHON

    make_runs()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([PYTHON, "-m", "tracker_core.ui", "--store", str(store_dir), "--port", str(port)],
                            env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(base + "/api/projects", timeout=2) as res:
                    assert json.load(res)["projects"][1] == {"entity": "team", "project": "ui", "runs": 3}
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
                time.sleep(0.1)
        req = urllib.request.Request(base + "/api/projects", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=2)
        assert err.value.code == 400
        req = urllib.request.Request(base + "/api/runs/team/ui/ra", method="PATCH", data=b'{"notes": "x"}',
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=2)
        assert err.value.code == 403
    finally:
        proc.terminate()
        proc.wait(10)
    missing = subprocess.run([PYTHON, "-m", "tracker_core.ui", "--store", str(store_dir) + "-nope"], env=child_env,
                             capture_output=True, text=True, timeout=30, check=False)
    assert missing.returncode == 1 and "store not found" in missing.stderr and "Traceback" not in missing.stderr
