"""Object-dtype string columns hash in bulk, yet exactly: by content only, the same in a new process and after a
restore from the store, and never equal to a different content or to items of another type."""

from __future__ import annotations

import enum
import pickle

import numpy as np
import pandas as pd
import pytest

from nbcache.keys import arrays
from nbcache.keys.values import hash_value
from nbcache.store import serialize
from tests.support import run_in_new_process

pytestmark = pytest.mark.usefixtures("string_route")  # the C accelerator and the Python route alike

LONG = 3 * arrays._STRING_CHUNK + 17  # several chunks and a partial one


def _strings(n: int = LONG) -> np.ndarray:
    return np.array([f"name {i % 977} é" for i in range(n)], dtype=object)


def _restored(value: object, with_refs: bool) -> object:
    refs = {id(object()): ("namespace",)} if with_refs else {}
    ser = serialize.dumps({"outputs": {"v": value}}, refs)
    return serialize.loads(ser.data, ser.buffers)["outputs"]["v"]


@pytest.mark.parametrize("with_refs", [False, True])
@pytest.mark.parametrize("make", [_strings, lambda: pd.DataFrame({"s": _strings(), "n": np.arange(LONG)})],
                         ids=["array", "frame"])
def test_restored_object_strings_hash_as_before(make: object, with_refs: bool) -> None:
    value = make()  # type: ignore[operator]
    assert hash_value(_restored(value, with_refs)) == hash_value(value)
    assert hash_value(pickle.loads(pickle.dumps(value))) == hash_value(value)


def test_a_new_process_hashes_object_strings_alike() -> None:
    script = f"""
        import numpy as np
        from nbcache.keys.values import hash_value
        print(hash_value(np.array([f"name {{i % 977}} é" for i in range({LONG})], dtype=object)).hex())
    """
    assert run_in_new_process(script).strip() == hash_value(_strings()).hex()


def test_content_layout_and_chunking_are_distinguished() -> None:
    base = _strings()
    changed = base.copy()
    changed[-1] = changed[-1] + "!"
    assert hash_value(changed) != hash_value(base)
    assert hash_value(np.array(["ab", "c"], dtype=object)) != hash_value(np.array(["a", "bc"], dtype=object))
    assert hash_value(np.array(["a\0b", "c"], dtype=object)) != hash_value(np.array(["a", "b\0c"], dtype=object))
    assert hash_value(np.array(["a", "b"], dtype=object)) != hash_value(np.array(["a", "b", ""], dtype=object))
    assert hash_value(base[::2]) == hash_value(np.ascontiguousarray(base[::2]))


class Colour(str, enum.Enum):
    RED = "red"


def test_items_of_another_type_never_hash_as_plain_strings() -> None:
    plain = np.array(["red"] * LONG, dtype=object)
    for odd in (np.str_("red"), Colour.RED, None):
        other = plain.copy()
        other[-1] = odd  # the last chunk: found after earlier chunks were already read
        assert hash_value(other) != hash_value(plain), odd
        assert hash_value(other) == hash_value(other.copy())
