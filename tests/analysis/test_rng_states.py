"""Which global generators a run advanced: compared cheaply by pickle, yet exactly by content."""

from __future__ import annotations

import ast
import pickle
import random

import pytest

from nbcache.analysis import determinism
from tests.support import has_c_compiler


@pytest.fixture(autouse=True, params=["accelerated", "getstate"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test twice: Python's generator read by nbcache._randstate (where it is built), and by getstate()."""
    read = determinism._raw_reader() if request.param == "accelerated" else None
    if request.param == "accelerated" and read is None:
        assert not has_c_compiler(), "build it in place: python hatch_build.py (or pip install -e .)"
    monkeypatch.setattr(determinism, "_read_random", read or determinism._getstate)
    return request.param if read is not None else "getstate"



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
    started_from = random.getstate()
    before = determinism.rng_states()
    exec(compile(tree, "<cell>", "exec"), namespace)
    after = determinism.rng_states()
    found = determinism.after_run(before, after, tree, namespace, [])
    assert set(found.advanced) == advanced_ and set(found.drawn) == drawn
    assert found.frozen == frozen == determinism.static_reason(tree, namespace, [], set(after) - set(before))
    if drawn:
        # the state it started from, digested as random.getstate() gives it: as the entries saved before hold it
        assert found.drawn["random"] == determinism._state_digest(started_from)


def test_the_raw_state_is_getstates_and_is_set_again_as_it(reader: str) -> None:
    random.seed(11)
    for step in (lambda: None, random.random, lambda: random.gauss(0, 1), lambda: random.getrandbits(9000)):
        step()
        state = determinism.rng_states()["random"]
        assert isinstance(state, determinism.RawRandom) == (reader == "accelerated")
        assert determinism.full_state(state) == random.getstate()
        random.setstate(determinism.full_state(state))  # what a hit restores: accepted as random's own
        assert determinism.full_state(determinism.rng_states()["random"]) == random.getstate()


def test_a_raw_state_tells_each_change(reader: str) -> None:
    if reader != "accelerated":
        return  # no raw state on this route: the tuples' comparison is tested above
    random.seed(5)
    random.gauss(0, 1)  # draws two, returns one and caches the other
    first = determinism.rng_states()["random"]
    assert isinstance(first, determinism.RawRandom) and isinstance(first.gauss_next, float)
    assert advanced({"random": first}, {"random": determinism.rng_states()["random"]}) == {}
    random.gauss(0, 1)  # returns the cached one: the words unchanged, the cache emptied
    emptied = determinism.rng_states()["random"]
    assert emptied.words == first.words and set(advanced({"random": first}, {"random": emptied})) == {"random"}
    zero, minus_zero = (determinism.RawRandom(first.words, first.version, g) for g in (0.0, -0.0))
    assert set(advanced({"random": zero}, {"random": minus_zero})) == {"random"}
    random.random()
    moved = determinism.rng_states()["random"]
    assert set(advanced({"random": emptied}, {"random": moved})) == {"random"}
    assert advanced({"random": emptied}, {"random": moved})["random"] == random.getstate()  # stored in full


def test_the_generator_read_is_the_one_random_getstate_reads(reader: str) -> None:
    original = random.getstate
    try:
        random.getstate = random.Random(1).getstate  # type: ignore[method-assign]  (rebound after the first read)
        state = determinism.rng_states()["random"]
        assert determinism.full_state(state) == random.getstate() != original()
        assert isinstance(state, determinism.RawRandom) == (reader == "accelerated")
    finally:
        random.getstate = original  # type: ignore[method-assign]
