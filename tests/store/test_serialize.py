"""Serialization: the C pickler with out-of-band buffers, dill only where needed, shared objects kept shared."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbcache.store import serialize
from nbcache.store.entry import EntryMeta
from nbcache.store.local import Store


def _memory_of(arr: np.ndarray) -> object:
    base = arr
    while isinstance(base, np.ndarray):
        base = base.base
    return base.obj if isinstance(base, memoryview) else base


def _roundtrip(store: Store, outputs: dict) -> dict:
    store.save("ab" * 16, {"outputs": outputs, "value": None, "events": []}, EntryMeta())
    loaded = store.load("ab" * 16)
    assert loaded is not None
    return loaded[0]["outputs"]


def test_large_arrays_leave_the_pickle_and_small_ones_stay() -> None:
    big, small = np.zeros(serialize.INLINE_LIMIT, dtype=np.uint8), np.zeros(8)
    ser = serialize.dumps({"outputs": {"big": big, "small": small}})
    assert [b.nbytes for b in ser.buffers] == [big.nbytes] and ser.engine == "pickle"
    assert len(ser.data) < 1000


def test_large_array_is_mapped_copy_on_write(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    arr = np.arange(2**18, dtype=np.float64)  # 2 MiB: mapped, not read
    restored = _roundtrip(store, {"arr": arr})["arr"]
    assert isinstance(_memory_of(restored), mmap.mmap) and np.array_equal(restored, arr)
    restored[:] = -1  # the user may modify it...
    again = store.load("ab" * 16)[0]["outputs"]["arr"]
    assert np.array_equal(again, arr)  # ...and the store never changes


def test_small_buffers_restore_writable(tmp_path: Path) -> None:
    restored = _roundtrip(Store(tmp_path / "s"), {"arr": np.arange(20000)})["arr"]
    restored[0] = 7
    assert restored[0] == 7


def test_shared_objects_stay_shared(tmp_path: Path) -> None:
    arr, lst = np.ones(2**17), [1, 2]
    out = _roundtrip(Store(tmp_path / "s"), {"a": arr, "b": arr, "c": lst, "d": {"inner": lst}})
    assert out["b"] is out["a"] and out["d"]["inner"] is out["c"]


def test_the_same_array_in_two_entries_is_stored_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    for key in ("aa" * 16, "bb" * 16):
        store.save(key, {"outputs": {"x": np.ones(2**17)}}, EntryMeta())
    sizes = sorted(p.stat().st_size for p in (tmp_path / "s" / "blobs").iterdir())
    assert sizes.count(2**20) == 1


def test_input_references_resolve_to_the_live_object(tmp_path: Path) -> None:
    store, live = Store(tmp_path / "s"), np.arange(10**5)
    store.save("ab" * 16, {"outputs": {"view": [live]}}, EntryMeta(), refs={id(live): "x"})
    payload, _ = store.load("ab" * 16, resolve={"x": live}.__getitem__)
    assert payload["outputs"]["view"][0] is live


def test_dataframe_with_string_columns_uses_the_c_pickler(tmp_path: Path) -> None:
    df = pd.DataFrame({"n": np.arange(30000), "s": [f"row {i}" for i in range(30000)]}).astype({"s": object})
    ser = serialize.dumps({"outputs": {"df": df, "f": lambda v: v + 1}})
    assert ser.engine == "pickle"
    restored = _roundtrip(Store(tmp_path / "s"), {"df": df})["df"]
    pd.testing.assert_frame_equal(restored, df)


def test_notebook_functions_go_through_dill_one_by_one() -> None:
    def local(v: int) -> int:
        return v * 3

    ser = serialize.dumps({"outputs": {"f": local, "g": local}})
    out = serialize.loads(ser.data, ser.buffers)["outputs"]
    assert ser.engine == "pickle" and out["f"](2) == 6 and out["g"] is out["f"]


def test_what_only_dill_can_write_falls_back_to_dill_for_the_payload() -> None:
    code = compile("40 + 2", "<cell>", "eval")
    ser = serialize.dumps({"outputs": {"code": code}})
    assert ser.engine == "dill"
    assert eval(serialize.loads(ser.data, ser.buffers, engine="dill")["outputs"]["code"]) == 42


def test_string_columns_skip_the_per_object_reference_check_and_keep_refs_elsewhere() -> None:
    names, live = np.array(["a", "b", None, 3], dtype=object), [1, 2]
    mixed = np.array([live, "x"], dtype=object)  # holds a referenced object: must go through the ref check
    ser = serialize.dumps({"outputs": {"names": names, "mixed": mixed}}, refs={id(live): ("input", "live", ())})
    out = serialize.loads(ser.data, ser.buffers, resolve=lambda ref: live)["outputs"]
    assert list(out["names"]) == ["a", "b", None, 3] and out["mixed"][0] is live


def test_notebook_classes_written_apart_stay_one_hierarchy() -> None:
    class DataError(Exception):
        pass

    class MissingColumn(DataError):
        pass

    ser = serialize.dumps({"outputs": {"MissingColumn": MissingColumn, "DataError": DataError,
                                       "err": MissingColumn("y")}})
    out = serialize.loads(ser.data, ser.buffers)["outputs"]
    assert out["MissingColumn"].__mro__[1] is out["DataError"]
    assert isinstance(out["err"], out["DataError"]) and type(out["err"]) is out["MissingColumn"]


def test_a_notebook_enum_is_rebuilt_with_its_members_and_methods() -> None:
    import enum

    class Color(enum.Enum):
        RED = 1
        GREEN = 2

        def label(self) -> str:
            return self.name.lower()

    ser = serialize.dumps({"outputs": {"Color": Color, "favourite": Color.GREEN}})
    out = serialize.loads(ser.data, ser.buffers)["outputs"]
    assert [m.value for m in out["Color"]] == [1, 2] and out["favourite"] is out["Color"].GREEN
    assert out["favourite"].label() == "green"


def test_an_lru_cache_wrapper_of_a_notebook_function_is_wrapped_again() -> None:
    import functools

    @functools.lru_cache(maxsize=8)
    def square(v: int) -> int:
        return v * v

    ser = serialize.dumps({"outputs": {"square": square}})
    restored = serialize.loads(ser.data, ser.buffers)["outputs"]["square"]
    assert restored(4) == 16 and restored.cache_parameters()["maxsize"] == 8 and restored.cache_info().hits == 0


def test_objects_written_by_the_per_object_dill_of_older_entries_still_load() -> None:
    import io
    import pickle

    def triple(v: int) -> int:
        return v * 3

    buffer = io.BytesIO()
    serialize._DillPickler(buffer, {}).dump(triple)

    class Old:
        def __reduce__(self) -> tuple:
            return serialize._from_dill, (buffer.getvalue(),)

    data = pickle.dumps({"outputs": {"f": Old(), "g": Old()}}, protocol=5)
    out = serialize.loads(data)["outputs"]
    assert out["f"](2) == 6 and out["g"](3) == 9


def test_a_view_of_an_input_array_is_a_view_of_the_resolved_input() -> None:
    from nbcache.cell.aliases import input_references, resolve

    namespace = {"X": np.arange(10.0)}
    refs = input_references({"X": namespace["X"]}, namespace)
    ser = serialize.dumps({"outputs": {"head": namespace["X"][2:5]}}, refs)
    head = serialize.loads(ser.data, ser.buffers, lambda ref: resolve(ref, namespace))["outputs"]["head"]
    namespace["X"][2] = 99
    assert head[0] == 99 and np.shares_memory(head, namespace["X"])


def test_a_library_closure_that_leads_back_to_itself_stays_with_the_c_pickler() -> None:
    """bar_label's lambda holds its bar, which leads back to the label and the lambda: dill alone refuses that
    cycle, and the whole payload then went through dill (a second for one bar chart)."""
    from matplotlib.figure import Figure  # not pyplot: choosing a backend changes rcParams, which later tests key on

    fig = Figure()
    ax = fig.subplots()
    ax.bar_label(ax.bar(["a", "b"], [1, 2]), label_type="center")
    ser = serialize.dumps({"outputs": {"fig": fig, "ax": ax}})
    out = serialize.loads(ser.data, ser.buffers)["outputs"]
    label = out["ax"].texts[0]
    assert ser.engine == "pickle"
    assert out["ax"].figure is out["fig"] and label._xycoords.__defaults__[0].axes is out["ax"]
    assert label._xycoords.__qualname__ == ax.texts[0]._xycoords.__qualname__


def test_a_library_closure_over_an_array_and_an_unbound_cell_is_rebuilt() -> None:
    import types

    module = types.ModuleType("closures_here")
    module.__file__ = __file__
    exec("def make(a):\n    def f():\n        return a.sum() + later\n    later = 0\n    del later\n    return f\n",
         vars(module))
    import sys

    sys.modules["closures_here"] = module
    try:
        f = module.make(np.arange(3))
        ser = serialize.dumps({"outputs": {"f": f}})
        g = serialize.loads(ser.data, ser.buffers)["outputs"]["f"]
    finally:
        del sys.modules["closures_here"]
    assert ser.engine == "pickle" and g.__closure__[0].cell_contents.tolist() == [0, 1, 2]
    with pytest.raises(ValueError):  # still unbound, as in the original
        _ = g.__closure__[1].cell_contents


def test_what_dill_cannot_write_either_is_refused_without_a_dill_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """A generator (like a Triangulation's C++ cache) is no type dill writes its own way: its pure-Python pickler,
    slower by far, would fail the same way, so the payload is refused after the C pickler, naming the output."""
    tried = []
    monkeypatch.setattr(serialize._DillPickler, "dump", lambda self, obj: tried.append(obj))
    with pytest.raises(serialize.SerializationError, match="'gen'"):
        serialize.dumps({"outputs": {"n": 1, "gen": (x for x in range(3))}})
    assert tried == []


def test_a_type_dill_writes_its_own_way_still_gets_the_dill_pass() -> None:
    """A lock is refused by the C pickler in the same words, but dill writes it: the payload is saved."""
    import threading

    ser = serialize.dumps({"outputs": {"lock": threading.Lock()}})
    assert ser.engine == "dill"
    assert hasattr(serialize.loads(ser.data, ser.buffers, engine="dill")["outputs"]["lock"], "acquire")


def test_an_array_over_a_buffer_it_does_not_share_is_written_by_the_c_pickler() -> None:
    """An array made over another object's memory (a scikit-learn tree's nodes, over a Cython buffer; any array a
    restore made over its bytes) holds its memory itself: it was written as a view of itself, which recursed
    until Python's limit and sent the whole payload through dill (1.4 s for a random forest)."""
    nodes = np.frombuffer(bytearray(np.arange(6.0).tobytes()), dtype=np.float64)
    ser = serialize.dumps({"outputs": {"nodes": nodes, "pair": [nodes, nodes[1:3]]}})
    out = serialize.loads(ser.data, ser.buffers)["outputs"]
    assert ser.engine == "pickle"
    assert out["nodes"].tolist() == nodes.tolist() and out["pair"][0] is out["nodes"]
    assert np.shares_memory(out["pair"][1], out["nodes"]) and out["pair"][1].tolist() == [1.0, 2.0]
