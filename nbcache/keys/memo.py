"""Digests of object-string arrays remembered by identity, so a column hashed before costs one pointer compare.

A frame is hashed each time a cached cell reads it and again after the run, so the same unchanged string column
would be encoded and hashed again and again. An exact ``str`` cannot change its content or its class, so an object
array whose items are *the same objects, in the same order* as when it was hashed holds the same strings: its
digest is the one computed then. Whether they are the same objects is a compare of the array's item addresses
(a zero-copy uint64 view of its buffer) with a copy taken when it was hashed: memcmp speed, no per-item Python work.

Soundness rests on one rule: an entry holds strong references to every object its addresses name, for as long as
it lives. No object it names can be freed, so no new object can appear at one of those addresses (the ABA
hazard), and an equal address always means the same, unchanged object. Only arrays of exact ``str`` are kept (the
caller stores a digest only after its strings route found every item an exact ``str``); anything else is hashed
in full each time. The address key only finds a candidate entry: the compare decides, so a new array at a reused
address, a view, a copy or an array changed in place (``df.loc[0, "s"] = "x"``) is never given a stale digest.

Memory: 8 bytes an item while the array lives when the C accelerator hashed it (its ``Held``: a reference per item
whose buffer is the addresses, both in one block), else the address copy (8 bytes an item) and lists of references
(about 8 more); an entry is dropped when its array's base dies (``weakref.finalize``), and the whole memo is bounded
to ``MAX_ITEMS`` items with least-recently-used eviction.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

# Bound on the items all entries describe together: 2**25 items is at most 512 MiB of addresses and references.
MAX_ITEMS = 1 << 25
# Arrays shorter than this are hashed in full each time (a few hundred microseconds at most): no entry for them.
MIN_ITEMS = 1 << 12


@dataclass(frozen=True)
class _Key:
    """Where an array's items lie: the same buffer region seen the same way (a candidate, never a proof)."""

    address: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]


@dataclass(frozen=True)
class _Entry:
    pointers: Any  # the items' addresses when hashed (an owned uint64 copy)
    held: Any  # strong references to every object those addresses name: none of them can be freed and reused
    digest: bytes
    finalizer: weakref.finalize


def _key(arr: Any) -> _Key:
    return _Key(arr.__array_interface__["data"][0], arr.shape, arr.strides)


def address_view(flat: Any) -> Any:
    """A contiguous object array's item addresses as uint64, zero copy, valid only while ``flat`` lives (identity
    only groups items); None where numpy does not lend an object array's buffer (then nothing is memoised)."""
    import numpy as np

    try:
        return np.ndarray(flat.shape, dtype=np.uintp, buffer=flat)
    except (TypeError, ValueError, BufferError):
        return None


def _root(arr: Any) -> Any:
    """The array that owns the buffer: views keep it alive, so when it dies no view of it is left."""
    import numpy as np

    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr


class StringDigests:
    """Strings digests of object arrays, by identity, bounded, dropped with their arrays."""

    def __init__(self, max_items: int = MAX_ITEMS) -> None:
        self.max_items = max_items
        self.items = 0
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._dead: list[tuple[_Key, int]] = []  # entries whose array died while the memo was busy

    def recall(self, arr: Any, pointers: Any) -> bytes | None:
        """The digest stored for ``arr`` if its items are still the very objects hashed then, else None."""
        import numpy as np

        key = _key(arr)
        with self._lock:
            self._purge()
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
        if entry.pointers.shape == pointers.shape and np.array_equal(entry.pointers, pointers):
            return entry.digest
        with self._lock:  # changed: let the old strings go now (the caller keeps a new entry if it can)
            if self._entries.get(key) is entry:
                self._remove(key)
        return None

    def keep(self, arr: Any, pointers: Any, held: Any, digest: bytes, owned: bool = False) -> None:
        """Remember ``digest`` for ``arr``, whose items (at ``pointers``, all exact ``str``) ``held`` references;
        ``owned``: ``pointers`` is a copy of the caller's that the entry may keep as it is."""
        size = len(pointers)
        if size < MIN_ITEMS or size > self.max_items:
            return
        key = _key(arr)
        try:
            finalizer = weakref.finalize(_root(arr), self._died, key)
        except TypeError:  # an array type without weak references: no way to drop the entry with it
            return
        finalizer.atexit = False
        entry = _Entry(pointers if owned else pointers.copy(), held, digest, finalizer)
        with self._lock:
            self._purge()
            self._remove(key)
            self._entries[key] = entry
            self.items += size
            while self.items > self.max_items:
                self._remove(next(iter(self._entries)))

    def clear(self) -> None:
        with self._lock:
            while self._entries:
                self._remove(next(iter(self._entries)))
            self._dead.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _remove(self, key: _Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            entry.finalizer.detach()
            self.items -= len(entry.pointers)

    def _died(self, key: _Key) -> None:
        """An entry's array died: drop the entry now, or at the next call if the memo is busy in this thread
        (a garbage collection can run this in the middle of a memo call)."""
        entry = self._entries.get(key)
        if entry is None:
            return
        self._dead.append((key, id(entry)))
        if self._lock.acquire(blocking=False):
            try:
                self._purge()
            finally:
                self._lock.release()

    def _purge(self) -> None:
        while self._dead:
            key, entry_id = self._dead.pop()
            entry = self._entries.get(key)
            if entry is not None and id(entry) == entry_id:  # not a newer entry for a new array at that address
                self._remove(key)


MEMO = StringDigests()


def _rows(arr: Any) -> list[Any] | None:
    """The 1-D views a DataFrame takes of a string block as its columns: the array itself, or each row of a
    C-ordered 2-D block; None for other layouts."""
    if arr.ndim == 1:
        return [arr]
    return list(arr) if arr.ndim == 2 and arr.flags.c_contiguous else None


def saved_digests(arr: Any, addresses: Any) -> tuple[bytes | None, ...] | None:
    """For the store: each row's memoised digest, if the items being written (``addresses``, taken from those very
    items, in C order) are the objects hashed then, else None in its place; None if no row's is known."""
    import numpy as np

    rows = _rows(arr)
    if rows is None or len(addresses) != arr.size or not arr.size:
        return None
    addresses, width = addresses.view(np.uintp), arr.shape[-1]
    digests = tuple(MEMO.recall(row, addresses[i * width : (i + 1) * width]) for i, row in enumerate(rows))
    return None if digests.count(None) == len(digests) else digests


def seed(arr: Any, held: Any, digests: tuple[bytes | None, ...]) -> None:
    """For the store: a string block just rebuilt from a signed entry gets its rows' digests recorded at save, so
    the first cell that reads the restored frame does not hash its strings again. ``held`` references every
    object the block holds (the decoded strings), so the entries hold what they describe."""
    rows = _rows(arr)
    if rows is None or len(rows) != len(digests):
        return
    for row, digest in zip(rows, digests, strict=True):
        addresses = address_view(row)
        if digest is not None and addresses is not None:
            MEMO.keep(row, addresses, held, digest)
