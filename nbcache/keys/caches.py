"""Library objects that keep a cache in C++ which pickle cannot write and which the library builds from the
object's own attributes: such an attribute is not content. Hashing leaves it out, and a save writes the object
without it (``nbcache.store.rebuild`` builds it again on restore), so a cell holding a matplotlib Triangulation
after ``ax.triplot`` is stored instead of run every time.

Listed by exact class: a subclass may keep more in C++ than its base, and is pickled as it is.
"""

from __future__ import annotations

from typing import Any

# class (module and qualified name, as ``type()`` gives them) -> its attributes that hold the C++ cache.
_CACHES: dict[str, frozenset[str]] = {
    # Made by ``get_cpp_triangulation`` from x, y, triangles, mask, edges and neighbours when it is None
    # (``ax.triplot``, ``tricontour``, an interpolator...), and kept in step by ``set_mask``.
    "matplotlib.tri._triangulation.Triangulation": frozenset({"_cpp_triangulation"}),
    # Made in ``__init__`` from its triangulation's C++ object; ``_initialize`` rebuilds its search tree.
    "matplotlib.tri._trifinder.TrapezoidMapTriFinder": frozenset({"_cpp_trifinder"}),
}


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def cache_attributes(cls: type) -> frozenset[str] | None:
    """The attributes of ``cls``'s instances that hold a cache the library rebuilds; None if it keeps none."""
    return _CACHES.get(_name(cls))


def content_state(obj: Any) -> dict[str, Any]:
    """``obj``'s attributes without its cache, in name order."""
    skip = _CACHES[_name(type(obj))]
    return {k: v for k, v in sorted(vars(obj).items()) if k not in skip}


def saved_state(obj: Any) -> dict[str, Any]:
    """``obj``'s attributes in their order, each cache attribute None (what the library takes for "not built")."""
    skip = _CACHES[_name(type(obj))]
    return {k: None if k in skip else v for k, v in vars(obj).items()}
