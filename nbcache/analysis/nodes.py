"""Every node of a cell's tree, listed once per tree and shared by the analyses that look for one kind of node.

``ast.walk`` is a Python generator calling ``iter_child_nodes`` and ``iter_fields`` for every node: about 30 us for
a two-line cell on a quiet machine, ten times that on a busy one, and a new cell was walked that way about ten
times (paths, settings, imports, random generators). Iterating a tuple of the same nodes costs a few
microseconds. Keyed by the tree object, like the other per-tree memos: a re-run cell's tree is reused
(``cell.parsed``) and never changed, and the cache holds the tree, so its id cannot be reused meanwhile.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from functools import lru_cache
from typing import Any

# Cells of a long notebook, as cell.parsed keeps them.
_TREES = 512


@lru_cache(maxsize=_TREES)
def nodes(tree: ast.AST) -> tuple[ast.AST, ...]:
    """The tree's nodes in ``ast.walk``'s order (breadth first, the tree itself first), listed once per tree."""
    return tuple(walk(tree))


def walk(tree: ast.AST) -> list[ast.AST]:
    """``list(ast.walk(tree))``, not remembered (for a part of a tree): one loop over a list that grows as it is
    read, without ``ast.walk``'s three nested generators."""
    found = [tree]
    append, node_type = found.append, ast.AST
    for node in found:  # a list iterator sees the items appended meanwhile
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, node_type):
                append(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, node_type):
                        append(item)
    return found


@lru_cache(maxsize=64)  # only cells with path-like literals ask (analysis/paths.py)
def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Each node's parent (shared, read-only); a node shared by several parents (``ast.Load()``) gets the last,
    as ``{child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}`` would."""
    found: dict[ast.AST, ast.AST] = {}
    node_type = ast.AST
    for node in nodes(tree):
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, node_type):
                found[value] = node
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, node_type):
                        found[item] = node
    return found


_PYTHON_37_CONSTANTS = ("Num", "Str", "Bytes", "NameConstant", "Ellipsis")


class Visitor(ast.NodeVisitor):
    """``ast.NodeVisitor``, with its dispatch remembered per node class and its ``generic_visit`` without
    ``ast.iter_fields``' generator: the cell's analysis visits every node of a new cell, and looking the method up
    by its name at each node was a fifth of that analysis. The same methods run, in the same order."""

    _methods: dict[type, Callable[[Any, Any], Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._methods = {}  # each visitor class its own: subclasses define other visit_ methods

    def visit(self, node: ast.AST) -> Any:
        method = self._methods.get(type(node))
        if method is None:
            method = self._methods[type(node)] = self._method(type(node))
        return method(self, node)

    @classmethod
    def _method(cls, node_type: type) -> Callable[[Any, Any], Any]:
        method = getattr(cls, f"visit_{node_type.__name__}", cls.generic_visit)
        # NodeVisitor's own visit_Constant looks for methods of Python 3.7 at each constant, then visits its
        # children: it has none, so with this generic_visit it does nothing.
        if (method is ast.NodeVisitor.visit_Constant and cls.generic_visit is Visitor.generic_visit
                and not any(hasattr(cls, f"visit_{old}") for old in _PYTHON_37_CONSTANTS)):
            return _leaf
        return method

    def generic_visit(self, node: ast.AST) -> None:
        node_type = ast.AST
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, node_type):
                        self.visit(item)
            elif isinstance(value, node_type):
                self.visit(value)


def _leaf(visitor: Any, node: ast.AST) -> None:
    return None
