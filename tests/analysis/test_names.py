"""One snippet, one expected (inputs, outputs, deletions) per scoping rule."""

from __future__ import annotations

import ast

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from nbcache.analysis.names import CellAnalysis, analyse_tree

BUILTINS = {"print", "len", "range", "open", "sum", "isinstance", "int"}


def analyse(source: str) -> CellAnalysis:
    return analyse_tree(ast.parse(source))



def sets(src: str) -> tuple[set, set, set]:
    a = analyse(src)
    return set(a.inputs) - BUILTINS, set(a.outputs), set(a.deletions)


@pytest.mark.parametrize(
    "src, inputs, outputs",
    [
        ("x = y + 1", {"y"}, {"x"}),
        ("x = 1\ny = x", set(), {"x", "y"}),
        ("y = x\nx = 1", {"x"}, {"x", "y"}),  # a read before a write is an input
        ("n += 1", {"n"}, {"n"}),  # augmented assignment reads first
        ("x.a[i] = 1", {"x", "i"}, set()),  # writes into x's object: reads x, binds nothing
        ("lst.append(1)", {"lst"}, set()),  # what a call changes in place is seen at run time
        ("a, (b, *c) = t", {"t"}, {"a", "b", "c"}),
        ("x: int = v", {"v"}, {"x"}),
        ("x: int", set(), set()),  # an annotation alone binds nothing
        ("[i * k for i in r]", {"k", "r"}, set()),  # comprehension variables are local
        ("{k: v for k, v in d.items() if v > lim}", {"d", "lim"}, set()),
        ("[[j for j in i] for i in m]", {"m"}, set()),
        ("[(t := i) for i in r]\nprint(t)", {"r", "t"}, {"t"}),  # walrus in a comprehension binds in the cell
        ("(w := f())\nprint(w)", {"f"}, {"w"}),
        ("def f(a, b=d):\n    return a + g(b) + c", {"d", "g", "c"}, {"f"}),  # free names of functions
        ("def f():\n    x = 1\n    return x", set(), {"f"}),
        ("def f(x):\n    def h():\n        return x + z\n    return h", {"z"}, {"f"}),
        ("f = lambda a: a * k", {"k"}, {"f"}),
        ("class A(B):\n    k = K\n    def m(self):\n        return G + self.k", {"B", "K", "G"}, {"A"}),
        ("import os.path, numpy as np", set(), {"os", "np"}),
        ("from pathlib import Path as P", set(), {"P"}),
        ("for i in r:\n    acc = i\n", {"r"}, {"i", "acc"}),
        ("for i in r:\n    pass\nprint(i)", {"r", "i"}, {"i"}),  # a loop may not run: i may come from before
        ("if c:\n    a = 1\nelse:\n    a = 2\nprint(a)", {"c"}, {"a"}),  # bound on both branches
        ("if c:\n    a = 1\nprint(a)", {"c", "a"}, {"a"}),  # bound on one branch only
        ("while c:\n    c = step(c)", {"c", "step"}, {"c"}),
        ("with open(p) as fh:\n    data = fh.read()", {"p"}, {"fh", "data"}),
        ("try:\n    v = f()\nexcept E as e:\n    v = 0\nprint(v)", {"f", "E"}, {"v", "e"}),
        ("try:\n    v = f()\nexcept E:\n    pass\nprint(v)", {"f", "E", "v"}, {"v"}),
        ("match p:\n    case [a, *rest] if a > lim:\n        b = a\n    case {'k': kk, **more}:\n        pass",
         {"p", "lim"}, {"a", "rest", "b", "kk", "more"}),
        ("match p:\n    case Color.RED:\n        pass", {"p", "Color"}, set()),
        ("global g\ng = 1", set(), {"g"}),
        ("from math import *", set(), {"*"}),
        ("_ = f()\nprint(_i3, _5, __, Out[2], get_ipython)", {"f", "_i3", "_5", "__", "Out[2]"}, set()),
        ("print(_)", {"_"}, set()),  # the last result, read: an input like any other
    ],
)
def test_inputs_and_outputs(src: str, inputs: set, outputs: set) -> None:
    got_inputs, got_outputs, _ = sets(src)
    assert (got_inputs, got_outputs) == (inputs, outputs)


@pytest.mark.parametrize(
    "src, inputs, deletions",
    [
        ("del a, b", set(), {"a", "b"}),
        ("del a[0]", {"a"}, set()),  # deletes an item: reads a, deletes no name
        ("del x.attr", {"x"}, set()),
    ],
)
def test_deletions(src: str, inputs: set, deletions: set) -> None:
    got_inputs, _, got_deletions = sets(src)
    assert (got_inputs, got_deletions) == (inputs, deletions)


def test_read_of_deleted_name_is_an_input_again() -> None:
    assert sets("x = 1\ndel x\nprint(x)")[0] == {"x"}


def test_function_free_name_bound_later_is_still_an_input() -> None:
    # f may be called before `helper` is bound by this cell: conservatively an input.
    assert "helper" in sets("def f():\n    return helper()\ndef helper():\n    return 1\nf()")[0]


@pytest.mark.parametrize(
    "src, word",
    [
        ("eval('x + 1')", "eval()"),
        ("exec('y = 2')", "exec()"),
        ("v = globals()['x']", "globals()"),
        ("locals()", "locals()"),
        ("vars()", "vars()"),
        ("get_ipython().user_ns['x']", "user_ns"),
        ("get_ipython().run_line_magic('cd', '/tmp')", "%cd"),
    ],
)
def test_dynamic_name_access_is_reported(src: str, word: str) -> None:
    dynamic = analyse(src).dynamic
    assert dynamic is not None and word in dynamic


def test_globals_item_assignment_is_a_write_not_dynamic() -> None:
    a = analyse("globals()['made'] = k")
    assert a.dynamic is None and set(a.inputs) == {"k"}


def test_vars_of_an_object_is_not_dynamic() -> None:
    assert analyse("d = vars(obj)").dynamic is None


def _transformed(cell: str) -> str:
    return TransformerManager().transform_cell(cell)


def test_time_magic_code_is_analysed() -> None:
    a = analyse(_transformed("%time w = h(2)\nprint(w)"))
    assert (set(a.inputs) - BUILTINS, set(a.outputs), a.dynamic) == ({"h"}, {"w"}, None)


def test_timeit_reads_but_does_not_bind() -> None:
    a = analyse(_transformed("%timeit -n 3 -r 2 z = f(q)"))
    assert (set(a.inputs), set(a.outputs), a.dynamic) == ({"f", "q"}, set(), None)


def test_shell_command_expansions_are_inputs() -> None:
    a = analyse(_transformed("!echo {path} $name $$HOME"))
    assert set(a.inputs) == {"path", "name"} and a.dynamic is None


def test_top_level_await_is_flagged() -> None:
    assert analyse("x = await f()").uses_await


def test_match_class_pattern_reads_the_class() -> None:
    assert "Point" in analyse("match p:\n    case Point(x=0):\n        r = 1").inputs


def test_history_without_a_literal_index_is_dynamic() -> None:
    assert analyse("v = Out[k]").dynamic is not None
    assert analyse("v = Out[3]").inputs == {"Out[3]"}


def test_magics_that_read_no_names_are_kept_for_replay() -> None:
    a = analyse(_transformed("%matplotlib inline\nimport numpy as np"))
    assert a.dynamic is None and a.magics == (("matplotlib", "inline"),)
