"""Equal content hashes equal whatever its memory layout: a value restored from the store must key as before.

A hash that depends on layout turns every restored input into a miss for the cells that read it.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from nbcache.keys.values import hash_value
from nbcache.store import serialize


def _values() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    n = 50_000
    frame = pd.DataFrame({
        "user": rng.integers(0, 1000, n),
        "stars": rng.random(n),
        "genre": pd.Categorical(rng.choice(["drama", "comedy", "horror"], n)),
        "title": pd.array([f"t{i % 977}" for i in range(n)], dtype="str"),
    })
    return {
        "frame": frame,
        "filtered frame": frame[frame.stars > 0.5].drop_duplicates("user"),
        "arrow strings": pd.array(["a", None, "ccc"] * 1000, dtype="string[pyarrow]"),
        "categorical with str categories": pd.Categorical(["x", "y", "x"]),
        "strided array": np.arange(100.0).reshape(10, 10)[:, ::3],
    }


@pytest.mark.parametrize("name", list(_values()))
def test_restored_values_hash_as_before(name: str) -> None:
    value = _values()[name]
    ser = serialize.dumps({"outputs": {"v": value}})
    restored = serialize.loads(ser.data, ser.buffers)["outputs"]["v"]
    assert hash_value(restored) == hash_value(value)
    assert hash_value(pickle.loads(pickle.dumps(value))) == hash_value(value)


def test_arrow_slices_and_chunks_hash_by_content() -> None:
    whole = pa.array(["alpha", "b", None, "delta", "e"] * 20)
    sliced = pa.concat_arrays([pa.array(["zz"]), whole]).slice(1)
    chunked = pa.chunked_array([whole.slice(0, 37), whole.slice(37)])
    assert hash_value(sliced) == hash_value(whole) == hash_value(chunked)
    ints = pa.array(np.arange(1000))
    assert hash_value(pa.concat_arrays([pa.array([7]), ints]).slice(1)) == hash_value(ints)


def test_arrow_content_still_distinguishes() -> None:
    assert hash_value(pa.array(["ab", "c"])) != hash_value(pa.array(["a", "bc"]))
    assert hash_value(pa.array(["a", None])) != hash_value(pa.array(["a", ""]))
    assert hash_value(pa.array([1, 2], pa.int32())) != hash_value(pa.array([1, 2], pa.int64()))
