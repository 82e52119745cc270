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

from .analysis import is_ipython_name
from .errors import UnhashableInput, UnhashableValue
from .hashing import global_names_read, hash_file, hash_value

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


def _hash_name(name: str, namespace: dict[str, Any], memo: dict[int, str]) -> str:
    if name not in namespace:
        return f"builtin:{name}" if hasattr(builtins, name) else ABSENT
    value = namespace[name]
    if id(value) not in memo:
        memo[id(value)] = hash_value(value).hex()
    return memo[id(value)]


def hash_inputs(names: Iterable[str], namespace: dict[str, Any], ignore: Iterable[str] = ()) -> Inputs:
    """Hash the named inputs and, transitively, the notebook globals their functions and classes read.

    Raises UnhashableInput naming the first input that cannot be hashed by content.
    """
    skip = set(ignore)
    pending = sorted(n for n in set(names) - skip if not is_ipython_name(n))
    result, memo = Inputs(), {}
    while pending:
        name = pending.pop()
        if name in result.hashes:
            continue
        try:
            result.hashes[name] = _hash_name(name, namespace, memo)
        except UnhashableValue as exc:
            raise UnhashableInput(name, exc.description) from None
        if name in namespace:
            result.values[name] = namespace[name]
            extra = global_names_read(namespace[name], namespace) - skip - result.hashes.keys()
            pending.extend(sorted(n for n in extra if not is_ipython_name(n)))
    return result


def expand_deps(patterns: Iterable[str]) -> list[str]:
    """Files named by --deps; a pattern that matches nothing is the user's mistake, reported by the caller."""
    files: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
        if not matches:
            raise FileNotFoundError(pattern)
        files += [m for m in matches if os.path.isfile(m)]
    return files


def hash_deps(files: Iterable[str]) -> dict[str, str]:
    return {f"file:{path}": hash_file(path).hex() for path in files}


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
