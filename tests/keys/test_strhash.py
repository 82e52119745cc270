"""The C accelerator for object strings (``nbcache/_strhash.c``) against the pure-Python route: for every input the
same bytes per chunk, so the same digest, whatever the items (ASCII, Latin-1, BMP, astral, NULs, empty strings,
lone surrogates, str subclasses, None, NaN, numbers), their count around the chunk bounds, and whether they share
objects. Where the accelerator is not built, ``join`` runs as the Python reference of its contract alone."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbcache.keys import arrays
from nbcache.keys.values import _Hasher, hash_value
from tests.support import has_c_compiler

from .conftest import PYTHON, ROUTES, C

Join = Callable[..., Any]


def reference_join(objects: Any, start: int, stop: int) -> Any:
    """The contract of ``_strhash.join`` written out on its own: what ``arrays._joined_bytes`` gives a chunk of
    exact strs (the stream existing keys hold), None for any other item."""
    chunk = list(objects[start:stop])
    if any(type(item) is not str for item in chunk):
        return None
    joined = "\0".join(chunk)
    no_nul = joined.count("\0") == len(chunk) - 1
    lengths = None if no_nul else np.array([len(s) for s in chunk], dtype=np.int64).tobytes()
    return joined.encode("utf-8", "surrogatepass"), lengths


@pytest.fixture(params=ROUTES)
def join(request: pytest.FixtureRequest) -> Join:
    return arrays.accelerator.join if request.param == C else reference_join


class Text(str):
    """A str subclass: never hashed as a plain str (its class is part of the value)."""


SURROGATE = st.integers(0xD800, 0xDFFF).map(chr)
TEXT = st.one_of(
    st.text(st.characters(max_codepoint=0x7F), max_size=20),  # ASCII (every copy size), NUL included
    st.text(st.characters(min_codepoint=0x80, max_codepoint=0xFF), max_size=6),  # Latin-1
    st.text(st.one_of(st.characters(max_codepoint=0xFFFF), SURROGATE), max_size=6),  # BMP and lone surrogates
    st.text(st.characters(min_codepoint=0x10000), max_size=3),  # astral
    st.text(st.one_of(st.characters(), SURROGATE, st.just("\0")), max_size=6),  # all widths in one string
)
ODD = st.one_of(st.none(), st.just(float("nan")), st.integers(), st.binary(max_size=3), TEXT.map(Text),
                TEXT.map(np.str_))


@st.composite
def columns(draw: st.DrawFn) -> list[Any]:
    """Strings drawn from a pool (shared objects) or each made anew, and at most one item of another type."""
    pool = draw(st.lists(TEXT, min_size=1, max_size=8))
    picks = draw(st.lists(st.integers(0, len(pool) - 1), max_size=40))
    items: list[Any] = [pool[i] for i in picks]
    if draw(st.booleans()):  # one new object per item, as string operations make them
        items = [s.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass") for s in items]
    if items and draw(st.booleans()):
        items[draw(st.integers(0, len(items) - 1))] = draw(ODD)
    return items


def _objects(items: list[Any]) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    return arr


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=columns(), data=st.data())
def test_join_gives_the_bytes_of_the_python_route(join: Join, items: list[Any], data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(items)))
    stop = data.draw(st.integers(start, len(items)))
    expected = reference_join(items, start, stop)
    assert join(_objects(items), start, stop) == expected
    assert join(items, start, stop) == expected  # a list's chunk too
    if join is not reference_join:  # the same while it holds the items
        held = arrays.accelerator.Held(len(items))
        assert join(_objects(items), start, stop, held) == expected
        if expected is not None:  # the objects read, each at its index (what the memo compares later)
            read = np.frombuffer(held, dtype=np.uintp)
            assert read[start:stop].tolist() == [id(item) for item in items[start:stop]]
            assert not read[:start].any() and not read[stop:].any()


def _digests(flat: np.ndarray) -> dict[str, bytes | None]:
    """The strings digest by each route: the accelerator, the Python join, the Python shared objects route."""
    found: dict[str, bytes | None] = {}
    if arrays.accelerator is not None:
        c = arrays._accelerated_digest(_Hasher(), flat)
        found[C] = None if c is None else c.digest
    joined = arrays._joined_digest(_Hasher(), flat)
    found[PYTHON] = None if joined is None else joined.digest
    shared = arrays._shared_digest(_Hasher(), flat) if arrays._shares_objects(flat) else None
    if shared is not None:
        found["shared"] = shared.digest
    return found


@settings(max_examples=300, deadline=None)
@given(items=columns(), chunk=st.integers(1, 6))
def test_every_route_gives_one_digest(items: list[Any], chunk: int) -> None:
    """Small chunks, so columns of a few items cross several chunk bounds (the chunking is part of the stream)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(arrays, "_STRING_CHUNK", chunk)
        digests = _digests(_objects(items))
        assert len(set(digests.values())) == 1, digests
        with_c = hash_value(_objects(items))
        patch.setattr(arrays, "accelerator", None)
        assert hash_value(_objects(items)) == with_c


K = arrays._STRING_CHUNK
WIDE = "aé\u65e5\U0001f600"


@pytest.mark.parametrize("size", [1, K - 1, K, K + 1, 2 * K + 1])
@pytest.mark.parametrize("last", ["x", "", "a\0b", "\ud800", WIDE, Text("x"), None, float("nan")],
                         ids=["ascii", "empty", "nul", "surrogate", "wide", "subclass", "None", "NaN"])
def test_the_chunk_bounds_at_full_size(size: int, last: Any) -> None:
    """The last item (alone in the last chunk, or not) changes the form, the width or the route of its chunk."""
    pool = [f"item-{i}" for i in range(977)]  # shared objects: the shared route joins in where it can
    items: list[Any] = [pool[i % 977] for i in range(size - 1)] + [last]
    digests = _digests(_objects(items))
    assert len(set(digests.values())) == 1, digests
    assert (digests[PYTHON] is None) == (type(last) is not str)


def test_a_chunk_past_the_threaded_size() -> None:
    """A chunk whose bytes reach THREADED_BYTES is fed as the digest of a threaded hash, by either route."""
    items = [f"{i:08d}" + "x" * 200 for i in range(K)]
    assert len("\0".join(items)) >= arrays.THREADED_BYTES
    digests = _digests(_objects(items))
    assert len(set(digests.values())) == 1 and digests[PYTHON] is not None


@pytest.mark.parametrize("width", ["a", "\xe9", "\u65e5", "\U0001f600"], ids=["ascii", "latin1", "bmp", "astral"])
def test_a_nul_at_any_place_of_any_length_is_found(join: Join, width: str) -> None:
    """The accelerator tells a NUL from the words it copies (two overlapping loads per string, of 4 or 8 bytes, a
    byte loop below 4, memchr above 16): one at every place of every length takes the lengths form."""
    for n in range(1, 41):
        for place in range(n):
            text = "".join("\0" if i == place else width for i in range(n))
            items = ["x" * 9, text, "y" * 17]
            assert join(items, 0, 3) == reference_join(items, 0, 3), (n, place)
            if join is not reference_join:  # and while it holds the items
                assert join(_objects(items), 0, 3, arrays.accelerator.Held(3)) == join(items, 0, 3)
        clean = [width * n, "z"]
        assert join(clean, 0, 2)[1] is None  # and none where there is none


def _accelerated() -> bool:
    """Whether the accelerator is here; where it is not, only because no compiler could build it."""
    assert arrays.accelerator is not None or not has_c_compiler()
    return arrays.accelerator is not None


def test_held_references_every_item_read_at_its_index() -> None:
    if not _accelerated():
        return
    words = [f"w{i}" for i in range(50)]
    items = [words[i % 50] for i in range(1000)] + [f"new {i}" for i in range(1000)]
    arr = _objects(items)
    shared, own = words[7], items[-1]
    refs = sys.getrefcount(shared), sys.getrefcount(own)
    held = arrays.accelerator.Held(len(items))
    assert len(held) == len(items) and not gc.is_tracked(held)  # only strs: the collector need not walk it
    assert arrays.accelerator.join(arr, 0, 1500, held) is not None
    assert arrays.accelerator.join(arr, 1500, len(items), held) is not None
    assert np.frombuffer(held, dtype=np.uintp).tolist() == [id(s) for s in items]
    assert (sys.getrefcount(shared), sys.getrefcount(own)) == (refs[0] + 20, refs[1] + 1)  # a reference a slot
    assert arrays.accelerator.join(arr, 0, 10, held) is not None  # a slot filled again
    assert sys.getrefcount(shared) == refs[0] + 20
    del held
    assert (sys.getrefcount(shared), sys.getrefcount(own)) == refs  # nothing leaked


@pytest.mark.parametrize("count", [0, 1, 1 << 20])  # 8 MiB of slots: mapped with huge pages asked for
def test_a_held_block_of_any_size(count: int) -> None:
    if not _accelerated():
        return
    held = arrays.accelerator.Held(count)
    read = np.frombuffer(held, dtype=np.uintp)
    assert len(read) == count and not read.any()  # every slot empty
    with pytest.raises(TypeError):
        memoryview(held)[:8] = bytes(8)  # only join writes slots, with the references they stand for


def test_an_item_of_another_type_leaves_no_reference_behind() -> None:
    if not _accelerated():
        return
    first = "".join(["fir", "st"])  # an object of its own (no interned constant)
    arr = _objects([first, "b", None])
    refs = sys.getrefcount(first)
    held = arrays.accelerator.Held(3)
    assert arrays.accelerator.join(arr, 0, 3, held) is None
    del held  # the Held of a walk that found a non-str is dropped: what it held goes with it
    assert sys.getrefcount(first) == refs


def test_bad_arguments_are_refused() -> None:
    if not _accelerated():  # nothing to refuse them
        return
    join = arrays.accelerator.join
    with pytest.raises(TypeError):
        join(np.zeros(3), 0, 3)  # not an object buffer
    with pytest.raises(IndexError):
        join(["a"], 0, 2)
    with pytest.raises(IndexError):
        join(["a"], 1, 0)
    with pytest.raises(TypeError):
        join(["a"], 0, 1, [])  # held is a Held
    with pytest.raises(ValueError):
        join(["a", "b"], 0, 2, arrays.accelerator.Held(1))  # a slot for every item
    with pytest.raises(ValueError):
        arrays.accelerator.Held(-1)



def test_the_accelerator_is_built_where_a_compiler_is() -> None:
    """A build that silently fell back to pure Python would be slower with no test noticing."""
    if has_c_compiler():
        assert arrays.accelerator is not None, "build it in place: python hatch_build.py (or pip install -e .)"
    assert set(ROUTES) == ({C, PYTHON} if arrays.accelerator is not None else {PYTHON})


def test_an_array_that_lends_no_buffer_takes_the_python_route(monkeypatch: pytest.MonkeyPatch) -> None:
    items = _objects([f"name {i % 7}" for i in range(3 * K + 1)])
    with monkeypatch.context() as patch:
        patch.setattr(arrays, "accelerator", None)
        expected = hash_value(items.copy())

    class NoBuffer:
        @staticmethod
        def Held(count: int) -> None:  # noqa: N802 (the accelerator's class)
            return None

        @staticmethod
        def join(*args: Any, **kwargs: Any) -> Any:
            raise BufferError("no object buffer")

        digests = join

    monkeypatch.setattr(arrays, "accelerator", NoBuffer)
    assert hash_value(items) == expected


# ---- digests: the walk in this thread, the hashing in a thread of C's own


def _python_stream(items: list[Any], chunk: int) -> bytes | None:
    """The strings digest the Python route gives with this chunk size (the reference digests must equal)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(arrays, "_STRING_CHUNK", chunk)
        found = arrays._joined_digest(_Hasher(), _objects(items))
    return None if found is None else found.digest


@settings(max_examples=300, deadline=None)
@given(columns=st.lists(columns(), max_size=3), chunk=st.integers(1, 6), threaded=st.sampled_from([1, 8, 1 << 23]),
       numbers=st.lists(st.binary(max_size=3000), max_size=3))
def test_digests_gives_the_python_routes_digests(columns: list[list[Any]], chunk: int, threaded: int,
                                                  numbers: list[bytes]) -> None:
    """Every column's strings digest as the Python route feeds it (small chunks cross bounds; a small
    threaded_bytes sends chunks to the digest-of-their-bytes form, as raw does from THREADED_BYTES), None where an
    item is not an exact str while the other columns still get theirs, and each buffer's blake3 digest."""
    if not _accelerated():
        return
    from blake3 import blake3

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(arrays, "THREADED_BYTES", threaded)
        expected = [_python_stream(items, chunk) for items in columns]
    helds = [arrays.accelerator.Held(len(items)) for items in columns]
    pairs = enumerate(zip(columns, helds, strict=True))
    strings = [(_objects(items) if i % 2 else items, held) for i, (items, held) in pairs]  # arrays and lists
    found, digests = arrays.accelerator.digests(strings, [np.frombuffer(b, np.uint8) for b in numbers], threaded,
                                                chunk)
    assert found == expected
    assert digests == [blake3(b).digest() for b in numbers]
    for items, held, digest in zip(columns, helds, found, strict=True):
        if digest is not None:  # each object read held at its index, as join holds them
            assert np.frombuffer(held, dtype=np.uintp).tolist() == [id(item) for item in items]


def test_digests_at_full_size_and_past_the_threaded_size() -> None:
    """Many chunks (more than the thread's buffers), NULs, wide strings, a chunk of 8 MiB and more, and numeric
    buffers of several pieces: the digests of the Python route and of the blake3 module."""
    if not _accelerated():
        return
    from blake3 import blake3

    pool = [f"item-{i}" for i in range(977)] + ["a\0b", WIDE, ""]
    shared = [pool[i % len(pool)] for i in range(20 * K + 3)]
    long = [f"{i:08d}" + "x" * 200 for i in range(K + 5)]
    numbers = [np.random.default_rng(0).random(1 << 19).view(np.uint8), np.zeros(0, np.uint8)]
    found, digests = arrays.accelerator.digests([(_objects(shared), None), (long, None)], numbers,
                                                arrays.THREADED_BYTES, K)
    assert found == [_python_stream(shared, K), _python_stream(long, K)]
    assert digests == [blake3(n).digest() for n in numbers]


def test_digests_refuses_bad_arguments_and_leaks_nothing() -> None:
    if not _accelerated():
        return
    digests = arrays.accelerator.digests
    with pytest.raises(TypeError):
        digests([(np.zeros(3), None)], [], 1 << 23, K)  # not an object buffer
    with pytest.raises(TypeError):
        digests([(["a"], [])], [], 1 << 23, K)  # held is a Held
    with pytest.raises(ValueError):
        digests([(["a", "b"], arrays.accelerator.Held(1))], [], 1 << 23, K)  # a slot for every item
    with pytest.raises(ValueError):
        digests([], [], 0, K)
    with pytest.raises(ValueError):
        digests([], [np.zeros(4)[::2]], 1 << 23, K)  # a numeric buffer must be contiguous
    with pytest.raises(TypeError):
        digests((), [], 1 << 23, K)
    with pytest.raises(TypeError):
        digests([["a"]], [], 1 << 23, K)  # each column an (objects, held) tuple
    first = "".join(["fir", "st"])
    refs = sys.getrefcount(first)
    held = arrays.accelerator.Held(3)
    assert digests([([first, "b", None], held)], [], 1 << 23, 2)[0] == [None]
    del held
    assert sys.getrefcount(first) == refs


def test_digests_holds_a_reference_a_slot_and_leaks_none() -> None:
    """A fresh Held's slots are written without being read (none is filled yet); one filled before is let go of
    its old occupant first. Either way a reference a slot, all given back with the Held."""
    if not _accelerated():
        return
    words = [f"w{i}" for i in range(50)]
    items = [words[i % 50] for i in range(1000)] + [f"new {i}" for i in range(1000)]
    arr = _objects(items)
    shared, own = words[7], items[-1]
    refs = sys.getrefcount(shared), sys.getrefcount(own)
    held = arrays.accelerator.Held(len(items))
    assert arrays.accelerator.digests([(arr, held)], [], arrays.THREADED_BYTES, 300)[0][0] is not None
    assert (sys.getrefcount(shared), sys.getrefcount(own)) == (refs[0] + 20, refs[1] + 1)
    assert arrays.accelerator.digests([(arr, held)], [], arrays.THREADED_BYTES, 300)[0][0] is not None  # again
    assert (sys.getrefcount(shared), sys.getrefcount(own)) == (refs[0] + 20, refs[1] + 1)
    assert np.frombuffer(held, dtype=np.uintp).tolist() == [id(s) for s in items]
    del held
    assert (sys.getrefcount(shared), sys.getrefcount(own)) == refs
