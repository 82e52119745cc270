"""The cache key: what a cell's result depends on, reduced to one blake3 digest."""

from __future__ import annotations

import ast
import builtins
import glob
import os
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePath
from typing import Any

from blake3 import blake3

from nbcache.analysis.names import is_ipython_name, is_readable_history
from nbcache.analysis.paths import folder_literals, folder_names, literal_paths
from nbcache.errors import UnhashableInput, UnhashableValue
from nbcache.keys import modules
from nbcache.keys.files import FOLDER_LIMIT, FolderTooLarge
from nbcache.keys.inputs import file_input, folder_input, module_input
from nbcache.keys.settings import cell_import_path, setting_inputs
from nbcache.keys.values import hash_file, hash_value, hash_value_reads, is_user_module, path_digest, shared_figures

# Increment on cache-breaking changes (key recipe, payload layout).
CACHE_VERSION = 2

# What an input's hash is when the name is not in the user namespace at all.
ABSENT = "absent"


def normalise(tree: ast.Module) -> str:
    """The cell without positions: comments and layout do not count, `1` versus `'1'` does.

    The text of ``ast.dump(tree, annotate_fields=False, include_attributes=False)``, made without its generic
    formatter (indentation, a pair returned per value): a new cell's ``ast.dump`` was a tenth of its miss. Python
    3.13 changed ``ast.dump``'s text (empty fields left out); there it is called itself, so a key is the same
    whichever makes it."""
    return _dump(tree) if _SAME_AS_DUMP else ast.dump(tree, annotate_fields=False, include_attributes=False)


_SAME_AS_DUMP = sys.version_info < (3, 13)
# Per node class: its name and "(", then each field with whether the class gives it None as default (an
# optional field: absent when None, and the fields after it then named, as ast.dump writes them).
_SHAPES: dict[type, tuple[str, tuple[tuple[str, bool], ...]]] = {}


def _shape(node_type: type[ast.AST]) -> tuple[str, tuple[tuple[str, bool], ...]]:
    shape = (f"{node_type.__name__}(", tuple((name, getattr(node_type, name, ...) is None)
                                             for name in node_type._fields))
    _SHAPES[node_type] = shape
    return shape


def _dump(value: Any) -> str:
    if isinstance(value, ast.AST):
        opening, fields = _SHAPES.get(type(value)) or _shape(type(value))
        parts, named = [], False
        for name, optional in fields:
            try:
                field_value = getattr(value, name)
            except AttributeError:
                named = True
                continue
            if field_value is None and optional:
                named = True
                continue
            parts.append(f"{name}={_dump(field_value)}" if named else _dump(field_value))
        return opening + ", ".join(parts) + ")"
    if isinstance(value, list):
        return "[" + ", ".join([_dump(item) for item in value]) + "]"
    return repr(value)


def source_digest(normalised: str) -> str:
    return blake3(normalised.encode()).hexdigest()


@dataclass
class Inputs:
    """Each input's name with the hex digest of its content (or a marker), and the objects that were hashed."""

    hashes: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


_MISSING = object()


def _lookup(name: str, namespace: dict[str, Any]) -> Any:
    """The value an input names: a variable, or one entry of IPython's history (``Out[3]``)."""
    if name.endswith("]") and "[" in name:
        history, _, index = name[:-1].partition("[")
        try:
            return namespace[history][int(index)]
        except (KeyError, IndexError, TypeError, ValueError):
            return _MISSING
    return namespace.get(name, _MISSING)


def _path_target(value: Any) -> str:
    """A path value (``DATA = Path("data")``) names content a cell reads through it: a file, a folder."""
    is_path = isinstance(value, PurePath)
    if is_path or (isinstance(value, str) and 0 < len(value) < 4096 and "\n" not in value):
        try:
            # A string counts when it names a file; a folder only through a Path (`sep = "/"` is no folder).
            if not is_path and not os.path.isfile(os.path.expanduser(value)):
                return ""
            digest = path_digest(value)
        except FolderTooLarge as exc:
            raise UnhashableValue(f"a path to a folder of more than {FOLDER_LIMIT} entries ({exc})") from None
        except (OSError, ValueError):
            return ""
        return f":{digest.hex()}" if digest is not None else ""
    return ""


def _hash_name(name: str, namespace: dict[str, Any], memo: dict[int, tuple[str, set[str]]]) -> tuple[str, set[str]]:
    value = _lookup(name, namespace)
    if value is _MISSING:
        return (f"builtin:{name}" if hasattr(builtins, name) else ABSENT), set()
    if id(value) not in memo:
        digest, reads = hash_value_reads(value, namespace)
        memo[id(value)] = digest.hex() + _path_target(value), reads
    return memo[id(value)]


def hash_inputs(names: Iterable[str], namespace: dict[str, Any], ignore: Iterable[str] = ()) -> Inputs:
    """Hash the named inputs and, transitively, the notebook globals their functions and classes read.

    A notebook function's hash names the globals it reads instead of hashing them inline; each such global is
    then hashed here as an input of its own, so a miss can say "input CONST changed" and a large array read by
    several helpers is hashed once. Raises UnhashableInput naming the first input that cannot be hashed.
    """
    skip = set(ignore)
    pending = sorted(set(names), reverse=True)
    result: Inputs = Inputs()
    memo: dict[int, tuple[str, set[str]]] = {}
    with shared_figures():  # `fig` and `ax` read by the cell: the figure is written once
        while pending:
            name = pending.pop()
            if name in result.hashes or name in skip or (is_ipython_name(name) and not is_readable_history(name)):
                continue
            try:
                result.hashes[name], reads = _hash_name(name, namespace, memo)
            except UnhashableValue as exc:
                raise UnhashableInput(name, exc.description) from None
            if name in namespace:
                result.values[name] = namespace[name]
            pending.extend(sorted(reads - result.hashes.keys(), reverse=True))
    return result


def rehash(value: Any, namespace: dict[str, Any]) -> str:
    """An input's hash computed again the way hash_inputs did (to tell whether the run mutated it)."""
    return hash_value_reads(value, namespace)[0].hex()


def expand_deps(patterns: Iterable[str]) -> list[str]:
    """Files and folders named by --deps; a pattern that matches nothing is the user's mistake, reported by the
    caller."""
    found: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
        if not matches:
            raise FileNotFoundError(pattern)
        found += [m for m in matches if os.path.isfile(m) or os.path.isdir(m)]
    return found


def _file_hash(path: str) -> str:
    try:
        return hash_file(os.path.expanduser(path)).hex()
    except OSError as exc:  # unreadable now: the cell will fail or read something else; either way a new key
        return f"unreadable:{exc.errno}"


def _folder_hash(path: str) -> str:
    try:
        digest = path_digest(path)
    except FolderTooLarge:
        raise UnhashableInput(folder_input(path), f"a folder of more than {FOLDER_LIMIT} entries; name the files "
                              "it needs with --deps") from None
    return digest.hex() if digest is not None else ABSENT


def hash_deps(paths: Iterable[str]) -> dict[str, str]:
    """Files by content; folders (a --deps folder, a literal one, a glob pattern) by their listing and files."""
    return {file_input(p) if os.path.isfile(os.path.expanduser(p)) else folder_input(p):
            _file_hash(p) if os.path.isfile(os.path.expanduser(p)) else _folder_hash(p) for p in paths}


# What the cell's text says, remembered per tree: a re-run cell's tree is reused (cell.parsed) and never changed,
# and walking it (with a map of parents) cost a hit more than the rest of keying a small cell. The files and
# folders those texts name are still looked at on every run.
_TREES = 512


@lru_cache(maxsize=_TREES)
def _literal_paths(tree: ast.Module) -> tuple[str, ...]:
    return tuple(literal_paths(tree))


@lru_cache(maxsize=_TREES)
def _folder_names(tree: ast.Module) -> tuple[str, ...]:
    return tuple(folder_names(tree))


def _named_paths(tree: ast.Module) -> list[str]:
    """Literal paths naming a file, a folder used as one, or a glob pattern that matches something. Each text is
    looked at once (a stat) whether it is asked for as a file or as a folder: every keying asks."""
    modes: dict[str, int] = {}
    found = {text for text in folder_literals(tree) if stat.S_ISDIR(_mode(text, modes))}
    for text in _literal_paths(tree):
        if stat.S_ISREG(_mode(text, modes)) or (
                any(c in text for c in "*?[") and glob.glob(os.path.expanduser(text), recursive=True)):
            found.add(text)
    return sorted(found)


def _mode(text: str, modes: dict[str, int]) -> int:
    """The ``st_mode`` of what ``text`` names (followed through links, as ``os.path.isfile`` does), 0 if nothing."""
    mode = modes.get(text)
    if mode is None:
        try:
            mode = os.stat(os.path.expanduser(text)).st_mode
        except (OSError, ValueError):
            mode = 0
        modes[text] = mode
    return mode


def _folder_variables(tree: ast.Module, values: dict[str, Any]) -> list[str]:
    """Folders that string inputs name where the cell builds paths from them (``os.path.join(DATA, "x")``)."""
    return sorted({value for name in _folder_names(tree) if isinstance(value := values.get(name), str)
                   and _looks_like_folder(value)})


def _looks_like_folder(text: str) -> bool:
    return 0 < len(text) < 4096 and "\n" not in text and os.path.isdir(os.path.expanduser(text))


def _loaded_module_inputs(tree: ast.Module) -> dict[str, str]:
    """A user module the cell imports that is loaded already: ``import`` gives it as it is, attributes set at
    run time included, so it is keyed by its code as imported and its state."""
    result = {}
    for name in modules.imported_names(tree):
        module = sys.modules.get(name)
        if module is not None and is_user_module(module):
            try:
                result[module_input(name)] = hash_value(module).hex()
            except UnhashableValue as exc:
                raise UnhashableInput(module_input(name), exc.description) from None
    return result


def code_inputs(tree: ast.Module, deps: Iterable[str], values: dict[str, Any] | None = None) -> dict[str, str]:
    """Key inputs besides variables: --deps files and folders, paths the cell names by a literal, modules it
    imports, and the library settings in force that it may observe."""
    try:
        imports = modules.import_inputs(tree)
    except modules.EditedSinceImport as exc:
        raise UnhashableInput(exc.path, "it was edited after it was imported, so the code that runs is not the "
                              "file's; reload it (importlib.reload, %autoreload) or restart the kernel") from None
    return {**hash_deps(_named_paths(tree)), **hash_deps(deps), **hash_deps(_folder_variables(tree, values or {})),
            **imports,
            **_loaded_module_inputs(tree), **setting_inputs(tree, (values or {}).values())}


def key_inputs(tree: ast.Module, variables: dict[str, str], values: dict[str, Any],
               deps: Iterable[str]) -> dict[str, str]:
    """Every input of a cell's key: its variables' hashes, then code, files and settings, found with the folders
    the cell adds to sys.path in place. The cell flow and %cache_status both key through here, so they agree."""
    with cell_import_path(tree):
        return {**variables, **code_inputs(tree, deps, values)}


def _prefixed(part: str) -> bytes:
    encoded = part.encode()
    return len(part).to_bytes(8, "little") + encoded


# The key's constant start, hashed once: every key continues from a copy of it.
_KEY_START = blake3(_prefixed(f"nbcache:{CACHE_VERSION}")
                    + _prefixed(f"python:{sys.version_info[0]}.{sys.version_info[1]}"))


def cell_key(normalised: str, inputs: dict[str, str]) -> str:
    """blake3 over the format version, Python's version, the normalised cell and the inputs (each of the first
    three after its length in characters), in one update for the cell and one for the inputs."""
    h = _KEY_START.copy()
    h.update(_prefixed(normalised))
    h.update("".join([f"\0{name}\0{inputs[name]}" for name in sorted(inputs)]).encode())
    return h.hexdigest()
