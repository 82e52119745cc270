"""Every node of a cell's tree, listed once per tree and shared by the analyses that look for one kind of node.

``ast.walk`` is a Python generator calling ``iter_child_nodes`` and ``iter_fields`` for every node: about 30 us for
a two-line cell on a quiet machine, ten times that on a busy one, and a new cell was walked that way about ten
times (paths, settings, imports, random generators). Iterating a tuple of the same nodes costs a few
microseconds. Keyed by the tree object, like the other per-tree memos: a re-run cell's tree is reused
(``cell.parsed``) and never changed, and the cache holds the tree, so its id cannot be reused meanwhile.
"""

from __future__ import annotations

import ast
from functools import lru_cache

# Cells of a long notebook, as cell.parsed keeps them.
_TREES = 512


@lru_cache(maxsize=_TREES)
def nodes(tree: ast.AST) -> tuple[ast.AST, ...]:
    """The tree's nodes in ``ast.walk``'s order (breadth first, the tree itself first): one loop over a list that
    grows as it is read, without ``ast.walk``'s three nested generators."""
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
    return tuple(found)


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
