"""Shared helpers for the summary-rule tests (test_rules_*.py): exact comparison of
summaries (types included: 2.0 is not 2, NaN equals NaN), live and after finish() through a
fresh ``tc.Api()``, and history rows."""

from __future__ import annotations

import collections.abc
import math

import tracker_core as tc

NAN, INF = float("nan"), float("inf")
VOLATILE = ("_runtime", "_timestamp")


def plain(value):
    """A summary (or a nested summary view) as plain nested dicts."""
    if isinstance(value, collections.abc.Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def user_view(summary) -> dict:
    return {k: plain(v) for k, v in summary.items() if k not in VOLATILE}


def stored(run) -> dict:
    """The summary read back through a fresh Api (the run must be finished)."""
    return user_view(tc.Api().run(run.path).summary)


def same(actual, expected) -> bool:
    """Exact equality: same types (int is not float, bool is not int), NaN equals NaN."""
    if isinstance(expected, float) and math.isnan(expected):
        return type(actual) is float and math.isnan(actual)
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(same(actual[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(same(a, e) for a, e in zip(actual, expected))
    return actual == expected


def check(actual, expected) -> None:
    assert same(actual, expected), f"\nactual:   {actual!r}\nexpected: {expected!r}"


def finish_and_check(run, expected: dict) -> None:
    """The live summary, then the stored one after finish(), are exactly ``expected``."""
    check(user_view(run.summary), expected)
    run.finish()
    check(stored(run), expected)


def rows(run) -> list[dict]:
    """History rows via scan_history, without _timestamp, in the order the store returns them."""
    return [{k: v for k, v in r.items() if k != "_timestamp"} for r in tc.Api().run(run.path).scan_history()]


def row_set(run) -> list:
    """Order-independent form of the history (DESIGN.md does not fix the order of rows)."""
    return sorted((r["_step"], sorted(r.items())) for r in rows(run))
