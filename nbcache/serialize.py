"""Objects to bytes and back, with dill so that functions, lambdas and classes defined in the notebook survive a
kernel restart (plain pickle writes them by reference to ``__main__``, where a new kernel does not have them).

The whole payload is one pickle, so objects shared between outputs stay shared. Objects that are unchanged inputs
of the cell are written as references to their names and resolved from the namespace on load: after a hit,
``b`` is again the very object ``a`` when the cell did ``b = a``, as after a real run.
"""

from __future__ import annotations

import io
import types
from collections.abc import Callable
from typing import Any

import dill

from .errors import SerializationError

_PROTOCOL = 5
# The reference name that stands for the user namespace itself: notebook functions are rebuilt around the live
# namespace, so after a hit they read today's globals, as functions a real run defined would.
NAMESPACE_REF = "\0namespace"


def _rebuild_function(code: types.CodeType, globals_: dict, name: str, defaults: tuple | None, closure: tuple | None,
                      kwdefaults: dict | None, qualname: str, module: str, attributes: dict) -> types.FunctionType:
    fn = types.FunctionType(code, globals_, name, defaults, closure)
    fn.__kwdefaults__, fn.__qualname__, fn.__module__ = kwdefaults, qualname, module
    fn.__dict__.update(attributes)
    return fn


class _Pickler(dill.Pickler):
    def __init__(self, file: io.BytesIO, refs: dict[int, str]) -> None:
        super().__init__(file, protocol=_PROTOCOL, recurse=True)
        self._refs = refs
        self._namespace_id = next((key for key, name in refs.items() if name == NAMESPACE_REF), None)

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.FunctionType) and id(obj.__globals__) == self._namespace_id:
            return _rebuild_function, (obj.__code__, obj.__globals__, obj.__name__, obj.__defaults__,
                                       obj.__closure__, obj.__kwdefaults__, obj.__qualname__, obj.__module__,
                                       dict(obj.__dict__))
        return NotImplemented

    def persistent_id(self, obj: Any) -> str | None:
        return self._refs.get(id(obj))


class _Unpickler(dill.Unpickler):
    def __init__(self, file: io.BytesIO, resolve: Callable[[str], Any]) -> None:
        super().__init__(file)
        self._resolve = resolve

    def persistent_load(self, pid: str) -> Any:
        return self._resolve(pid)


def _dump(obj: Any, refs: dict[int, str]) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, refs).dump(obj)
    return buffer.getvalue()


def _describe(value: Any) -> str:
    return type(value).__qualname__


def dumps(payload: dict[str, Any], refs: dict[int, str] | None = None) -> bytes:
    """Serialize ``{'outputs': {...}, ...}``; ``refs`` maps id(obj) to the input name to write instead of obj.

    Raises SerializationError naming the output that cannot be saved.
    """
    refs = refs or {}
    try:
        return _dump(payload, refs)
    except Exception as whole:
        for name, value in payload.get("outputs", {}).items():
            try:
                _dump(value, refs)
            except Exception as exc:
                raise SerializationError(f"output {name!r} ({_describe(value)}) cannot be saved: {exc}",
                                         name) from None
        raise SerializationError(f"the cell's result cannot be saved: {whole}") from None


def _no_refs(pid: str) -> Any:
    raise KeyError(pid)


def loads(data: bytes, resolve: Callable[[str], Any] | None = None) -> dict[str, Any]:
    return _Unpickler(io.BytesIO(data), resolve or _no_refs).load()
