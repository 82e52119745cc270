"""A frame's columns are hashed from pandas' column arrays, without a Series each, to the digest the Series gave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbcache.keys import arrays
from nbcache.keys.values import hash_value


def _every_kind(rows: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "f": rng.random(rows), "i": np.arange(rows), "b": np.arange(rows) % 2 == 0, "c": rng.random(rows) * 1j,
        "s": pd.Series([f"w{i}" for i in range(rows)], dtype=object),
        "mixed": pd.Series([1, "a", None, 2.5, b"x", (1,)][:rows], dtype=object),
        "cat": pd.Categorical(list("abcabc")[:rows]),
        "dt": pd.date_range("2024-01-01", periods=rows), "tz": pd.date_range("2024-01-01", periods=rows, tz="UTC"),
        "td": pd.to_timedelta(np.arange(rows), unit="s"), "per": pd.period_range("2024-01", periods=rows, freq="M"),
        "Int": pd.array([1, None, 3, 4, 5, 6][:rows], dtype="Int64"),
        "bool": pd.array([True, None, False, True, False, True][:rows], dtype="boolean"),
        "pystr": pd.array([f"p{i}" for i in range(rows)], dtype="string[python]"),
        "arrow": pd.array([f"a{i}" for i in range(rows)], dtype="string[pyarrow]"),
        "str": pd.Series([f"d{i}" for i in range(rows)], dtype="str"),
        "iv": pd.arrays.IntervalArray.from_breaks(np.arange(rows + 1)),
    })
    frame["f2"] = frame["f"] * 2  # a second float block: not consolidated
    return frame


def _by_series(frame: pd.DataFrame) -> list:
    return list(arrays._columns_by_series(frame))


@pytest.mark.parametrize("frame", [
    _every_kind(),
    _every_kind().iloc[::2],  # views with strides
    pd.DataFrame(np.arange(12).reshape(3, 4), columns=["a", "a", "b", "b"]),  # duplicate names
    pd.DataFrame(),
    pd.DataFrame(index=[1, 2]),
], ids=["every-kind", "strided", "duplicate-names", "empty", "no-columns"])
def test_each_column_is_what_its_series_gave(frame: pd.DataFrame) -> None:
    fast, reference = list(arrays.frame_columns(frame)), _by_series(frame)
    assert [type(v) for v in fast] == [type(v) for v in reference]
    for a, b in zip(fast, reference, strict=True):
        assert hash_value(a) == hash_value(b)


def test_a_frame_hashes_as_it_did_column_by_column(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _every_kind()
    fast = hash_value(frame)
    monkeypatch.setattr(arrays, "frame_columns", arrays._columns_by_series)
    assert hash_value(frame.copy()) == fast
