"""The names a cell builds paths from (``folder_names``) and the literals it uses as folders (``folder_literals``),
found without a map of parents."""

from __future__ import annotations

import ast
import os
from collections.abc import Callable

import pytest

from nbcache.analysis.paths import _FOLDER_CALLS, _func_name, _looks_like_path, folder_literals, folder_names
from tests.support import EVERY_KIND, standard_library_trees


@pytest.mark.parametrize(("cell", "expected"), [
    ("os.path.join(DATA, 'x.csv')", ["DATA"]),
    ("pd.read_csv(path=DATA)", ["DATA"]),
    ("DATA / 'x.csv'", ["DATA"]),
    ("DATA + '/x.csv'", ["DATA"]),
    ("f'{DATA}/x.csv'", ["DATA"]),
    ("f'{A}-{B}/x'", ["B"]),
    ("open(DATA)", []),  # not a listing or path call: literal_paths' business
    ("DATA + 'x.csv'", []),
    ("'x' / DATA", []),  # the right of `/` is a part under a folder, not the folder
    ("f'{DATA}.csv'", []),
    ("join = os.path.join; join(*parts)", []),  # starred: no single name
    ("Path(DATA)\nfor f in os.listdir(ROOT): pass", ["DATA", "ROOT"]),
    ("DATA = '/tmp'", []),  # bound, not loaded
])
def test_the_names_paths_are_built_from(cell: str, expected: list[str]) -> None:
    assert folder_names(ast.parse(cell)) == expected


def _asking_parents(tree: ast.AST, picked: Callable[[ast.AST], str | None],
                    used: Callable[[ast.AST, ast.AST | None, dict], bool]) -> list[str]:
    """A definition as it reads: each node ``picked`` names asks its parent (past a keyword) whether it is ``used``."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = set()
    for node in ast.walk(tree):
        name = picked(node)
        if name is None:
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.keyword):
            parent = parents.get(parent)
        if used(node, parent, parents):
            found.add(name)
    return sorted(found)


def _builds_a_path(node: ast.AST, parent: ast.AST | None, parents: dict) -> bool:
    if isinstance(parent, ast.Call) and node is not parent.func:
        return _func_name(parent) in _FOLDER_CALLS
    if isinstance(parent, ast.BinOp) and parent.left is node:
        right = parent.right
        return isinstance(parent.op, ast.Div) or (
            isinstance(parent.op, ast.Add) and isinstance(right, ast.Constant) and isinstance(right.value, str)
            and right.value.startswith(("/", os.sep)))
    if isinstance(parent, ast.FormattedValue):
        parts = getattr(parents.get(parent), "values", [])
        after = parts[parts.index(parent) + 1] if parent in parts and parent is not parts[-1] else None
        return isinstance(after, ast.Constant) and isinstance(after.value, str) and after.value.startswith("/")
    return False


def _by_parents(tree: ast.AST) -> list[str]:
    """The names' definition: each loaded name asks its parent whether it is where a path is built."""
    return _asking_parents(tree, lambda n: n.id if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) else None,
                           _builds_a_path)


def test_the_names_match_their_definition_on_the_standard_library() -> None:
    trees = [ast.parse(EVERY_KIND), *standard_library_trees(250)]
    for tree in trees:
        assert folder_names(tree) == _by_parents(tree)
    assert len(trees) > 150
    assert sum(map(len, map(_by_parents, trees))) > 100  # names paths are built from: the definition has cases


@pytest.mark.parametrize(("cell", "expected"), [
    ("os.listdir('data')", ["data"]),
    ("pd.read_csv(filepath_or_buffer='x.csv')", ["x.csv"]),
    ("Path('data') / 'raw'", ["data", "raw"]),
    ("DATA = 'data'", ["data"]),
    ("DATA: str = 'data'", ["data"]),
    ("'-'.join(parts)", []),  # a separator: the text is the call's receiver
    ("s.split('/')", []),
    ("open('x.csv')", []),  # not a listing or path call: literal_paths' business
    ("f('data', 'x')", []),
    ("Path(*['data'])", []),  # inside a list, not an argument itself
    ("x = 'a\\nb'", []),  # a line break: no path
])
def test_the_literals_used_as_folders(cell: str, expected: list[str]) -> None:
    assert list(folder_literals(ast.parse(cell))) == expected


def _used_as_folder(node: ast.AST, parent: ast.AST | None, parents: dict) -> bool:
    if isinstance(parent, ast.Call) and node is not parent.func:
        return _func_name(parent) in _FOLDER_CALLS
    if isinstance(parent, ast.BinOp):
        return isinstance(parent.op, ast.Div)
    return isinstance(parent, (ast.Assign, ast.AnnAssign)) and getattr(parent, "value", None) is node


def _literals_by_parents(tree: ast.AST) -> list[str]:
    """The literals' definition: each path-like literal asks its parent whether it is used as a folder."""
    return _asking_parents(tree, lambda n: n.value if isinstance(n, ast.Constant) and isinstance(n.value, str)
                           and _looks_like_path(n.value) else None, _used_as_folder)


def test_the_literals_match_their_definition_on_the_standard_library() -> None:
    trees = [ast.parse(EVERY_KIND), *standard_library_trees(250)]
    for tree in trees:
        assert list(folder_literals(tree)) == _literals_by_parents(tree)
    assert sum(map(len, map(_literals_by_parents, trees))) > 100  # literals used as folders: the definition has cases
