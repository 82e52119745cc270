"""The names a run bound and removed, from the namespace before and after (nbcache.cell.namespace)."""

from __future__ import annotations

from typing import Any

import pytest

from nbcache.cell.namespace import Before, changes_of_run


def _run(namespace: dict[str, Any], code: str) -> tuple[set, set]:
    """``code`` run on ``namespace`` as plain ``exec`` (nothing recorded by statements: the diff alone)."""
    before = Before.of(namespace)
    exec(code, namespace)
    return changes_of_run(before, namespace, set(), set())


def _namespace(size: int = 50) -> dict[str, Any]:
    return {"__builtins__": __builtins__, **{f"_i{n}": f"cell {n}" for n in range(size)},
            "x": [1], "y": 2, "z": {"a": 1}}


def test_rebinding_is_seen_by_identity() -> None:
    assert _run(_namespace(), "x = [1]") == ({"x"}, set())


def test_new_names_are_outputs() -> None:
    assert _run(_namespace(), "w = 1\nv = 2") == ({"w", "v"}, set())


def test_a_value_changed_in_place_is_not_a_rebinding() -> None:
    assert _run(_namespace(), "x.append(2)") == (set(), set())


def test_removed_names() -> None:
    assert _run(_namespace(), "del y") == (set(), {"y"})


def test_removed_and_bound_again_at_the_end() -> None:
    # y moves to the end of the dict: the names no longer line up, and the comparison goes name by name
    assert _run(_namespace(), "del y\ny = 3\nz = 4") == ({"y", "z"}, set())


def test_the_last_name_removed_and_bound_again_to_another_object() -> None:
    namespace = {"a": 1, "b": [2]}
    assert _run(namespace, "del b\nb = [2]") == ({"b"}, set())


def test_the_same_object_bound_again_counts_through_bound() -> None:
    namespace = _namespace()
    before = Before.of(namespace)
    namespace["y"] = namespace["y"]  # `y = y`: the same object, but the cell did bind it
    assert changes_of_run(before, namespace, {"y"}, set()) == ({"y"}, set())


def test_a_name_bound_then_deleted_within_the_run() -> None:
    namespace = _namespace()
    before = Before.of(namespace)
    assert changes_of_run(before, namespace, set(), {"tmp"}) == (set(), {"tmp"})


def test_ipython_names_are_left_out() -> None:
    assert _run(_namespace(), "_i9 = 'other'\n_7 = 1\ndel _i3\nq = 1") == ({"q"}, set())


@pytest.mark.parametrize("code", ["x = 1", "del x", "del x\nx = 1", "globals()['n'] = 1", "y = 2.5\ndel z",
                                  "del _i0\nw = 1", "pass"])
def test_the_same_as_a_comparison_name_by_name(code: str) -> None:
    namespace = _namespace()
    old = dict(namespace)
    outputs, removed = _run(namespace, code)
    expected = {n for n, v in namespace.items() if old.get(n, object()) is not v and not n.startswith("_")}
    assert outputs == expected
    assert removed == {n for n in old.keys() - namespace.keys() if not n.startswith("_")}
