"""Saving and restoring the library objects of ``nbcache.keys.caches`` without the C++ cache pickle cannot write.

A Triangulation is written with ``_cpp_triangulation`` None, which matplotlib builds again on first use. A
TrapezoidMapTriFinder has no such lazy path, so its C++ search tree is built again on restore, from its
triangulation's C++ object as its ``__init__`` does, once that triangulation is whole. The two refer to each other
(``Triangulation.get_trifinder`` keeps its finder), so whichever of them the pickle finishes last builds the finder:
a state is set only after everything inside it is loaded.
"""

from __future__ import annotations

import copyreg
from typing import Any

from nbcache.keys.caches import cache_attributes, saved_state

_NEWOBJ = copyreg.__newobj__  # type: ignore[attr-defined]


def reduction(obj: Any) -> Any:
    """How pickle writes ``obj`` without its cache; NotImplemented for any other object."""
    cls = type(obj)
    if cache_attributes(cls) is None:
        return NotImplemented
    setter = _SETTERS[cls.__name__]
    return _NEWOBJ, (cls,), saved_state(obj), None, None, setter


def _whole(triangulation: Any) -> bool:
    """Whether the triangulation's state is set (while the pickle loads what it holds, its dict is empty)."""
    return "_cpp_triangulation" in vars(triangulation)


def _build_finder(finder: Any, triangulation: Any) -> None:
    from matplotlib import _tri

    finder._cpp_trifinder = _tri.TrapezoidMapTriFinder(triangulation.get_cpp_triangulation())
    finder._initialize()


def _needs_finder(finder: Any) -> bool:
    return cache_attributes(type(finder)) is not None and vars(finder).get("_cpp_trifinder") is None


def _set_triangulation(obj: Any, state: dict[str, Any]) -> None:
    obj.__dict__.update(state)
    finder = state.get("_trifinder")
    if finder is not None and _needs_finder(finder):
        _build_finder(finder, obj)


def _set_trifinder(obj: Any, state: dict[str, Any]) -> None:
    built = vars(obj).get("_cpp_trifinder")  # by its triangulation, if that was finished first
    obj.__dict__.clear()
    obj.__dict__.update({**state, "_cpp_trifinder": built})
    triangulation = state.get("_triangulation")
    if built is None and triangulation is not None and _whole(triangulation):
        _build_finder(obj, triangulation)


_SETTERS = {"Triangulation": _set_triangulation, "TrapezoidMapTriFinder": _set_trifinder}
