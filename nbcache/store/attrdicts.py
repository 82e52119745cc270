"""A dict that is its own attribute namespace (``self.__dict__ = self``: statsmodels' ``Dataset``, the common
``AttrDict`` recipe), written so that a restore is one again.

Pickle writes such an object's items and then its ``__dict__`` as its state, which is the object itself; a load
copies that state into the new object's own, separate ``__dict__``. The restored object then answered
``data.exog`` and ``data["exog"]`` alike but no longer kept them in step (``data.w = 1`` made no key ``"w"``), and
its hash differed from the original's, so every cell reading it missed after a hit.
"""

from __future__ import annotations

from typing import Any


def _pickled_as_dict(cls: type) -> bool:
    """Whether the class leaves pickling to ``dict`` and ``object`` (no recipe of its own to respect)."""
    return (cls.__reduce_ex__ is dict.__reduce_ex__ and cls.__reduce__ is dict.__reduce__
            and getattr(cls, "__getstate__", None) is getattr(dict, "__getstate__", None)
            and not hasattr(cls, "__setstate__"))


def _is_own_namespace(obj: dict) -> bool:
    return getattr(obj, "__dict__", None) is obj


def reduction(obj: Any) -> Any:
    """How pickle writes a dict subclass instance that is its own ``__dict__``; NotImplemented for anything else."""
    if not isinstance(obj, dict) or type(obj) is dict or not _is_own_namespace(obj):
        return NotImplemented
    if not _pickled_as_dict(type(obj)):
        return NotImplemented
    return _own_namespace, (type(obj),), None, None, iter(dict.items(obj))


def _own_namespace(cls: type[dict]) -> Any:
    obj = dict.__new__(cls)
    obj.__dict__ = obj
    return obj
