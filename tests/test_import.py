"""Acceptance: ``import tracker_core`` loads no ML framework and no pandas."""

import subprocess

from .conftest import PYTHON

HEAVY = ("torch", "tensorflow", "keras", "transformers", "lightning", "pytorch_lightning", "pandas", "jax")


def test_import_loads_no_framework(child_env):
    code = ("import sys, tracker_core, tracker_core.integrations; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([PYTHON, "-c", code], env=child_env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_logging_numpy_and_python_values_loads_no_framework(child_env):
    code = ("import sys, numpy as np, tracker_core as tc\n"
            "run = tc.init(project='p')\n"
            "run.log({'a': 1.0, 'b': np.float32(2), 'c': np.arange(40)})\n"
            "run.summary['w'] = np.ones(50)\n"
            "run.finish()\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([PYTHON, "-c", code], env=child_env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
