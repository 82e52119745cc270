"""Issue 12: the serializer finds references to unchanged inputs without a Python call per object.

Referenced dicts, lists, sets and bytearrays are put in the pickler's memo before it starts (a pickle opcode
prefix puts them, resolved, in the loader's memo); other referenced objects are found in reducer_override, which
the C pickler calls for every object that is not an exact builtin. With more referenced containers than the
limit, every object is looked up (persistent_id), as before; both ways restore the same thing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nbcache.cell.aliases import input_references, resolve
from nbcache.store import serialize


class Point:
    def __init__(self, x: int) -> None:
        self.x = x


def _namespace() -> dict[str, Any]:
    rows = [1, 2, 3]
    return {"rows": rows, "config": {"k": [4, 5], "rows": rows}, "tags": {"a"}, "raw": bytearray(b"ab"),
            "p": Point(1), "X": np.arange(10.0)}


def _round_trip(namespace: dict[str, Any], outputs: dict[str, Any]) -> tuple[dict[str, Any], serialize.Serialized]:
    refs = input_references(dict(namespace), namespace)
    saved = serialize.dumps({"outputs": outputs}, refs)
    payload = serialize.loads(saved.data, saved.buffers, lambda ref: resolve(ref, namespace))
    return payload["outputs"], saved


def _outputs(ns: dict[str, Any]) -> dict[str, Any]:
    shared = ["new"]
    return {"same": ns["rows"], "inner": ns["config"]["k"], "held": [ns["config"], ns["tags"], ns["raw"]],
            "point": ns["p"], "head": ns["X"][2:5], "a": shared, "b": shared, "plain": {"n": 1.5, "s": "x" * 3}}


def _check(ns: dict[str, Any], restored: dict[str, Any]) -> None:
    assert restored["same"] is ns["rows"] and restored["inner"] is ns["config"]["k"]
    assert restored["held"][0] is ns["config"] and restored["held"][1] is ns["tags"]
    assert restored["held"][2] is ns["raw"] and restored["point"] is ns["p"]
    assert np.shares_memory(restored["head"], ns["X"]) and list(restored["head"]) == [2.0, 3.0, 4.0]
    assert restored["a"] is restored["b"] and restored["a"] == ["new"]
    assert restored["plain"] == {"n": 1.5, "s": "xxx"}


def _checked_round_trip_lookups(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Round-trip the outputs, check what comes back, and return every object the pickler looked up one by one."""
    looked_up: list[object] = []
    lookup = serialize._RefPickler.persistent_id
    monkeypatch.setattr(serialize._RefPickler, "persistent_id",
                        lambda self, obj: (looked_up.append(obj), lookup(self, obj))[1])
    ns = _namespace()
    restored, _ = _round_trip(ns, _outputs(ns))
    _check(ns, restored)
    return looked_up


def test_references_to_inputs_are_restored_as_the_live_objects_without_a_lookup_per_object(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert _checked_round_trip_lookups(monkeypatch) == []


def test_beyond_the_limit_of_referenced_containers_every_object_is_looked_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serialize, "_PRESET_LIMIT", 2)
    assert _checked_round_trip_lookups(monkeypatch)


def test_a_referenced_container_that_cannot_be_found_on_load_fails_the_load() -> None:
    """Every preset is resolved on load: one that is gone makes the entry unloadable (the cell runs), never a
    payload holding something else."""
    ns = _namespace()
    refs = input_references(dict(ns), ns)
    saved = serialize.dumps({"outputs": {"same": ns["rows"]}}, refs)
    other = {name: value for name, value in ns.items() if name != "config"}  # the payload holds no part of it
    with pytest.raises(KeyError):
        serialize.loads(saved.data, saved.buffers, lambda ref: resolve(ref, other))
