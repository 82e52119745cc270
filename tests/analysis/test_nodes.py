"""The shared node list of a cell's tree: what ast.walk gives, listed once per tree."""

from __future__ import annotations

import ast

from nbcache.analysis.nodes import nodes, parents


def test_the_nodes_are_ast_walks_in_its_order() -> None:
    tree = ast.parse("import numpy as np\nx = np.random.rand(3)\nprint(f'{x}/a')")
    assert list(nodes(tree)) == list(ast.walk(tree))


def test_a_tree_is_listed_once_and_another_tree_on_its_own() -> None:
    first, second = ast.parse("x = 1"), ast.parse("x = 1")
    assert nodes(first) is nodes(first)
    assert nodes(second)[0] is second and nodes(first)[0] is first  # (contexts like ast.Store are shared)


_VARIED = """
import os
from pathlib import Path as P
@decorate(1)
class C(Base, metaclass=M):
    x: int = 0
    async def f(self, *a, k=1, **kw):
        async with ctx() as c, other():
            yield [i async for i in c if i]
        return lambda y=2: (y, *a, {**kw}, f"{self!r:>10}")
match value:
    case [1, *rest] if rest: pass
    case {"a": b, **others}: print(b)
    case P(name=n) | None: del n
try:
    x = y = z[1:2, ::3]
except (ValueError, TypeError) as e:
    raise e from None
finally:
    global g
"""


def test_the_nodes_of_every_kind_of_statement_are_ast_walks() -> None:
    tree = ast.parse(_VARIED)
    assert list(nodes(tree)) == list(ast.walk(tree))


def test_each_node_knows_its_parent_as_iter_child_nodes_tells() -> None:
    tree = ast.parse(_VARIED)
    assert parents(tree) == {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    assert parents(tree) is parents(tree)
