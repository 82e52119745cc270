"""Differential test: generated sequences of small cells run without %%cache, then twice with it (the second
time mostly hits, also on entries left by earlier examples); namespaces and printed output must be equal at
every step."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.utils.capture import capture_output

from tests.support import Shell

PRELUDE = """
import numpy as np
a = 1
b = [1]
alias = b
K = 1
def f(v):
    return v + K
c = 0
d = {'k': 0}
arr = np.arange(3)
g = lambda v: v + a
class P:
    def __init__(self, v):
        self.v = v
    def get(self):
        return self.v + K
p = P(1)
"""

TEMPLATES = [
    "a = {n}",
    "a = a + {n}",
    "b = [a, {n}]",
    "b.append(a)",
    "alias = b",
    "K = {n}",
    "def f(v):\n    return v + K",
    "def f(v):\n    return v * {n}",
    "c = f(a)",
    "print(a, b, f(a))",
    "d['k'] = a",
    "d = {{'k': {n}}}",
    "arr = np.arange({n})",
    "arr[0] = a",
    "c = int(arr.sum()) + c",
    "try:\n    del c\nexcept NameError:\n    pass",
    "print(sorted(d.items()), arr.tolist(), alias is b)",
    "g = lambda v: v + a",
    "c = g({n})",
    "b += [{n}]",
    "p = P(a)",
    "p.v = {n}",
    "c = p.get()",
    "class P:\n    def __init__(self, v):\n        self.v = v * {n}\n    def get(self):\n        return self.v",
    "items = [p, b]",
]

VARIABLES = ("np", "a", "b", "alias", "K", "f", "c", "d", "arr", "g", "P", "p", "items")

cells = st.builds(lambda template, n: template.format(n=n), st.sampled_from(TEMPLATES), st.integers(1, 4))


def _summary(value: Any) -> Any:
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    if isinstance(value, type):
        return ("class", value(2).get())
    if isinstance(value, list):
        return ("list", [_summary(v) for v in value])
    if hasattr(value, "__dict__") and not callable(value):
        return ("object", type(value).__name__, value.get(), _summary(vars(value)))
    if callable(value):
        return ("function", value(2))
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.tolist())
    return ("value", repr(value))


def _snapshot(ns: dict[str, Any]) -> tuple:
    names = sorted(n for n in VARIABLES if n in ns)
    values = {n: _summary(ns[n]) for n in names}
    mutable = [n for n in names if isinstance(ns[n], (list, dict, np.ndarray, ns.get("P", list)))]
    shared = {(x, y) for x in mutable for y in mutable if x < y and ns[x] is ns[y]}
    return values, shared


def _run_sequence(shell: Shell, sequence: list[str], cached: bool) -> list[tuple]:
    shell.ip.reset(new_session=False)
    shell.ip.run_cell(PRELUDE)
    steps = []
    for cell in sequence:
        source = f"%%cache -q\n{cell}" if cached else cell
        with capture_output() as captured:
            result = shell.ip.run_cell(source)
        # A failing cell prints a traceback whose frames differ under %%cache: compare the error instead.
        shown = captured.stdout if result.success else type(result.error_in_exec).__name__
        steps.append((cell, shown, _snapshot(shell.ns)))
    return steps


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(cells, min_size=1, max_size=7))
def test_cached_runs_equal_uncached_runs(shell: Shell, sequence: list[str]) -> None:
    plain = _run_sequence(shell, sequence, cached=False)
    first = _run_sequence(shell, sequence, cached=True)
    second = _run_sequence(shell, sequence, cached=True)
    for expected, got_first, got_second in zip(plain, first, second, strict=True):
        assert got_first == expected
        assert got_second == expected
