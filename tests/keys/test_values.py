"""Content hashing: equal content gives equal digests in any process; every observable distinction differs."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import os
import pathlib
import random
import socket
import sqlite3
import subprocess
import sys
import threading
from collections import OrderedDict, namedtuple
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.sparse as sparse
import torch
from sklearn.utils import Bunch

from nbcache.errors import UnhashableValue
from nbcache.keys import values
from nbcache.keys.values import hash_value, hash_value_reads


def digest(value: Any) -> bytes:
    return hash_value(value)


class Color(enum.Enum):
    RED = 1
    BLUE = 2


@dataclasses.dataclass
class Point:
    x: float
    y: float


def _arr() -> np.ndarray:
    return np.arange(24, dtype=np.int64).reshape(4, 6)


def _frame(**changes: Any) -> pd.DataFrame:
    data = {"n": np.arange(4.0), "c": pd.Categorical(list("abca")), "s": ["w", "x", "y", "z"],
            "o": pd.Series(["w", "x", "y", "z"], dtype=object), "i": pd.array([1, None, 3, 4], dtype="Int64")}
    data.update(changes)
    return pd.DataFrame(data)


# Each pair differs in one observable respect and must hash differently.
DISTINCT = {
    "True vs 1": (True, 1),
    "1 vs 1.0": (1, 1.0),
    "0.0 vs -0.0": (0.0, -0.0),
    "[1] vs (1,)": ([1], (1,)),
    "str vs bytes": ("a", b"a"),
    "bytes vs bytearray": (b"a", bytearray(b"a")),
    "dict order": ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
    "dict vs OrderedDict": ({"a": 1}, OrderedDict(a=1)),
    "nested": ([[1, 2], [3]], [[1], [2, 3]]),
    "string split": (["ab", "c"], ["a", "bc"]),
    "set vs frozenset": ({1, 2}, frozenset({1, 2})),
    "set content": ({1, 2}, {1, 3}),
    "dtype": (np.arange(3, dtype=np.int64), np.arange(3, dtype=np.int32)),
    "shape": (_arr(), _arr().reshape(6, 4)),
    "view vs base": (_arr()[:, ::2], _arr()),
    "transpose": (_arr().T.copy(), _arr().reshape(6, 4)),
    "element": (_arr(), _arr() + np.eye(4, 6, dtype=np.int64)),
    "numpy scalar type": (np.float32(1), np.float64(1)),
    "numpy scalar vs int": (np.int64(1), 1),
    "object array strings": (np.array(["ab", "c"], dtype=object), np.array(["a", "bc"], dtype=object)),
    "category order": (pd.Categorical(["a", "b"], categories=["a", "b"]),
                       pd.Categorical(["a", "b"], categories=["b", "a"])),
    "ordered categorical": (pd.Categorical(["a"], ordered=True), pd.Categorical(["a"], ordered=False)),
    "index": (pd.Series([1, 2], index=[0, 1]), pd.Series([1, 2], index=[1, 2])),
    "series name": (pd.Series([1], name="a"), pd.Series([1], name="b")),
    "column name": (pd.DataFrame({"a": [1]}), pd.DataFrame({"b": [1]})),
    "column dtype": (pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [1.0]})),
    "dataframe string cell": (_frame(), _frame(s=["w", "x", "Y", "z"])),
    "dataframe object cell": (_frame(), _frame(o=pd.Series(["w", "x", "Y", "z"], dtype=object))),
    "dataframe nullable": (_frame(), _frame(i=pd.array([1, 2, 3, 4], dtype="Int64"))),
    "dataframe categorical": (_frame(), _frame(c=pd.Categorical(list("abcb")))),
    "arrow strings": (pa.array(["ab", "c"]), pa.array(["a", "bc"])),
    "arrow dictionary": (pa.array(["a", "b"]).dictionary_encode(), pa.array(["b", "a"]).dictionary_encode()),
    "arrow dictionary vs plain": (pa.array(["a", "b"]).dictionary_encode(), pa.array(["a", "b"])),
    "timezone": (pd.date_range("2020", periods=2), pd.date_range("2020", periods=2, tz="UTC")),
    "tensor dtype": (torch.zeros(3), torch.zeros(3, dtype=torch.float64)),
    "tensor value": (torch.arange(4.0), torch.arange(4.0) * 2),
    "tensor view": (torch.arange(6.0).reshape(2, 3).T, torch.arange(6.0).reshape(3, 2)),
    "tensor grad flag": (torch.zeros(2), torch.zeros(2).requires_grad_()),
    "sparse": (sparse.csr_matrix(np.eye(3)), sparse.csr_matrix(2 * np.eye(3))),
    "sparse format": (sparse.csr_matrix(np.eye(3)), sparse.csc_matrix(np.eye(3))),
    "dataclass": (Point(1, 2), Point(2, 1)),
    "enum": (Color.RED, Color.BLUE),
    "datetime": (datetime.datetime(2020, 1, 1), datetime.datetime(2020, 1, 1, 0, 0, 1)),
    "date vs datetime": (datetime.date(2020, 1, 1), datetime.datetime(2020, 1, 1)),
    "decimal precision": (decimal.Decimal("1.0"), decimal.Decimal("1.00")),
    "path": (Path("a/b"), Path("a/c")),
    "namedtuple vs tuple": (namedtuple("P", "x y")(1, 2), (1, 2)),
    "memoryview": (memoryview(b"ab"), memoryview(b"ac")),
    # Long runs of ints are hashed as one buffer: still apart from bools, big ints, other containers, lengths.
    "int run": (list(range(40)), list(range(39)) + [40]),
    "int run vs bool": (list(range(40)), list(range(39)) + [True]),
    "int run vs big int": ([2**64] + list(range(40)), [2**64 + 1] + list(range(40))),
    "int run list vs tuple": (list(range(40)), tuple(range(40))),
    "int run length": (list(range(40)), list(range(41))),
    "int run vs short": ([0] * 16, [0] * 15),
    "negative ints": ([-1] * 20, [2**64 - 1] * 20),
    "masked mask": (np.ma.MaskedArray([1, 2], mask=[0, 1]), np.ma.MaskedArray([1, 2], mask=[1, 0])),
    "masked data under the mask": (np.ma.MaskedArray([1, 2], mask=[0, 1]), np.ma.MaskedArray([1, 3], mask=[0, 1])),
    "masked fill value": (np.ma.MaskedArray([1], fill_value=5), np.ma.MaskedArray([1], fill_value=6)),
    "masked vs plain": (np.ma.MaskedArray([1, 2]), np.array([1, 2])),
    "Bunch items": (Bunch(a=1), Bunch(a=2)),
    "Bunch vs dict": (Bunch(a=1), {"a": 1}),
}


@pytest.mark.parametrize("left, right", DISTINCT.values(), ids=DISTINCT.keys())
def test_every_distinction_gives_a_different_hash(left: Any, right: Any) -> None:
    assert digest(left) != digest(right)


# Each pair has the same content and type in different objects or layouts, and must hash equally.
EQUAL = {
    "strided view hashes its elements": (_arr()[:, ::2], _arr()[:, ::2].copy()),
    "fortran order": (np.asfortranarray(_arr()), _arr()),
    "tensor view hashes its elements": (torch.arange(6.0).reshape(2, 3).T,
                                        torch.arange(6.0).reshape(2, 3).T.contiguous()),
    "set order": ({"x", "y", "zz"}, {"zz", "y", "x"}),
    "nan": (float("nan"), float("nan")),
    "frame copy": (_frame(), _frame().copy()),
    "int run": (list(range(100)), [int(str(i)) for i in range(100)]),
}


@pytest.mark.parametrize("left, right", EQUAL.values(), ids=EQUAL.keys())
def test_equal_content_gives_equal_hashes(left: Any, right: Any) -> None:
    assert digest(left) == digest(right)


def test_cycles_and_shared_references_are_content() -> None:
    a: list = [1]
    a.append(a)
    b: list = [1]
    b.append(b)
    shared = [1]
    assert digest(a) == digest(b)
    assert digest([shared, shared]) != digest([[1], [1]])  # identity inside a value is observable


def make_adder(n: int) -> Any:
    def add(v: int) -> int:
        return v + n
    return add


def test_closures_differ_by_contents() -> None:
    assert digest(make_adder(1)) != digest(make_adder(2))
    assert digest(make_adder(1)) == digest(make_adder(1))


def _function(source: str, name: str = "f", **globals_: Any) -> Any:
    namespace: dict[str, Any] = {"__name__": "__main__", **globals_}
    exec(source, namespace)
    return namespace[name]


@pytest.mark.parametrize("left, right", [
    ("def f(v):\n    return v + 1", "def f(v):\n    return v + 2"),
    ("def f(v):\n    return v + 1", "def f(v):\n    return v + 1.0"),
    ("def f(v=1):\n    return v", "def f(v=2):\n    return v"),
    ("def f(*, v=1):\n    return v", "def f(*, v=2):\n    return v"),
    ("def f(v):\n    try:\n        return 1 / v\n    except ZeroDivisionError:\n        return 0",
     "def f(v):\n    try:\n        return 1 / v\n    except ArithmeticError:\n        return 0"),
])
def test_function_code_constants_and_defaults_are_content(left: str, right: str) -> None:
    assert digest(_function(left)) != digest(_function(right))


def test_callee_and_global_constant_are_followed() -> None:
    outer = "def f(v):\n    return g(v) * K"
    base = _function(outer, g=_function("def g(v):\n    return v + 1", "g"), K=2)
    callee = _function(outer, g=_function("def g(v):\n    return v + 3", "g"), K=2)
    constant = _function(outer, g=_function("def g(v):\n    return v + 1", "g"), K=3)
    assert len({digest(base), digest(callee), digest(constant)}) == 3


def test_callee_global_is_followed_through_its_own_globals() -> None:
    inner = {c: _function("def g(v):\n    return v + C", "g", C=c) for c in (1, 2)}
    outer = {c: _function("def f(v):\n    return g(v)", g=inner[c]) for c in (1, 2)}
    assert digest(outer[1]) != digest(outer[2])


def test_recursive_functions_terminate() -> None:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec("def even(n):\n    return n == 0 or odd(n - 1)\ndef odd(n):\n    return n != 0 and even(n - 1)", namespace)
    assert digest(namespace["even"]) == digest(namespace["even"])


def test_notebook_globals_are_named_not_inlined() -> None:
    namespace: dict[str, Any] = {"__name__": "__main__", "K": 1}
    exec("def f(v):\n    return helper(v) + K + len([])", namespace)
    first, reads = hash_value_reads(namespace["f"], namespace)
    namespace["K"] = 2
    second, _ = hash_value_reads(namespace["f"], namespace)
    assert reads == {"helper", "K", "len"} and first == second  # K is keyed as an input of its own


def test_class_methods_and_instance_state_are_content() -> None:
    source = "class A:\n    scale = {s}\n    def __init__(self, v):\n        self.v = v\n    def get(self):\n" \
             "        return self.v * {m}"
    cls = {(s, m): _function(source.format(s=s, m=m), "A") for s, m in ((1, 1), (2, 1), (1, 2))}
    assert len({digest(c) for c in cls.values()}) == 3
    assert digest(cls[1, 1](1)) != digest(cls[1, 1](2))
    assert digest(cls[1, 1](1)) != digest(cls[1, 2](1))  # an instance carries its class's methods


def test_decorated_notebook_function_is_keyed_by_what_it_wraps() -> None:
    source = "import functools\n@functools.lru_cache\ndef f(v):\n    return v + {n}"
    assert digest(_function(source.format(n=1))) != digest(_function(source.format(n=2)))


def test_library_functions_are_keyed_by_version_not_code() -> None:
    tag = digest(np.mean)
    assert tag == digest(np.mean) and tag != digest(np.median)


def test_nested_too_deep_is_unhashable_not_a_crash() -> None:
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(UnhashableValue):
        digest(nested)


@pytest.fixture
def live_objects(tmp_path: Path) -> Any:
    f = open(tmp_path / "x.txt", "w")  # noqa: SIM115
    s = socket.socket()
    db = sqlite3.connect(":memory:")
    yield {"generator": (i for i in range(3)), "file": f, "socket": s, "lock": threading.Lock(), "db": db}
    f.close()
    s.close()
    db.close()


@pytest.mark.parametrize("kind", ["generator", "file", "socket", "lock", "db"])
def test_live_objects_are_unhashable_never_hashed_by_identity(live_objects: dict, kind: str) -> None:
    with pytest.raises(UnhashableValue):
        digest(live_objects[kind])
    with pytest.raises(UnhashableValue):
        digest({"inside": [live_objects[kind]]})


CROSS_PROCESS = """
import dataclasses, datetime, decimal, enum, pathlib, sys
import numpy as np, pandas as pd, pyarrow as pa, scipy.sparse as sparse, torch
from nbcache.keys.values import hash_value

class Color(enum.Enum):
    RED = 1

@dataclasses.dataclass
class Point:
    x: float
    tags: frozenset

K = 3
def helper(v, scale=2):
    return v * scale + K

def make(n):
    return lambda v: v + n

values = {
    "atoms": [None, True, 1, 1.5, "é", b"x", 2**100, complex(1, 2)],
    "sets": [{"a", "b", "c"}, frozenset({"x", 1, (2, 3)}), {"k": {"z", "y"}}],
    "numpy": [np.arange(10.0).reshape(2, 5)[:, ::2], np.float32(1.5), np.array(["ab", "c"], dtype=object)],
    "pandas": pd.DataFrame({"n": [1.0, 2.0], "c": pd.Categorical(["a", "b"]), "s": ["x", "y"],
                            "o": pd.Series(["x", "y"], dtype=object)}, index=pd.Index(["r", "s"], name="i")),
    "arrow": pa.chunked_array([["a", None], ["bcd"]]),
    "torch": torch.arange(6.0).reshape(2, 3).T,
    "sparse": sparse.csr_matrix(np.eye(3)),
    "objects": [Color.RED, Point(1.0, frozenset({"p", "q"})), datetime.datetime(2020, 1, 2, 3),
                decimal.Decimal("1.10"), pathlib.Path("a/b")],
    "functions": [helper, make(2), Point],
}
for name, value in values.items():
    print(name, hash_value(value).hex())
"""


def _run_with_seed(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run([sys.executable, "-c", CROSS_PROCESS], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_equal_content_gives_equal_hashes_across_processes_and_hash_seeds() -> None:
    first, second = _run_with_seed("1"), _run_with_seed("2")
    assert first == second and len(first.splitlines()) == 9


def test_hashing_a_large_array_makes_no_full_copy() -> None:
    import tracemalloc

    big = np.zeros(20_000_000, dtype=np.uint8)
    tracemalloc.start()
    digest(big)
    digest(pathlib.PurePath("x"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000


@pytest.mark.parametrize("left, right", [
    (["a\0b", "c"], ["a", "b\0c"]),
    (["a\0", ""], ["a", "\0"]),
    (["", ""], [""]),
    (["ab"], ["a", "b"]),
])
def test_object_strings_with_nul_characters_stay_unambiguous(left: list[str], right: list[str]) -> None:
    assert digest(np.array(left, dtype=object)) != digest(np.array(right, dtype=object))


def _round_trip(value: Any, out_of_band: bool) -> Any:
    import pickle

    if not out_of_band:
        return pickle.loads(pickle.dumps(value, protocol=5))
    buffers: list = []
    data = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    return pickle.loads(data, buffers=[b.raw() for b in buffers])


ROUND_TRIP = {
    "categorical with Arrow categories": pd.Categorical(["drama", "comedy", "drama"]),
    "Arrow string slice": pd.Series(["a", "bb", None] * 5)[3:],
    "Arrow string column": _frame(),
    "Arrow int slice": pa.array([1, None, 3, 4])[1:],
    "Arrow bool slice": pa.array([True, None, False, True])[1:],
    "Arrow dictionary slice": pa.array(["a", "b", "a"]).dictionary_encode()[1:],
    "Arrow nested slice": pa.array([[1], [2, 3], None])[1:],
    "Arrow chunked": pa.chunked_array([["a", None], ["bcd"]]),
    "numpy view": _arr()[:, ::2],
    "tensor view": torch.arange(6.0).reshape(2, 3).T,
    "instance": Point(1.0, 2.0),
    "masked array, fill value not asked for yet": np.ma.MaskedArray([1, 10], mask=[False, True]),
    "object masked array": np.ma.MaskedArray(np.array([1, "a"], dtype=object), mask=[True, False]),
    "scikit-learn Bunch": Bunch(data=np.arange(3), names=["a"]),
}


@pytest.mark.parametrize("out_of_band", [False, True], ids=["in-band", "out-of-band"])
@pytest.mark.parametrize("value", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_a_restored_value_hashes_as_the_original(value: Any, out_of_band: bool) -> None:
    # A hit restores values by unpickling them; the next cell must see the same key, or warm runs miss.
    assert digest(_round_trip(value, out_of_band)) == digest(value)


def test_an_arrow_slice_hashes_as_the_same_values_built_afresh() -> None:
    assert digest(pa.array([1, None, 3, 4])[1:]) == digest(pa.array([None, 3, 4]))
    assert digest(pa.array(["x", "yy", None, "z"])[1:3]) == digest(pa.array(["yy", None]))
    assert digest(pa.array(["a", None])) != digest(pa.array(["a", ""]))


def test_arrow_hashes_ignore_chunking_and_offset_width() -> None:
    assert digest(pa.chunked_array([["a", "b"], ["c"], []])) == digest(pa.chunked_array([["a", "b", "c"]]))
    assert digest(pd.Series(pd.array(["a", None], pd.ArrowDtype(pa.string()))).astype("str")) == \
        digest(pd.Series(pd.array(["a", None], pd.ArrowDtype(pa.large_string()))).astype("str"))
    assert digest(pa.array(["a"], pa.string())) != digest(pa.array(["a"], pa.large_string()))  # observable
    assert digest(pa.chunked_array([[1, None], [3]])) == digest(pa.array([1, None, 3]))
    frame = pd.DataFrame({"a": [1], "b": [2]}).assign(c=1)  # its column Index is three Arrow chunks
    assert digest(frame) == digest(pd.DataFrame({"a": [1], "b": [2], "c": [1]}))


def test_large_strided_and_contiguous_layouts_hash_alike() -> None:
    # Past the threading threshold and the copy chunk, a view is hashed in several pieces: same digest.
    big = np.arange(3 * 2_000_000, dtype=np.float64).reshape(2_000_000, 3)
    assert digest(np.asfortranarray(big)) == digest(big)
    cube = np.arange(2 * 3 * 2_000_000, dtype=np.int32).reshape(2, 3, 2_000_000)
    assert digest(cube.transpose(2, 0, 1)) == digest(np.ascontiguousarray(cube.transpose(2, 0, 1)))
    tensor = torch.arange(6_000_000, dtype=torch.float64).reshape(2_000_000, 3)
    assert digest(tensor.T) == digest(tensor.T.contiguous())


def test_a_generator_state_is_hashed_as_one_buffer_not_item_by_item() -> None:
    """random.getstate() is 625 ints, hashed four times per cached cell: item by item it cost ~3 ms each."""
    fed: list[int] = []
    hasher = values._Hasher()
    original = hasher.raw
    hasher.raw = lambda data: (fed.append(1), original(data))[1]  # type: ignore[method-assign]
    hasher.update(random.getstate())
    assert len(fed) < 20


def _figure(rows: int = 4, cols: int = 4) -> Any:
    """Without pyplot: choosing a backend would change rcParams, a setting later cells in this process key on."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    axs = fig.subplots(rows, cols, squeeze=False)
    for ax in axs.flat:
        ax.plot(np.arange(10))
    fig.canvas.draw()
    return fig, axs


def test_sixteen_axes_are_hashed_by_writing_their_figure_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12, item 12: each Axes stands for its figure and its place in it, and the figure is one C pickle."""
    fig, axs = _figure()
    writes: list[object] = []
    dump = values._FigurePickler.dump
    monkeypatch.setattr(values._FigurePickler, "dump", lambda self, obj: (writes.append(obj), dump(self, obj))[1])
    hash_value((fig, axs))
    assert writes == [fig]


def test_a_change_anywhere_in_a_figure_changes_the_hash_of_each_of_its_axes() -> None:
    fig, axs = _figure(2, 2)
    before = [digest(ax) for ax in axs.flat] + [digest(fig)]
    axs[1, 1].lines[0].set_color("red")
    after = [digest(ax) for ax in axs.flat] + [digest(fig)]
    assert all(b != a for b, a in zip(before, after, strict=True))
    assert len(set(after)) == len(after)  # each Axes is its place in the figure, not the figure alone


def test_a_figure_holding_a_notebook_function_is_hashed_by_its_code(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    """A pickle names a function it can import by its name only: a figure holding a notebook's formatter takes
    the item-by-item walk, so editing the formatter changes the hash."""
    import types

    import matplotlib.ticker as ticker

    notebook = types.ModuleType("notebook_like")  # importable by name, not a library's file: the user's code
    notebook.__file__ = str(tmp_path / "notebook_like.py")
    monkeypatch.setitem(sys.modules, "notebook_like", notebook)
    results = []
    for body in ("str(v)", "str(v * 2)"):
        exec(f"def fmt(v, pos):\n    return {body}", vars(notebook))
        fig, axs = _figure(1, 1)
        axs[0, 0].xaxis.set_major_formatter(ticker.FuncFormatter(notebook.fmt))
        results.append(digest(fig))
    assert results[0] != results[1]
