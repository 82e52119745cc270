"""Objects to bytes and back: the C pickler at protocol 5, with large buffers out of band and dill where needed.

- Large contiguous buffers (numpy arrays, Arrow buffers) leave the pickle as separate raw buffers, which the store
  writes as blobs and maps back copy-on-write: no copy on save, a lazy restore.
- Functions, lambdas and classes defined in the notebook (and modules) go through dill, one object at a time from
  the C pickler's ``reducer_override``: plain pickle would write them by reference to ``__main__``, where a new
  kernel does not have them, and dill's pure-Python pickler is several times slower on everything else. dill writes
  their globals by reference to ``__main__``, so a restored function sees the live notebook namespace, as a
  function defined by re-running the cell does. One dill pickler serves the whole payload (and one unpickler reads
  it back), so a notebook class written twice is one class after a restore: ``MissingColumn``'s base is the very
  ``DataError`` that ``except DataError`` names.
- Notebook Enums are rebuilt from their members and methods (dill cannot write their self-references), and
  ``lru_cache`` wrappers of notebook functions by wrapping the restored function again.
- The whole payload is one pickle, so objects shared between outputs stay shared (``b = a``: ``b is a``).
- Objects that are unchanged inputs of the cell may be written as references to their names (``refs``) and are
  resolved from the namespace on load. They are found without a Python call per object where the refs allow it
  (``_PresetPickler``): the C pickler's memo holds the referenced containers, its reducer_override finds the rest.
- Anything the C pickler refuses is retried with dill for the whole payload (slower, same result).
"""

from __future__ import annotations

import contextvars
import enum
import functools
import importlib
import io
import marshal
import operator
import pickle
import re
import sys
import threading
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import dill

from nbcache.atoms import ATOMS
from nbcache.errors import SerializationError
from nbcache.gcpause import paused_gc
from nbcache.keys import generators, memo
from nbcache.keys.arrays import is_pandas_object, pandas_extras
from nbcache.keys.caches import cache_attributes
from nbcache.store import attrdicts, rebuild

_PROTOCOL = 5
# Buffers smaller than this stay inside the pickle: a blob file each would cost more than it saves.
INLINE_LIMIT = 64 * 1024
# Object arrays of strings at least this long are written as one joined buffer (below it, pickle is as fast).
_STRINGS_MIN = 1024

# Payloads whose refs name at most this many dicts, lists, sets or bytearrays are written by ``_PresetPickler``
# (those refs are resolved all at once on load); beyond it, by ``_RefPickler``, which looks up every object.
_PRESET_LIMIT = 64

Resolve = Callable[[Any], Any]


class _Loading:
    """What one ``loads`` shares with the helpers its pickle calls: how refs are resolved, and the dill reader its
    segments share, made at the first segment (most payloads have none)."""

    __slots__ = ("resolve", "_reader")

    def __init__(self, resolve: Resolve) -> None:
        self.resolve = resolve
        self._reader: _SharedReader | None = None

    @property
    def reader(self) -> _SharedReader:
        if self._reader is None:
            self._reader = _SharedReader(self.resolve)
        return self._reader


_LOADING: contextvars.ContextVar[_Loading | None] = contextvars.ContextVar("nbcache_loading", default=None)


def _resolver() -> Resolve:
    loading = _LOADING.get()
    return _no_refs if loading is None else loading.resolve


@dataclass
class Serialized:
    """A payload as bytes: the pickle itself, its out-of-band buffers in order, and which pickler wrote it."""

    data: bytes
    buffers: list[memoryview] = field(default_factory=list)
    engine: str = "pickle"


def _no_refs(pid: str) -> Any:
    raise KeyError(pid)


def _importable(obj: Any) -> bool:
    """True if pickle's by-name reference to ``obj`` finds this very object again in a new process."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if module in (None, "__main__") or "<" in qualname:
        return False
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception:
        return False
    return found is obj


def _needs_dill(obj: Any) -> bool:
    if isinstance(obj, types.ModuleType):
        return True
    return isinstance(obj, (types.FunctionType, type)) and not _importable(obj)


def _from_dill(data: bytes) -> Any:
    """Rebuild one object written by its own dill pickler (entries of format 2 and before)."""
    return _DillUnpickler(io.BytesIO(data), _resolver()).load()


def _from_shared_dill(data: bytes) -> Any:
    """Rebuild the next object written by the payload's one dill pickler: its memo spans every such object."""
    loading = _LOADING.get()
    reader = _SharedReader(_no_refs) if loading is None else loading.reader  # outside loads(): one object to read
    return reader.load(data)


# ---- notebook objects dill cannot write as they are
def _enum_internals(cls: enum.EnumMeta) -> frozenset[str]:
    """What the Enum machinery puts into a class's dict by itself, found on an empty enum of the same kind."""
    metacls, bases = type(cls), cls.__bases__
    probe = metacls("_Probe", bases, metacls.__prepare__("_Probe", bases))
    return frozenset(vars(probe)) | {"__module__", "__qualname__"}


def _enum_reduction(cls: enum.EnumMeta) -> tuple:
    """A notebook Enum as its members and its own attributes: rebuilt, it is a class with the same members."""
    members = [(name, member._value_) for name, member in cls._member_map_.items()]
    skip = _enum_internals(cls) | set(cls._member_map_)
    attrs = {k: v for k, v in vars(cls).items() if k not in skip or k == "__doc__"}
    return _make_enum, (type(cls), cls.__name__, cls.__qualname__, cls.__bases__, members, attrs)


def _make_enum(metacls: type, name: str, qualname: str, bases: tuple, members: list, attrs: dict) -> Any:
    namespace = metacls.__prepare__(name, bases)
    namespace["__module__"], namespace["__qualname__"] = "__main__", qualname
    for key, value in [*members, *attrs.items()]:
        namespace[key] = value
    return metacls(name, bases, namespace)


# ---- functions a module made at run time (a library's lambda or closure): not importable by name
_EMPTY_CELL = ("nbcache:empty-cell",)


def _module_function_reduction(obj: Any) -> Any:
    """A function of an imported module (not the notebook's) that pickle cannot name, such as the lambda
    ``Axes.bar_label`` stores in each label, as its code and its module's name; NotImplemented if not one.

    Its defaults and closure are the state, set once the function exists: they may lead back to the function
    itself (the label's lambda holds the bar, which leads to the label), and pickle's memo then finds it. dill
    writes such a function alone and refuses that cycle, which cost a second, whole-payload dill pass."""
    module = getattr(obj, "__module__", None)
    if type(obj) is not types.FunctionType or module in (None, "__main__"):
        return NotImplemented
    if getattr(sys.modules.get(module), "__dict__", None) is not obj.__globals__:
        return NotImplemented
    cells = tuple(_cell_contents(cell) for cell in obj.__closure__ or ())
    state = (obj.__defaults__, obj.__kwdefaults__, cells, dict(obj.__dict__), obj.__qualname__)
    return _module_function, (module, marshal.dumps(obj.__code__), obj.__name__, len(cells)), state, None, None, \
        _fill_function


def _cell_contents(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # not bound yet
        return _EMPTY_CELL


def _module_function(module: str, code: bytes, name: str, cells: int) -> Any:
    closure = tuple(types.CellType() for _ in range(cells)) or None
    return types.FunctionType(marshal.loads(code), importlib.import_module(module).__dict__, name, None, closure)


def _fill_function(function: Any, state: tuple) -> None:
    defaults, kwdefaults, cells, attributes, qualname = state
    function.__defaults__, function.__kwdefaults__, function.__qualname__ = defaults, kwdefaults, qualname
    for cell, value in zip(function.__closure__ or (), cells, strict=True):
        if not (type(value) is tuple and value == _EMPTY_CELL):  # a closed-over array compares item by item
            cell.cell_contents = value
    function.__dict__.update(attributes)


def _lru_cached(function: Any, maxsize: int | None, typed: bool) -> Any:
    return functools.lru_cache(maxsize=maxsize, typed=typed)(function)


def _pandas_reduction(obj: Any) -> Any:
    """A Series or DataFrame with attributes set on it (``df.design_info``, set by formula libraries and read by
    statsmodels), which pandas' own pickle drops: its recipe, then those attributes. Before, a hit gave back a
    frame without them, and an entry whose output held one of them could not be loaded again. An attribute that
    cannot be written (patsy's ``DesignInfo`` refuses pickling) makes the whole save fail: a hit giving the frame
    back without it would break a later ``X.design_info`` that a re-run serves."""
    if not is_pandas_object(type(obj)):
        return NotImplemented
    extras = {k: v for k, v in pandas_extras(obj).items() if k not in getattr(type(obj), "_metadata", ())}
    if not extras:
        return NotImplemented
    for name, value in extras.items():
        _check_picklable(name, value)
    reduced = obj.__reduce_ex__(_PROTOCOL)
    if type(reduced) is not tuple or not 3 <= len(reduced) <= 5 or any(part is not None for part in reduced[3:]):
        return NotImplemented  # not the recipe pandas writes today: left to pickle
    return reduced[0], reduced[1], (reduced[2], extras), None, None, _set_pandas_state


def _check_picklable(name: str, value: Any) -> None:
    """Raises SerializationError naming an attribute set on a frame that pickle cannot write."""
    try:
        pickle.dumps(value, protocol=_PROTOCOL)
    except Exception as exc:
        raise SerializationError(f"its attribute {name!r} ({_describe(value)}) cannot be saved: {exc}") from None


def _set_pandas_state(obj: Any, state: tuple[Any, dict[str, Any]]) -> None:
    own, extras = state
    obj.__setstate__(own)
    for name, value in extras.items():
        object.__setattr__(obj, name, value)  # as pandas itself sets a name that is not a column


def _generator_reduction(obj: Any) -> Any:
    """A process-wide random generator as a reference to this process's own (see keys.generators)."""
    name = generators.global_name(obj)
    return NotImplemented if name is None else (generators.live, (name,))


def _notebook_reduction(obj: Any) -> Any:
    """How to write a notebook Enum or an ``lru_cache`` wrapper of a notebook function; NotImplemented if not one."""
    if isinstance(obj, enum.EnumMeta) and not _importable(obj):
        return _enum_reduction(obj)
    if isinstance(obj, functools._lru_cache_wrapper) and not _importable(obj):
        params = obj.cache_parameters()
        return _lru_cached, (obj.__wrapped__, params["maxsize"], params["typed"])
    return NotImplemented


# ---- locks: a new one, never held. dill writes an RLock's owner and count, and rebuilds one that nobody held
# (owner 0) as held by thread 0: the first `with lock:` then waits forever, as every functools.cached_property of a
# notebook class restored by value does on Python 3.11 (each has an RLock). No thread of this process holds a lock
# that a saved one was, so a restored lock starts free.
_LOCKS = {type(threading.RLock()): threading.RLock, type(threading.Lock()): threading.Lock}


def _lock_reduction(obj: Any) -> Any:
    make = _LOCKS.get(type(obj))
    return NotImplemented if make is None else (make, ())


# ---- notebook classes: the live class where it is the same
def _main_class(qualname: str) -> Any:
    """The class ``qualname`` names in this process's notebook namespace (``__main__``), or None."""
    found: Any = sys.modules.get("__main__")
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found if isinstance(found, type) else None


def _class_digest(cls: type) -> bytes | None:
    from nbcache.keys.values import hash_value  # keys.values reads the store's helpers: imported when used

    try:
        return hash_value(cls)
    except Exception:  # content nbcache cannot hash: it cannot tell the live class is the same
        return None


def _live_class_reduction(cls: type, refs: dict[int, Any]) -> Any:
    """A notebook class as (its name, its content's digest, the class written by value), or NotImplemented.

    An instance restored with a copy of its class was not an instance of the notebook's class (``isinstance``
    failed, ``==`` of dataclasses too) wherever the cell did not name the class itself, for example a cell that
    only mutated an instance. A restore gives the class of that name in the notebook when its content is the
    same, as a re-run would, else the copy. The copy is a pickle of its own: written in this stream, the class's
    memo entry would be the copy's.
    """
    if isinstance(cls, enum.EnumMeta) or cls.__module__ != "__main__" or _main_class(cls.__qualname__) is not cls:
        return NotImplemented
    digest = _class_digest(cls)
    if digest is None:
        return NotImplemented
    file = io.BytesIO()
    by_value = _DillPickler(file, refs)
    by_value.by_value.add(id(cls))
    by_value.dump(cls)
    return _live_or_copy, (cls.__qualname__, digest, file.getvalue())


def _live_or_copy(qualname: str, digest: bytes, copy: bytes) -> type:
    live = _main_class(qualname)
    if live is not None and _class_digest(live) == digest:
        return live
    loading = _LOADING.get()
    copies = loading.reader.copies if loading is not None else {}
    if (qualname, digest) not in copies:  # one copy per load: a class and its subclass's base stay one class
        copies[qualname, digest] = _DillUnpickler(io.BytesIO(copy), _resolver()).load()
    return copies[qualname, digest]


class _DillPickler(dill.Pickler):
    def __init__(self, file: io.BytesIO, refs: dict[int, Any], **kwargs: Any) -> None:
        # recurse=False: globals of notebook functions are written as a reference to __main__'s namespace.
        super().__init__(file, protocol=_PROTOCOL, recurse=False, **kwargs)
        self._refs = refs
        self.by_value: set[int] = set()  # classes written by value here (their own pickle, see below)

    def persistent_id(self, obj: Any) -> Any:
        return self._refs.get(id(obj))

    def _input_view(self, obj: Any) -> Any:
        return _input_view_reduction(obj, self._refs)

    def reducer_override(self, obj: Any) -> Any:
        for reduction in (rebuild.reduction, attrdicts.reduction, _generator_reduction, _pandas_reduction,
                          _notebook_reduction, _lock_reduction):
            special = reduction(obj)
            if special is not NotImplemented:
                return special
        if isinstance(obj, type) and id(obj) not in self.by_value:
            return _live_class_reduction(obj, self._refs)
        return NotImplemented


class _SharedWriter:
    """One dill pickler for every notebook object of a payload; each dump is a segment of its stream."""

    def __init__(self, refs: dict[int, Any]) -> None:
        self._file = io.BytesIO()
        self._pickler = _DillPickler(self._file, refs)

    def dump(self, obj: Any) -> bytes:
        start = self._file.tell()
        self._pickler.dump(obj)
        return self._file.getvalue()[start:]


class _Segment:
    """The file a shared unpickler reads: the segment being loaded, swapped before each load."""

    def __init__(self) -> None:
        self.data = io.BytesIO()

    def read(self, size: int = -1) -> bytes:
        return self.data.read(size)

    def readline(self) -> bytes:
        return self.data.readline()

    def readinto(self, buffer: Any) -> int:
        return self.data.readinto(buffer)


class _SharedReader:
    """The unpickler that reads a payload's dill segments in the order they were written (the main pickle's)."""

    def __init__(self, resolve: Resolve) -> None:
        self._resolve = resolve
        self._segment = _Segment()
        self._unpickler: _DillUnpickler | None = None  # made at the first segment: most payloads have none
        self.copies: dict[tuple[str, bytes], type] = {}  # notebook classes restored as copies (_live_or_copy)

    def load(self, data: bytes) -> Any:
        if self._unpickler is None:
            self._unpickler = _DillUnpickler(self._segment, self._resolve)
        self._segment.data = io.BytesIO(data)
        return self._unpickler.load()


# Entries written before the package was split into subpackages name the helpers here by their old module.
_MOVED = {"nbcache.serialize": __name__}


class _DillUnpickler(dill.Unpickler):
    def __init__(self, file: io.BytesIO | _Segment, resolve: Resolve, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self._resolve = resolve

    def persistent_load(self, pid: Any) -> Any:
        return self._resolve(pid)

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(_MOVED.get(module, module), name)


def array_root(obj: Any) -> Any:
    """The last array in a chain of bases: the one that holds the memory. numpy skips intermediate views for a
    slice but not for an array made over another array's buffer, as a restore makes them."""
    while type(obj.base) is type(obj):
        obj = obj.base
    return obj


def _memory_owner(obj: Any) -> Any:
    """The contiguous array whose memory ``obj`` shows (``obj`` itself when it holds it), or None."""
    if type(obj).__name__ != "ndarray" or type(obj).__module__ != "numpy":
        return None
    root = array_root(obj)
    return root if root.flags.c_contiguous or root.flags.f_contiguous else None


def _array_owner(obj: Any) -> Any:
    """The array that owns a numpy view's memory, or None if ``obj`` is not a view of a plain array."""
    owner = _memory_owner(obj)
    return owner if owner is not obj else None


def _view_of(owner: Any, offset: int, shape: tuple, strides: tuple, dtype: Any, writeable: bool) -> Any:
    import numpy as np

    buffer = owner if owner.flags.c_contiguous else owner.ravel(order="K")  # (a view, without copying)
    view = np.ndarray(shape, dtype, buffer=buffer, offset=offset, strides=strides)
    view.flags.writeable = writeable and owner.flags.writeable
    return view


# A view is written as a view of its owner (after a restore they still share memory, as after a real run) when the
# payload holds the owner or another view of it, or when writing the whole owner costs little more than the view:
# a figure's line keeps ``_x`` and ``_y`` as views of its ``_xy``. A lone view of a large temporary array is written
# as a copy of what it shows.
_SMALL_OWNER = 1 << 16


def _address(array: Any) -> int:
    return int(array.__array_interface__["data"][0])


def _offset(view: Any, owner: Any) -> int:
    return _address(view) - _address(owner)


def _view_of_owner(array: Any, array_offset: int, owner_nbytes: int, offset: int, shape: tuple, strides: tuple,
                   dtype: Any, writeable: bool) -> Any:
    """A view of the memory that the live ``array`` (itself a view) shares with its owner. The owner must be laid
    out as when the entry was written, else the view would show other bytes: the load fails (the cell runs)."""
    owner = _array_owner(array)
    if owner is None or owner.nbytes != owner_nbytes or _offset(array, owner) != array_offset:
        raise SerializationError("an input's array no longer shares memory as when this entry was saved")
    return _view_of(owner, offset, shape, strides, dtype, writeable)


def _byte_span(array: Any) -> tuple[int, int]:
    """The first and past-the-last byte an array's elements occupy."""
    start = end = array.__array_interface__["data"][0]
    for size, stride in zip(array.shape, array.strides, strict=True):
        reach = (size - 1) * stride if size else 0
        start, end = start + min(reach, 0), end + max(reach, 0)
    return start, end + array.itemsize


def _input_view_reduction(obj: Any, refs: dict[int, Any]) -> Any:
    """A view into an unchanged input's array is written as (that input, offset, layout): after a hit it is a view
    of the live input, as after a real run (``head = X[:5]`` sees a later ``X -= 1``), also when that input was
    itself restored by a hit. A view that cannot be written so is refused: a copy would not share memory."""
    arrays = getattr(refs, "arrays_by_owner", {}).get(id(array_root(obj)))
    if not arrays:  # no input's array shares this memory (most views: a figure's lines over their own _xy)
        return NotImplemented
    start, end = _byte_span(obj)
    for array in arrays:
        array_start, array_end = _byte_span(array)
        if array is obj or not (array_start <= start and end <= array_end):
            continue
        if array.flags.c_contiguous or array.flags.f_contiguous:
            offset = obj.__array_interface__["data"][0] - array.__array_interface__["data"][0]
            return _view_of, (array, offset, obj.shape, obj.strides, obj.dtype, bool(obj.flags.writeable))
    owner = _array_owner(obj)
    for array in arrays:  # sklearn's load_digits: X = digits.images.reshape(...), images and data views of one
        if owner is not None and array is not obj and _array_owner(array) is owner:
            return _view_of_owner, (array, _offset(array, owner), owner.nbytes, _offset(obj, owner), obj.shape,
                                    obj.strides, obj.dtype, bool(obj.flags.writeable))
    if any(a_start < end and start < a_end for a_start, a_end in map(_byte_span, arrays)):
        raise SerializationError("a view into an input's array that cannot be restored as a view "
                                 "(use .copy() to store it)")
    return NotImplemented


def _owned_arrays(payload: Any) -> set[int]:
    """Owners of memory that two or more output arrays share (or an output owns and another views): only then
    is the sharing observable. A lone view of a big temporary array is stored as a copy of what it shows."""
    outputs = payload.get("outputs", {}) if isinstance(payload, dict) else getattr(payload, "outputs", {})
    counts: dict[int, int] = {}
    for value in outputs.values():
        owner = _memory_owner(value)
        if owner is not None:
            counts[id(owner)] = counts.get(id(owner), 0) + 1
    return {owner for owner, count in counts.items() if count > 1}


def _strings_from(data: Any, count: int, codes: Any, shape: tuple, order: Literal["C", "F"],
                  digests: tuple[bytes | None, ...] | None = None) -> Any:
    """Rebuild an object array of strings written by ``_string_array_reduction``: one decode and one split in C
    instead of a pickle opcode, a memo entry and a decode per string; ``codes`` restore shared objects as shared.
    ``digests`` (entries saved since the strings memo) seed it, so the next cell reading them hashes no string."""
    import numpy as np

    strings = np.empty(count, dtype=object)
    parts = str(data, "utf-8", "surrogatepass").split("\0") if count else []
    strings[:] = parts
    flat = strings if codes is None else strings[codes]  # a take shares the references, as pickle's memo did
    restored = flat.reshape(shape, order=order)
    if digests is not None:
        memo.seed(restored, parts, digests)  # parts: every object restored holds, none of them the array
    return restored


def _exact_strings(obj: Any) -> tuple[list[str], Literal["C", "F"]] | None:
    """The items of a contiguous numpy object array that holds only exact ``str`` (a DataFrame's string column),
    in memory order, with that order; None for anything else (it is pickled as usual)."""
    numpy = sys.modules.get("numpy")
    if numpy is None or type(obj) is not numpy.ndarray or obj.dtype.kind != "O" or obj.size < _STRINGS_MIN:
        return None
    order: Literal["C", "F"]
    if obj.flags.c_contiguous:
        order = "C"
    elif obj.flags.f_contiguous:
        order = "F"
    else:
        return None
    items = obj.ravel(order=order).tolist()
    return (items, order) if operator.countOf(map(type, items), str) == len(items) else None


def _sharing(items: list[str]) -> tuple[list[str], Any, Any]:
    """The distinct objects among ``items``, each item's index into them (None when all are distinct), and the
    items' addresses."""
    import numpy as np

    ids = np.fromiter(map(id, items), dtype=np.intp, count=len(items))
    ordered = np.sort(ids)
    if not (ordered[1:] == ordered[:-1]).any():
        return items, None, ids
    _, first, codes = np.unique(ids, return_index=True, return_inverse=True)
    return [items[i] for i in first.tolist()], codes.astype(np.int32 if len(first) < 2**31 else np.int64), ids


def _string_array_reduction(obj: Any) -> Any:
    """A string column as its strings joined by NULs (one buffer, out of band when large) plus, if some items are
    the same object, which; NotImplemented when that cannot be exact (a non-str item, a NUL inside a string)."""
    found = _exact_strings(obj)
    if found is None:
        return NotImplemented
    items, order = found
    strings, codes, ids = _sharing(items)
    joined = "\0".join(strings)
    if joined.count("\0") != len(strings) - 1:
        return NotImplemented
    data = pickle.PickleBuffer(joined.encode("utf-8", "surrogatepass"))
    digests = memo.saved_digests(obj, ids) if order == "C" else None  # checked against the items written
    args = (data, len(strings), codes, obj.shape, order)
    return _strings_from, args if digests is None else (*args, digests)


# What the reductions below may write another way: arrays (by the class's name), notebook Enums and lru_cache
# wrappers, what dill writes (functions, classes, modules), the library objects whose C++ cache is left out
# (see keys.caches), dicts that are their own namespace (see attrdicts), the process-wide random generators
# (see keys.generators) and pandas objects with attributes set on them. Instances of any other class are left to
# pickle.
_SPECIAL_BASES = (type, types.FunctionType, types.ModuleType, functools._lru_cache_wrapper)


def _left_to_pickle(cls: type) -> bool:
    """True if ``_Pickler.reducer_override`` returns NotImplemented for every instance of ``cls``: each of its checks
    is by type, unless a class overrides ``__class__`` (a proxy), which isinstance consults instead."""
    if cls.__name__ == "ndarray" or issubclass(cls, _SPECIAL_BASES) or cache_attributes(cls) is not None:
        return False
    if issubclass(cls, dict) and cls is not dict:  # may be its own namespace (see attrdicts)
        return False
    if f"{cls.__module__}.{cls.__qualname__}" in generators.CLASSES:  # may be a process-wide one
        return False
    if is_pandas_object(cls):  # may hold attributes pandas' pickle drops
        return False
    return all("__class__" not in vars(base) for base in cls.__mro__[:-1])


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, refs: dict[int, str], buffer_callback: Callable[[Any], bool],
                 owners: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        super().__init__(file, protocol=_PROTOCOL, buffer_callback=buffer_callback)
        self._refs = refs
        self._owners = owners
        self._dill: _SharedWriter | None = None
        self.sharing: dict[int, set[int]] = {}  # id(owner) -> ids of the arrays written that use its memory
        self.viewed: set[int] = set()  # ids of the arrays written as views of their owner
        self._addresses: dict[int, int] = {}  # id(owner) -> where its memory starts
        # By class, whether its instances are left to pickle: a figure is thousands of artists, transforms and
        # boxes of a few dozen classes, and the checks below cost a Python call each (kept per dump, so that no
        # class outlives the notebook cell that defined it).
        self._plain: dict[type, bool] = {}

    def shared_owners(self) -> set[int]:
        """Owners whose memory two or more of the arrays written share, one of them written as a copy: the payload
        is written again with every view of them as a view (a Bunch's data and images, of one unnamed array)."""
        return {owner for owner, arrays in self.sharing.items() if len(arrays) > 1 and arrays - self.viewed - {owner}}

    def _array(self, obj: Any) -> Any:
        if obj.dtype.hasobject:
            return self._object_array_reduction(obj)  # NotImplemented unless an array it writes better
        owner = _memory_owner(obj)
        if owner is not None:
            self.sharing.setdefault(id(owner), set()).add(id(obj))
        if obj.base is None or type(obj).__module__ != "numpy":
            return NotImplemented
        view = self._input_view(obj)  # first: a view of an input's memory must be one of the live input's
        if view is not NotImplemented or owner is None or owner is obj:
            return view  # (an array over a buffer that is no array, as a tree's nodes: it holds its memory)
        if id(owner) in self._owners or owner.nbytes <= max(2 * obj.nbytes, _SMALL_OWNER):
            self.viewed.add(id(obj))
            offset = _address(obj) - self._owner_address(owner)
            return _view_of, (owner, offset, obj.shape, obj.strides, obj.dtype, bool(obj.flags.writeable))
        return NotImplemented

    def _owner_address(self, owner: Any) -> int:
        """Where an owner's memory starts, asked once: a figure's lines are views, several of each owner, and
        numpy says where an array starts only through a dict it builds each time (5 us)."""
        address = self._addresses.get(id(owner))
        if address is None:
            address = self._addresses[id(owner)] = _address(owner)  # (kept alive by its views' base)
        return address

    def _input_view(self, obj: Any) -> Any:
        return NotImplemented  # no inputs: nothing to be a view of

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        plain = self._plain.get(cls)
        if plain is None:
            plain = self._plain[cls] = _left_to_pickle(cls)
        if plain:
            return NotImplemented
        return self._special(obj)

    def _special(self, obj: Any) -> Any:
        if type(obj).__name__ == "ndarray":
            return self._array(obj)
        for reduction in (rebuild.reduction, attrdicts.reduction, _generator_reduction, _pandas_reduction):
            special = reduction(obj)
            if special is not NotImplemented:
                return special
        special = _notebook_reduction(obj)
        if special is not NotImplemented or not _needs_dill(obj):
            return special
        special = _module_function_reduction(obj)
        if special is not NotImplemented:
            return special
        if self._dill is None:
            self._dill = _SharedWriter(self._refs)
        return _from_shared_dill, (self._dill.dump(obj),)

    def _object_array_reduction(self, obj: Any) -> Any:
        return _string_array_reduction(obj)


def _plain_loads(data: bytes) -> Any:
    return pickle.loads(data)


def _only_atomic_items(obj: Any) -> bool:
    """True for a numpy object array holding only strings, numbers and None (a DataFrame's string column)."""
    numpy = sys.modules.get("numpy")
    if numpy is None or type(obj) is not numpy.ndarray or not obj.dtype.hasobject:
        return False
    return set(map(type, obj.ravel(order="K"))) <= ATOMS  # no ref ever names an atom


class _RefPickler(_Pickler):
    """Only used when there are refs: the C pickler then calls persistent_id for every object, even every string.

    An object array of strings and numbers holds nothing a ref can name (refs are never atomic values), so it is
    written by a plain C pickler inside this one: millions of strings, no Python call each.
    """

    def persistent_id(self, obj: Any) -> Any:
        return self._refs.get(id(obj))

    def _object_array_reduction(self, obj: Any) -> Any:
        strings = _string_array_reduction(obj)
        if strings is not NotImplemented:
            return strings
        if _only_atomic_items(obj):
            return _plain_loads, (pickle.dumps(obj, protocol=_PROTOCOL),)
        if type(obj).__module__ == "numpy" and obj.base is not None:
            return _input_view_reduction(obj, self._refs)
        return NotImplemented


def _resolved(ref: Any) -> Any:
    """A referenced object written by ``_PresetPickler``: found again in the namespace on load."""
    return _resolver()(ref)


def _resolved_pickled(ref: bytes) -> Any:
    """A referenced container named by ``_presets_prefix``: its ref is a pickle of tuples, names and keys."""
    return _resolved(pickle.loads(ref))


class _PresetPickler(_Pickler):
    """With refs from ``aliases.input_references``, at most ``_PRESET_LIMIT`` of them dicts, lists, sets or
    bytearrays: no Python call per object, as persistent_id costs (it runs for every int and string). The C
    pickler asks reducer_override about every object but exact builtins, so other referenced objects are found
    there; the referenced builtin containers are put in its memo before it starts, so it writes a memo reference
    to each, which ``_presets_prefix`` makes the loader resolve."""

    def reducer_override(self, obj: Any) -> Any:
        ref = self._refs.get(id(obj))
        if ref is not None:
            return _resolved, (ref,)
        plain = self._plain.get(type(obj))  # (``_Pickler.reducer_override``, inline: called for every object)
        if plain:
            return NotImplemented
        return super().reducer_override(obj)

    def _input_view(self, obj: Any) -> Any:
        return _input_view_reduction(obj, self._refs)

    def _object_array_reduction(self, obj: Any) -> Any:
        strings = _string_array_reduction(obj)
        if strings is not NotImplemented:
            return strings
        if type(obj).__module__ == "numpy" and obj.base is not None:
            return _input_view_reduction(obj, self._refs)
        return NotImplemented


def _presets(refs: dict[int, Any]) -> list[tuple[Any, Any]] | None:
    """(container, its ref) for each referenced builtin container, or None when ``_PresetPickler`` cannot write
    these refs (a plain dict of refs says nothing of their types; too many containers to resolve on each load)."""
    containers = getattr(refs, "containers", None)
    if containers is None or len(containers) > _PRESET_LIMIT:
        return None
    return [(obj, refs[key]) for key, obj in containers.items()]


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, resolve: Resolve, buffers: Sequence[Any]) -> None:
        super().__init__(file, buffers=buffers)
        self._resolve = resolve

    def persistent_load(self, pid: Any) -> Any:
        return self._resolve(pid)

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(_MOVED.get(module, module), name)


def _collector(buffers: list[memoryview]) -> Callable[[Any], bool]:
    def keep(buffer: pickle.PickleBuffer) -> bool:
        raw = buffer.raw()
        if raw.nbytes < INLINE_LIMIT:
            return True  # in band
        buffers.append(raw)
        return False

    return keep


def _presets_prefix(refs: list[Any]) -> bytes:
    """Pickle opcodes that put each referenced container, resolved, in the loader's memo (indices 0, 1, ...) and
    leave nothing on the stack; the payload's pickle follows, its pickler's memo preset with the same indices.
    Written by hand: a pickler would memoize more than the containers (the C unpickler's memo cannot be preset)."""
    module, name = __name__.encode(), _resolved_pickled.__name__.encode()
    ops = [pickle.PROTO + bytes([_PROTOCOL])]
    for ref in refs:
        data = pickle.dumps(ref, protocol=_PROTOCOL)
        ops += [pickle.GLOBAL, module, b"\n", name, b"\n", pickle.BINBYTES, len(data).to_bytes(4, "little"), data,
                pickle.TUPLE1, pickle.REDUCE, pickle.MEMOIZE, pickle.POP]
    return b"".join(ops)


def _dump_with_presets(obj: Any, refs: dict[int, Any], presets: list[tuple[Any, Any]],
                       buffers: list[memoryview], owners: set[int]) -> tuple[Serialized, _Pickler]:
    file = io.BytesIO()
    file.write(_presets_prefix([ref for _, ref in presets]))
    pickler = _PresetPickler(file, refs, _collector(buffers), owners)
    pickler.memo = {id(container): (index, container) for index, (container, _) in enumerate(presets)}
    pickler.dump(obj)
    return Serialized(file.getvalue(), buffers, "pickle"), pickler


def _dump_once(obj: Any, refs: dict[int, Any], owners: set[int]) -> tuple[Serialized, _Pickler]:
    buffers: list[memoryview] = []
    presets = _presets(refs) if refs else None
    if presets is not None:
        return _dump_with_presets(obj, refs, presets, buffers, owners)
    file = io.BytesIO()
    pickler = (_RefPickler if refs else _Pickler)(file, refs, _collector(buffers), owners)
    pickler.dump(obj)
    return Serialized(file.getvalue(), buffers, "pickle"), pickler


# What ``object.__reduce_ex__`` says of an instance of a type it cannot write, naming the type as Python does:
# ``module.Name`` for a type written in C, ``Name`` alone for builtins and classes written in Python.
_CANNOT_PICKLE = re.compile(r"cannot pickle '([\w.]+)' object")


@functools.cache
def _dill_type_names() -> frozenset[str]:
    """The names of the types dill writes its own way, in both forms Python may use in that message."""
    types_ = [t for t in dill.Pickler.dispatch if isinstance(t, type)]
    return frozenset({t.__name__ for t in types_} | {f"{t.__module__}.{t.__qualname__}" for t in types_})


def _beyond_dill(exc: Exception) -> bool:
    """True when the C pickler failed on an instance of a type that dill writes no other way (a matplotlib
    Triangulation's C++ cache, a generator): dill, slower by far, would fail on it too (0.6 s for one figure).
    Any other failure, or a type dill knows (a lock, a file, a code object), is retried with dill."""
    match = _CANNOT_PICKLE.fullmatch(str(exc)) if type(exc) is TypeError else None
    return match is not None and match.group(1) not in _dill_type_names()


def _dump(obj: Any, refs: dict[int, Any]) -> Serialized:
    owners = _owned_arrays(obj)
    try:
        serialized, pickler = _dump_once(obj, refs, owners)
        shared = pickler.shared_owners() - owners
        if shared:  # arrays inside objects share memory (a Bunch's data and images): write them as views
            serialized, _ = _dump_once(obj, refs, owners | shared)
        return serialized
    except SerializationError:
        raise
    except Exception as exc:  # something only dill can write: the whole payload through dill
        if _beyond_dill(exc):
            raise
        buffers: list[memoryview] = []
        file = io.BytesIO()
        _DillPickler(file, refs, buffer_callback=_collector(buffers)).dump(obj)
        return Serialized(file.getvalue(), buffers, "dill")


def _describe(value: Any) -> str:
    return type(value).__qualname__


def dumps(payload: Any, refs: dict[int, Any] | None = None) -> Serialized:
    """Serialize ``{'outputs': {...}, ...}``; ``refs`` maps id(obj) to the input name to write instead of obj.

    Raises SerializationError naming the output that cannot be saved.
    """
    refs = refs or {}
    # dill warns on stderr about objects it then writes another way: nbcache's saving must not add to the
    # cell's output (a failure still surfaces, as a SerializationError).
    with warnings.catch_warnings(), paused_gc:
        warnings.simplefilter("ignore", dill.PicklingWarning)
        return _dumps(payload, refs)


def _dumps(payload: Any, refs: dict[int, Any]) -> Serialized:
    try:
        return _dump(payload, refs)
    except Exception as whole:
        outputs = payload.get("outputs", {}) if isinstance(payload, dict) else getattr(payload, "outputs", {})
        for name, value in outputs.items():
            try:
                _dump(value, refs)
            except Exception as exc:
                raise SerializationError(f"output {name!r} ({_describe(value)}) cannot be saved: {exc}",
                                         name) from None
        raise SerializationError(f"the cell's result cannot be saved: {whole}") from None


def loads(data: bytes, buffers: Sequence[Any] = (), resolve: Resolve | None = None,
          engine: str = "pickle") -> Any:
    """The payload ``dumps`` wrote; ``buffers`` are its out-of-band buffers, in order (writable ones stay so)."""
    resolve = resolve or _no_refs
    token = _LOADING.set(_Loading(resolve))
    try:
        if engine == "dill":
            with paused_gc:
                return _DillUnpickler(io.BytesIO(data), resolve, buffers=buffers).load()
        if len(data) <= _SMALL_STREAM:  # too few objects for the collector to matter (a trivial cell's hit)
            return _unpickler(data, resolve, buffers).load()
        with paused_gc:
            return _Unpickler(io.BytesIO(data), resolve, buffers).load()
    finally:
        _LOADING.reset(token)


# A pickle stream this small holds at most a few hundred objects.
_SMALL_STREAM = 4096
_NAMES_MOVED = re.compile(b"|".join(re.escape(old.encode()) for old in _MOVED))


def _unpickler(data: bytes, resolve: Resolve, buffers: Sequence[Any]) -> pickle.Unpickler:
    """The C unpickler itself, with no Python method for its globals, unless the stream may name a moved module
    (``_Unpickler.find_class``): a small hit's load was mostly those calls and the subclass's set-up."""
    if not isinstance(data, bytes) or _NAMES_MOVED.search(data):
        return _Unpickler(io.BytesIO(data), resolve, buffers)
    unpickler = pickle.Unpickler(io.BytesIO(data), buffers=buffers)
    unpickler.persistent_load = resolve  # type: ignore[method-assign]  # an attribute of the C unpickler
    return unpickler


def loads_dill(data: bytes, resolve: Resolve | None = None) -> dict[str, Any]:
    """Format 1 entries: the whole payload was one dill pickle, globals written by value."""
    with paused_gc:
        return _DillUnpickler(io.BytesIO(data), resolve or _no_refs).load()

