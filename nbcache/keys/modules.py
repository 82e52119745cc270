"""Where code comes from: the user's own source files (keyed by content) versus libraries (keyed by version).

A user module's digest covers its file and, transitively, the user modules it imports, found by reading their
``import`` statements (nothing is imported or run to find them). So editing ``utils.py``, which ``helpers.py``
imports, changes the key of a cell that does ``import helpers``, also after a kernel restart.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
import sysconfig
import types
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from blake3 import blake3

from nbcache.analysis.nodes import nodes
from nbcache.analysis.paths import literal_paths
from nbcache.keys.distributions import provider
from nbcache.keys.files import file_digest
from nbcache.keys.inputs import module_input


@cache
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return tuple(sorted(os.path.realpath(r) + os.sep for r in roots if r))


@lru_cache(maxsize=4096)
def _real_folder(folder: str) -> str:
    """``os.path.realpath`` of a folder, from its parent's, resolved once: the modules a cell imports lie in a few
    hundred folders that share their ancestors, so a new folder costs one ``lstat`` instead of one per component
    (tens of ms at a kernel's first cached cell after ``import sklearn``)."""
    parent, name = os.path.split(folder)
    if not os.path.isabs(folder) or not name or name in (".", "..") or parent == folder or os.path.islink(folder):
        return os.path.realpath(folder)
    return os.path.join(_real_folder(parent), name)


def _real_path(path: str) -> str:
    """``os.path.realpath``, with each folder resolved once: a kernel's first look at the thousands of modules a
    cell imported (numpy, pandas, scikit-learn) would otherwise cost tens of ms of ``lstat`` per path component.
    A linked file itself (``flit install --symlink``) is still followed."""
    folder, name = os.path.split(path)
    if os.path.islink(path):
        return os.path.realpath(path)
    return os.path.join(_real_folder(folder), name)


@lru_cache(maxsize=16384)
def is_library_file(path: str | None) -> bool:
    if not path or path.startswith("<frozen"):
        return True  # builtin or frozen: part of Python itself
    if path.startswith("<"):
        return False  # code compiled from a string: a notebook cell, exec, a dataclass's generated method
    real = _real_path(path)
    return "site-packages" in real or "dist-packages" in real or real.startswith(_library_roots())


@cache
def module_version(name: str) -> str:
    """``dist==version`` of the installed distribution a module comes from (Python's version for the stdlib)."""
    top = name.split(".")[0]
    if top in sys.stdlib_module_names:  # no need to scan every installed distribution (seconds) for these
        return sys.version
    try:
        found = provider(top)  # from an on-disk index: a restart does not read every installed package again
        if found is not None:
            return f"{found[0]}=={found[1]}"
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


def _search_dirs(parent: str) -> list[str]:
    """Where the submodules of ``parent`` are looked for (sys.path for a top-level name). A namespace package (a
    folder without ``__init__.py``) may span several folders: each one counts."""
    if not parent:
        return [entry or os.getcwd() for entry in sys.path if isinstance(entry, str)]
    module = sys.modules.get(parent)
    if module is not None:
        return [p for p in getattr(module, "__path__", None) or [] if isinstance(p, str)]
    grand, _, last = parent.rpartition(".")
    return [d for base in _search_dirs(grand) if os.path.isdir(d := os.path.join(base, last))]


def locate(dotted: str) -> str | None:
    """The source file ``import dotted`` loads (already loaded, or found on sys.path); None if not a .py file."""
    module = sys.modules.get(dotted)
    if module is not None:
        return getattr(module, "__file__", None)
    parent, _, last = dotted.rpartition(".")
    for base in _search_dirs(parent):
        found = _in_dir(base, last)
        if found:
            return found
    return None


def is_namespace_package(module: types.ModuleType) -> bool:
    return getattr(module, "__file__", None) is None and bool(getattr(module, "__path__", None))


def is_user_namespace(module: types.ModuleType) -> bool:
    """A namespace package with a folder outside the libraries: the user's own code."""
    return is_namespace_package(module) and any(
        isinstance(p, str) and not is_library_file(os.path.join(p, "__init__.py")) for p in module.__path__)


def _prefixes(dotted: str) -> Iterator[str]:
    parts = dotted.split(".")
    for i in range(1, len(parts) + 1):
        yield ".".join(parts[:i])


def imported_names(tree: ast.AST) -> list[str]:
    """Absolute module names an AST imports (``from a import b`` gives ``a`` and, maybe a submodule, ``a.b``)."""
    return list(_imported_names(tree))


@lru_cache(maxsize=64)  # a cell's tree is read for its imports twice while it is keyed
def _imported_names(tree: ast.AST) -> tuple[str, ...]:
    names: set[str] = set()
    for node in nodes(tree):  # the tree's shared node list: no walk of its own
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.update(_prefixes(alias.name))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.update(_prefixes(node.module))
            names.update(f"{node.module}.{a.name}" for a in node.names if a.name != "*")
    return tuple(sorted(names))


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
def _source_facts(path: str, digest: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the user source files a file imports, the string literals in it that may be paths), memoised by the
    file's content digest."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return (), ()  # its digest still covers it; an import that fails will fail in the cell too
    files = [locate(name) for name in imported_names(tree)] + _relative_files(tree, path)
    imports = tuple(sorted({os.path.realpath(f) for f in files if f and is_user_file(f)}))
    return imports, tuple(literal_paths(tree))


def is_user_file(path: str) -> bool:
    return path.endswith(".py") and not is_library_file(path) and os.path.isfile(path)


def _literal_files(source: str, literals: tuple[str, ...]) -> Iterator[str]:
    """Files a module names by a literal (``json.load(open("params.json"))`` at import): relative to the working
    folder, as ``open`` reads them, and to the module's own folder."""
    for text in literals:
        for candidate in {os.path.expanduser(text), os.path.join(os.path.dirname(source), text)}:
            if os.path.isfile(candidate):
                yield os.path.realpath(candidate)


def user_module_digest(path: str) -> bytes:
    """blake3 over the code as it was imported, every user source file it imports (transitively, in a fixed
    order), and the files those sources name by a literal path."""
    h = blake3()
    pending, done = [os.path.realpath(path)], set()
    while pending:
        current = pending.pop()
        if current in done:
            continue
        done.add(current)
        digest = file_digest(current)
        h.update(loaded_digest(current, digest))
        imports, literals = _source_facts(current, digest)
        for data in sorted(set(_literal_files(current, literals))):
            h.update(f"file:{data}".encode())
            h.update(file_digest(data))
        pending.extend(reversed(imports))
    return h.digest()


# ---- the code that actually ran: a module's source as it was imported, not as the file reads now
class EditedSinceImport(Exception):
    """A loaded module's file changed after the import: the code that runs is not the file's."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@dataclass(frozen=True)
class _Imported:
    spec: object  # the module's __spec__: a reload makes a new one
    digest: bytes


_imported: dict[str, _Imported] = {}


_OWN_FOLDER = os.path.realpath(os.path.dirname(os.path.dirname(__file__))) + os.sep


def _modules_signature() -> tuple[int, str, int]:
    """What tells, in O(1), that ``sys.modules`` changed: its size, and the last name added with its module.
    A module removed and another imported keeps the size but adds a last name (the count alone once missed a
    module imported after another was dropped, and keyed it by the file on disk instead of the code loaded)."""
    modules = sys.modules
    last = next(reversed(modules), "")
    return len(modules), last, id(modules.get(last))


def _user_file(module: types.ModuleType) -> str | None:
    """The real path of a loaded module's source when it is the user's own (not a library's, not nbcache's)."""
    file = getattr(module, "__file__", None)
    if isinstance(file, str) and file.endswith(".py") and not is_library_file(file):
        real = _real_path(file)
        if not real.startswith(_OWN_FOLDER):  # nbcache itself, installed editable: not the user's code
            return real
    return None


class _UserModules:
    """The loaded user modules by real path, kept in step with ``sys.modules`` by its changes only.

    Every cached cell looks here two or three times, and a cell that imports, or a library that imports lazily
    while it runs, changes ``sys.modules``: reading all of its two thousand modules again took 2-3 ms each time.
    A dict keeps insertion order and an import adds at the end (a module imported again after its removal too),
    so the modules added since the last look are the last ones; the walk back from the end stops at the first it
    has seen. When the count says a module was removed besides, everything is read again (a module that left may
    have shared its file with another)."""

    def __init__(self) -> None:
        self.by_file: dict[str, types.ModuleType] = {}
        self.seen: dict[str, Any] = {}  # sys.modules as of the last look
        self.signature: tuple[int, str, int] | None = None

    def refresh(self) -> None:
        signature = _modules_signature()
        if signature == self.signature:
            return
        added = self._added()
        if added is None:
            self.by_file.clear()
            self.seen = dict(sys.modules)
            added = list(self.seen.items())
        else:
            self.seen.update(added)
        for _, module in added:
            real = _user_file(module)
            if real is not None:
                self.by_file[real] = module
        self.signature = signature

    def _added(self) -> list[tuple[str, Any]] | None:
        """The modules added since the last look, or None if others were removed (or another thread imported
        while this one looked): then every module must be looked at."""
        added: list[tuple[str, Any]] = []
        try:
            for name, module in reversed(sys.modules.items()):
                if self.seen.get(name) is module:
                    break
                added.append((name, module))
        except RuntimeError:  # sys.modules changed size meanwhile
            return None
        new_names = sum(1 for name, _ in added if name not in self.seen)
        return added if len(sys.modules) == len(self.seen) + new_names else None


_user = _UserModules()


def _loaded_module(path: str) -> types.ModuleType | None:
    """The loaded user module whose file is ``path`` (a real path)."""
    _user.refresh()
    found = _user.by_file.get(path)
    return found if found is not None and sys.modules.get(found.__name__) is found else None


def _pyc_matches(path: str) -> bool | None:
    """Does the file's stat match the one its cached bytecode was compiled from? None if nothing tells."""
    try:
        with open(importlib.util.cache_from_source(path), "rb") as f:
            header = f.read(16)
        st = os.stat(path)
    except (OSError, NotImplementedError, ValueError):
        return None
    if len(header) < 16 or int.from_bytes(header[4:8], "little") != 0:
        return None  # a hash-based pyc, or a short file
    mtime, size = int.from_bytes(header[8:12], "little"), int.from_bytes(header[12:16], "little")
    return mtime == int(st.st_mtime) & 0xFFFFFFFF and size == st.st_size & 0xFFFFFFFF


def loaded_digest(path: str, current: bytes) -> bytes:
    """The digest of the source a loaded module was imported from (``current``, the file's digest now, when the
    module is not loaded). The first time a loaded module is seen, its file must still be what it was compiled
    from (its cached bytecode tells); later edits do not change what the module runs until a reload or restart.
    Raises EditedSinceImport when the loaded code cannot be known."""
    module = _loaded_module(path)
    if module is None:
        return current
    spec = getattr(module, "__spec__", None)
    seen = _imported.get(path)
    if seen is not None and seen.spec is spec:
        return seen.digest
    if _pyc_matches(path) is False:
        raise EditedSinceImport(path)
    _imported[path] = _Imported(spec, current)
    return current


def user_modules() -> dict[str, types.ModuleType]:
    """The loaded modules from the user's own files, by name."""
    _user.refresh()
    return {m.__name__: m for m in _user.by_file.values() if sys.modules.get(m.__name__) is m}


def note_imports() -> None:
    """Remember the source of the user modules loaded now (after a cell ran: what it imported is fresh)."""
    _user.refresh()
    for real, module in list(_user.by_file.items()):
        seen = _imported.get(real)
        fresh = seen is None or seen.spec is not getattr(module, "__spec__", None)
        if fresh and os.path.isfile(real) and _pyc_matches(real) is not False:
            _imported[real] = _Imported(getattr(module, "__spec__", None), file_digest(real))


def import_inputs(tree: ast.AST) -> dict[str, str]:
    """Key inputs for the modules a cell imports, not yet loaded: a user module by its sources, a library by its
    version. (A loaded user module is keyed by the caller with its state: see values.)"""
    result = {}
    for name in imported_names(tree):
        path = locate(name)
        if path and is_user_file(path):
            result[module_input(name)] = user_module_digest(path).hex()
        elif path or name in sys.modules:
            result[module_input(name)] = module_version(name)
    return result
