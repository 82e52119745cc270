"""The strings-digest memo: a column hashed before reuses its digest only while it holds the very same exact-str
objects; any change of a value, order or type, in place or not, gives the digest a fresh hash gives."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest

from nbcache.keys import arrays, memo
from nbcache.keys.values import hash_value
from nbcache.store import serialize

pytestmark = pytest.mark.usefixtures("string_route")  # the C accelerator and the Python route alike

N = 3 * arrays._STRING_CHUNK + 5
WORDS = np.array([f"item-{i:05d}" for i in range(2000)], dtype=object)


def _shared(n: int = N, seed: int = 0) -> np.ndarray:
    return WORDS[np.random.default_rng(seed).integers(0, len(WORDS), n)]


def _distinct(n: int = N, prefix: str = "user") -> np.ndarray:
    return np.array([f"{prefix} {i:08d}" for i in range(n)], dtype=object)


def _fresh(value: object) -> bytes:
    """The digest with no memo: the same strings in new objects, in a new array."""
    with_new_objects = pickle_free_copy(value)
    before = len(memo.MEMO)
    digest = hash_value(with_new_objects)
    assert len(memo.MEMO) >= before  # (a fresh array can only add an entry)
    return digest


def pickle_free_copy(value: object) -> object:
    def renew(arr: np.ndarray) -> np.ndarray:
        return np.array([_renewed(v) for v in arr.tolist()], dtype=object).reshape(arr.shape)

    if isinstance(value, pd.DataFrame):
        return pd.DataFrame({c: _objects(renew(value[c].to_numpy())) if value[c].dtype == object
                             else value[c].copy() for c in value.columns})
    assert isinstance(value, np.ndarray)
    return renew(np.ascontiguousarray(value))


def _renewed(v: object) -> object:
    return v.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass") if type(v) is str else v


@pytest.fixture(autouse=True)
def computed() -> Iterator[list[int]]:
    """How many times the strings were really hashed (not taken from the memo), from an empty memo."""
    memo.MEMO.clear()
    calls: list[int] = []
    real = arrays._strings_digest

    def counting(h: object, flat: np.ndarray) -> object:
        calls.append(len(flat))
        return real(h, flat)

    arrays._strings_digest = counting  # type: ignore[assignment]
    try:
        yield calls
    finally:
        arrays._strings_digest = real  # type: ignore[assignment]
        memo.MEMO.clear()


@pytest.mark.parametrize("make", [_shared, _distinct], ids=["shared", "distinct"])
def test_a_memoised_digest_is_the_fresh_one(make: Callable[[], np.ndarray], computed: list[int]) -> None:
    arr = make()
    first = hash_value(arr)
    assert hash_value(arr) == first == _fresh(arr)
    assert computed == [N, N]  # the second hash of arr came from the memo; the copy was hashed
    assert hash_value(arr) == first and len(computed) == 2


def _set(index: int, value: object) -> Callable[[np.ndarray], None]:
    def change(arr: np.ndarray) -> None:
        arr[index] = value
    return change


def _swap(arr: np.ndarray) -> None:
    arr[[10, 11]] = arr[[11, 10]]


class Label(str):
    pass


CHANGES = {
    "value": _set(7, "changed"), "last": _set(-1, "x"), "order": _swap, "str subclass": _set(3, Label("item-00001")),
    "numpy str": _set(3, np.str_("item-00001")), "bytes": _set(3, b"item-00001"), "None": _set(3, None),
    "NaN": _set(3, float("nan")), "non-str object": _set(3, object()), "int": _set(3, 1),
}


@pytest.mark.parametrize("change", list(CHANGES.values()), ids=list(CHANGES))
@pytest.mark.parametrize("make", [_shared, _distinct], ids=["shared", "distinct"])
def test_a_change_in_place_after_a_memoised_hash(make: Callable[[], np.ndarray],
                                                 change: Callable[[np.ndarray], None]) -> None:
    arr = make()
    before = hash_value(arr)
    hash_value(arr)  # memoised now
    change(arr)
    after = hash_value(arr)
    assert after != before
    if all(type(v) is not object for v in arr.tolist()):  # a bare object() is hashed by identity-free pickling
        assert after == _fresh(arr)


def test_the_same_value_in_a_new_object_keeps_the_digest(computed: list[int]) -> None:
    arr = _distinct()
    before = hash_value(arr)
    arr[5] = _renewed(arr[5])
    assert hash_value(arr) == before and len(computed) == 2  # a new object: hashed again, to the same digest


def test_views_and_strided_arrays(computed: list[int]) -> None:
    base = _distinct(2 * N)
    views = {"strided": base[::2], "offset": base[1:], "prefix": base[:-1], "2d": base.reshape(2, N),
             "transposed": base.reshape(2, N).T}
    first = {name: hash_value(view) for name, view in views.items()}
    assert {name: hash_value(view) for name, view in views.items()} == first
    assert len(computed) == len(views)  # each view memoised on its own
    assert first["strided"] == hash_value(np.ascontiguousarray(base[::2]))
    base[2] = "changed"  # seen through every view that holds it
    for name in ("strided", "offset", "prefix", "2d", "transposed"):
        assert hash_value(views[name]) != first[name], name
        assert hash_value(views[name]) == _fresh(views[name]), name


def _objects(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype=object)  # pandas 3 would otherwise make its own str dtype of them


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"s": _objects(_distinct()), "t": _objects(_shared()), "n": np.arange(N)})


def _loc(frame: pd.DataFrame) -> None:
    frame.loc[0, "s"] = "x"


def _values(frame: pd.DataFrame) -> None:
    values = frame["s"].values
    values.flags.writeable = True  # pandas 3 lends it read-only (copy on write); older pandas, writeable
    values[0] = "x"


def _iat(frame: pd.DataFrame) -> None:
    frame.iat[N - 1, 1] = "x"


def _str_op(frame: pd.DataFrame) -> None:
    frame["s"] = frame["s"].str.upper()


def _reverse(frame: pd.DataFrame) -> None:
    frame.loc[:, "s"] = frame["s"].to_numpy()[::-1].copy()


@pytest.mark.parametrize("mutate", [_loc, _values, _iat, _str_op, _reverse])
def test_frame_mutations_after_a_memoised_hash(mutate: Callable[[pd.DataFrame], None]) -> None:
    frame = _frame()
    before = hash_value(frame)
    assert hash_value(frame) == before
    mutate(frame)
    assert frame["s"].dtype == object and frame["t"].dtype == object
    after = hash_value(frame)
    assert after != before
    assert after == _fresh(frame) == hash_value(frame)


def test_an_unchanged_str_op_result_hashes_like_the_original() -> None:
    frame = _frame()
    before = hash_value(frame)
    frame["s"] = frame["s"].str.strip()  # new objects (or the same), the same strings
    assert frame["s"].dtype == object and hash_value(frame) == before


def test_aba_a_new_frame_at_reused_addresses() -> None:
    """Delete a hashed frame, build another with other strings of the same sizes (the allocator reuses the
    freed addresses): its digest must be its own."""
    for attempt in range(3):
        frame = pd.DataFrame({"s": _objects(_distinct(prefix="aaaa"))})
        old = hash_value(frame)
        del frame
        gc.collect()
        assert len(memo.MEMO) == 0  # the entry died with its array
        frame = pd.DataFrame({"s": _objects(_distinct(prefix=f"bbb{attempt}"))})
        assert hash_value(frame) != old
        assert hash_value(frame) == _fresh(frame)


def test_aba_in_the_same_buffer() -> None:
    """Free each item of a memoised array and put a new string of the same size in its place (the allocator
    hands it the freed address): the memo holds the old strings, so no address is reused."""
    arr = _distinct(prefix="aaaa")
    suffixes = [f"{i:08d}" for i in range(len(arr))]  # made first, so the loop allocates only the new strings
    old = hash_value(arr)
    for i, suffix in enumerate(suffixes):
        arr[i] = None
        arr[i] = "bbbb " + suffix
    assert hash_value(arr) != old and hash_value(arr) == _fresh(arr)


def test_an_entry_holds_what_it_hashed() -> None:
    arr = _distinct()
    probe = arr[0]
    refs = sys.getrefcount(probe)
    hash_value(arr)
    assert sys.getrefcount(probe) == refs + 1
    del arr
    gc.collect()
    assert sys.getrefcount(probe) == refs - 1  # the entry died with the array


def test_the_memo_is_bounded_and_least_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    small = memo.StringDigests(max_items=2 * N)
    monkeypatch.setattr(arrays, "MEMO", small)
    a, b, c = _distinct(prefix="a"), _distinct(prefix="b"), _distinct(prefix="c")
    hash_value(a)
    hash_value(b)
    hash_value(a)  # a is now the most recently used
    hash_value(c)
    assert len(small) == 2 and small.items == 2 * N
    keys = {memo._key(x) for x in (a, c)}
    assert set(small._entries) == keys
    too_big = _distinct(2 * N + 1)
    assert hash_value(too_big) == _fresh(too_big)
    assert len(small) == 2  # never memoised


def test_small_arrays_and_mixed_columns_are_not_memoised() -> None:
    hash_value(_distinct(memo.MIN_ITEMS - 1))
    mixed = _distinct()
    mixed[4] = None
    hash_value(mixed)
    assert len(memo.MEMO) == 0


def test_an_entry_whose_array_dies_while_the_memo_is_busy_goes_at_the_next_call() -> None:
    arr = _distinct()
    hash_value(arr)
    with memo.MEMO._lock:  # as if a garbage collection freed it in the middle of a memo call
        del arr
        gc.collect()
        assert len(memo.MEMO) == 1
    hash_value(_distinct(10))
    memo.MEMO.recall(np.empty(0, dtype=object), np.empty(0, dtype=np.uintp))
    assert len(memo.MEMO) == 0 and memo.MEMO.items == 0


def _round_trip(value: object, with_refs: bool = True) -> object:
    refs = {id(object()): ("namespace",)} if with_refs else {}
    ser = serialize.dumps({"outputs": {"v": value}}, refs)
    memo.MEMO.clear()  # as after a restart
    return serialize.loads(ser.data, ser.buffers)["outputs"]["v"]


@pytest.mark.parametrize("with_refs", [False, True])
def test_a_restored_frame_is_seeded_with_the_digests_saved(with_refs: bool, computed: list[int]) -> None:
    frame = _frame()
    digest = hash_value(frame)
    restored = _round_trip(frame, with_refs)
    assert len(memo.MEMO) == 2
    computed.clear()
    assert hash_value(restored) == digest and computed == []  # no string hashed again
    restored.loc[3, "t"] = "changed"
    assert hash_value(restored) != digest and hash_value(restored) == _fresh(restored)


def test_a_frame_changed_after_its_hash_is_saved_without_digests(computed: list[int]) -> None:
    frame = _frame()
    hash_value(frame)
    frame.loc[0, "s"] = "changed after the hash"
    restored = _round_trip(frame)
    assert len(memo.MEMO) == 1  # only the unchanged column had a digest to save
    computed.clear()
    assert hash_value(restored) == _fresh(frame)
    assert computed[0] == N  # the changed column was hashed in full


def test_an_item_replaced_while_the_column_is_hashed_never_gets_the_old_digest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Another thread may write into the array while its strings are hashed (the accelerator makes a chunk's
    bytes without the GIL): the memo must describe the objects the digest came from, or nothing."""
    arr = _distinct()
    real = arrays._feed_joined

    def feed_and_change(strings: object, data: bytes, lengths: bytes | None) -> None:
        if arr[0] == "user 00000000":  # chunk 0 is read: change it, as another thread would
            arr[0] = "".join(["chan", "ged"])
        real(strings, data, lengths)

    monkeypatch.setattr(arrays, "_feed_joined", feed_and_change)
    hash_value(arr)
    monkeypatch.setattr(arrays, "_feed_joined", real)
    assert hash_value(arr) == _fresh(arr)
