"""The shared node list of a cell's tree: what ast.walk gives, listed once per tree."""

from __future__ import annotations

import ast

import pytest

from nbcache.analysis.nodes import Visitor, nodes, parents, walk
from tests.support import EVERY_KIND, standard_library_trees


def test_the_nodes_are_ast_walks_in_its_order() -> None:
    tree = ast.parse("import numpy as np\nx = np.random.rand(3)\nprint(f'{x}/a')")
    assert list(nodes(tree)) == list(ast.walk(tree))


def test_a_tree_is_listed_once_and_another_tree_on_its_own() -> None:
    first, second = ast.parse("x = 1"), ast.parse("x = 1")
    assert nodes(first) is nodes(first)
    assert nodes(second)[0] is second and nodes(first)[0] is first  # (contexts like ast.Store are shared)





def test_the_nodes_of_every_kind_of_statement_are_ast_walks() -> None:
    tree = ast.parse(EVERY_KIND)
    assert list(nodes(tree)) == list(ast.walk(tree))


def test_each_node_knows_its_parent_as_iter_child_nodes_tells() -> None:
    tree = ast.parse(EVERY_KIND)
    assert parents(tree) == {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    assert parents(tree) is parents(tree)


class _Order(ast.NodeVisitor):
    """Notes each node a visitor's methods reach, in order: a method for some kinds, generic_visit for the rest."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, ast.AST]] = []

    def visit_Name(self, node: ast.Name) -> None:
        self.seen.append(("name", node))

    def visit_Call(self, node: ast.Call) -> None:
        self.seen.append(("call", node))
        self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        self.seen.append(("generic", node))
        super().generic_visit(node)


class _FastOrder(_Order, Visitor):
    pass


class _Python37(Visitor):
    """A visitor written for Python 3.7's node classes: NodeVisitor calls visit_Num for a number constant."""

    def __init__(self) -> None:
        self.numbers: list[object] = []

    def visit_Num(self, node: ast.Constant) -> None:
        self.numbers.append(node.value)


def _visit_order(visitor_type: type, tree: ast.AST) -> list[tuple[str, ast.AST]]:
    visitor = visitor_type()
    visitor.visit(tree)
    return visitor.seen


def test_the_fast_visitor_reaches_the_nodes_nodevisitor_reaches_in_its_order() -> None:
    trees = [ast.parse(EVERY_KIND), *standard_library_trees(60)]
    for tree in trees:
        assert _visit_order(_FastOrder, tree) == _visit_order(_Order, tree)
    assert len(trees) > 40


def test_a_visitor_of_python_37_constants_still_sees_them() -> None:
    visitor = _Python37()
    with pytest.warns(DeprecationWarning):
        visitor.visit(ast.parse("x = 1 + 2.5"))
    assert visitor.numbers == [1, 2.5]


def test_a_walk_of_any_part_of_a_tree_is_ast_walks() -> None:
    for tree in [ast.parse(EVERY_KIND), *standard_library_trees(30)]:
        for part in [tree, *tree.body[:5]]:
            assert walk(part) == list(ast.walk(part))
