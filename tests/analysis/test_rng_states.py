"""Which global generators a run advanced: compared cheaply by pickle, yet exactly by content."""

from __future__ import annotations

import ast
import pickle
import random

import pytest

from nbcache.analysis import determinism


def test_an_untouched_generator_is_not_advanced() -> None:
    before = determinism.rng_states()
    assert determinism.advanced(before, determinism.rng_states()) == {}


def test_a_draw_advances_the_generator() -> None:
    before = determinism.rng_states()
    random.random()
    assert set(determinism.advanced(before, determinism.rng_states())) == {"random"}


def test_a_state_whose_pickle_is_not_canonical_is_compared_by_content() -> None:
    torch = pytest.importorskip("torch")
    first, second = torch.random.get_rng_state(), torch.random.get_rng_state()
    assert pickle.dumps(first, protocol=5) != pickle.dumps(second, protocol=5)  # what makes this case
    assert determinism.advanced({"torch": first}, {"torch": second}) == {}
    assert determinism.drawn_states({"torch": first}, {"torch": second}, ast.parse("x = 1"), {}) == {}
