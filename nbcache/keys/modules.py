"""Where code comes from: the user's own source files (keyed by content) versus libraries (keyed by version).

A user module's digest covers its file and, transitively, the user modules it imports, found by reading their
``import`` statements (nothing is imported or run to find them). So editing ``utils.py``, which ``helpers.py``
imports, changes the key of a cell that does ``import helpers``, also after a kernel restart.
"""

from __future__ import annotations

import ast
import os
import sys
import sysconfig
from collections.abc import Iterator
from functools import cache, lru_cache

from blake3 import blake3

from nbcache.keys.files import file_digest


@cache
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return tuple(sorted(os.path.realpath(r) + os.sep for r in roots if r))


@lru_cache(maxsize=4096)
def is_library_file(path: str | None) -> bool:
    if not path or path.startswith("<frozen"):
        return True  # builtin or frozen: part of Python itself
    if path.startswith("<"):
        return False  # code compiled from a string: a notebook cell, exec, a dataclass's generated method
    real = os.path.realpath(path)
    return "site-packages" in real or "dist-packages" in real or real.startswith(_library_roots())


@cache
def _distributions() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return dict(packages_distributions())


@cache
def module_version(name: str) -> str:
    """``dist==version`` of the installed distribution a module comes from (Python's version for the stdlib)."""
    top = name.split(".")[0]
    if top in sys.stdlib_module_names:  # no need to scan every installed distribution (seconds) for these
        return sys.version
    try:
        from importlib.metadata import version

        for dist in sorted(_distributions().get(top, [])):
            return f"{dist}=={version(dist)}"
    except Exception:  # metadata can be missing or broken; fall back below
        pass
    module = sys.modules.get(top)
    return str(getattr(module, "__version__", None) or sys.version)


# ---- finding a module's file without importing it
def _in_dir(base: str, name: str) -> str | None:
    for candidate in (os.path.join(base, name, "__init__.py"), os.path.join(base, f"{name}.py")):
        if os.path.isfile(candidate):
            return candidate
    return None


def locate(dotted: str) -> str | None:
    """The source file ``import dotted`` loads (already loaded, or found on sys.path); None if not a .py file."""
    module = sys.modules.get(dotted)
    if module is not None:
        return getattr(module, "__file__", None)
    parent, _, last = dotted.rpartition(".")
    if parent:
        parent_file = locate(parent)
        if not parent_file or not parent_file.endswith("__init__.py"):
            return None
        return _in_dir(os.path.dirname(parent_file), last)
    for entry in sys.path:
        found = _in_dir(entry or os.getcwd(), dotted)
        if found:
            return found
    return None


def _prefixes(dotted: str) -> Iterator[str]:
    parts = dotted.split(".")
    for i in range(1, len(parts) + 1):
        yield ".".join(parts[:i])


def imported_names(tree: ast.AST) -> list[str]:
    """Absolute module names an AST imports (``from a import b`` gives ``a`` and, maybe a submodule, ``a.b``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.update(_prefixes(alias.name))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.update(_prefixes(node.module))
            names.update(f"{node.module}.{a.name}" for a in node.names if a.name != "*")
    return sorted(names)


def _relative_files(tree: ast.AST, path: str) -> list[str]:
    """Files named by ``from . import x`` / ``from ..m import y`` in the module at ``path``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = os.path.dirname(path)
            for _ in range(node.level - 1):
                base = os.path.dirname(base)
            parts = (node.module or "").split(".") if node.module else []
            for part in parts:
                base = os.path.join(base, part)
            init = os.path.join(base, "__init__.py")
            found += [init] if os.path.isfile(init) else []
            found += [p for p in (f"{base}.py",) if os.path.isfile(p)]
            found += [f for a in node.names if (f := _in_dir(base, a.name))]
    return found


@lru_cache(maxsize=1024)
def _imports_of(path: str, digest: bytes) -> tuple[str, ...]:
    """The user source files a file imports (memoised by its content digest)."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return ()  # its digest still covers it; an import that fails will fail in the cell too
    files = [locate(name) for name in imported_names(tree)] + _relative_files(tree, path)
    return tuple(sorted({os.path.realpath(f) for f in files if f and is_user_file(f)}))


def is_user_file(path: str) -> bool:
    return path.endswith(".py") and not is_library_file(path) and os.path.isfile(path)


def user_module_digest(path: str) -> bytes:
    """blake3 over the file and every user source file it imports, transitively, in a fixed order."""
    h = blake3()
    pending, done = [os.path.realpath(path)], set()
    while pending:
        current = pending.pop()
        if current in done:
            continue
        done.add(current)
        digest = file_digest(current)
        h.update(digest)
        pending.extend(reversed(_imports_of(current, digest)))
    return h.digest()


def import_inputs(tree: ast.AST) -> dict[str, str]:
    """Key inputs for the modules a cell imports: a user module by its sources, a library by its version."""
    result = {}
    for name in imported_names(tree):
        path = locate(name)
        if path and is_user_file(path):
            result[f"module:{name}"] = user_module_digest(path).hex()
        elif path or name in sys.modules:
            result[f"module:{name}"] = module_version(name)
    return result
