"""What a run did to the user namespace: the names it bound (or rebound) and the names it removed.

A notebook's namespace grows with every cell (IPython adds ``_i5``, ``_5``...), to a thousand names and more,
while a cell changes a few. Comparing each name's value before and after in a Python loop cost a miss about
0.1 ms per thousand names; here the values are compared by identity in C loops (``map`` of ``operator.is_not``
over the two lists of values), which a dict's insertion order allows as long as no name was removed or
re-inserted. When one was, the names no longer line up, and the comparison goes name by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import compress, islice
from operator import is_not
from typing import Any

from nbcache.analysis.names import is_ipython_name

_MISSING = object()


@dataclass(frozen=True)
class Before:
    """The namespace's names and values, in order, before the run (the objects, not copies)."""

    names: list[str]
    values: list[Any]

    @classmethod
    def of(cls, namespace: dict[str, Any]) -> Before:
        return cls(list(namespace), list(namespace.values()))

    def namespace(self) -> dict[str, Any]:
        return dict(zip(self.names, self.values, strict=True))


def _changed_in_place(before: Before, after: dict[str, Any]) -> set[str] | None:
    """Names whose value is another object now, plus names added; None when the old names are no longer the
    first ones in order (one was removed, or removed and bound again)."""
    count = len(before.names)
    names = list(after)
    if names[:count] != before.names:  # the same string objects: compared by identity first, in C
        return None
    changed = set(compress(before.names, map(is_not, before.values, islice(after.values(), count))))
    changed.update(names[count:])
    return changed


def _changed_by_name(before: Before, after: dict[str, Any]) -> set[str]:
    old = before.namespace()
    return {name for name, value in after.items() if old.get(name, _MISSING) is not value}


def changes_of_run(before: Before, after: dict[str, Any], bound: set[str], deleted: set[str]) -> tuple[set, set]:
    """Names the run bound (or rebound, also through ``globals()`` or a magic) and names it removed; ``bound`` and
    ``deleted``: what its own statements bound and deleted (``x = x`` binds ``x`` to the same object)."""
    changed = _changed_in_place(before, after)
    if changed is None:
        changed = _changed_by_name(before, after)
        gone = set(before.names) - after.keys()
    else:
        gone = set()  # every old name is still there
    changed |= bound & after.keys()
    outputs = {name for name in changed if not is_ipython_name(name)}
    removed = {name for name in (gone | deleted) - after.keys() if not is_ipython_name(name)}
    return outputs, removed
