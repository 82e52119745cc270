"""The cell's module-level locals: the C recorder (``nbcache._bindings``) and its pure-Python route must run top-level
code exactly as an exact dict would, and note the same names bound and deleted."""

from __future__ import annotations

import builtins
import gc
import textwrap
import weakref
from typing import Any

import pytest

from nbcache.cell import execute
from tests.support import has_c_compiler

ROUTES = {"python": execute._PythonBindingRecorder}
if execute._Bindings is not execute._PythonBindings:
    ROUTES["c"] = execute._BindingRecorder

# Top-level code of every kind that binds, rebinds, deletes or reads names through the locals mapping.
CELLS = {
    "rebinding the same object": "x = 1\ny = x\nx = 1",
    "a branch taken and one not": "if flag:\n    a = 1\nelse:\n    b = 2",
    "a loop": "total = 0\nfor i in range(5):\n    total += i\nwhile total > 3:\n    total -= 4",
    "an empty loop": "for j in range(0):\n    k = j",
    "deleting": "x = 2\ndel x\nq = 5\ndel q\nq = 6",
    "imports": "import os\nfrom os import path as p, sep\nfrom os.path import *",
    "definitions": "def f(v):\n    return v + base\nclass C:\n    attr = base\nr = f(1), C.attr",
    "walrus and comprehension": "vals = [w := n * 2 for n in range(3)]\nlast = (m := 7)",
    "builtins read": "n = len(str(sum(range(10))))\nm = max(abs(-3), 2)",
    "globals() write": "globals()['via_globals'] = 1\nz = via_globals + 1",
    "locals() write": "locals()['via_locals'] = 3\nhas = 'via_locals' in dir()",
    "dir, vars, locals": "names = sorted(n for n in dir() if n in ('base', 'flag'))\nsame = vars() is locals()",
    "membership": "inside = 'base' in locals(), 'nope' in locals()",
    "exec and eval": "exec('e1 = 4')\ne2 = eval('base * 2')",
    "augmented and unpacking": "u, (v, *rest) = 1, (2, 3, 4)\nu += v\nrest *= 2",
    "with and try": "import contextlib\nwith contextlib.nullcontext(9) as c9:\n    pass\ntry:\n    1 / 0\n"
                    "except ZeroDivisionError as err:\n    caught = str(err)",
}


def _namespace() -> dict[str, Any]:
    return {"__builtins__": builtins, "base": 10, "flag": False, "x": 1}


def _run(source: str, recorder_type: Any) -> tuple[dict[str, Any], Any]:
    namespace = _namespace()
    code = compile(textwrap.dedent(source), "<cell>", "exec")
    locals_ = namespace if recorder_type is None else recorder_type(namespace)
    eval(code, namespace, locals_)
    return namespace, locals_


def _comparable(namespace: dict[str, Any]) -> dict[str, Any]:
    """Values that compare by value (functions and classes by name, as each run makes its own)."""
    return {name: getattr(value, "__qualname__", value) for name, value in namespace.items() if name != "__builtins__"}


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_top_level_code_runs_as_with_a_plain_dict(route: str, cell: str) -> None:
    plain, _ = _run(CELLS[cell], None)
    recorded, _ = _run(CELLS[cell], ROUTES[route])
    assert _comparable(recorded) == _comparable(plain)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_both_routes_note_the_same_names(cell: str) -> None:
    notes = {route: _run(CELLS[cell], kind)[1] for route, kind in ROUTES.items()}
    assert len({(frozenset(r.bound), frozenset(r.deleted)) for r in notes.values()}) == 1


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_the_names_noted(route: str) -> None:
    _, rebound = _run(CELLS["rebinding the same object"], ROUTES[route])
    assert rebound.bound == {"x", "y"}  # x was 1 before and after: only the recorder sees it rebound
    _, branch = _run(CELLS["a branch taken and one not"], ROUTES[route])
    assert branch.bound == {"b"}
    _, empty = _run(CELLS["an empty loop"], ROUTES[route])
    assert empty.bound == set()
    _, deleting = _run(CELLS["deleting"], ROUTES[route])
    assert (deleting.bound, deleting.deleted) == ({"q"}, {"x"})
    _, star = _run(CELLS["imports"], ROUTES[route])
    assert {"os", "p", "sep", "join", "dirname"} <= star.bound


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("source", ["undefined_name + 1", "del undefined_name"])
def test_errors_read_as_without_a_recorder(route: str, source: str) -> None:
    with pytest.raises(NameError) as plain:
        _run(source, None)
    with pytest.raises(NameError) as recorded:
        _run(source, ROUTES[route])
    assert str(recorded.value) == str(plain.value)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_recorder_in_a_reference_cycle_is_collected(route: str) -> None:
    namespace = _namespace()
    recorder = ROUTES[route](namespace)
    recorder["me"] = recorder  # the namespace holds the recorder, which holds the namespace
    gone = weakref.ref(recorder)
    del recorder, namespace
    gc.collect()
    assert gone() is None


def test_a_recorder_before_init_raises_instead_of_crashing() -> None:
    if "c" not in ROUTES:
        assert not has_c_compiler()
        return
    bare = execute._Bindings.__new__(execute._Bindings)
    with pytest.raises(RuntimeError, match="before __init__"):
        bare["x"]



def test_the_c_recorder_is_built_where_a_compiler_is() -> None:
    """A build that silently fell back to pure Python would run top-level loops 6x slower with no test noticing."""
    if has_c_compiler():
        assert "c" in ROUTES, "build it in place: python hatch_build.py (or pip install -e .)"
    assert execute.recorder_type is execute._BindingRecorder
    assert issubclass(execute.recorder_type, execute._PythonBindings) == ("c" not in ROUTES)
