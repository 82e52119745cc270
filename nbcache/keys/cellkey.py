"""The cache key: what a cell's result depends on, reduced to one blake3 digest."""

from __future__ import annotations

import ast
import builtins
import glob
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from blake3 import blake3

from nbcache.analysis.names import is_ipython_name
from nbcache.analysis.paths import literal_files
from nbcache.errors import UnhashableInput, UnhashableValue
from nbcache.keys.modules import import_inputs
from nbcache.keys.values import hash_file, hash_value_reads

# Increment on cache-breaking changes (key recipe, payload layout).
CACHE_VERSION = 1

# What an input's hash is when the name is not in the user namespace at all.
ABSENT = "absent"


def normalise(tree: ast.Module) -> str:
    """The cell without positions: comments and layout do not count, `1` versus `'1'` does."""
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def source_digest(normalised: str) -> str:
    return blake3(normalised.encode()).hexdigest()


@dataclass
class Inputs:
    """Each input's name with the hex digest of its content (or a marker), and the objects that were hashed."""

    hashes: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


def _hash_name(name: str, namespace: dict[str, Any], memo: dict[int, tuple[str, set[str]]]) -> tuple[str, set[str]]:
    if name not in namespace:
        return (f"builtin:{name}" if hasattr(builtins, name) else ABSENT), set()
    value = namespace[name]
    if id(value) not in memo:
        digest, reads = hash_value_reads(value, namespace)
        memo[id(value)] = digest.hex(), reads
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
    while pending:
        name = pending.pop()
        if name in result.hashes or name in skip or is_ipython_name(name):
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
    """Files named by --deps; a pattern that matches nothing is the user's mistake, reported by the caller."""
    files: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
        if not matches:
            raise FileNotFoundError(pattern)
        files += [m for m in matches if os.path.isfile(m)]
    return files


def _file_hash(path: str) -> str:
    try:
        return hash_file(os.path.expanduser(path)).hex()
    except OSError as exc:  # unreadable now: the cell will fail or read something else; either way a new key
        return f"unreadable:{exc.errno}"


def hash_deps(files: Iterable[str]) -> dict[str, str]:
    return {f"file:{path}": _file_hash(path) for path in files}


def code_inputs(tree: ast.Module, deps: Iterable[str]) -> dict[str, str]:
    """Key inputs besides variables: --deps files, files the cell names by literal path, modules it imports."""
    return {**hash_deps(literal_files(tree)), **hash_deps(deps), **import_inputs(tree)}


def cell_key(normalised: str, inputs: dict[str, str], options: dict[str, Any]) -> str:
    """blake3 over the format version, Python's version, the normalised cell, the options and the inputs."""
    h = blake3()
    for part in (
        f"nbcache:{CACHE_VERSION}",
        f"python:{sys.version_info[0]}.{sys.version_info[1]}",
        normalised,
        repr(sorted(options.items())),
    ):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part.encode())
    for name in sorted(inputs):
        h.update(f"\0{name}\0{inputs[name]}".encode())
    return h.hexdigest()
