"""String columns (object arrays of str) are written as one joined buffer and restored exactly: values, types,
shape, order, and which items were one shared object; anything else takes the ordinary pickle path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nbcache.store import serialize
from nbcache.store.entry import EntryMeta
from nbcache.store.local import Store

N = 5000  # above the size from which the joined form is used


def _restored(value: Any, with_refs: bool) -> Any:
    refs = {id(object()): ("namespace",)} if with_refs else {}
    ser = serialize.dumps({"outputs": {"v": value}}, refs)
    return serialize.loads(ser.data, ser.buffers)["outputs"]["v"]


def _uses_joined_form(value: Any) -> bool:
    return serialize._string_array_reduction(value) is not NotImplemented


def _same_array(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype and a.flags.f_contiguous == b.flags.f_contiguous
    assert [type(x) for x in a.ravel(order="K")] == [type(x) for x in b.ravel(order="K")]
    assert a.tolist() == b.tolist()


@pytest.mark.parametrize("with_refs", [False, True])
def test_a_frame_with_string_columns_comes_back_equal(with_refs: bool) -> None:
    frame = pd.DataFrame({"id": np.arange(N), "name": [f"user {i} ü 🙂" for i in range(N)],
                          "empty": [""] * N, "city": [f"city {i % 7}" for i in range(N)]}).astype(
        {"name": object, "empty": object, "city": object})
    restored = _restored(frame, with_refs)
    pd.testing.assert_frame_equal(restored, frame)
    assert [str(t) for t in restored.dtypes] == [str(t) for t in frame.dtypes]


@pytest.mark.parametrize("with_refs", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
def test_two_dimensional_arrays_keep_their_shape_and_order(order: str, with_refs: bool) -> None:
    arr = np.array([[f"{i},{j}" for j in range(3)] for i in range(N)], dtype=object, order=order)  # type: ignore[call-overload]
    assert _uses_joined_form(arr)
    _same_array(_restored(arr, with_refs), arr)


@pytest.mark.parametrize("with_refs", [False, True])
def test_shared_string_objects_stay_shared(with_refs: bool) -> None:
    words = [f"word {i}" for i in range(10)]
    arr = np.array([words[i % 10] for i in range(N)], dtype=object)
    restored = _restored(arr, with_refs)
    _same_array(restored, arr)
    assert len({id(x) for x in restored}) == 10 and restored[0] is restored[10]


@pytest.mark.parametrize("with_refs", [False, True])
@pytest.mark.parametrize("odd", [None, 1.5, np.str_("numpy str"), "nul\0inside", "lone \ud800 surrogate"])
def test_other_items_are_restored_exactly(odd: Any, with_refs: bool) -> None:
    arr = np.array([f"s{i}" for i in range(N)], dtype=object)
    arr[N // 2] = odd
    _same_array(_restored(arr, with_refs), arr)


def test_a_strided_view_is_restored_as_what_it_shows() -> None:
    arr = np.array([f"s{i}" for i in range(2 * N)], dtype=object)[::2]
    assert not _uses_joined_form(arr)
    restored = _restored(arr, True)
    assert restored.tolist() == arr.tolist() and restored.dtype == arr.dtype


def test_a_large_string_column_goes_through_the_store_out_of_band(tmp_path: Path) -> None:
    frame = pd.DataFrame({"name": pd.Series([f"a rather long user name {i}" for i in range(N * 20)], dtype=object)})
    ser = serialize.dumps({"outputs": {"df": frame}}, {id(object()): ("namespace",)})
    assert sum(b.nbytes for b in ser.buffers) > N * 20 * 20  # the text left the pickle as a buffer
    store = Store(tmp_path / "s")
    store.save("cd" * 16, {"outputs": {"df": frame}, "value": None, "events": []}, EntryMeta())
    loaded = store.load("cd" * 16)
    assert loaded is not None
    pd.testing.assert_frame_equal(loaded[0]["outputs"]["df"], frame)
