"""Which global generators a run advanced: compared cheaply by pickle, yet exactly by content."""

from __future__ import annotations

import ast
import pickle
import random

import pytest

from nbcache.analysis import determinism


def advanced(before: dict, after: dict) -> dict:
    return determinism.after_run(before, after, ast.parse("x = 1"), {}, []).advanced


def test_an_untouched_generator_is_not_advanced() -> None:
    before = determinism.rng_states()
    assert advanced(before, determinism.rng_states()) == {}


def test_a_draw_advances_the_generator() -> None:
    before = determinism.rng_states()
    random.random()
    assert set(advanced(before, determinism.rng_states())) == {"random"}


def test_a_state_whose_pickle_is_not_canonical_is_compared_by_content() -> None:
    torch = pytest.importorskip("torch")
    first, second = torch.random.get_rng_state(), torch.random.get_rng_state()
    assert pickle.dumps(first, protocol=5) != pickle.dumps(second, protocol=5)  # what makes this case
    assert advanced({"torch": first}, {"torch": second}) == {}
    assert determinism.after_run({"torch": first}, {"torch": second}, ast.parse("x = 1"), {}, []).drawn == {}


def test_pythons_generator_is_compared_exactly_without_pickling() -> None:
    random.seed(3)
    random.gauss(0, 1)  # leaves a cached gaussian in the state
    version, internal, cached = random.getstate()
    assert isinstance(cached, float)
    same = (version, tuple(internal), float(cached))
    assert advanced({"random": (version, internal, cached)}, {"random": same}) == {}
    # Equal as numbers, yet another state: 0.0 == -0.0, and the next gauss() would return the other one.
    zero, minus_zero = (version, internal, 0.0), (version, internal, -0.0)
    assert set(advanced({"random": zero}, {"random": minus_zero})) == {"random"}
    assert set(advanced({"random": (version, internal, None)}, {"random": zero})) == {"random"}
    moved = (version, (*internal[:-1], internal[-1] + 1), cached)
    assert set(advanced({"random": (version, internal, cached)}, {"random": moved})) == {"random"}


@pytest.mark.parametrize(("cell", "advanced_", "drawn", "frozen"), [
    ("x = random.random()", {"random"}, {"random"}, None),
    ("random.seed(1)\nx = random.random()", {"random"}, set(), None),  # seeded by the cell: not drawn
    ("x = 1", set(), set(), None),
    ("import time\nt = time.time()", set(), set(), "calls time.time"),
])
def test_one_pass_after_a_run_finds_what_was_advanced_drawn_and_frozen(cell: str, advanced_: set, drawn: set,
                                                                        frozen: str | None) -> None:
    namespace = {"random": random}
    tree = ast.parse(cell)
    before = determinism.rng_states()
    exec(compile(tree, "<cell>", "exec"), namespace)
    after = determinism.rng_states()
    found = determinism.after_run(before, after, tree, namespace, [])
    assert set(found.advanced) == advanced_ and set(found.drawn) == drawn
    assert found.frozen == frozen == determinism.static_reason(tree, namespace, [], set(after) - set(before))
    if drawn:
        assert found.drawn["random"] == determinism._state_digest(before["random"])  # the state it started from
