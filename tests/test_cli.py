"""The ``tracker`` command, run as a subprocess against a store built here."""

import subprocess

import tracker_core as tc

from .conftest import PYTHON


def tracker(*args, env):
    return subprocess.run([PYTHON, "-m", "tracker_core.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def make_run():
    run = tc.init(project="cli", name="first", config={"lr": 0.5, "opt": {"name": "sgd"}}, tags=["a"])
    run.define_metric("loss", summary="min")
    for loss in (0.9, 0.2, 0.4):
        run.log({"loss": loss})
    run.summary["note"] = "hi"
    run.finish()
    return run


def test_runs_lists_each_run_with_summary(child_env):
    run = make_run()
    out = tracker("runs", "cli", env=child_env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"{run.id}\tfirst\tfinished\tloss.min=0.2, note=hi"]


def test_show_prints_config_and_how_summary_was_computed(child_env):
    run = make_run()
    out = tracker("show", run.path, env=child_env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert f"run      {run.path}" in lines
    assert "  opt.name = sgd" in lines and "  lr = 0.5" in lines
    assert "  loss.min = 0.2   (min @ step 1)" in lines
    assert "  _step = 2" in lines


def test_unknown_run_is_an_error_not_a_traceback(child_env):
    out = tracker("show", "nobody/cli/missing", env=child_env)
    assert out.returncode == 1
    assert "not found" in out.stderr and "Traceback" not in out.stderr
