"""The ``tracker`` command, run as a subprocess against a store built here."""

import csv
import io
import json
import math
import subprocess

import numpy as np
import pytest

import tracker_core as tc

from .conftest import PYTHON

LONG_NAME = "gamma-" + "x" * 150


def tracker(*args, env):
    return subprocess.run([PYTHON, "-m", "tracker_core.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def ok(*args, env):
    out = tracker(*args, env=env)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    return out


def norm(line):
    return " ".join(line.split())


def make_run():
    run = tc.init(project="cli", name="first", config={"lr": 0.5, "opt": {"name": "sgd"}}, tags=["a"])
    run.define_metric("loss", summary="min")
    for loss in (0.9, 0.2, 0.4):
        run.log({"loss": loss})
    run.summary["note"] = "hi"
    run.finish()
    return run


def make_runs():
    """Three runs of team/cli with known ids: ra (finished), rb (failed), rc (finished)."""
    ra = tc.init(project="cli", entity="team", id="ra", name="alpha", tags=["base"], notes="first try",
                 config={"lr": 0.1, "opt": "adam", "layers": {"n": 2}})
    ra.define_metric("loss", summary="min")
    ra.define_metric("val/acc", summary="best", objective="maximize")
    for loss, acc in ((0.9, 0.5), (0.2, 0.7), (float("nan"), 0.9), (0.4, 0.8)):
        ra.log({"loss": loss, "val/acc": acc})
    ra.summary["big"] = 2**60 + 1
    ra.summary["ratio"] = 0.123456789
    ra.summary["flag"] = True
    ra.finish()

    rb = tc.init(project="cli", entity="team", id="rb", name="beta",
                 config={"lr": 0.01, "opt": "sgd", "layers": {"n": 4}})
    rb.define_metric("loss", summary="min")
    rb.define_metric("val/acc", summary="best", objective="maximize")
    for loss, acc in ((0.5, 0.6), (0.3, 0.95)):
        rb.log({"loss": loss, "val/acc": acc})
    rb.summary["ratio"] = float("inf")
    rb.finish(exit_code=1)

    rc = tc.init(project="cli", entity="team", id="rc", name=LONG_NAME,
                 config={"lr": 1.0, "opt": "adam", "layers": {"n": 8}})
    rc.log({"loss": 0.7})
    rc.summary["w"] = np.arange(100.0).reshape(10, 10)  # a tensor: stats dict, not default columns
    rc.finish()
    api = tc.Api()
    return {r: api.run(f"team/cli/{r}").created_at for r in ("ra", "rb", "rc")}


HEADER = ["id", "name", "state", "created_at", "summary.big", "summary.flag", "summary.loss", "summary.loss.min",
          "summary.ratio", "summary.val/acc.best", "summary._step", "config.lr", "config.opt", "config.layers.n"]


def ids(out):
    return [row[0] for row in csv.reader(io.StringIO(out.stdout))][1:]


# -- tracker runs ----------------------------------------------------------------------


def test_runs_csv_is_exact(child_env):
    created = make_runs()
    out = ok("runs", "team/cli", "--format", "csv", env=child_env)
    assert out.stdout.splitlines() == [
        ",".join(HEADER),
        f"ra,alpha,finished,{created['ra']},1152921504606846977,true,,0.2,0.123456789,0.9,3,0.1,adam,2",
        f"rb,beta,failed,{created['rb']},,,,0.3,Infinity,0.95,1,0.01,sgd,4",
        f"rc,{LONG_NAME},finished,{created['rc']},,,0.7,,,,0,1.0,adam,8",
    ]
    assert out.stderr == ""


def test_runs_json_is_exact_and_valid(child_env):
    created = make_runs()
    out = ok("runs", "cli", "--format", "json", env=child_env)
    data = json.loads(out.stdout, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
    missing = dict.fromkeys(HEADER)
    assert data == [
        {**missing, "id": "ra", "name": "alpha", "state": "finished", "created_at": created["ra"],
         "summary.big": 2**60 + 1, "summary.flag": True, "summary.loss.min": 0.2, "summary.ratio": 0.123456789,
         "summary.val/acc.best": 0.9, "summary._step": 3, "config.lr": 0.1, "config.opt": "adam",
         "config.layers.n": 2},
        {**missing, "id": "rb", "name": "beta", "state": "failed", "created_at": created["rb"],
         "summary.loss.min": 0.3, "summary.ratio": "Infinity", "summary.val/acc.best": 0.95, "summary._step": 1,
         "config.lr": 0.01, "config.opt": "sgd", "config.layers.n": 4},
        {**missing, "id": "rc", "name": LONG_NAME, "state": "finished", "created_at": created["rc"],
         "summary.loss": 0.7, "summary._step": 0, "config.lr": 1.0, "config.opt": "adam", "config.layers.n": 8},
    ]
    assert [list(row) for row in data] == [HEADER] * 3  # every column, in order
    assert type(data[0]["summary.big"]) is int and type(data[2]["config.lr"]) is float


def test_runs_table_rounds_floats_and_cuts_nothing(child_env):
    created = make_runs()
    out = ok("runs", "cli", env=child_env)
    lines = out.stdout.splitlines()
    assert lines[0].split() == HEADER
    assert set(lines[1]) == {"\u2500"} and len(lines[1]) >= len(lines[0])
    assert [norm(line) for line in lines[2:]] == [
        f"ra alpha finished {created['ra']} 1152921504606846977 true 0.2 0.123457 0.9 3 0.1 adam 2",
        f"rb beta failed {created['rb']} 0.3 inf 0.95 1 0.01 sgd 4",
        f"rc {LONG_NAME} finished {created['rc']} 0.7 0 1 adam 8",
    ]
    # columns line up: each value starts under (or, for numbers, ends under) its header
    header = lines[0]
    assert lines[2].index("alpha") == header.index("name")
    assert lines[2].index("0.123457") + len("0.123457") == header.index("summary.ratio") + len("summary.ratio")


def test_runs_filter_json_and_simple_forms(child_env):
    make_runs()
    cases = [
        (['{"summary_metrics.val/acc.best": {"$gt": 0.9}}'], ["rb"]),
        (['{"$or": [{"tags": "base"}, {"name": "beta"}]}'], ["ra", "rb"]),
        (["summary_metrics.loss.min<0.25"], ["ra"]),
        (["summary_metrics.val/acc.best >= 0.9"], ["ra", "rb"]),
        (["config.opt=adam"], ["ra", "rc"]),
        (['config.opt="sgd"'], ["rb"]),
        (["state!=failed"], ["ra", "rc"]),
        (["config.opt=adam", "config.lr>0.5"], ["rc"]),
        (["config.layers.n<=4"], ["ra", "rb"]),
        (["name=beta"], ["rb"]),
    ]
    for filters, expected in cases:
        args = [a for f in filters for a in ("--filter", f)]
        out = ok("runs", "cli", *args, "--format", "csv", "--columns", "id", env=child_env)
        assert ids(out) == expected, filters


def test_runs_sort_and_limit(child_env):
    make_runs()
    for order, expected in (("-summary_metrics.val/acc.best", ["rb", "ra", "rc"]),  # missing last
                            ("+config.lr", ["rb", "ra", "rc"]),
                            ("-config.lr", ["rc", "ra", "rb"]),
                            ("-summary.loss.min", ["rb", "ra", "rc"]),
                            ("name", ["ra", "rb", "rc"]),
                            ("-created_at", ["rc", "rb", "ra"])):
        out = ok("runs", "cli", "--sort", order, "--format", "csv", "-c", "id", env=child_env)
        assert ids(out) == expected, order
    out = ok("runs", "cli", "--sort", "-config.lr", "--limit", "2", "--format", "json", "-c", "id", env=child_env)
    assert json.loads(out.stdout) == [{"id": "rc"}, {"id": "ra"}]


def test_runs_columns_full_and_short_names(child_env):
    make_runs()
    out = ok("runs", "cli", "--format", "csv", "--columns", "id,name,loss.min,lr,config.layers.n,tags,w.mean",
             "--sort", "id", env=child_env)
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert rows == [
        ["id", "name", "summary.loss.min", "config.lr", "config.layers.n", "tags", "summary.w.mean"],
        ["ra", "alpha", "0.2", "0.1", "2", '["base"]', ""],
        ["rb", "beta", "0.3", "0.01", "4", "[]", ""],
        ["rc", LONG_NAME, "", "1.0", "8", "[]", "49.5"],
    ]
    out = ok("runs", "cli", "-c", "id,summary_metrics.val/acc.best,created", "--format", "json", "-n", "1",
             env=child_env)
    assert list(json.loads(out.stdout)[0]) == ["id", "summary.val/acc.best", "created_at"]


def test_runs_unknown_or_ambiguous_column_is_a_usage_error(child_env):
    make_runs()
    out = tracker("runs", "cli", "--columns", "id,nope", env=child_env)
    assert out.returncode == 2 and out.stdout == ""
    assert "unknown column 'nope'" in out.stderr
    assert "available: id, name, state, created_at" in out.stderr and "summary.loss.min" in out.stderr
    assert "config.layers.n" in out.stderr and "Traceback" not in out.stderr

    run = tc.init(project="amb", config={"x": 1})
    run.summary["x"] = 2
    run.finish()
    out = tracker("runs", "amb", "--columns", "x", env=child_env)
    assert out.returncode == 2 and "ambiguous: summary.x or config.x" in out.stderr
    out = ok("runs", "amb", "--columns", "config.x,summary.x", "--format", "csv", env=child_env)
    assert out.stdout.splitlines() == ["config.x,summary.x", "1,2"]


def test_runs_with_no_match(child_env):
    make_runs()
    out = ok("runs", "cli", "--filter", "state=running", env=child_env)
    assert out.stdout == "" and "No runs in project 'cli' match the filter." in out.stderr
    out = ok("runs", "cli", "-f", "state=running", "--format", "csv", env=child_env)
    assert out.stdout == "id,name,state,created_at\n"
    out = ok("runs", "cli", "-f", "state=running", "--format", "json", env=child_env)
    assert json.loads(out.stdout) == []
    out = ok("runs", "nothing-here", env=child_env)
    assert out.stdout == "" and "No runs in project 'nothing-here'." in out.stderr


def test_runs_lists_each_run_with_summary(child_env):
    run = make_run()
    out = ok("runs", "cli", "--format", "csv", env=child_env)
    created = tc.Api().run(run.path).created_at
    assert out.stdout.splitlines() == [
        "id,name,state,created_at,summary.loss.min,summary.note,summary._step,config.lr,config.opt.name",
        f"{run.id},first,finished,{created},0.2,hi,2,0.5,sgd",
    ]


def test_plain_table_matches_rich_layout():
    """Piped output is laid out without rich (fast); it must equal rich's rendering."""
    from rich.console import Console

    from tracker_core.cli._common import render
    from tracker_core.cli._runs import plain_table, rich_table

    columns = ["id", "name", "summary.acc", "config.lr"]
    cells = [["a1", "wide 名前", "0.5", "1"], ["b2222222", "", "", "0.001"], ["c3", "x", "12345.7", ""]]
    right = [False, False, True, True]
    console = Console(width=10_000, color_system=None, force_terminal=False, highlight=False)
    assert plain_table(columns, cells, right) == render(console, rich_table(columns, cells, right))


# -- tracker show ----------------------------------------------------------------------


def test_show_prints_overview_config_and_how_summary_was_computed(child_env):
    created = make_runs()
    out = ok("show", "team/cli/ra", env=child_env)
    lines = [norm(line) for line in out.stdout.splitlines()]
    for expected in ("run team/cli/ra", "name alpha", "state finished", f"created {created['ra']}",
                     "tags base", "notes first try", "Config", "lr 0.1", "opt adam", "layers.n 2", "Summary",
                     "loss.min 0.2 min @ step 1 (4 values, 1 NaN)",
                     "val/acc.best 0.9 best, maximize @ step 2 (4 values)",
                     "big 1152921504606846977 set explicitly",
                     "ratio 0.123457 set explicitly",
                     "flag true set explicitly",
                     "_step 3 last step logged"):
        assert expected in lines, (expected, lines)
    assert any(line.startswith("host ") for line in lines)
    order = ["Config", "lr 0.1", "Summary", "loss.min 0.2 min @ step 1 (4 values, 1 NaN)", "_step 3 last step logged"]
    assert [lines.index(x) for x in order] == sorted(lines.index(x) for x in order)

    lines = [norm(line) for line in ok("show", "cli/rc", env=child_env).stdout.splitlines()]
    assert "loss 0.7 last @ step 0 (1 value)" in lines
    assert ("w numpy.ndarray shape=(10, 10) float64 mean=49.5 std=28.8661 min=0 max=99 set explicitly"
            in lines), lines
    assert f"name {LONG_NAME}" in lines


def test_show_the_old_minimal_run(child_env):
    run = make_run()
    lines = [norm(line) for line in ok("show", run.path, env=child_env).stdout.splitlines()]
    assert f"run {run.path}" in lines
    assert "opt.name sgd" in lines and "lr 0.5" in lines
    assert "loss.min 0.2 min @ step 1 (3 values)" in lines
    assert "note hi set explicitly" in lines
    assert "_step 2 last step logged" in lines


def test_show_json(child_env):
    created = make_runs()
    out = ok("show", "team/cli/rb", "--format", "json", env=child_env)
    data = json.loads(out.stdout, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
    assert {k: data[k] for k in ("path", "id", "name", "state", "created_at", "tags", "notes", "group")} == {
        "path": "team/cli/rb", "id": "rb", "name": "beta", "state": "failed", "created_at": created["rb"],
        "tags": [], "notes": "", "group": None}
    assert data["config"] == {"lr": 0.01, "opt": "sgd", "layers": {"n": 4}}
    summary = {k: v for k, v in data["summary"].items() if k not in ("_runtime", "_timestamp")}
    assert summary == {"loss": {"min": 0.3}, "val/acc": {"best": 0.95}, "ratio": "Infinity", "_step": 1}
    assert data["summary_details"]["loss"] == {"min": {"value": 0.3, "step": 1}, "max": {"value": 0.5, "step": 0},
                                               "count": 2, "nan_count": 0}
    rows = {r["key"]: (r["value"], r["how"]) for r in data["summary_rows"]}
    assert rows["val/acc.best"] == (0.95, "best, maximize @ step 1 (2 values)")
    assert rows["ratio"] == ("Infinity", "set explicitly")
    assert isinstance(data["metadata"], dict) and "host" in data["metadata"]


# -- tracker summary -------------------------------------------------------------------


def test_summary_edit_writes_typed_values_and_keeps_other_keys(child_env):
    make_runs()
    out = ok("summary", "team/cli/ra", "acc=0.93", "flag=false", 'label="0.5"', "word=adam", "big=5",
             "val/acc=0.99", 'nested={"a": [1, 2]}', "--delete", "ratio", env=child_env)
    assert out.stdout.splitlines() == [
        "set acc = 0.93  (new key)",
        "set flag = false  (was true)",
        'set label = "0.5"  (new key)',
        'set word = "adam"  (new key)',
        "set big = 5  (was 1152921504606846977)",
        'set val/acc = 0.99  (was {"best": 0.9})',
        'set nested = {"a": [1, 2]}  (new key)',
        "deleted ratio  (was 0.123456789)",
    ]
    summary = tc.Api().run("team/cli/ra").summary
    expected = {"acc": (0.93, float), "flag": (False, bool), "label": ("0.5", str), "word": ("adam", str),
                "big": (5, int), "val/acc": (0.99, float)}
    for key, (value, kind) in expected.items():
        assert summary[key] == value and type(summary[key]) is kind, key
    assert summary["nested"].to_dict() == {"a": [1, 2]}
    assert "ratio" not in summary
    assert summary["loss"] == {"min": 0.2}  # untouched
    assert summary.details("loss")["min"] == {"value": 0.2, "step": 1}
    other = tc.Api().run("team/cli/rb").summary
    assert other["ratio"] == math.inf and other["val/acc"] == {"best": 0.95}


def test_summary_edit_errors(child_env):
    make_runs()
    before = tc.Api().run("team/cli/ra").summary.to_dict()
    for args, code, message in ((["team/cli/ra"], 2, "nothing to do"),
                                (["team/cli/ra", "noequals"], 2, "expected KEY=VALUE, got 'noequals'"),
                                (["team/cli/ra", "=1"], 2, "expected KEY=VALUE"),
                                (["team/cli/ra", "a=1", "a=2"], 2, "'a' is given twice"),
                                (["team/cli/ra", "a=1", "--delete", "a"], 2, "both set and deleted: a"),
                                (["team/cli/ra", "a=1", "--delete", "nope"], 1, "has no summary key 'nope'"),
                                (["team/cli/zz", "a=1"], 1, "not found")):
        out = tracker("summary", *args, env=child_env)
        assert out.returncode == code, (args, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
    assert tc.Api().run("team/cli/ra").summary.to_dict() == before  # nothing was written


# -- errors, entry points --------------------------------------------------------------


def test_unknown_run_is_an_error_not_a_traceback(child_env):
    make_runs()
    out = tracker("show", "nobody/cli/missing", env=child_env)
    assert out.returncode == 1 and out.stdout == ""
    assert "Error: run 'nobody/cli/missing' not found" in out.stderr and "Traceback" not in out.stderr


def test_usage_and_runtime_errors_have_exit_codes_and_no_traceback(child_env, tmp_path):
    make_runs()
    cases = [
        (["runs", "cli", "--filter", "{bad"], 2, "--filter: not valid JSON"),
        (["runs", "cli", "--filter", "summary_metrics.acc~1"], 2, "expected a JSON object or KEY OP VALUE"),
        (["runs", "cli", "--filter", "nope=1"], 2, "--filter: unknown filter field 'nope'"),
        (["runs", "cli", "--filter", '{"$foo": []}'], 2, "unknown operator '$foo'"),
        (["runs", "cli", "--sort", "-nope"], 2, "--sort: unknown filter field 'nope'"),
        (["runs", "cli", "--format", "xml"], 2, "'xml' is not one of"),
        (["runs", "a/b/c"], 2, "PROJECT must be 'project' or 'entity/project'"),
        (["show", "justone"], 2, "expected 'entity/project/run_id'"),
        (["--store", str(tmp_path / "nowhere"), "runs", "cli"], 1, "store not found"),
        (["--store", str(tmp_path / "nowhere"), "show", "team/cli/ra"], 1, "store not found"),
    ]
    for args, code, message in cases:
        out = tracker(*args, env=child_env)
        assert out.returncode == code, (args, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr and out.stdout == "", args
    assert not (tmp_path / "nowhere").exists()  # a read never creates a store


def test_store_option_and_console_script_entry_point(child_env, store_dir):
    make_runs()
    env = {k: v for k, v in child_env.items() if k != "TRACKER_STORE"}
    out = subprocess.run([PYTHON, "-c", "from tracker_core.cli import main; main()", "--store", str(store_dir),
                          "runs", "cli", "--format", "csv", "-c", "id"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["id", "ra", "rb", "rc"]


def test_help_documents_both_filter_forms(child_env):
    out = ok("runs", "--help", env=child_env)
    text = norm(out.stdout)
    assert "KEY OP VALUE" in text and "'summary_metrics.acc>0.5'" in text
    assert '{"summary_metrics.acc": {"$gt": 0.5}}' in text and '"NaN", "Infinity", "-Infinity"' in text
    for command in ("runs", "show", "summary"):
        assert command in ok("--help", env=child_env).stdout


def test_importing_the_cli_does_not_import_rich(child_env):
    out = subprocess.run([PYTHON, "-c", "import sys, tracker_core.cli; print('rich' in sys.modules)"],
                         env=child_env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
