"""A frame's large columns hashed ahead of their turn (numeric buffers by a thread while the caller walks the
object strings) give the digest the column-by-column turns give: the same key, only sooner."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from nbcache.keys import arrays
from nbcache.keys.memo import MEMO
from nbcache.keys.values import hash_value

ROWS = arrays._STRING_CHUNK + 10  # past one chunk: the strings walk takes the feeder


def _frame(rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    words = np.array([f"w{i}" for i in range(300)], dtype=object)
    return pd.DataFrame({
        "x": rng.random(rows), "n": rng.integers(0, 9, rows),
        "cat": pd.Categorical.from_codes(rng.integers(0, 3, rows), ["a", "b", "c"]),
        "s": pd.Series(words[rng.integers(0, len(words), rows)], dtype=object),
        "t": pd.Series([f"own {i}" for i in range(rows)], dtype=object),  # two object columns: one 2-D block
        "when": pd.date_range("2024-01-01", periods=rows, freq="s"),
        "small": np.arange(rows, dtype=np.int8),
    })


def _mixed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[5, "s"] = None  # not all exact str: item by item
    return frame


def _sub_str(frame: pd.DataFrame) -> pd.DataFrame:
    class Text(str):
        pass

    frame = frame.copy()
    frame.loc[ROWS - 1, "t"] = Text("late")  # the last chunk: found after the numbers were hashed
    return frame


@pytest.fixture
def apart(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Buffers from 64 KiB hashed apart (as a real frame's from 8 MiB), and how many frames were hashed ahead."""
    monkeypatch.setattr(arrays, "THREADED_BYTES", 1 << 16)
    started: list[int] = []
    start = arrays._Ahead.start

    def counted(h: object, columns: list) -> arrays._Ahead | None:
        found = start(h, columns)
        started.append(found is not None)
        return found

    monkeypatch.setattr(arrays._Ahead, "start", counted)
    return started


class _Counted:
    """The accelerator, its string columns walked counted by length."""

    def __init__(self, walks: list[int]) -> None:
        self.walks, self.Held, self.join = walks, arrays.accelerator.Held, arrays.accelerator.join
        self._digests = arrays.accelerator.digests

    def digests(self, strings: list, *args: object) -> object:
        self.walks.extend(len(objects) for objects, _ in strings)
        return self._digests(strings, *args)


def _count_walks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many items each string column walked had, by either route (the C one walks a frame's in one call)."""
    walks: list[int] = []
    strings_of = arrays._strings_of
    if arrays.accelerator is None:
        monkeypatch.setattr(arrays, "_strings_of",
                            lambda h, arr, flat: walks.append(len(flat)) or strings_of(h, arr, flat))
    else:
        monkeypatch.setattr(arrays, "accelerator", _Counted(walks))
    return walks


def _in_turn(frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> bytes:
    with monkeypatch.context() as m:
        m.setattr(arrays._Ahead, "start", lambda h, columns: None)
        return hash_value(frame.copy())


@pytest.mark.parametrize("make", [_frame, lambda: _mixed(_frame()), lambda: _sub_str(_frame())],
                         ids=["strings", "a-none", "a-str-subclass"])
def test_hashed_ahead_is_hashed_in_turn(make: Callable[[], pd.DataFrame], apart: list[int], string_route: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    MEMO.clear()
    frame = make()
    reference = _in_turn(frame, monkeypatch)
    MEMO.clear()
    walks = _count_walks(monkeypatch)
    assert hash_value(frame.copy()) == reference
    assert apart == [True]
    assert walks == [ROWS, ROWS]  # each object column once, ahead: its turn took that digest
    assert hash_value(frame) == reference  # and again, its strings from the memo


def test_a_frame_without_both_kinds_is_hashed_in_turn(apart: list[int]) -> None:
    hash_value(_frame()[["x", "n"]])
    hash_value(_frame(100))
    assert apart == [False, False]


def test_numbers_not_hashed_ahead_are_hashed_in_turn(apart: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _frame()
    reference = _in_turn(frame, monkeypatch)
    monkeypatch.setattr(arrays._Ahead, "_hash_numbers", lambda self, numbers: None)
    assert hash_value(frame.copy()) == reference
    assert apart == [True]
