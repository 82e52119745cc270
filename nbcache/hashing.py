"""Content hashing: the same content (and type) gives the same digest in any process; nothing else does.

Values are fed into one blake3 stream with a type tag and length prefixes, so no two different structures give
the same stream. Digests never depend on ``id()``, set or dict hashing order, or ``PYTHONHASHSEED``; mutable
containers are remembered by position in the stream (not by id) so cycles terminate deterministically.
"""

from __future__ import annotations

import os
import struct
import sys
import sysconfig
import types
from collections.abc import Callable
from functools import cache
from typing import Any

from blake3 import blake3

from .errors import UnhashableValue

# Buffers larger than this are hashed with blake3's threads.
_THREADED_BYTES = 1 << 22
# Bound on the temporary copy made to hash a non-contiguous array, chunk by chunk.
_CHUNK_BYTES = 1 << 24

_NOT_CONTENT = (
    types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType, types.FrameType, types.TracebackType,
)


@cache
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")} | {sys.prefix, sys.base_prefix}
    return tuple(sorted(os.path.realpath(r) for r in roots if r))


def _is_library_file(path: str | None) -> bool:
    if not path:
        return True  # builtin or frozen: part of Python itself
    real = os.path.realpath(path)
    return "site-packages" in real or "dist-packages" in real or real.startswith(_library_roots())


@cache
def _module_version(name: str) -> str:
    top = name.split(".")[0]
    module = sys.modules.get(top)
    try:
        from importlib.metadata import packages_distributions, version

        for dist in packages_distributions().get(top, []):
            return f"{dist}=={version(dist)}"
    except Exception:  # metadata can be missing or broken; fall back below
        pass
    return str(getattr(module, "__version__", sys.version))


def _is_user_module(module: types.ModuleType) -> bool:
    return module.__name__ == "__main__" or not _is_library_file(getattr(module, "__file__", None))


class _Hasher:
    def __init__(self) -> None:
        self.h = blake3(max_threads=blake3.AUTO)
        self.seen: dict[int, int] = {}  # id -> position of first appearance
        self.alive: list[Any] = []  # keeps remembered objects alive so their ids stay unique

    # ---- primitives
    def raw(self, data: bytes | memoryview) -> None:
        self.h.update(len(data).to_bytes(8, "little"))
        self.h.update(data)

    def tag(self, text: str) -> None:
        self.raw(text.encode())

    def remember(self, obj: Any) -> bool:
        """True if obj was already fed (a reference to it is fed instead)."""
        key = id(obj)
        if key in self.seen:
            self.tag(f"ref:{self.seen[key]}")
            return True
        self.seen[key] = len(self.seen)
        self.alive.append(obj)
        return False

    # ---- dispatch
    def update(self, obj: Any) -> None:
        handler = _HANDLERS.get(type(obj))
        if handler is None:
            handler = _find_handler(obj)
        handler(self, obj)


def _typename(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


# ---- atoms
def _h_none(h: _Hasher, obj: Any) -> None:
    h.tag(f"atom:{obj!r}")


def _h_int(h: _Hasher, obj: int) -> None:
    h.tag(_typename(obj))
    h.raw(int(obj).to_bytes((int(obj).bit_length() + 8) // 8, "little", signed=True))


def _h_float(h: _Hasher, obj: float) -> None:
    h.tag(_typename(obj))
    h.raw(b"nan" if obj != obj else struct.pack("<d", obj))  # every NaN is the same NaN


def _h_complex(h: _Hasher, obj: complex) -> None:
    h.tag(_typename(obj))
    _h_float(h, obj.real)
    _h_float(h, obj.imag)


def _h_str(h: _Hasher, obj: str) -> None:
    h.tag(_typename(obj))
    h.raw(obj.encode("utf-8", "surrogatepass"))


def _h_bytes(h: _Hasher, obj: bytes | bytearray | memoryview) -> None:
    h.tag(_typename(obj))
    h.raw(memoryview(obj).cast("B") if isinstance(obj, memoryview) else obj)


# ---- containers
def _h_sequence(h: _Hasher, obj: list | tuple) -> None:
    if not isinstance(obj, tuple) and h.remember(obj):
        return
    h.tag(f"{_typename(obj)}:{len(obj)}")
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a namedtuple's field names are part of it
        h.update(tuple(obj._fields))
    for item in obj:
        h.update(item)


def _h_dict(h: _Hasher, obj: dict) -> None:
    if h.remember(obj):
        return
    h.tag(f"{_typename(obj)}:{len(obj)}")
    factory = getattr(obj, "default_factory", None)
    if factory is not None:
        h.update(factory)
    for key, value in obj.items():  # insertion order is observable, so it is part of the content
        h.update(key)
        h.update(value)


def _h_set(h: _Hasher, obj: set | frozenset) -> None:
    if h.remember(obj):
        return
    h.tag(f"{_typename(obj)}:{len(obj)}")
    for digest in sorted(hash_value(item) for item in obj):  # order-free, seed-free
        h.h.update(digest)


# ---- numpy and pandas, imported lazily so nbcache does not need them
def _h_ndarray(h: _Hasher, arr: Any) -> None:
    import numpy as np

    if h.remember(arr):
        return
    h.tag(f"ndarray:{arr.dtype.str}:{arr.dtype.descr!r}:{arr.shape}")
    if arr.dtype.hasobject:
        for item in arr.ravel(order="C"):
            h.update(item)
    elif arr.flags.c_contiguous:
        h.h.update(memoryview(arr.reshape(-1).view(np.uint8)) if arr.size else b"")
    else:  # a strided view: hash its elements in C order, a bounded chunk at a time, never its base buffer
        flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr
        rows = max(1, _CHUNK_BYTES // max(1, flat[:1].nbytes))
        for start in range(0, len(flat), rows):
            h.h.update(memoryview(np.ascontiguousarray(flat[start : start + rows]).reshape(-1).view(np.uint8)))


def _h_numpy_scalar(h: _Hasher, obj: Any) -> None:
    import numpy as np

    h.tag(_typename(obj))
    _h_ndarray(h, np.asarray(obj))


def _h_pandas_values(h: _Hasher, values: Any) -> None:
    """A column's values: buffers for numeric data, codes + categories for categoricals, strings in bulk."""
    import numpy as np
    import pandas as pd

    h.tag(f"dtype:{values.dtype}")
    if isinstance(values.dtype, pd.CategoricalDtype):
        cat = pd.Categorical(values)
        _h_pandas_index(h, cat.categories)
        h.update(bool(cat.ordered))
        _h_ndarray(h, np.asarray(cat.codes))
        return
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        values = values.to_numpy()  # a numpy-backed column or index: its own buffer, without a copy
    if isinstance(values, np.ndarray) and not values.dtype.hasobject:
        _h_ndarray(h, values)
        return
    arr = np.asarray(values, dtype=object)
    if len(arr) and pd.api.types.infer_dtype(arr, skipna=False) == "string":
        # All plain str: character lengths plus the UTF-8 of their concatenation is unambiguous.
        h.tag("strings")
        _h_ndarray(h, np.fromiter(map(len, arr), dtype=np.int64, count=len(arr)))
        h.raw("".join(arr).encode("utf-8", "surrogatepass"))
    else:
        _h_ndarray(h, arr)


def _h_pandas_index(h: _Hasher, idx: Any) -> None:
    import pandas as pd

    h.tag(_typename(idx))
    h.update(list(idx.names))
    if isinstance(idx, pd.RangeIndex):
        h.update((idx.start, idx.stop, idx.step))
    elif isinstance(idx, pd.MultiIndex):
        for level, codes in zip(idx.levels, idx.codes, strict=True):
            _h_pandas_index(h, level)
            _h_ndarray(h, codes)
    else:
        _h_pandas_values(h, idx.array if hasattr(idx, "array") else idx)


def _h_series(h: _Hasher, obj: Any) -> None:
    if h.remember(obj):
        return
    h.tag(_typename(obj))
    h.update(obj.name)
    _h_pandas_index(h, obj.index)
    _h_pandas_values(h, _column_values(obj))


def _column_values(series: Any) -> Any:
    import numpy as np

    values = series.array
    numpy_dtype = isinstance(series.dtype, np.dtype)
    return series.to_numpy(copy=False) if numpy_dtype and not series.dtype.hasobject else values


def _h_dataframe(h: _Hasher, obj: Any) -> None:
    if h.remember(obj):
        return
    h.tag(f"{_typename(obj)}:{obj.shape}")
    _h_pandas_index(h, obj.columns)
    _h_pandas_index(h, obj.index)
    for i in range(obj.shape[1]):
        _h_pandas_values(h, _column_values(obj.iloc[:, i]))
    h.update(dict(obj.attrs))


# ---- code
def _h_code(h: _Hasher, code: types.CodeType) -> None:
    h.tag("code")
    h.raw(code.co_code)
    h.update((code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars, code.co_argcount,
              code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags))
    h.tag(f"consts:{len(code.co_consts)}")
    for const in code.co_consts:
        h.update(const)


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _h_function(h: _Hasher, fn: types.FunctionType) -> None:
    if h.remember(fn):
        return
    module = sys.modules.get(fn.__module__ or "")
    if module is not None and not _is_user_module(module) and getattr(module, fn.__name__, None) is fn:
        h.tag(f"libfunc:{fn.__module__}.{fn.__qualname__}:{_module_version(fn.__module__)}")
        return
    h.tag(f"function:{fn.__qualname__}")
    _h_code(h, fn.__code__)
    h.update(fn.__defaults__)
    h.update(fn.__kwdefaults__)
    for cell in fn.__closure__ or ():
        try:
            h.update(cell.cell_contents)
        except ValueError:  # an empty cell: the variable is not bound yet
            h.tag("empty-cell")
    # The globals it reads, by content: editing a helper or a constant it uses changes this function's hash.
    g = fn.__globals__
    for name in sorted(_code_names(fn.__code__)):
        if name in g and not name.startswith("__"):
            h.tag(f"global:{name}")
            h.update(g[name])


def _h_builtin(h: _Hasher, fn: Any) -> None:
    owner = getattr(fn, "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType):
        h.tag(f"method:{fn.__name__}")  # a bound builtin method, such as [].append: its object is its state
        h.update(owner)
        return
    module = getattr(fn, "__module__", None) or getattr(owner, "__name__", "builtins")
    h.tag(f"builtin:{module}.{getattr(fn, '__qualname__', fn.__name__)}:{_module_version(module)}")


def _h_method(h: _Hasher, method: types.MethodType) -> None:
    h.tag("method")
    h.update(method.__func__)
    h.update(method.__self__)


def _h_module(h: _Hasher, module: types.ModuleType) -> None:
    path = getattr(module, "__file__", None)
    if _is_user_module(module) and path and os.path.isfile(path):
        h.tag(f"usermodule:{module.__name__}")
        h.h.update(hash_file(path))
    else:
        h.tag(f"module:{module.__name__}:{_module_version(module.__name__)}")


def _h_type(h: _Hasher, cls: type) -> None:
    module = sys.modules.get(cls.__module__)
    if module is None or not _is_user_module(module):
        h.tag(f"type:{cls.__module__}.{cls.__qualname__}:{_module_version(cls.__module__)}")
        return
    if h.remember(cls):
        return
    h.tag(f"class:{cls.__module__}.{cls.__qualname__}")
    h.update(tuple(cls.__bases__))
    for name in sorted(cls.__dict__):
        if name not in ("__dict__", "__weakref__", "__doc__"):
            h.tag(name)
            h.update(_unwrap_descriptor(cls.__dict__[name]))


def _unwrap_descriptor(value: Any) -> Any:
    if isinstance(value, (staticmethod, classmethod)):
        return value.__func__
    if isinstance(value, property):
        return (value.fget, value.fset, value.fdel)
    return value


# ---- everything else: the object's own pickling recipe, hashed canonically
def _h_reduce(h: _Hasher, obj: Any) -> None:
    if isinstance(obj, _NOT_CONTENT):
        raise UnhashableValue(f"{_typename(obj)} object (its state is live, not content)")
    if h.remember(obj):
        return
    try:
        reduced = obj.__reduce_ex__(4)
    except Exception as exc:
        raise UnhashableValue(f"{_typename(obj)} object ({exc})") from None
    if isinstance(reduced, str):  # a global reference such as an enum singleton or a module-level object
        h.tag(f"global:{_typename(obj)}:{reduced}")
        return
    h.tag(f"reduce:{_typename(obj)}")
    callable_, args, *rest = tuple(reduced) + (None,) * (5 - len(reduced))
    state, listitems, dictitems = rest[:3]
    h.update(callable_)
    h.update(args)
    h.update(state)
    h.update(list(listitems) if listitems is not None else None)
    h.update(dict(dictitems) if dictitems is not None else None)


_HANDLERS: dict[type, Callable[[_Hasher, Any], None]] = {
    type(None): _h_none, bool: _h_none, type(Ellipsis): _h_none, type(NotImplemented): _h_none,
    int: _h_int, float: _h_float, complex: _h_complex, str: _h_str,
    bytes: _h_bytes, bytearray: _h_bytes, memoryview: _h_bytes,
    list: _h_sequence, tuple: _h_sequence, dict: _h_dict, set: _h_set, frozenset: _h_set,
    types.FunctionType: _h_function, types.BuiltinFunctionType: _h_builtin, types.MethodType: _h_method,
    types.ModuleType: _h_module, types.CodeType: _h_code, type: _h_type,
}


def _find_handler(obj: Any) -> Callable[[_Hasher, Any], None]:
    """Handlers for subclasses and for optional libraries, found once per type and then cached."""
    cls = type(obj)
    handler: Callable[[_Hasher, Any], None] = _h_reduce
    module = cls.__module__.split(".")[0]
    if module == "numpy":
        import numpy as np

        if cls is np.ndarray:
            handler = _h_ndarray
        elif isinstance(obj, np.generic):
            handler = _h_numpy_scalar
    elif module == "pandas":
        import pandas as pd

        if cls is pd.DataFrame:
            handler = _h_dataframe
        elif cls is pd.Series:
            handler = _h_series
        elif isinstance(obj, pd.Index):
            handler = _h_pandas_index
    elif isinstance(obj, type):
        handler = _h_type
    elif isinstance(obj, (list, tuple)) and cls.__reduce_ex__ is tuple.__reduce_ex__:
        handler = _h_sequence
    elif cls.__module__ == "collections" and isinstance(obj, dict):
        handler = _h_dict  # OrderedDict, defaultdict, Counter: their items are their content
    _HANDLERS[cls] = handler
    return handler


# ---- the globals a notebook function reads, for the key's list of inputs
def _referenced(obj: Any) -> list[Any]:
    """Functions whose globals a value may read: itself, its methods, its class."""
    if isinstance(obj, types.MethodType):
        return [obj.__func__]
    if isinstance(obj, types.FunctionType):
        return [obj]
    if isinstance(obj, type):
        return [_unwrap_descriptor(v) for v in vars(obj).values()]
    cls = type(obj)
    if getattr(cls, "__module__", None) == "__main__":
        return [cls]
    return []


def global_names_read(obj: Any, namespace: dict[str, Any]) -> set[str]:
    """Names of ``namespace`` that a notebook function, class or instance reads, followed transitively."""
    names: set[str] = set()
    pending, seen = [obj], set()
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        for ref in _referenced(item):
            if isinstance(ref, (tuple, list)):
                pending.extend(ref)
            elif isinstance(ref, types.FunctionType) and ref.__globals__ is namespace:
                for name in _code_names(ref.__code__) & namespace.keys():
                    if name not in names and not name.startswith("__"):
                        names.add(name)
                        pending.append(namespace[name])
            elif isinstance(ref, type):
                pending.append(ref)
    return names


def hash_file(path: str | os.PathLike) -> bytes:
    """blake3 of a file's bytes, memory-mapped rather than read into memory."""
    h = blake3(max_threads=blake3.AUTO)
    if os.path.getsize(path):
        h.update_mmap(path)
    return h.digest()


def hash_value(obj: object) -> bytes:
    """32-byte blake3 digest of obj's content, including its type. Raises UnhashableValue."""
    h = _Hasher()
    h.update(obj)
    return h.h.digest()
