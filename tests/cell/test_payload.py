"""What an entry holds: the payload written as builtins, read back whole, and handed out again only where no one
could tell (atoms alone); differential against re-running the cell."""

from __future__ import annotations

import pytest

from nbcache.cell.payload import ClearEvent, Payload, Stream, StreamEvent
from nbcache.keys.settings import Changes
from tests.support import Shell


def test_a_cheap_cells_payload_is_stored_as_builtins_and_read_back_whole() -> None:
    payload = Payload({"y": 2}, 2)
    assert payload.stored() == {"outputs": {"y": 2}, "value": 2}
    assert Payload.of(payload.stored()) == Payload({"y": 2}, 2)


def test_every_field_that_is_set_survives_the_stored_form() -> None:
    changes = Changes(settings={"numpy.printoptions": {"precision": 3}})
    payload = Payload({"y": [1]}, None, (StreamEvent(Stream.STDOUT, "hi\n"), ClearEvent()), {"random": (3,)},
                      {"x": [0]}, changes, (("model", ("coef_",)),))
    stored = payload.stored()
    assert "value" not in stored and stored["changes"] is changes
    assert Payload.of(stored) == payload
    assert Payload.of(payload) is payload  # entries written before ``stored`` hold the Payload itself


@pytest.mark.parametrize("stored, reusable", [
    ({"outputs": {"y": 2, "s": "text", "f": 1.5, "n": None}, "value": b"x"}, True),
    ({"outputs": {}}, True),
    ({"outputs": {"y": [2]}}, False),  # a list the user may change
    ({"outputs": {"y": 2}, "value": (1, 2)}, False),  # a tuple may hold a list, or a reference into the namespace
    ({"outputs": {"y": 2}, "events": (ClearEvent(),)}, False),
    ({"outputs": {"y": 2}, "mutated": {"x": 1}}, False),
    (Payload({"y": 2}), False),
])
def test_only_atoms_and_nothing_else_are_reusable(stored: object, reusable: bool) -> None:
    assert Payload.reusable(stored) is reusable


def test_a_restored_list_is_the_cells_own_at_every_hit(shell: Shell, settled: None) -> None:
    """A hit restores a fresh list however often it hits: a change the user made to the last one never shows."""
    plain: list = []
    for _ in range(2):
        shell.run("z = [1, 2]\nz.append(3)\nz")
        plain.append(shell.ns["z"])
    for _ in range(4):
        shell.cached("z = [1, 2]\nz.append(3)\nz")
        assert shell.ns["z"] == [1, 2, 3]
        shell.ns["z"].append("changed by the user")
    assert shell.runs == 1 and plain[0] is not plain[1]


def test_a_reused_scalar_is_restored_over_a_rebound_name(shell: Shell, settled: None) -> None:
    shell.ns["x"] = 20
    for _ in range(4):
        shell.ns["y"] = "rebound by the user"
        result, _ = shell.cached("y = x * 2**70\ny")
        assert shell.ns["y"] == 20 * 2**70 and result.result == 20 * 2**70  # type: ignore[attr-defined]
    assert shell.runs == 1


def test_a_shared_payload_is_the_payload_itself() -> None:
    assert Payload.shared({"outputs": {"y": 2}, "value": 2}) == Payload({"y": 2}, 2)
    assert Payload.shared({"outputs": {"y": [2]}}) is None
