"""Why a cell missed, in words: which inputs, functions, classes, modules or files differ from its last entry."""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Iterable
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


class LateReason:
    """Why a miss runs, worked out once, when first asked, from whichever thread asks first.

    The reason compares the cell's key with its newest entry in the store's index. Asked before the run, that is
    a cold read of the index (about 0.3 ms of a cheap cell's miss in a kernel: the first query after the kernel's
    messaging); asked by the save, just after its own index writes, it costs a fraction of that. So a miss asks
    late: its save asks before signing the manifest (the entry keeps its reason, and the index does not hold the
    new entry yet), a miss that stores nothing asks at its end, and the panel of a cell that runs long enough to
    show a "running" badge asks from the badge's thread.
    """

    def __init__(self, work_out: Callable[[], str]) -> None:
        self._work_out: Callable[[], str] | None = work_out
        self._text = ""
        self._lock = threading.Lock()

    @classmethod
    def given(cls, text: str) -> LateReason:
        reason = cls(str)
        reason._work_out, reason._text = None, text
        return reason

    def __call__(self) -> str:
        with self._lock:
            if self._work_out is not None:
                try:
                    self._text = self._work_out()
                except Exception:  # never the user's cell's failure: the miss still runs and stores
                    self._text = "its last entry could not be read"
                self._work_out = None
            return self._text
