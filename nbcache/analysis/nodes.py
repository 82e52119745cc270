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
    """The tree's nodes in ``ast.walk``'s order (breadth first, the tree itself first)."""
    return tuple(ast.walk(tree))
