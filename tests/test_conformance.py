"""Acceptance: shared/conformance/check reports every case passed (skipped where shared/ is absent)."""

import os
import re
import subprocess

import pytest

from .conftest import PYTHON, ROOT

CHECK = os.path.join(os.path.dirname(ROOT), "shared", "conformance", "check")


@pytest.mark.skipif(not os.path.isfile(CHECK), reason="../shared/conformance is not beside this checkout")
def test_conformance_cases_all_pass(child_env):
    proc = subprocess.run([PYTHON, CHECK, "--python", PYTHON, "-j", "2"], cwd=ROOT, env=child_env,
                          capture_output=True, text=True, timeout=600)
    tail = proc.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"(\d+) passed, (\d+) failed, (\d+) skipped", tail)
    assert match, proc.stdout + proc.stderr
    assert (int(match[2]), int(match[3])) == (0, 0), proc.stdout
    assert int(match[1]) > 0
