"""Cached properties a run filled on an input: a cache the run wrote, not a change of the input's content.

``functools.cached_property`` stores its value in the instance's ``__dict__`` the first time it is read: a
networkx graph's ``G.nodes``, ``G.adj`` and ``G.edges`` are views made that way. A cell that only reads them
changes its input by content, and a hit has to replay that. The restored copy carries the views, but where
something else holds the graph it cannot stand in for it, and ``G.edges`` is such a holder: a view that refers
to ``G`` itself. So every later cell reading a new view of ``G`` ran each time.

A run whose only change to an input was such a fill is recorded as one (the property names). Where the restored
copy cannot replace the live object, a hit reads the same properties on the live object, which fills them from
its own state as the re-run would (computing them again: the re-run would too). Unless another output of the run
holds the copy or a value filled on it (``e = G.edges``): the live object and its new values could not be that
output's, and the cell runs.
"""

from __future__ import annotations

import functools
import gc
import types
from collections.abc import Callable
from typing import Any

_NONE: frozenset[str] = frozenset()
# Objects walked from a run's other outputs looking for the copy; past this many, it is taken as held.
_WALK_LIMIT = 200_000


@functools.lru_cache(maxsize=1024)
def _cached_names(cls: type) -> frozenset[str]:
    """Names of the ``functools.cached_property`` attributes of ``cls`` and its bases."""
    return frozenset(name for klass in getattr(cls, "__mro__", ()) for name, attr in vars(klass).items()
                     if isinstance(attr, functools.cached_property))


def _type(value: object) -> type:
    return type(value)


def _filled(value: Any, names: frozenset[str]) -> frozenset[str]:
    state = getattr(value, "__dict__", None)
    return frozenset(n for n in names if n in state) if isinstance(state, dict) else _NONE


def present(values: dict[str, Any]) -> dict[str, frozenset[str]]:
    """Before a run: for each input whose class has cached properties, those already filled."""
    found = {}
    for name, value in values.items():
        names = _cached_names(_type(value))
        if names:
            found[name] = _filled(value, names)
    return found


def fill_only(value: Any, before: frozenset[str], unchanged: Callable[[Any], bool]) -> tuple[str, ...]:
    """The cached properties the run filled on ``value`` if, without them, ``unchanged(value)`` holds; else ().

    The new values are taken out of ``value`` while ``unchanged`` looks, then put back as they were, in the same
    order (``vars()`` shows it).
    """
    added = tuple(sorted(_filled(value, _cached_names(_type(value))) - before))
    if not added:
        return ()
    state = value.__dict__
    as_left = dict(state)
    try:
        for name in added:
            del state[name]
        return added if unchanged(value) else ()
    finally:
        state.clear()
        state.update(as_left)


def refill(live: Any, names: tuple[str, ...]) -> None:
    """Read each cached property on ``live`` that is not filled yet, as the run did."""
    state = getattr(live, "__dict__", None)
    for name in names:
        if isinstance(state, dict) and name not in state:
            try:
                getattr(live, name)
            except Exception:  # noqa: S112 the run read it; if it fails now, the next read raises for the user
                continue


def held_elsewhere(copy: Any, names: tuple[str, ...], outputs: dict[str, Any], name: str) -> bool:
    """True if an output other than ``name`` refers to ``copy`` or to one of its filled values, directly or
    through what it holds (or if there is too much to walk to tell).

    Classes and modules are not walked (an instance's referents include its class, whose functions lead to every
    module's globals), nor a function's globals: what they hold is not the run's output.
    """
    state = getattr(copy, "__dict__", {})
    targets = {id(copy)} | {id(state[n]) for n in names if n in state}
    pending = [value for key, value in outputs.items() if key != name and value is not copy]
    seen: set[int] = set()
    while pending:
        obj = pending.pop()
        if id(obj) in targets:
            return True
        if id(obj) in seen or isinstance(obj, (type, types.ModuleType)):
            continue
        seen.add(id(obj))
        if len(seen) > _WALK_LIMIT:
            return True
        pending += _referents(obj)
    return False


def _referents(obj: Any) -> list[Any]:
    if isinstance(obj, types.FunctionType):
        return [obj.__defaults__, obj.__kwdefaults__, obj.__closure__, obj.__dict__]
    return gc.get_referents(obj)
