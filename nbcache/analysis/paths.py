"""Files a cell names by a string literal (``pd.read_csv("data.csv")``, ``open("x.txt")``): dependencies.

A literal counts when it names an existing file and the cell does not write to it: a cell that saves
``out.csv`` would otherwise change its own key by running. Over-counting (a string that happens to name a file)
costs a needless miss when that file changes; under-counting could serve a stale result, so any literal that
names a file counts unless it is plainly a write target.
"""

from __future__ import annotations

import ast
import os
import re
from functools import lru_cache
from itertools import pairwise

from nbcache.analysis.nodes import nodes, parents

# Calls whose path argument is written, created or removed, not read.
_WRITE_PREFIXES = ("to_", "save", "write", "dump")
_WRITE_NAMES = frozenset({
    "savefig", "touch", "mkdir", "makedirs", "unlink", "remove", "rmtree", "symlink_to", "hardlink_to",
    "ExcelWriter", "imsave", "imwrite",
})
_WRITE_MODE_CHARS = frozenset("wax+")
_MAX_PATH = 4096
_MODE = re.compile(r"^[rwabxtU+]{1,4}$")


def _func_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _mode_writes(call: ast.Call, position: int) -> bool:
    """True if the call's mode (positional at ``position`` or ``mode=``) opens for writing."""
    modes = [k.value for k in call.keywords if k.arg == "mode"]
    if len(call.args) > position:
        modes.append(call.args[position])
    return any(isinstance(m, ast.Constant) and isinstance(m.value, str) and _WRITE_MODE_CHARS & set(m.value)
               for m in modes)


def _writes(call: ast.Call, parents: dict[ast.AST, ast.AST]) -> bool:
    """Does this call write to the path it is given (directly, or through ``Path(p).write_text(...)``)?"""
    name = _func_name(call)
    if name.startswith(_WRITE_PREFIXES) or name in _WRITE_NAMES:
        return True
    if name == "open" and _mode_writes(call, 1):
        return True
    parent = parents.get(call)
    if isinstance(parent, ast.Attribute) and parent.value is call:  # Path("x").write_text(...), .open("w")
        outer = parents.get(parent)
        if isinstance(outer, ast.Call) and outer.func is parent:
            method = parent.attr
            return (method.startswith(_WRITE_PREFIXES) or method in _WRITE_NAMES
                    or (method == "open" and _mode_writes(outer, 0)))
    return False


def _enclosing_call(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.Call | None:
    parent = parents.get(node)
    if isinstance(parent, ast.keyword):
        parent = parents.get(parent)
    return parent if isinstance(parent, ast.Call) and node is not getattr(parent, "func", None) else None


def _mode_nodes(tree: ast.AST) -> set[ast.AST]:
    """The mode arguments of ``open(path, mode)`` and ``path.open(mode)``: never paths themselves."""
    modes: set[ast.AST] = set()
    for node in nodes(tree):
        if isinstance(node, ast.Call) and _func_name(node) == "open":
            candidates = [*node.args[:2], *(k.value for k in node.keywords if k.arg == "mode")]
            modes.update(c for c in candidates if isinstance(c, ast.Constant) and isinstance(c.value, str)
                         and _MODE.match(c.value))
    return modes


def _looks_like_path(text: str) -> bool:
    return 0 < len(text) <= _MAX_PATH and "\n" not in text and "\0" not in text


@lru_cache(maxsize=64)  # keyed by the tree object: a re-run cell's tree is reused (cell.parsed), and never changed
def _path_like_literals(tree: ast.AST) -> tuple[ast.Constant, ...]:
    return tuple(node for node in nodes(tree)
                 if isinstance(node, ast.Constant) and isinstance(node.value, str) and _looks_like_path(node.value))


def literal_paths(tree: ast.AST) -> list[str]:
    """String literals in the cell that could be read as paths, write targets left out."""
    candidates = _path_like_literals(tree)
    if not candidates:  # most cells: no second walk, no parent map (this runs on every hit)
        return []
    parent_of = parents(tree)  # one map per cell tree (cached), read only
    found, modes = set(), _mode_nodes(tree)
    for node in candidates:
        if node in modes or isinstance(parent_of.get(node), ast.Expr):
            continue  # a docstring or a bare string statement reads nothing
        call = _enclosing_call(node, parent_of)
        if call is not None and _writes(call, parent_of):
            continue
        if isinstance(node.value, str):
            found.add(node.value)
    return sorted(found)


# Calls that list a folder or build a path under it: a folder literal given to them is read through.
_FOLDER_CALLS = frozenset({
    "listdir", "scandir", "walk", "glob", "iglob", "rglob", "iterdir", "Path", "PurePath", "PosixPath", "join",
    "load_files", "ImageFolder", "read_csv", "read_parquet", "open_dataset", "open_mfdataset", "DataLoader",
})


_USERS = (ast.Call, ast.BinOp, ast.Assign, ast.AnnAssign)  # the nodes ``_literal_children`` looks into


def _literal_children(node: ast.AST) -> list[ast.AST]:
    """The children of ``node`` where a literal is used as a folder: the arguments of a listing or path call, both
    sides of ``/``, the value bound by an assignment. (Not ``s.split("/")`` or ``".".join(parts)``: the same text,
    read as a separator.)"""
    if isinstance(node, ast.Call):
        return [*node.args, *(k.value for k in node.keywords)] if _func_name(node) in _FOLDER_CALLS else []
    if isinstance(node, ast.BinOp):
        return [node.left, node.right] if isinstance(node.op, ast.Div) else []
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        return [node.value]
    return []


@lru_cache(maxsize=64)  # keyed by the tree object: a re-run cell's tree is reused (cell.parsed), and never changed
def folder_literals(tree: ast.AST) -> tuple[str, ...]:
    """Path-like literals used as folders (``_literal_children``), found from the places that use them: only
    those are looked for as folders on disk, not every string of the cell. One that names an existing folder is
    read through: the cell lists it or reads files inside it."""
    if not _path_like_literals(tree):  # most cells: no string to look for
        return ()
    users = [node for node in nodes(tree) if isinstance(node, _USERS)]
    return tuple(sorted({child.value for node in users for child in _literal_children(node)
                         if isinstance(child, ast.Constant) and isinstance(child.value, str)
                         and _looks_like_path(child.value)}))


def _loaded_name(node: ast.AST) -> str | None:
    return node.id if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) else None


def _starts_with_slash(node: ast.AST | None, *, native: bool = False) -> bool:
    prefixes = ("/", os.sep) if native else ("/",)
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(prefixes)


def _path_builders(node: ast.AST) -> list[ast.AST]:
    """The names ``node`` builds a path from, if it is where paths are built: the arguments of a listing or path
    call, the left of ``/`` (or of ``+ "/..."``), a value an f-string follows with ``"/..."``."""
    if isinstance(node, ast.Call):
        return [*node.args, *(k.value for k in node.keywords)] if _func_name(node) in _FOLDER_CALLS else []
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Div) or (isinstance(node.op, ast.Add)
                                            and _starts_with_slash(node.right, native=True)):
            return [node.left]
        return []
    if isinstance(node, ast.JoinedStr):
        return [part.value for part, after in pairwise(node.values)
                if isinstance(part, ast.FormattedValue) and _starts_with_slash(after)]
    return []


def folder_names(tree: ast.AST) -> list[str]:
    """Names the cell builds paths from (``os.path.join(DATA, "x.csv")``, ``DATA + "/x.csv"``,
    ``f"{DATA}/x.csv"``): when one holds a string naming a folder, the files under it are read through it.

    Found from the places paths are built, each looking at its own children: no map of parents, which a cell
    with a name in it (nearly every cell) paid a second walk of its tree for."""
    builders = (node for node in nodes(tree) if isinstance(node, (ast.Call, ast.BinOp, ast.JoinedStr)))
    return sorted({name for node in builders for child in _path_builders(node)
                   if (name := _loaded_name(child)) is not None})
