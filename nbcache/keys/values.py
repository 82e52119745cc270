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
import ast
import contextvars
import copyreg
import dis
import enum
import functools
import importlib
import inspect
import io
import operator
import os
import pickle
import struct
import sys
import textwrap
import types
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from blake3 import blake3

from nbcache.analysis.paths import literal_paths
from nbcache.atoms import ATOMS
from nbcache.errors import UnhashableValue
from nbcache.gcpause import paused_gc
from nbcache.keys import arrays, generators, modules
from nbcache.keys.caches import cache_attributes, content_state
from nbcache.keys.files import file_digest
from nbcache.keys.modules import is_library_file as _is_library_file
from nbcache.keys.modules import module_version, user_module_digest

_NOT_CONTENT = (
    types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType, types.FrameType, types.TracebackType,
)
# Class attributes that are caches or C state, not behaviour (ABCMeta's registry cannot even be pickled).
# ``__slotnames__`` is copyreg's cache, added to a class the first time one of its instances is pickled or hashed.
_CLASS_SKIP = frozenset({"__dict__", "__weakref__", "__doc__", "_abc_impl", "__slotnames__"})
# Lists and tuples of at least this many ints are hashed as one buffer (below it, item by item is as fast).
_INTS_MIN = 16
_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL"})


def is_user_module(module: types.ModuleType) -> bool:
    if modules.is_namespace_package(module):
        return modules.is_user_namespace(module)
    return module.__name__ == "__main__" or not _is_library_file(getattr(module, "__file__", None))


def _is_user_name(module_name: str | None) -> bool:
    """True unless the module is known and lives in the standard library or site-packages."""
    module = sys.modules.get(module_name or "")
    return module is None or is_user_module(module)


class _Stream:
    """Length-prefixed bytes into one blake3 (``_Hasher`` adds the walk's state)."""

    def __init__(self) -> None:
        self.h = blake3()

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


class _AtomStream(_Stream):
    """An atom's few parts, gathered and hashed in one call: the same digest as fed to a ``_Stream`` one by one
    (blake3 hashes a stream, however it is split), without four calls into blake3 for an int."""

    def __init__(self) -> None:
        self.parts: list[bytes | memoryview] = []

    def raw(self, data: bytes | memoryview) -> None:
        size = data.nbytes if isinstance(data, memoryview) else len(data)
        self.parts.append(size.to_bytes(8, "little"))
        self.parts.append(blake3(data, max_threads=blake3.AUTO).digest() if size >= arrays.THREADED_BYTES else data)

    def digest(self) -> bytes:
        return blake3(b"".join(self.parts)).digest()


class _Hasher(_Stream):
    def __init__(self, namespace: dict[str, Any] | None = None, reads: set[str] | None = None) -> None:
        super().__init__()
        self.namespace = namespace
        self.reads: set[str] = set() if reads is None else reads  # namespace globals named instead of hashed
        self.seen: dict[int, int] = {}  # id -> position of first appearance
        self.alive: list[Any] = []  # keeps remembered objects alive so their ids stay unique
        self.pickled: set[int] = set()  # figures fed whole as a pickle: their Axes need nothing more

    def child(self) -> _Hasher:
        """A separate stream (for order-free set members) that shares the namespace and its reads."""
        return _Hasher(self.namespace, self.reads)

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
    if type(obj) in (list, tuple) and len(obj) >= _INTS_MIN and _h_ints(h, obj):
        return
    h.tag(f"{_typename(obj)}:{len(obj)}")
    if type(obj) not in (list, tuple):  # a namedtuple or subclass: its class (fields, methods) is part of it
        _h_subclass_state(h, obj)
    for item in obj:
        h.update(item)


def _h_ints(h: _Hasher, obj: list | tuple) -> bool:
    """A list or tuple of machine-sized ints (a generator's state: ``random.getstate()`` is 625 of them) as one
    buffer instead of a tag and a length per item; False, nothing fed, when it holds anything else. Which way is
    taken depends on the content alone, and the tag differs from the item-wise one, so digests stay unambiguous."""
    if operator.countOf(map(type, obj), int) != len(obj):
        return False
    try:
        packed = array.array("q", obj)
    except OverflowError:
        return False
    h.tag(f"{_typename(obj)}:ints:{len(obj)}")
    h.raw(packed.tobytes() if sys.byteorder == "little" else _little_endian(packed))
    return True


def _little_endian(packed: array.array) -> bytes:
    packed.byteswap()
    return packed.tobytes()


def _h_subclass_state(h: _Hasher, obj: Any) -> None:
    """A subclass of a builtin container is its class and its own attributes as well as its items."""
    h.update(type(obj))
    state = getattr(obj, "__dict__", None)
    h.update(dict(state) if isinstance(state, dict) else None)


def _h_dict(h: _Hasher, obj: dict) -> None:
    if h.remember(obj):
        return
    h.tag(f"{_typename(obj)}:{len(obj)}")
    if type(obj) is not dict:
        _h_subclass_state(h, obj)
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
    if type(obj) not in (set, frozenset):
        _h_subclass_state(h, obj)
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
    if fn.__globals__ is h.namespace or fn.__module__ == "__main__":
        _h_function_imports(h, fn.__code__)
        _h_function_files(h, fn)


@lru_cache(maxsize=4096)
def code_imports(code: types.CodeType) -> tuple[str, ...]:
    """Absolute modules a function body imports (``import m``, ``from m import x``: m, and m.x if a module)."""
    names: set[str] = set()
    level: Any = 0
    fromlist: Any = None
    for ins in dis.get_instructions(code):
        if ins.opname == "IMPORT_NAME" and level == 0 and isinstance(ins.argval, str):
            names.add(ins.argval)
            names.update(f"{ins.argval}.{a}" for a in (fromlist or ()) if isinstance(a, str) and a != "*")
        if ins.opname == "LOAD_CONST":
            level, fromlist = fromlist, ins.argval
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.update(code_imports(const))
    return tuple(sorted(names))


def _h_function_imports(h: _Hasher, code: types.CodeType) -> None:
    """A notebook function that imports inside its body runs that module's code: it is part of the function."""
    for name in code_imports(code):
        module = sys.modules.get(name)
        if module is not None:
            h.tag(f"imports:{name}")
            h.update(module)
            continue
        path = modules.locate(name)
        if path and modules.is_user_file(path):
            h.tag(f"imports-file:{name}")
            h.raw(user_module_digest(path))
        elif path:
            h.tag(f"imports:{name}:{module_version(name)}")


@lru_cache(maxsize=4096)
def _code_literals(code: types.CodeType, source: str | None) -> tuple[str, ...]:
    if source is not None:
        try:
            return tuple(literal_paths(ast.parse(textwrap.dedent(source))))
        except SyntaxError:
            pass
    found: list[str] = []
    pending = [code]
    while pending:
        current = pending.pop()
        found += [c for c in current.co_consts if isinstance(c, str) and 0 < len(c) < 4096 and "\n" not in c]
        pending += [c for c in current.co_consts if isinstance(c, types.CodeType)]
    return tuple(sorted(set(found)))


def _h_function_files(h: _Hasher, fn: types.FunctionType) -> None:
    """Files (and folders, glob patterns) a notebook function names by a literal: read when it is called."""
    try:
        source: str | None = inspect.getsource(fn)
    except (OSError, TypeError):
        source = None
    for text in _code_literals(fn.__code__, source):
        digest = path_digest(text)
        if digest is not None:
            h.tag(f"path:{text}")
            h.raw(digest)


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
    user_file = bool(path) and os.path.isfile(str(path))
    if not is_user_module(module) or not (user_file or modules.is_namespace_package(module)):
        h.tag(f"module:{module.__name__}:{module_version(module.__name__)}")
        return
    if h.remember(module):
        return
    h.tag(f"usermodule:{module.__name__}")
    if user_file:
        try:  # its source as imported, and the user modules it imports, transitively
            h.raw(user_module_digest(str(path)))
        except modules.EditedSinceImport as exc:
            raise UnhashableValue(f"module {module.__name__} ({exc.path} was edited after it was imported, so "
                                  "the code that runs is not the file's; reload it or restart the kernel)") from None
    _h_module_state(h, module)


def _h_module_state(h: _Hasher, module: types.ModuleType) -> None:
    """Its attributes as they are now: ``config.THRESHOLD = 5`` in a cell changes what code reading it does, and
    so does a file the module read at import. An attribute that cannot be hashed counts by its type; a cell that
    reads it by name has it as an input of its own, which then cannot be hashed."""
    for name, value in sorted(vars(module).items()):
        if name.startswith("__") and name.endswith("__"):
            continue
        h.tag(f"attr:{name}")
        try:
            h.update(value)
        except UnhashableValue:
            h.tag(f"unhashable:{_typename(value)}")


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
    if isinstance(value, functools.cached_property):  # its lock (Python 3.11) is not content
        return (value.func, value.attrname)
    return value


# ---- everything else: the object's own pickling recipe, hashed canonically
def _h_reduce(h: _Hasher, obj: Any) -> None:
    if isinstance(obj, _NOT_CONTENT):
        raise UnhashableValue(f"{_typename(obj)} object (its state is live, not content)")
    if h.remember(obj):
        return
    _h_reduce_state(h, obj)


def _h_reduce_state(h: _Hasher, obj: Any) -> None:
    """An object by its pickling recipe (already remembered by the caller)."""
    try:
        reduced = obj.__reduce_ex__(4)
    except Exception as exc:
        named = _importable_name(obj)
        if named is None:
            raise UnhashableValue(f"{_typename(obj)} object ({exc})") from None
        h.tag(f"named:{named}:{module_version(named.split(':')[0])}")  # a numpy ufunc: what its name imports
        return
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
    _h_state(h, state)
    h.update(list(listitems) if listitems is not None else None)
    h.update(dict(dictitems) if dictitems is not None else None)


def _h_state(h: _Hasher, state: Any) -> None:
    """An instance's state: attributes in name order. The order they were set in is not observable, and a
    ``__setstate__`` (a restore) often sets them in another, so the value keys the next cell as the original did."""
    if type(state) is dict and all(type(k) is str for k in state):
        h.tag(f"state:{len(state)}")
        for key in sorted(state):
            h.tag(key)
            h.update(state[key])
    elif type(state) is tuple and len(state) == 2 and all(type(p) in (dict, type(None)) for p in state):
        h.tag("slots-state")  # (__dict__, slots) of a class with __slots__
        _h_state(h, state[0])
        _h_state(h, state[1])
    else:
        h.update(state)


_HANDLERS: dict[type, Callable[[_Hasher, Any], None]] = {
    type(None): _h_atom, bool: _h_atom, type(Ellipsis): _h_atom, type(NotImplemented): _h_atom,
    int: _h_int, float: _h_float, complex: _h_complex, str: _h_str,
    bytes: _h_bytes, bytearray: _h_bytes, memoryview: _h_bytes, array.array: _h_bytes,
    list: _h_sequence, tuple: _h_sequence, dict: _h_dict, set: _h_set, frozenset: _h_set,
    types.MappingProxyType: _h_mappingproxy,
    types.FunctionType: _h_function, types.BuiltinFunctionType: _h_builtin, types.MethodType: _h_method,
    types.ModuleType: _h_module, types.CodeType: _h_code, type: _h_type,
}
# Values hashed whole by feeding a ``_Stream``: no walk, no references, no globals read.
_ATOM_HANDLERS: dict[type, Callable[[Any, Any], None]] = {t: _HANDLERS[t] for t in ATOMS}


# ---- values whose pickled state is not what a restore gives back: hashed by what can be observed instead
def _h_masked_array(h: _Hasher, obj: Any) -> None:
    """A numpy masked array (``GridSearchCV.cv_results_['param_C']``): its data, mask and fill value. The fill
    value is kept as None until asked for, and a restore sets it, so the value the property gives is hashed."""
    if h.remember(obj):
        return
    h.tag(f"masked:{_typename(obj)}")
    h.update(obj.data)
    h.update(_mask_array(obj))  # an absent mask (``nomask``) is one of False once restored
    fill = obj.fill_value
    # An object array's default fill value is numpy's str '?' until a restore makes it a plain str.
    h.update(fill.item() if obj.dtype.hasobject and hasattr(fill, "item") else fill)
    h.update(obj.dtype)
    h.update(obj.shape)


def _mask_array(obj: Any) -> Any:
    import numpy as np

    return np.ma.getmaskarray(obj)


def _h_bunch(h: _Hasher, obj: dict) -> None:
    """scikit-learn's ``Bunch`` (what ``load_iris()`` returns) is its items: its ``__setstate__`` drops the
    instance dict on a restore (only a map of deprecated keys to warnings), so that dict does not count."""
    if h.remember(obj):
        return
    h.tag(f"bunch:{_typename(obj)}:{len(obj)}")
    for key, value in dict.items(obj):  # no __getitem__: it warns for deprecated keys
        h.update(key)
        h.update(value)


def _h_callback_registry(h: _Hasher, obj: Any) -> None:
    """matplotlib's CallbackRegistry (one per figure, axis, canvas...): the callbacks a pickle keeps. Its own
    ``__getstate__`` draws the next connection id, so hashing it through its pickling recipe changed it."""
    if h.remember(obj):
        return
    h.tag(f"callbacks:{_typename(obj)}")
    kept = {signal: {cid: ref() for cid, ref in sorted(by_id.items()) if cid in obj._pickled_cids}
            for signal, by_id in sorted(obj.callbacks.items())}
    h.update({signal: by_id for signal, by_id in kept.items() if by_id})
    h.update(obj.exception_handler)


# A transform's parents are the transforms to invalidate when it changes (weak references keyed by id): not its
# content, and, followed, they made one Axes' hash walk the whole figure. Whether a cached matrix is valid is not
# content either.
_TRANSFORM_SKIP = frozenset({"_parents", "_invalid"})


def _h_transform(h: _Hasher, obj: Any) -> None:
    if h.remember(obj):
        return
    h.tag(f"transform:{_typename(obj)}")
    _h_state(h, {k: v for k, v in vars(obj).items() if k not in _TRANSFORM_SKIP})


# A colormap's lookup table is made from its colours on first use, often while the inline backend draws the
# figure after the cell has run, which a hit does not repeat: a cache, not content.
_COLORMAP_SKIP = frozenset({"_lut", "_isinit"})


def _colormap_state(obj: Any) -> dict:
    return {k: v for k, v in sorted(vars(obj).items()) if k not in _COLORMAP_SKIP}


def _h_colormap(h: _Hasher, obj: Any) -> None:
    if h.remember(obj):
        return
    h.tag(f"colormap:{_typename(obj)}")
    _h_state(h, _colormap_state(obj))


def _h_without_cache(h: _Hasher, obj: Any) -> None:
    """A library object by its attributes less the C++ cache it rebuilds from them (see keys.caches)."""
    if h.remember(obj):
        return
    h.tag(f"less-cache:{_typename(obj)}")
    _h_state(h, content_state(obj))


# ---- matplotlib figures: tens of thousands of small objects, so hashed as one pickle written in C
class _NamesNotebookCode(Exception):
    """The pickle would name a notebook function or class instead of holding its code: not content."""


def _never_loaded(*args: Any) -> None:
    """Names the reductions below in a pickle that is only hashed, never loaded."""


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _state_reduction(state: Callable[[Any], dict]) -> Callable[[Any], tuple]:
    # The class by its name, not the class: without a memo, each class written costs a call of the pickler's hook.
    return lambda obj: (_never_loaded, ("object", _class_name(type(obj))), state(obj))


def _figure_state(fig: Any) -> dict:
    state = fig.__getstate__()
    state.pop("_number", None)  # pyplot's figure number: a restore registers the figure under the next one
    return state


def _transform_state(obj: Any) -> dict:
    return {k: v for k, v in sorted(vars(obj).items()) if k not in _TRANSFORM_SKIP}


def _registry_state(obj: Any) -> dict:
    callbacks = {signal: {cid: ref() for cid, ref in sorted(by_id.items()) if cid in obj._pickled_cids}
                 for signal, by_id in sorted(obj.callbacks.items())}
    return {"callbacks": {k: v for k, v in callbacks.items() if v}, "exception_handler": obj.exception_handler}


def _array_reduction(obj: Any) -> tuple:
    """An array as its class, dtype, shape and elements in C order: a restore gives back a contiguous copy of a
    strided view (a line's ``_x`` is a column of its ``_xy``), so the layout is not content."""
    import numpy as np

    kind, dtype = _class_name(type(obj)), _dtype_token(obj.dtype)
    if obj.dtype.hasobject:
        return _never_loaded, ("ndarray-objects", kind, dtype, obj.shape, obj.ravel().tolist())
    data = np.ascontiguousarray(obj).reshape(-1).view(np.uint8)
    return _never_loaded, ("ndarray", kind, dtype, obj.shape, pickle.PickleBuffer(data))  # type: ignore[arg-type]


def _masked_reduction(obj: Any) -> tuple:
    """A masked array as what ``_h_masked_array`` hashes (a restore turns an absent mask into one of False)."""
    return _never_loaded, ("masked", hash_value(obj))


def _dtype_token(dtype: Any) -> Any:
    """What a dtype says (byte order, kind, size, unit; fields by name), not which object it is: a restored array
    holds a copy of the original's dtype."""
    return dtype.str if dtype.names is None and dtype.subdtype is None else (dtype.str, dtype.descr)


def _dtype_reduction(obj: Any) -> tuple:
    return _never_loaded, ("dtype", _dtype_token(obj))


def _subclasses(cls: type) -> list[type]:
    found, pending = [], [cls]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += current.__subclasses__()
    return found


def _figure_reductions() -> dict[type, Callable[[Any], tuple]]:
    import numpy as np
    from matplotlib.cbook import CallbackRegistry
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure
    from matplotlib.transforms import TransformNode

    table = {cls: _state_reduction(_transform_state) for cls in _subclasses(TransformNode)}
    table.update({cls: _state_reduction(_colormap_state) for cls in _subclasses(Colormap)
                  if cls.__reduce_ex__ is object.__reduce_ex__})
    table.update({cls: _state_reduction(_figure_state) for cls in _subclasses(Figure)})
    table.update({cls: _array_reduction for cls in _subclasses(np.ndarray)})
    table.update({cls: _masked_reduction for cls in _subclasses(np.ma.MaskedArray)})
    table.update({cls: _dtype_reduction for cls in _subclasses(np.dtype)})
    table[CallbackRegistry] = _state_reduction(_registry_state)
    return table


class _Kind(enum.Enum):
    """How the figure pickler writes objects of one class."""

    NAMED = "by name"  # classes, functions, modules: pickle writes their names
    VALUE = "by value"  # immutable values (dtypes) and values hashed by content: no identity to keep
    OBJECT = "as an object"  # anything else: remembered at its first appearance, a reference after
    NOTEBOOK = "notebook code"  # an instance of a notebook class: the pickle would name its class


_NEWOBJ = copyreg.__newobj__  # type: ignore[attr-defined]  # what ``object.__reduce_ex__`` names
_NAMED_TYPES = (type, types.FunctionType, types.ModuleType)  # a builtin may be a bound method: an object
_CONTAINERS = (list, dict, set)  # the mutable builtins whose bound methods matplotlib keeps


class _FigurePickler(pickle.Pickler):
    """Writes a figure for hashing only, so that a restored figure writes the same bytes as the original.

    A pickle's memo shares every object by identity, strings and tuples too, and a restore does not share those
    as the original did (names interned in the original are separate strings after it, one-character strings
    become the interpreter's own, a restored array holds a copy of its dtype). So the memo is off (``fast``:
    strings and tuples are written in full wherever they appear) and identity is kept here instead, for objects
    of classes other than the builtins (artists, transforms, arrays): a restore shares those as the original did,
    and they make a figure's cycles. Plain lists and dicts are written in full too: two artists sharing one list
    hash as two holding equal lists (matplotlib copies what it is given). Refuses anything whose code a pickle
    would name rather than hold.
    """

    def __init__(self, file: io.BytesIO, buffers: list[pickle.PickleBuffer]) -> None:
        super().__init__(file, protocol=5, buffer_callback=buffers.append)
        self.fast = True  # no memo: see the class's docstring
        self._reductions = {**copyreg.dispatch_table, **_figure_reductions()}  # copyreg's: numpy's ufuncs
        self._kinds: dict[type, _Kind] = {}
        self._order: dict[int, int] = {}  # id -> index of first appearance
        self._alive: list[Any] = []  # keeps remembered objects alive so their ids stay unique
        self._named: set[int] = {id(_never_loaded), id(_NEWOBJ)}
        self.libraries: set[str] = set()  # whose functions and classes it names: their versions count

    def _kind(self, cls: type) -> _Kind:
        if cache_attributes(cls) is not None:  # a triangulation a TriContourSet holds: less its C++ cache
            self._reductions[cls] = _state_reduction(content_state)
        if issubclass(cls, _NAMED_TYPES):
            kind = _Kind.NAMED
        elif _is_user_name(cls.__module__):
            kind = _Kind.NOTEBOOK
        elif self._reductions.get(cls) in (_masked_reduction, _dtype_reduction):
            kind = _Kind.VALUE
        else:
            kind = _Kind.OBJECT
        self._kinds[cls] = kind
        return kind

    def _check_named(self, obj: Any) -> None:
        if id(obj) in self._named:
            return
        module = getattr(obj, "__module__", None) or getattr(obj, "__name__", None)
        if _is_user_name(module):
            raise _NamesNotebookCode
        self.libraries.add(str(module).split(".")[0])
        self._named.add(id(obj))
        self._alive.append(obj)

    def reducer_override(self, obj: Any) -> Any:
        if obj is _never_loaded:  # in most reductions written here: the quickest way out
            return NotImplemented
        cls = type(obj)
        kind = self._kinds.get(cls) or self._kind(cls)
        if kind is _Kind.NAMED:
            if cls is types.FunctionType and "<" in obj.__qualname__:
                return self._local_function(obj)
            self._check_named(obj)
            return NotImplemented
        if kind is _Kind.VALUE:
            return self._reductions[cls](obj)
        if kind is _Kind.NOTEBOOK:
            raise _NamesNotebookCode
        ref = self._reference(obj)
        if ref is not None:
            return ref
        if cls is types.BuiltinMethodType and type(getattr(obj, "__self__", None)) in _CONTAINERS:
            return self._container_method(obj)
        self._check_named(cls)  # written by its name below: its library's version counts
        reduction = self._reductions.get(cls)
        if reduction is not None:
            return reduction(obj)
        reduced = obj.__reduce_ex__(5)
        if type(reduced) is tuple and reduced[0] is _NEWOBJ and len(reduced[1]) == 1:
            return (_never_loaded, ("object", _class_name(cls)), *reduced[2:])  # most objects
        return reduced

    def _reference(self, obj: Any) -> tuple | None:
        """A reference to ``obj`` if it was written before; else None, and it is remembered as written now."""
        seen = self._order.get(id(obj))
        if seen is not None:
            return _never_loaded, ("ref", seen)
        self._order[id(obj)] = len(self._order)
        self._alive.append(obj)
        return None

    def _container_method(self, method: Any) -> tuple:
        """A method bound to a list, dict or set (each artist's ``_remove_method`` is its Axes' ``_children.remove``)
        as its name and that container, whose identity is kept from the first such method on: written in full
        each time, the container led back to itself through its artists' methods, a cycle that sent any Axes of
        more than about 15 artists (a histogram's bars) to the item-by-item walk, 6x slower."""
        owner = method.__self__
        seen = self._reference(owner)  # remembered now if new: the next method bound to it names it instead
        name = ("method", type(owner).__name__, method.__name__)
        return (_never_loaded, (*name, seen[1])) if seen is not None else (_never_loaded, name, owner)

    def _local_function(self, fn: types.FunctionType) -> Any:
        """A library's lambda or closure (``Axes.bar_label`` keeps one in each centred label), which pickle cannot
        name: written as the item-by-item walk hashes it, its library's name with its code's place and bytecode
        (two lambdas of one function share the name) and its state: defaults, closed-over values, attributes."""
        if _is_user_name(fn.__module__):
            raise _NamesNotebookCode
        ref = self._reference(fn)
        if ref is not None:
            return ref
        self.libraries.add(str(fn.__module__).split(".")[0])
        code = fn.__code__
        cells = tuple(_cell_value(cell) for cell in fn.__closure__ or ())
        return (_never_loaded, ("libfunc", fn.__module__, fn.__qualname__, code.co_firstlineno, code.co_code),
                (fn.__defaults__, fn.__kwdefaults__, cells, dict(fn.__dict__)))


def _cell_value(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell: the variable is not bound yet
        return ("empty-cell",)


def _figure_digest(fig: Any) -> bytes | None:
    """The digest of a figure's pickle and the versions of the libraries it names; None if it cannot be written
    (a notebook formatter function, a library's lambda, a cycle of lists)."""
    buffers: list[pickle.PickleBuffer] = []
    file = io.BytesIO()
    pickler = _FigurePickler(file, buffers)
    try:
        pickler.dump(fig)
    except Exception:
        return None
    h = _Hasher()
    for library in sorted(pickler.libraries):  # a pickle names library code; its version says what that code is
        h.tag(f"{library}:{module_version(library)}")
    h.raw(file.getbuffer())
    for buffer in buffers:
        h.raw(buffer.raw())
    return h.h.digest()


# Figures already written in this scope (see ``shared_figures``): id -> (the figure, kept alive; its digest).
_SHARED: contextvars.ContextVar[dict[int, tuple[Any, bytes | None]] | None] = contextvars.ContextVar(
    "nbcache_shared_figures", default=None)


class shared_figures:  # noqa: N801 (used as ``with shared_figures():``, like the function it was)
    """Inside, a figure is written once however many values hold it: a cell reading ``fig`` and ``ax`` (or two
    Axes of one figure) hashes each as an input of its own. For one pass over a cell's inputs, while no cell code
    runs, so the figure cannot change in between. A class, not a generator: every hit enters one."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _SHARED.set({})

    def __exit__(self, *exc: object) -> None:
        _SHARED.reset(self._token)


def _h_figure(h: _Hasher, fig: Any) -> None:
    """A figure as the digest of its pickle (matplotlib's own recipe: no canvas, no renderer), written by the C
    pickler: 8x faster than the item-by-item walk, which it falls back to when the pickle cannot hold it all."""
    if h.remember(fig):
        return
    shared = _SHARED.get()
    if shared is not None and id(fig) in shared:
        digest = shared[id(fig)][1]
    else:
        digest = _figure_digest(fig)
        if shared is not None:
            shared[id(fig)] = (fig, digest)
    if digest is None:
        h.tag(f"figure-walk:{_typename(fig)}")
        _h_reduce_state(h, fig)
        return
    h.pickled.add(id(fig))
    h.tag(f"figure-pickle:{_typename(fig)}")
    h.raw(digest)


def _h_axes(h: _Hasher, ax: Any) -> None:
    """An Axes as its figure and its place there, when the figure was fed whole as a pickle: hashing each of 16
    Axes must not write the figure 16 times. Else (a figure being walked item by item) the Axes is walked too."""
    fig = getattr(ax, "figure", None)
    axes = getattr(fig, "axes", None)
    if h.remember(ax):
        return
    place = next((i for i, a in enumerate(axes) if a is ax), None) if isinstance(axes, list) else None
    h.tag(f"axes:{_typename(ax)}:{place}")
    if place is not None:
        h.update(fig)
    if id(fig) not in h.pickled:
        _h_reduce_state(h, ax)


def _h_generator(h: _Hasher, obj: Any) -> None:
    """A random generator by its state, except a process-wide one, which is named (see keys.generators)."""
    name = generators.global_name(obj)
    if name is None:
        _h_reduce(h, obj)
    elif not h.remember(obj):
        h.tag(f"global-generator:{name}")


# By the class's module and name as ``type()`` gives them (numpy's masked array says ``numpy.ma``).
_OBSERVED = {"numpy.ma.MaskedArray": _h_masked_array, "sklearn.utils._bunch.Bunch": _h_bunch,
             "matplotlib.cbook.CallbackRegistry": _h_callback_registry,
             **dict.fromkeys(generators.CLASSES, _h_generator)}


def _observed_handler(obj: Any) -> Callable[[_Hasher, Any], None] | None:
    cls = type(obj)
    found = _OBSERVED.get(f"{cls.__module__}.{cls.__qualname__}")
    if found is None and cache_attributes(cls) is not None:
        return _h_without_cache
    colors = sys.modules.get("matplotlib.colors")  # (loaded before any figure is: handlers are kept per type)
    if found is None and colors is not None and isinstance(obj, colors.Colormap):
        return _h_colormap if cls.__reduce_ex__ is object.__reduce_ex__ else None
    if found is not None or "matplotlib.figure" not in sys.modules:
        return found
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.transforms import TransformNode

    if isinstance(obj, Figure):
        return _h_figure
    if isinstance(obj, Axes):
        return _h_axes
    if isinstance(obj, TransformNode) and cls.__reduce_ex__ is object.__reduce_ex__:
        return _h_transform
    return None


def _find_handler(obj: Any) -> Callable[[_Hasher, Any], None]:
    """Handlers for subclasses and for optional libraries, found once per type and then cached."""
    cls = type(obj)
    handler = _observed_handler(obj) or arrays.handler_for(obj)
    if handler is None:
        handler = _h_reduce
        if isinstance(obj, type):
            handler = _h_type
        elif isinstance(obj, (list, tuple)) and cls.__reduce_ex__ is tuple.__reduce_ex__:
            handler = _h_sequence
        elif cls.__module__ == "collections" and isinstance(obj, dict):
            handler = _h_dict  # OrderedDict, defaultdict, Counter: their items are their content
        elif isinstance(obj, (set, frozenset)) and cls.__reduce_ex__ is set.__reduce_ex__:
            handler = _h_set  # order-free, as a set is
    _HANDLERS[cls] = handler
    return handler


def _importable_name(obj: Any) -> str | None:
    """``module:name`` when importing that name gives this very object (a numpy ufunc, a library singleton)."""
    module, name = getattr(obj, "__module__", None), getattr(obj, "__name__", None)
    if not isinstance(module, str) or not isinstance(name, str):
        return None
    try:
        found = getattr(importlib.import_module(module), name, None)
    except Exception:
        return None
    return f"{module}:{name}" if found is obj else None


def path_digest(text: str | os.PathLike) -> bytes | None:
    """What a path names, by content: a file's bytes, a folder's listing (recursively), a glob pattern's matches;
    None if it names nothing. Raises files.FolderTooLarge."""
    import glob

    from nbcache.keys.files import folder_digest

    path = os.path.expanduser(os.fspath(text))
    try:
        if os.path.isfile(path):
            return b"file:" + file_digest(path)
        if os.path.isdir(path):
            return b"folder:" + folder_digest(path)
    except OSError:
        return None
    if isinstance(text, str) and any(c in text for c in "*?["):
        matches = sorted(glob.glob(path, recursive=True))
        if matches:
            h = blake3()
            for match in matches:
                h.update(f"{match}\0".encode())
                h.update(path_digest(match) or b"")
            return b"glob:" + h.digest()
    return None


def hash_file(path: str | os.PathLike) -> bytes:
    """blake3 of a file's bytes (memory-mapped), reused while its size, mtime and inode are unchanged."""
    return file_digest(os.fspath(path))


def hash_value_reads(obj: object, namespace: dict[str, Any] | None = None) -> tuple[bytes, set[str]]:
    """The digest of obj and the names of ``namespace`` that its notebook functions read (named, not hashed).

    Raises UnhashableValue when obj's content cannot be hashed; never falls back to identity.
    """
    atom = _ATOM_HANDLERS.get(type(obj))
    if atom is not None:  # no walk: nothing to keep alive, no global read (most inputs of a small cell)
        stream = _AtomStream()
        atom(stream, obj)
        return stream.digest(), set()
    h = _Hasher(namespace)
    try:
        with paused_gc:  # the walk keeps what it saw alive until it ends: see gcpause
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

