"""Issue 5, acceptance 4: schema-driven fuzzing of the UI's JSON endpoints (schemathesis,
from the app's own OpenAPI schema) finds no server error, with edits allowed."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("fastapi")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracker_core as tc
from tracker_core.ui.app import create_app


def _schema(tmp_path):
    store = str(tmp_path / "fuzz-store")
    with tc.init(project="fuzz", entity="ent", id="r1", store=store, config={"lr": 0.1, "opt": {"name": "adam"}},
                 tags=["a"], notes="<b>notes</b>") as run:
        run.define_metric("loss", summary="min,max")
        for step, loss in enumerate([0.9, 0.3, float("nan"), 0.5]):
            run.log({"loss": loss, "acc": step / 4, "name": "x" * step})
        run.summary["w"] = list(range(40))
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(store, allow_edits=True))


def test_no_server_error_on_any_operation(tmp_path):
    """Every operation of the schema (runs table, columns, CSV export, overview, history,
    edits), 40 generated requests each, edits allowed."""
    schema = _schema(tmp_path)
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {(op.method.upper(), op.path) for op in operations}
    assert {("GET", "/api/projects"), ("GET", "/api/runs"), ("GET", "/api/columns"), ("GET", "/api/runs.csv"),
            ("GET", "/api/runs/{entity}/{project}/{run_id}"), ("GET", "/api/runs/{entity}/{project}/{run_id}/history"),
            ("PATCH", "/api/runs/{entity}/{project}/{run_id}")} <= paths
    for operation in operations:

        @given(case=operation.as_strategy(), existing=st.booleans())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  derandomize=True)  # the same requests on every machine: CI is reproducible
        def check(case, existing):
            if existing and case.path_parameters:  # half of the run requests name the real run
                case.path_parameters = {**case.path_parameters, "entity": "ent", "project": "fuzz", "run_id": "r1"}
            if existing and case.query and "project" in case.query:  # and half of the table requests its project
                case.query = {**case.query, "project": "ent/fuzz"}
                case.query.pop("entity", None)
            response = case.call()
            assert response.status_code < 500, (case.method, case.formatted_path, case.query, response.status_code,
                                                response.text[:300])

        check()
