"""Content hashing of array libraries' values: numpy, pandas, Arrow and torch, from their buffers.

Each library is imported only when a value of its type shows up (# delayed import, to avoid tight coupling).
Buffers go to blake3 as zero-copy memoryviews; only a strided view is copied, a bounded chunk at a time, so its
*elements* are hashed in C order and never its base buffer. Equal content hashes equally whatever its layout
(contiguous or strided, an Arrow slice or a chunked column), because a hit restores values in a layout of its
own: the next cell must still see the key the original values gave.
"""

from __future__ import annotations

import operator
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from blake3 import blake3

from nbcache.errors import UnhashableValue
from nbcache.keys.memo import MEMO, address_view
from nbcache.keys.memo import MIN_ITEMS as MEMO_MIN_ITEMS

try:  # the optional C accelerator (hatch_build.py): each chunk's bytes in one pass, the same as the Python route
    from nbcache import _strhash

    accelerator: Any = _strhash  # tests set it to None to take the Python route
except ImportError:  # not built (no compiler at install): the pure-Python route, same digests
    accelerator = None

# Buffers this large are hashed with blake3's threads (below it, starting them costs more than it saves).
THREADED_BYTES = 1 << 23
# Bound on the temporary copy made to hash a non-contiguous array, chunk by chunk.
_CHUNK_BYTES = 1 << 24
# Object-dtype strings are encoded this many at a time, so no copy of the whole column is made (and a chunk's
# objects stay in cache between the type check and the join).
_STRING_CHUNK = 1 << 16
# Strings that share objects are gathered as rows padded to the longest (in bytes, with its NUL) up to this width.
_PADDED_WIDTH = 64
# Arrow string lengths are computed this many at a time.
_PIECE = 1 << 20

Handler = Callable[[Any, Any], None]


@dataclass(frozen=True)
class Strings:
    """An object array's strings digest, references to every object it came from (for the memo: lists of them,
    or the accelerator's Held), and, where the route recorded them, those objects' addresses as it read them
    (else the memo takes the array's own)."""

    digest: bytes
    held: Any
    read: Any = None


def _typename(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


class _Stream:
    """Data fed piece by piece into one blake3 stream, so the digest does not depend on how it was split (a
    strided array's chunks, an Arrow column's chunks). With a known total under THREADED_BYTES it goes inline
    into the value's stream; otherwise into a threaded hasher of its own whose digest is fed."""

    def __init__(self, h: Any, label: str, total: int | None = None) -> None:
        self.h, self.label, self.size = h, label, 0
        self.inline = total is not None and total < THREADED_BYTES
        if self.inline:
            h.tag(f"{label}:{total}")
        self.sub = h.h if self.inline else blake3(max_threads=blake3.AUTO)

    def feed(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        self.sub.update(view)
        self.size += view.nbytes

    def close(self) -> None:
        if not self.inline:
            _feed_apart(self.h, self.label, self.size, self.sub.digest())


def _feed_apart(h: Any, label: str, size: int, digest: bytes) -> None:
    """What a _Stream hashed apart (with threads of its own) feeds into the value's stream: its size, its digest."""
    h.tag(f"{label}:{size}")
    h.h.update(digest)


# ---- numpy
def _joined_bytes(chunk: list) -> tuple[bytes, bytes | None]:
    """Exact strs, joined with NULs: unambiguous (given the count) when no string contains a NUL itself, which
    one C-level count tells; otherwise their character lengths (int64) go first. The C accelerator's ``join``
    returns the same pair."""
    import numpy as np

    joined = "\0".join(chunk)
    lengths = None
    if joined.count("\0") != len(chunk) - 1:
        lengths = np.fromiter(map(len, chunk), dtype=np.int64, count=len(chunk)).tobytes()
    return joined.encode("utf-8", "surrogatepass"), lengths


def _feed_joined(strings: Any, data: bytes, lengths: bytes | None) -> None:
    """One chunk into the strings stream: which form it takes, then its bytes."""
    if lengths is None:
        strings.tag("nul-joined")
    else:
        strings.tag("lengths")
        strings.raw(lengths)
    strings.raw(data)


def _all_str(items: list) -> bool:
    return operator.countOf(map(type, items), str) == len(items)  # exact str only: a subclass is not a str


def _joined_digest(h: Any, flat: Any) -> Strings | None:
    """The strings' stream, joined a bounded chunk at a time (no per-element Python code), and the chunks (they
    reference every item, for the memo); None as soon as an item is not an exact str.

    Each chunk is taken out as a list first: iterating a list is several times faster in C than iterating the
    numpy array, and the chunk's objects are still in cache when join reads them right after the type check.
    """
    strings, chunks = h.child(), []
    for start in range(0, len(flat), _STRING_CHUNK):
        chunk = flat[start : start + _STRING_CHUNK].tolist()
        if not _all_str(chunk):
            return None
        _feed_joined(strings, *_joined_bytes(chunk))
        chunks.append(chunk)
    return Strings(strings.h.digest(), chunks)


def _shares_objects(flat: Any) -> bool:
    """Whether most items of the first chunk are references to the same few objects (``words[codes]``, a read
    CSV, a restored frame): then the shared route below is faster than joining every item."""
    try:
        import pandas as pd
    except ImportError:  # its C hashtable on ints is what makes the shared route fast
        return False
    if len(flat) <= _STRING_CHUNK:
        return False
    pointers = address_view(flat[:_STRING_CHUNK])
    return pointers is not None and len(pd.unique(pointers)) * 2 <= _STRING_CHUNK


def _object_codes(flat: Any) -> tuple[Any, list]:
    """Each item's distinct object, as a code (pandas' C hashtable on the pointers), and those objects."""
    import numpy as np
    import pandas as pd

    codes, distinct = pd.factorize(address_view(flat), size_hint=_STRING_CHUNK)
    holder = np.empty(len(distinct), dtype=np.intp)
    holder[codes] = np.arange(len(codes))  # some item holding each object: whichever write lands, the same object
    return codes, flat[holder].tolist()


def _padded_rows(values: list[str]) -> tuple[Any, Any] | None:
    """Each value's UTF-8 bytes and the NUL that follows it in the joined stream, as rows of one width, and
    which bytes of each row are not padding (None when none are); None when a value holds a NUL (the stream
    would then need lengths) or one is so long that padding every row to it would cost more than joining."""
    import numpy as np

    encoded = [value.encode("utf-8", "surrogatepass") for value in values]
    if b"\0".join(encoded).count(b"\0") != len(encoded) - 1:
        return None
    lengths = np.fromiter(map(len, encoded), dtype=np.intp, count=len(encoded))
    width = int(lengths.max()) + 1
    if width > _PADDED_WIDTH:
        return None
    rows = np.frombuffer(b"".join(e.ljust(width, b"\0") for e in encoded), dtype=np.uint8).reshape(-1, width)
    used = None if (lengths == width - 1).all() else np.arange(width) <= lengths[:, None]
    return rows, used


def _shared_digest(h: Any, flat: Any) -> Strings | None:
    """The same stream as _joined_digest, for items that share objects, and the distinct objects (every item is
    one of them): only those are type-checked and encoded; each chunk's bytes are their rows gathered by code
    (numpy, no per-item Python code). None when an object is not an exact str, or few objects are shared, or the
    values cannot be padded (the caller joins)."""
    codes, objects = _object_codes(flat)
    if len(objects) * 2 > len(flat):  # shared only at the start: encoding each object costs more than a join
        return None
    padded = _padded_rows(objects) if _all_str(objects) else None
    if padded is None:
        return None
    rows, used = padded
    strings = h.child()
    for start in range(0, len(flat), _STRING_CHUNK):
        chunk = codes[start : start + _STRING_CHUNK]
        block = rows.take(chunk, axis=0)  # take is several times faster than fancy indexing here
        data = block.reshape(-1) if used is None else block[used[chunk]]
        strings.tag("nul-joined")  # what _feed_joined feeds for the same strings: they hold no NUL
        strings.raw(memoryview(data)[:-1])  # no NUL after the last string
    return Strings(strings.h.digest(), objects)


def _accelerated_digest(h: Any, flat: Any) -> Strings | None:
    """The stream _joined_digest feeds, each chunk's bytes made by the C accelerator in one pass over its items
    (exact-str check, reference held, UTF-8, NUL-join) while a thread of C's own hashes the chunks made before
    (no GIL, no Python code: see _strhash.digests), and, for the memo, a Held: a reference to each item read, at
    its index, whose buffer is those items' addresses (one block, 8 bytes an item, for both); None when an item
    is not an exact str. Faster than the shared route too: the items' objects are few and in cache."""
    held = accelerator.Held(len(flat)) if len(flat) >= MEMO_MIN_ITEMS else None  # the memo keeps no smaller one
    (digest,), _ = accelerator.digests([(flat, held)], [], THREADED_BYTES, _STRING_CHUNK)
    return None if digest is None else _held_strings(digest, held)


def _held_strings(digest: bytes, held: Any) -> Strings:
    import numpy as np

    read = np.frombuffer(held, dtype=np.uintp) if held is not None else None  # the objects hashed, at their index
    return Strings(digest, held, read)


def _strings_digest(h: Any, flat: Any) -> Strings | None:
    if accelerator is not None:
        try:
            return _accelerated_digest(h, flat)
        except (TypeError, BufferError):  # numpy lent no object buffer: the Python routes below need none
            pass
    found = _shared_digest(h, flat) if _shares_objects(flat) else None
    return found if found is not None else _joined_digest(h, flat)


def _recalled(arr: Any, flat: Any) -> tuple[Any, bytes | None]:
    """The items' addresses (None below the memo's size) and the memo's digest for them, if it holds one."""
    pointers = address_view(flat) if len(flat) >= MEMO_MIN_ITEMS else None
    return pointers, (MEMO.recall(arr, pointers) if pointers is not None else None)


def _strings_of(h: Any, arr: Any, flat: Any) -> bytes | None:
    """The strings digest of an object array of exact ``str``: the memo's if its items are still the objects it
    held when it was last hashed, else computed (and memoised); None as soon as an item is not an exact str."""
    pointers, digest = _recalled(arr, flat)
    if digest is not None:
        return digest
    before = pointers.copy() if pointers is not None and accelerator is None else None
    found = _strings_digest(h, flat)
    if found is None:
        return None
    if pointers is not None:
        _remember(arr, pointers, before, found)
    return found.digest


def _h_strings(h: Any, arr: Any, flat: Any, ahead: _Ahead | None = None) -> bool:
    """An object array of exact ``str`` hashed in bulk, by its strings alone: which objects hold them only
    chooses the faster route to the same digest, and an array whose items are still the objects it held when
    it was last hashed reuses that digest (see memo). The strings go to a stream of their own whose digest is
    fed at the end, so a non-str found late has fed nothing (returns False; the caller hashes item by item)."""
    digest = ahead.strings(arr) if ahead is not None and ahead.has_strings(arr) else _strings_of(h, arr, flat)
    if digest is None:
        return False
    h.tag(f"strings:{len(flat)}")
    h.raw(digest)
    return True


def _remember(arr: Any, pointers: Any, before: Any, found: Strings) -> None:
    """Memoise the digest under the addresses of the very objects hashed: those the route read, or, where it
    recorded none, the array's own if no other thread changed an item while it was hashed (else nothing)."""
    import numpy as np

    if found.read is not None:
        MEMO.keep(arr, found.read, found.held, found.digest, owned=True)
    elif before is not None and np.array_equal(before, pointers):
        MEMO.keep(arr, before, found.held, found.digest, owned=True)


class _Ahead:
    """A frame's large columns hashed before their turn, two kinds at once: its numeric buffers by another
    thread while the caller's thread walks its object-string columns, so that on two cores the two overlap instead
    of adding up. With the C accelerator that thread is C's own and also hashes the strings' chunks (_in_c);
    without it, a Python thread (blake3 releases the GIL). Each digest is the one the column's turn would compute;
    the turns then feed them in order (a column not found here is hashed in its turn, as without)."""

    def __init__(self) -> None:
        self._numbers: dict[int, bytes] = {}
        self._strings: dict[int, bytes | None] = {}

    @classmethod
    def start(cls, h: Any, columns: list) -> _Ahead | None:
        """The digests of ``columns`` (kept alive by the caller while this is used: they are found by id), or None
        when the frame has not both kinds to overlap."""
        numbers = [values for values in columns if _hashed_apart(values)]
        strings = [values._ndarray for values in columns if _long_object_column(values)]
        if not numbers or not strings:
            return None
        ahead = cls()
        if accelerator is not None:
            try:
                ahead._in_c(strings, numbers)
                return ahead
            except (TypeError, BufferError):  # numpy lent no object buffer: the Python thread below
                pass
        thread = threading.Thread(target=ahead._hash_numbers, args=(numbers,), name="nbcache-columns", daemon=True)
        thread.start()
        try:
            for arr in strings:
                ahead._strings[id(arr)] = _strings_of(h, arr, arr.reshape(-1))
        finally:
            thread.join()
        return ahead

    def _in_c(self, strings: list, numbers: list) -> None:
        """Both kinds in one call to the C accelerator: this thread walks the string columns (those the memo does
        not give) while a thread of C's own hashes their chunks and the numeric buffers (_strhash.digests)."""
        import numpy as np

        walks = []
        for arr in strings:
            pointers, digest = _recalled(arr, arr)
            if digest is not None:
                self._strings[id(arr)] = digest
            else:
                walks.append((arr, pointers, accelerator.Held(len(arr)) if pointers is not None else None))
        found, digests = accelerator.digests([(arr, held) for arr, _, held in walks],
                                             [arr.reshape(-1).view(np.uint8) for arr in numbers], THREADED_BYTES,
                                             _STRING_CHUNK)
        self._numbers = {id(arr): digest for arr, digest in zip(numbers, digests, strict=True)}
        for (arr, pointers, held), digest in zip(walks, found, strict=True):
            self._strings[id(arr)] = digest
            if digest is not None and pointers is not None:
                _remember(arr, pointers, None, _held_strings(digest, held))

    def _hash_numbers(self, numbers: list) -> None:
        import numpy as np

        try:
            for arr in numbers:  # one thread: the other core walks the strings meanwhile
                self._numbers[id(arr)] = blake3(memoryview(arr.reshape(-1).view(np.uint8))).digest()
        except Exception:  # e.g. MemoryError: the column is hashed in its turn instead
            pass

    def numbers(self, arr: Any) -> bytes | None:
        return self._numbers.get(id(arr))

    def has_strings(self, arr: Any) -> bool:
        return id(arr) in self._strings

    def strings(self, arr: Any) -> bytes | None:
        """The strings digest, None when an item is not an exact str (the turn then hashes item by item)."""
        return self._strings[id(arr)]


def _hashed_apart(values: Any) -> bool:
    """A plain numeric column that h_ndarray feeds as a _Stream of its own (so its digest can be computed apart)."""
    import numpy as np

    return (type(values) is np.ndarray and not values.dtype.hasobject and values.flags.c_contiguous
            and values.nbytes >= THREADED_BYTES)


def _long_object_column(values: Any) -> bool:
    """An object column of several chunks: its strings walk lasts long enough for the numbers to overlap it."""
    import numpy as np
    import pandas as pd

    return (isinstance(values, pd.arrays.NumpyExtensionArray) and values._ndarray.dtype == np.dtype(object)
            and values._ndarray.ndim == 1 and values._ndarray.flags.c_contiguous and len(values) > _STRING_CHUNK)


def h_ndarray(h: Any, arr: Any, ahead: _Ahead | None = None) -> None:
    import numpy as np

    if h.remember(arr):
        return
    h.tag(f"ndarray:{arr.dtype.str}:{arr.dtype.descr!r}:{arr.shape}")
    if arr.dtype.names and arr.dtype.hasobject:  # a record with object fields: field by field
        for name in arr.dtype.names:
            h.tag(name)
            h_ndarray(h, arr[name])
    elif arr.dtype.hasobject:
        flat = np.ascontiguousarray(arr).reshape(-1)
        if not _h_strings(h, arr, flat, ahead):
            for item in flat:
                h.update(item)
    elif ahead is not None and (digest := ahead.numbers(arr)) is not None:
        _feed_apart(h, "data", arr.nbytes, digest)
    else:
        stream = _Stream(h, "data", arr.nbytes)
        if arr.flags.c_contiguous:
            stream.feed(arr.reshape(-1).view(np.uint8) if arr.size else b"")
        else:  # a strided view: its elements in C order, a bounded block of the first axis at a time
            rows = max(1, _CHUNK_BYTES // max(1, arr[:1].nbytes))
            for start in range(0, len(arr), rows):
                stream.feed(np.ascontiguousarray(arr[start : start + rows]).reshape(-1).view(np.uint8))
        stream.close()


def h_numpy_scalar(h: Any, obj: Any) -> None:
    import numpy as np

    h.tag(_typename(obj))
    h_ndarray(h, np.asarray(obj))


def h_memmap(h: Any, arr: Any) -> None:
    import numpy as np

    h.tag("memmap")
    h_ndarray(h, arr.view(np.ndarray))  # its elements; the file object behind it is not content


# ---- Arrow
def _fixed_width(arrow_type: Any) -> int | None:
    """Bytes per value of a flat fixed-width type (ints, floats, temporals, decimals), else None."""
    try:
        bits = arrow_type.bit_width
    except ValueError:
        return None
    return bits // 8 if bits % 8 == 0 and bits and arrow_type.num_fields == 0 else None


def _large_type_ids() -> frozenset[int]:
    import pyarrow as pa

    return frozenset({pa.large_string().id, pa.large_binary().id})


def _logical_type(arrow_type: Any) -> str:
    """The type as the user sees it: ``string`` and ``large_string`` (or binary) differ only in offset width."""
    import pyarrow as pa

    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "binary"
    return str(arrow_type)


def _h_arrow_validity(h: Any, chunks: list, null_count: int) -> None:
    """Which values are null, whether or not a chunk has a validity buffer and whatever its bit offset."""
    if null_count == 0:
        h.tag("valid")
        return
    stream = _Stream(h, "validity")
    for chunk in chunks:
        stream.feed(chunk.is_valid().to_numpy(zero_copy_only=False).view("uint8"))
    stream.close()


def _h_arrow_strings(h: Any, chunks: list) -> None:
    """Lengths (as int64) and the bytes the values span: the same for any chunking, slice or offset width."""
    import numpy as np

    lengths, data = _Stream(h, "lengths"), _Stream(h, "bytes")
    for chunk in chunks:
        if not len(chunk):
            continue
        _, offsets_buf, data_buf = chunk.buffers()
        offset_type = "<i8" if chunk.type.id in _large_type_ids() else "<i4"
        offsets = np.frombuffer(offsets_buf, dtype=offset_type)[chunk.offset : chunk.offset + len(chunk) + 1]
        for start in range(0, len(offsets) - 1, _PIECE):  # bounded temporaries, however long the chunk
            lengths.feed(np.diff(offsets[start : start + _PIECE + 1]).astype(np.int64))
        if data_buf is not None:
            data.feed(memoryview(data_buf)[int(offsets[0]) : int(offsets[-1])])
    lengths.close()
    data.close()


def _h_arrow_values(h: Any, kind: Any, chunks: list) -> None:
    import pyarrow as pa

    width = _fixed_width(kind)
    if width is not None:
        stream = _Stream(h, "fixed")
        for chunk in chunks:
            if len(chunk):
                stream.feed(memoryview(chunk.buffers()[1])[chunk.offset * width : (chunk.offset + len(chunk)) * width])
        stream.close()
    elif pa.types.is_boolean(kind):
        stream = _Stream(h, "bools")
        for chunk in chunks:
            stream.feed(chunk.fill_null(False).to_numpy(zero_copy_only=False).view("uint8"))
        stream.close()
    elif _logical_type(kind) in ("string", "binary"):
        _h_arrow_strings(h, chunks)
    else:
        for chunk in chunks:  # nested and other types: by their values, slower but exact
            for value in chunk.to_pylist():
                h.update(value)


def h_arrow(h: Any, values: Any, exact_type: bool = True) -> None:
    """An Arrow array or chunked array by its content: type, length, nulls and values, never its layout
    (chunking, slice offset, presence of a validity buffer). Inside pandas, whose dtype is hashed already,
    ``string`` and ``large_string`` count as one type; a bare Arrow array's exact type is part of its content."""
    import pyarrow as pa

    chunks = list(values.chunks) if isinstance(values, pa.ChunkedArray) else [values]
    kind = values.type
    h.tag(f"arrow:{kind if exact_type else _logical_type(kind)}:{len(values)}")
    if pa.types.is_dictionary(kind):  # chunks may each have a dictionary of their own: hash the values
        chunks, kind = [chunk.dictionary_decode() for chunk in chunks], kind.value_type
    _h_arrow_validity(h, chunks, sum(chunk.null_count for chunk in chunks))
    _h_arrow_values(h, kind, chunks)


# ---- pandas
def h_pandas_values(h: Any, values: Any, ahead: _Ahead | None = None) -> None:
    """A column's values: buffers for numeric and Arrow data, codes + categories for categoricals; ``ahead`` has
    those of a frame's large columns computed already."""
    import numpy as np
    import pandas as pd

    h.tag(f"values:{_typename(values)}:{values.dtype!r}")
    if isinstance(values, np.ndarray):
        h_ndarray(h, values, ahead)
    elif isinstance(values, pd.Categorical):
        h_pandas_index(h, values.categories)
        h.update(bool(values.ordered))
        h_ndarray(h, np.asarray(values.codes))
    elif hasattr(values, "_pa_array"):  # ArrowExtensionArray, ArrowStringArray
        h_arrow(h, values._pa_array, exact_type=False)
    elif hasattr(values, "_data") and hasattr(values, "_mask"):  # nullable Int64, Float64, boolean
        h_ndarray(h, values._data)
        h_ndarray(h, values._mask)
    elif isinstance(getattr(values, "_ndarray", None), np.ndarray):  # datetimes, periods, python strings
        h_ndarray(h, values._ndarray, ahead)
    else:
        h_ndarray(h, np.asarray(values, dtype=object))


def h_pandas_index(h: Any, idx: Any) -> None:
    import pandas as pd

    h.tag(_typename(idx))
    h.update(list(idx.names))
    if isinstance(idx, pd.RangeIndex):
        h.update((idx.start, idx.stop, idx.step))
    elif isinstance(idx, pd.MultiIndex):
        for level, codes in zip(idx.levels, idx.codes, strict=True):
            h_pandas_index(h, level)
            h_ndarray(h, codes)
    else:
        h_pandas_values(h, idx.array)
        freq = getattr(idx, "freq", None)  # a DatetimeIndex's freq changes what shift() and resample() do
        if freq is not None:
            h.tag(f"freq:{freq.freqstr}")


def _column_values(series: Any) -> Any:
    import numpy as np

    if isinstance(series.dtype, np.dtype) and not series.dtype.hasobject:
        return series.to_numpy(copy=False)
    return series.array


# What pandas keeps in a Series' or DataFrame's ``__dict__`` itself besides its ``_internal_names`` (attrs, the type
# tag its unpickling sets, caches of some versions); anything else there was set on the object (``df.design_info``
# by a formula library, ``df.note = ...``).
_PANDAS_OWN = frozenset({"_mgr", "_attrs", "_flags", "_name", "_typ", "_item_cache", "_cacher", "_is_copy", "_cache"})


def _pandas_own(cls: type) -> frozenset[str]:
    return _PANDAS_OWN | frozenset(getattr(cls, "_internal_names_set", ()))


def is_pandas_object(cls: type) -> bool:
    """A Series or DataFrame class (or a subclass); False while pandas is not loaded."""
    generic = sys.modules.get("pandas.core.generic")
    return generic is not None and issubclass(cls, generic.NDFrame)


def pandas_extras(obj: Any) -> dict[str, Any]:
    """The attributes set on a Series or DataFrame beyond pandas' own, by name, with a subclass's ``_metadata``:
    a cell can read them, and pandas' pickle keeps only the ``_metadata`` ones (see store.serialize)."""
    own = _pandas_own(type(obj))
    found = {k: v for k, v in vars(obj).items() if k not in own}
    for name in getattr(type(obj), "_metadata", ()):
        if name not in own and name not in found and hasattr(obj, name):
            found[name] = getattr(obj, name)
    return dict(sorted(found.items()))


def _h_extras(h: Any, obj: Any) -> None:
    """The attributes set on it, fed only when present (a plain frame's digest is what it was). One that cannot be
    hashed counts as absent, as it is after a restore (see store.serialize): patsy's ``DesignInfo``, which formula
    models attach to their frames, refuses pickling, and keying every cell that reads such a model on it would
    leave none of them cached."""
    digests = {}
    for name, value in pandas_extras(obj).items():
        part = h.child()
        try:
            part.update(value)
        except UnhashableValue:
            continue
        digests[name] = part.h.digest()
    if digests:
        h.tag(f"extras:{len(digests)}")
        for name, digest in digests.items():
            h.tag(name)
            h.raw(digest)


def h_series(h: Any, obj: Any) -> None:
    if h.remember(obj):
        return
    h.tag(_typename(obj))
    h.update(obj.name)
    h_pandas_index(h, obj.index)
    h_pandas_values(h, _column_values(obj))
    h.update(dict(obj.attrs))
    _h_extras(h, obj)


def _columns_by_series(frame: Any) -> Iterator[Any]:
    return (_column_values(frame.iloc[:, i]) for i in range(frame.shape[1]))


def frame_columns(frame: Any) -> Iterator[Any]:
    """Each column's values, as ``_column_values`` takes them from the column's Series, without making the Series:
    pandas builds one in about 40 us, which was 40% of hashing a 100-column frame."""
    import numpy as np
    import pandas as pd

    iterate = getattr(frame, "_iter_column_arrays", None)  # pandas' own, by position (duplicate names too)
    if iterate is None:
        yield from _columns_by_series(frame)
        return
    for values in iterate():
        if not isinstance(values.dtype, np.dtype):
            yield values  # an extension array: what ``Series.array`` gives
        elif values.dtype.hasobject:
            yield pd.arrays.NumpyExtensionArray(np.asarray(values))  # ``Series.array`` of an object column
        else:
            yield np.asarray(values)  # ``Series.to_numpy``: a naive datetime column's array is numpy's M8 too


def h_dataframe(h: Any, obj: Any) -> None:
    if h.remember(obj):
        return
    h.tag(f"{_typename(obj)}:{obj.shape}")
    h_pandas_index(h, obj.columns)
    h_pandas_index(h, obj.index)
    columns = list(frame_columns(obj))
    ahead = _Ahead.start(h, columns)
    for values in columns:
        h_pandas_values(h, values, ahead)
    h.update(dict(obj.attrs))
    _h_extras(h, obj)


# ---- torch
def h_tensor(h: Any, t: Any) -> None:
    import torch

    if h.remember(t):
        return
    h.tag(f"tensor:{_typename(t)}:{t.dtype}:{tuple(t.shape)}:{t.layout}:{t.requires_grad}")
    data = t.detach()
    if data.layout != torch.strided:
        data = data.to_dense()
    data = data.cpu().resolve_conj().resolve_neg()  # no copy for a CPU tensor without lazy conj/neg bits
    stream = _Stream(h, "data", data.numel() * data.element_size())
    if data.is_contiguous() or data.dim() == 0:
        stream.feed(data.reshape(-1).view(torch.uint8).numpy() if data.numel() else b"")
    else:  # a strided view: its elements in C order, a bounded block of the first axis at a time
        rows = max(1, _CHUNK_BYTES // max(1, data[:1].numel() * data.element_size()))
        for start in range(0, len(data), rows):
            stream.feed(data[start : start + rows].contiguous().reshape(-1).view(torch.uint8).numpy())
    stream.close()
    h.update(t.grad)  # an optimiser step reads it


def _numpy_handler(obj: Any) -> Handler | None:
    import numpy as np

    if type(obj) is np.ndarray:
        return h_ndarray
    if isinstance(obj, np.memmap):
        return h_memmap
    return h_numpy_scalar if isinstance(obj, np.generic) else None


def _pandas_handler(obj: Any) -> Handler | None:
    import pandas as pd

    if type(obj) is pd.DataFrame:
        return h_dataframe
    if type(obj) is pd.Series:
        return h_series
    if isinstance(obj, pd.Index):
        return h_pandas_index
    return h_pandas_values if isinstance(obj, pd.api.extensions.ExtensionArray) else None


def _arrow_handler(obj: Any) -> Handler | None:
    import pyarrow as pa

    return h_arrow if isinstance(obj, (pa.Array, pa.ChunkedArray)) else None


def _torch_handler(obj: Any) -> Handler | None:
    import torch

    return h_tensor if isinstance(obj, torch.Tensor) else None


_BY_LIBRARY: dict[str, Callable[[Any], Handler | None]] = {
    "numpy": _numpy_handler, "pandas": _pandas_handler, "pyarrow": _arrow_handler, "torch": _torch_handler,
}


def handler_for(obj: Any) -> Handler | None:
    """The handler for a value of one of these libraries, or None for everything else."""
    finder = _BY_LIBRARY.get(type(obj).__module__.split(".")[0])
    return finder(obj) if finder is not None else None
