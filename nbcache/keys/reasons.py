"""Why a cell missed, in words: which inputs, functions, classes, modules or files differ from its last entry."""

from __future__ import annotations

import types
from collections.abc import Iterable
from typing import Any

from nbcache.keys.inputs import InputKind, KeyInput

_PLURALS = {"input": "inputs", "function": "functions", "class": "classes", "module": "modules", "file": "files",
            "folder": "folders", "setting": "settings"}


def _kind(label: str, namespace: dict[str, Any]) -> tuple[str, str]:
    """(kind, shown name) of a key input: ``file:data.csv``, ``module:helpers`` or a variable's name."""
    entry = KeyInput.parse(label)
    name = entry.name
    if entry.kind is not InputKind.VARIABLE:
        return entry.kind.value, name
    value = namespace.get(name)
    if isinstance(value, (types.FunctionType, types.MethodType)):
        return "function", name
    if isinstance(value, type):
        return "class", name
    if isinstance(value, types.ModuleType):
        return "module", name
    return "input", name


def describe_changes(changed: Iterable[str], namespace: dict[str, Any]) -> str:
    """'input df changed; function featurize changed; file data.csv changed', in that order of kinds."""
    groups: dict[str, list[str]] = {}
    for name in sorted(changed):
        kind, shown = _kind(name, namespace)
        groups.setdefault(kind, []).append(shown)
    parts = []
    for kind in _PLURALS:
        names = groups.get(kind, [])
        if names:
            label = kind if len(names) == 1 else _PLURALS[kind]
            shown = ", ".join(names[:4]) + (f" +{len(names) - 4} more" if len(names) > 4 else "")
            parts.append(f"{label} {shown} changed")
    return "; ".join(parts)
