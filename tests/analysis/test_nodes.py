"""The shared node list of a cell's tree: what ast.walk gives, listed once per tree."""

from __future__ import annotations

import ast

from nbcache.analysis.nodes import nodes


def test_the_nodes_are_ast_walks_in_its_order() -> None:
    tree = ast.parse("import numpy as np\nx = np.random.rand(3)\nprint(f'{x}/a')")
    assert list(nodes(tree)) == list(ast.walk(tree))


def test_a_tree_is_listed_once_and_another_tree_on_its_own() -> None:
    first, second = ast.parse("x = 1"), ast.parse("x = 1")
    assert nodes(first) is nodes(first)
    assert nodes(second)[0] is second and nodes(first)[0] is first  # (contexts like ast.Store are shared)
