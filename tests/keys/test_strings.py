"""Object-string arrays whose items share objects take a faster route (only the distinct objects are checked and
encoded, then gathered by code): it must give the very digest of joining every item, so the digest depends on
the content alone (never on which objects hold it), and every difference in a value, its place or its type must
change it."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest

from nbcache.keys import arrays
from nbcache.keys.values import hash_value
from nbcache.store import serialize
from tests.support import run_in_new_process

LONG = 2 * arrays._STRING_CHUNK + 17  # past the prefix that decides the form, with a partial last chunk
WORDS = [f"item-{i:05d}" for i in range(3000)]


def _shared(n: int = LONG, words: list[str] = WORDS) -> np.ndarray:
    """Items drawn from a few objects, as ``words[codes]`` or a categorical turned to object makes them."""
    pool = np.array(words, dtype=object)
    return pool[np.random.default_rng(0).integers(0, len(pool), n)]


def _distinct(arr: np.ndarray) -> np.ndarray:
    """The same values, one new object per item, as string operations make them."""
    return np.array([s.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass") for s in arr.tolist()],
                    dtype=object)


SHARED, JOINED = "shared", "joined"


@pytest.fixture
def routes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Which of the pure-Python routes gave each digest, so each test knows it compared the two (the C
    accelerator, which takes neither, is set aside here; test_strhash.py compares it with them)."""
    monkeypatch.setattr(arrays, "accelerator", None)
    taken: list[str] = []
    real = arrays._shared_digest

    def shared_digest(h: object, flat: np.ndarray) -> bytes | None:
        digest = real(h, flat)
        taken.append(JOINED if digest is None else SHARED)
        return digest

    monkeypatch.setattr(arrays, "_shared_digest", shared_digest)
    monkeypatch.setattr(arrays, "_shares_objects", lambda flat, _real=arrays._shares_objects: (
        _real(flat) or taken.append(JOINED)))
    yield taken


@pytest.mark.usefixtures("string_route")
def test_the_digest_is_the_one_entries_were_saved_under() -> None:
    """The format did not change: keys of existing store entries with string columns stay valid."""
    assert hash_value(_shared()).hex() == "62ecb490663273a0055d5e25adfc8c4baaf1f4a96d938572c38452cee57b22b3"
    odd = _shared(words=["", "é", "ab\ud800", "x" * 40])
    assert hash_value(odd).hex() == "6f67e29e5e11e7b1c5faa6803cd0e1a3a1f8f3e16f44f7a2e1bdcb892a5eb6f5"


def test_distinct_objects_hash_as_shared_ones(routes: list[str]) -> None:
    shared = _shared()
    assert len({id(s) for s in shared.tolist()}) <= len(WORDS)
    distinct = _distinct(shared)
    assert hash_value(shared) == hash_value(distinct)
    assert routes == [SHARED, JOINED]


def test_a_restored_frame_hashes_like_the_original(routes: list[str]) -> None:
    frame = pd.DataFrame({"name": pd.Series(_shared(), dtype=object), "n": np.arange(LONG)})
    rebuilt = frame.assign(name=pd.Series(_distinct(frame["name"].to_numpy()), dtype=object))
    ser = serialize.dumps({"outputs": {"v": frame}}, {})
    restored = serialize.loads(ser.data, ser.buffers)["outputs"]["v"]
    assert hash_value(rebuilt) == hash_value(frame) == hash_value(restored)
    assert routes == [JOINED, SHARED, SHARED]  # the store keeps shared objects shared


def test_equal_values_in_distinct_objects_among_shared_ones(routes: list[str]) -> None:
    half = _shared()
    mixed = half.copy()
    mixed[::50] = _distinct(half[::50])  # mostly shared objects, and copies of their values
    assert hash_value(mixed) == hash_value(half)
    assert routes == [SHARED, SHARED]


@pytest.mark.parametrize("words", [["", "a", "é", "日本語", "ab\ud800", "x" * 40], ["same"], ["a\0b", "c"],
                                   ["x" * 100, "y"]], ids=["widths", "one", "nul", "too-wide"])
def test_any_strings_hash_alike_by_either_route(words: list[str], routes: list[str]) -> None:
    shared = _shared(words=words)
    assert hash_value(shared) == hash_value(_distinct(shared))
    expected = JOINED if "\0" in "".join(words) or max(map(len, words)) >= arrays._PADDED_WIDTH else SHARED
    assert routes[0] == expected  # (its copy may share objects too: CPython keeps one "" and one "a")


def test_a_new_process_hashes_shared_strings_alike() -> None:
    script = f"""
        import numpy as np
        from nbcache.keys.values import hash_value
        pool = np.array([f"item-{{i:05d}}" for i in range(3000)], dtype=object)
        print(hash_value(pool[np.random.default_rng(0).integers(0, 3000, {LONG})]).hex())
    """
    assert run_in_new_process(script).strip() == hash_value(_shared()).hex()


class Colour(str, enum.Enum):
    RED = "item-00001"


def _changed(change: Callable[[np.ndarray], None]) -> np.ndarray:
    arr = _shared()
    change(arr)
    return arr


def _set_last(value: object) -> Callable[[np.ndarray], None]:
    def change(arr: np.ndarray) -> None:
        arr[-1] = value
    return change


def _swap(arr: np.ndarray) -> None:
    i = int(np.flatnonzero(arr != arr[-1])[-1])
    arr[i], arr[-1] = arr[-1], arr[i]


CHANGES = {
    "value": _set_last("item-99999"), "new equal object": _set_last("".join(["item-0000", "1"])), "order": _swap,
    "str enum": _set_last(Colour.RED), "numpy str": _set_last(np.str_("item-00001")),
    "bytes": _set_last(b"item-00001"), "None": _set_last(None), "NaN": _set_last(float("nan")),
    "int": _set_last(1), "one item more": lambda arr: None,
}


@pytest.mark.parametrize("objects", ["shared", "distinct"])
@pytest.mark.parametrize("name", sorted(CHANGES))
def test_every_difference_changes_the_digest(name: str, objects: str) -> None:
    base = _shared() if objects == "shared" else _distinct(_shared())
    base[-1] = "item-00001"
    changed = base.copy()
    CHANGES[name](changed)
    if name == "one item more":
        changed = np.append(changed, np.array(["item-00001"], dtype=object))
    if name == "new equal object":
        assert hash_value(changed) == hash_value(base)  # the same content in another object: the same
        return
    assert hash_value(changed) != hash_value(base)
    assert hash_value(changed) == hash_value(_distinct(changed) if name in ("value", "order") else changed.copy())


@pytest.mark.parametrize("pair", [("a\0b", "c", "a", "b\0c"), ("\ud800", "x", "\udc00", "x"),
                                  ("ab", "c", "a", "bc"), ("", "a", "a", "")])
def test_nuls_surrogates_and_boundaries_stay_unambiguous(pair: tuple[str, str, str, str]) -> None:
    first = np.array([pair[0], pair[1]] * (LONG // 2), dtype=object)
    second = np.array([pair[2], pair[3]] * (LONG // 2), dtype=object)
    assert hash_value(first) != hash_value(second)
    assert hash_value(_distinct(first)) == hash_value(first)


def test_a_column_of_unique_strings() -> None:
    unique = np.array([f"user {i}" for i in range(LONG)], dtype=object)
    frame = pd.DataFrame({"id": unique})
    assert hash_value(frame) == hash_value(frame.copy(deep=True))
    changed = unique.copy()
    changed[-1] = "user -1"
    assert hash_value(changed) != hash_value(unique)
    mostly_unique = unique.copy()
    mostly_unique[: arrays._STRING_CHUNK] = "same"  # one shared object, then unique ones: the route steps aside
    assert hash_value(_distinct(mostly_unique)) == hash_value(mostly_unique)
    assert hash_value(mostly_unique) != hash_value(unique)


def test_a_column_mixing_str_and_other_objects() -> None:
    mixed = _shared()
    mixed[5::7] = None
    mixed[6::11] = 3.5
    assert hash_value(mixed) == hash_value(_distinct_keep_others(mixed))
    other = mixed.copy()
    other[6] = "3.5"
    assert hash_value(other) != hash_value(mixed)
    frame = pd.DataFrame({"s": mixed})
    assert hash_value(frame) == hash_value(pd.DataFrame({"s": mixed.copy()}))


def _distinct_keep_others(arr: np.ndarray) -> np.ndarray:
    return np.array([s.encode().decode() if type(s) is str else s for s in arr.tolist()], dtype=object)
