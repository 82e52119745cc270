"""Content hashing: the same content (and type) gives the same digest in any process; nothing else does.

Values are fed into one blake3 stream with a type tag and length prefixes, so no two different structures give
the same stream. Digests never depend on ``id()``, set or dict hashing order, or ``PYTHONHASHSEED``; mutable
containers are remembered by position in the stream (not by id) so cycles terminate deterministically.

Functions are hashed by what they do: bytecode, constants with their types, names, defaults, closure contents,
and the globals they read, followed through with the same memo. When a namespace is given (the notebook's), a
notebook function's globals are not hashed inline but *named*: the caller hashes each named global once as an
input of its own, so a big array a helper reads is hashed once and a miss can say which global changed.
"""

from __future__ import annotations

import array
import dis
import os
import struct
import sys
import types
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from blake3 import blake3

from nbcache.errors import UnhashableValue
from nbcache.keys import arrays
from nbcache.keys.files import file_digest
from nbcache.keys.modules import is_library_file as _is_library_file
from nbcache.keys.modules import module_version, user_module_digest

_NOT_CONTENT = (
    types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType, types.FrameType, types.TracebackType,
)
# Class attributes that are caches or C state, not behaviour (ABCMeta's registry cannot even be pickled;
# pickling an instance adds copyreg's __slotnames__ cache, so the class would hash differently after a save).
_CLASS_SKIP = frozenset({"__dict__", "__weakref__", "__doc__", "_abc_impl", "__slotnames__"})
_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL"})


def is_user_module(module: types.ModuleType) -> bool:
    return module.__name__ == "__main__" or not _is_library_file(getattr(module, "__file__", None))


def _is_user_name(module_name: str | None) -> bool:
    """True unless the module is known and lives in the standard library or site-packages."""
    module = sys.modules.get(module_name or "")
    return module is None or is_user_module(module)


class _Hasher:
    def __init__(self, namespace: dict[str, Any] | None = None, reads: set[str] | None = None) -> None:
        self.h = blake3()
        self.namespace = namespace
        self.reads: set[str] = set() if reads is None else reads  # namespace globals named instead of hashed
        self.seen: dict[int, int] = {}  # id -> position of first appearance
        self.alive: list[Any] = []  # keeps remembered objects alive so their ids stay unique

    def child(self) -> _Hasher:
        """A separate stream (for order-free set members) that shares the namespace and its reads."""
        return _Hasher(self.namespace, self.reads)

    # ---- primitives
    def raw(self, data: bytes | memoryview) -> None:
        """Length-prefixed bytes. A large buffer is hashed on its own with blake3's threads and its digest fed
        here: which way is taken depends on the size alone, so digests stay the same in every process."""
        size = data.nbytes if isinstance(data, memoryview) else len(data)
        self.h.update(size.to_bytes(8, "little"))
        if size >= arrays.THREADED_BYTES:
            self.h.update(blake3(data, max_threads=blake3.AUTO).digest())
        else:
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
def _h_atom(h: _Hasher, obj: Any) -> None:
    h.tag(f"atom:{obj!r}")


def _h_int(h: _Hasher, obj: int) -> None:
    h.tag("int")
    h.raw(obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True))


def _h_float(h: _Hasher, obj: float) -> None:
    h.tag("float")
    h.raw(b"nan" if obj != obj else struct.pack("<d", obj))  # every NaN is the same NaN


def _h_complex(h: _Hasher, obj: complex) -> None:
    h.tag("complex")
    _h_float(h, obj.real)
    _h_float(h, obj.imag)


def _h_str(h: _Hasher, obj: str) -> None:
    h.tag("str")
    h.raw(obj.encode("utf-8", "surrogatepass"))


def _h_bytes(h: _Hasher, obj: bytes | bytearray | memoryview | array.array) -> None:
    h.tag(_typename(obj))
    if isinstance(obj, array.array):
        h.tag(obj.typecode)
    view = memoryview(obj)
    h.raw(view.cast("B") if view.contiguous else view.tobytes())  # only a strided memoryview is copied


# ---- containers
def _h_sequence(h: _Hasher, obj: list | tuple) -> None:
    if not isinstance(obj, tuple) and h.remember(obj):
        return
    h.tag(f"{_typename(obj)}:{len(obj)}")
    if type(obj) not in (list, tuple):  # a namedtuple or subclass: its class (fields, methods) is part of it
        h.update(type(obj))
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


def _h_mappingproxy(h: _Hasher, obj: types.MappingProxyType) -> None:
    h.tag("mappingproxy")  # a read-only view (dataclass field metadata, a class's __dict__): its items
    _h_dict(h, dict(obj))


def _h_set(h: _Hasher, obj: set | frozenset) -> None:
    if h.remember(obj):
        return
    h.tag(f"{_typename(obj)}:{len(obj)}")
    digests = []
    for item in obj:
        sub = h.child()
        sub.update(item)
        digests.append(sub.h.digest())
    for digest in sorted(digests):  # order-free, seed-free
        h.h.update(digest)


# ---- code
@lru_cache(maxsize=8192)
def code_globals(code: types.CodeType) -> frozenset[str]:
    """The global names a code object (and the code nested in it) loads or stores; attribute names excluded."""
    names = {ins.argval for ins in dis.get_instructions(code) if ins.opname in _GLOBAL_OPS}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= code_globals(const)
    return frozenset(n for n in names if isinstance(n, str))


def _h_code(h: _Hasher, code: types.CodeType) -> None:
    h.tag("code")
    h.raw(code.co_code)
    h.raw(getattr(code, "co_exceptiontable", b""))  # where `except` jumps to: behaviour, not layout
    h.update((code.co_name, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars,
              code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags))
    h.tag(f"consts:{len(code.co_consts)}")
    for const in code.co_consts:
        h.update(const)


def _h_function_state(h: _Hasher, fn: types.FunctionType) -> None:
    h.update(fn.__defaults__)
    h.update(fn.__kwdefaults__)
    for cell in fn.__closure__ or ():
        try:
            h.update(cell.cell_contents)
        except ValueError:  # an empty cell: the variable is not bound yet
            h.tag("empty-cell")
    h.update(dict(fn.__dict__))  # attributes set on it, such as functools.wraps' __wrapped__


def _h_globals(h: _Hasher, fn: types.FunctionType) -> None:
    """The globals it reads: editing a helper, or a constant it uses, changes this function's hash."""
    g = fn.__globals__
    builtin_names = g.get("__builtins__", {})
    builtin_names = builtin_names if isinstance(builtin_names, dict) else vars(builtin_names)
    for name in sorted(code_globals(fn.__code__)):
        if g is h.namespace:
            h.reads.add(name)  # hashed once by the caller, as an input of its own
            h.tag(f"nsglobal:{name}")
        elif name in g:
            h.tag(f"global:{name}")
            h.update(g[name])
        elif name not in builtin_names:
            h.tag(f"absent:{name}")


def _h_function(h: _Hasher, fn: types.FunctionType) -> None:
    if h.remember(fn):
        return
    if not _is_user_name(fn.__module__) or _is_library_file(fn.__code__.co_filename):
        # A library's function is its version; a closure it made still carries state of its own.
        h.tag(f"libfunc:{fn.__module__}.{fn.__qualname__}:{module_version(fn.__module__ or '')}")
        _h_function_state(h, fn)
        return
    h.tag(f"function:{fn.__qualname__}")
    _h_code(h, fn.__code__)
    _h_function_state(h, fn)
    _h_globals(h, fn)


def _h_builtin(h: _Hasher, fn: Any) -> None:
    owner = getattr(fn, "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType):
        h.tag(f"method:{fn.__name__}")  # a bound builtin method, such as [].append: its object is its state
        h.update(owner)
        return
    module = getattr(fn, "__module__", None) or getattr(owner, "__name__", "builtins")
    h.tag(f"builtin:{module}.{getattr(fn, '__qualname__', fn.__name__)}:{module_version(module)}")


def _h_method(h: _Hasher, method: types.MethodType) -> None:
    h.tag("method")
    h.update(method.__func__)
    h.update(method.__self__)


def _h_module(h: _Hasher, module: types.ModuleType) -> None:
    path = getattr(module, "__file__", None)
    if is_user_module(module) and path and os.path.isfile(path):
        h.tag(f"usermodule:{module.__name__}")
        h.raw(user_module_digest(path))  # its source and the user modules it imports, transitively
    else:
        h.tag(f"module:{module.__name__}:{module_version(module.__name__)}")


def _h_type(h: _Hasher, cls: type) -> None:
    if cls.__module__ == "builtins" or not _is_user_name(cls.__module__):
        h.tag(f"type:{cls.__module__}.{cls.__qualname__}:{module_version(cls.__module__)}")
        return
    if h.remember(cls):
        return
    h.tag(f"class:{cls.__module__}.{cls.__qualname__}")
    h.update(type(cls))  # the metaclass
    h.update(tuple(cls.__bases__))
    for name in sorted(cls.__dict__):
        if name not in _CLASS_SKIP:
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
    if isinstance(reduced, str):  # pickled by name: a module-level singleton, or a decorated function
        h.tag(f"global:{_typename(obj)}:{reduced}")
        if _is_user_name(getattr(obj, "__module__", None)):
            h.update(dict(getattr(obj, "__dict__", {})))  # a notebook @lru_cache function: its __wrapped__
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
    type(None): _h_atom, bool: _h_atom, type(Ellipsis): _h_atom, type(NotImplemented): _h_atom,
    int: _h_int, float: _h_float, complex: _h_complex, str: _h_str,
    bytes: _h_bytes, bytearray: _h_bytes, memoryview: _h_bytes, array.array: _h_bytes,
    list: _h_sequence, tuple: _h_sequence, dict: _h_dict, set: _h_set, frozenset: _h_set,
    types.MappingProxyType: _h_mappingproxy,
    types.FunctionType: _h_function, types.BuiltinFunctionType: _h_builtin, types.MethodType: _h_method,
    types.ModuleType: _h_module, types.CodeType: _h_code, type: _h_type,
}


def _find_handler(obj: Any) -> Callable[[_Hasher, Any], None]:
    """Handlers for subclasses and for optional libraries, found once per type and then cached."""
    cls = type(obj)
    handler = arrays.handler_for(obj)
    if handler is None:
        handler = _h_reduce
        if isinstance(obj, type):
            handler = _h_type
        elif isinstance(obj, (list, tuple)) and cls.__reduce_ex__ is tuple.__reduce_ex__:
            handler = _h_sequence
        elif cls.__module__ == "collections" and isinstance(obj, dict):
            handler = _h_dict  # OrderedDict, defaultdict, Counter: their items are their content
    _HANDLERS[cls] = handler
    return handler


def hash_file(path: str | os.PathLike) -> bytes:
    """blake3 of a file's bytes (memory-mapped), reused while its size, mtime and inode are unchanged."""
    return file_digest(os.fspath(path))


def hash_value_reads(obj: object, namespace: dict[str, Any] | None = None) -> tuple[bytes, set[str]]:
    """The digest of obj and the names of ``namespace`` that its notebook functions read (named, not hashed).

    Raises UnhashableValue when obj's content cannot be hashed; never falls back to identity.
    """
    h = _Hasher(namespace)
    try:
        h.update(obj)
    except UnhashableValue:
        raise
    except RecursionError:
        raise UnhashableValue(f"{_typename(obj)} object (nested too deeply)") from None
    except Exception as exc:  # a bug here, or an odd object: never the user's cell's problem
        raise UnhashableValue(f"{_typename(obj)} object ({type(exc).__name__}: {exc})") from None
    return h.h.digest(), h.reads


def hash_value(obj: object) -> bytes:
    """32-byte blake3 digest of obj's content, including its type. Raises UnhashableValue."""
    return hash_value_reads(obj)[0]

