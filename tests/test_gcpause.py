"""The collector is held off during nbcache's own walks (hash, save, restore) and given back as it was."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from nbcache.gcpause import paused_gc
from nbcache.keys.values import hash_value
from nbcache.store import serialize


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


class Witness:
    """Records whether the collector was on when a walk reached it (its pickling recipe is asked for then)."""

    seen: list[bool] = []

    def __reduce__(self) -> tuple:
        Witness.seen.append(gc.isenabled())
        return (Witness, ())


@pytest.mark.parametrize("walk", ["hash", "save"])
def test_the_collector_is_off_during_a_walk_and_on_after_it(walk: str) -> None:
    Witness.seen = []
    if walk == "hash":
        hash_value([Witness()])
    else:
        serialize.dumps({"outputs": {"w": Witness()}})
    assert Witness.seen and not any(Witness.seen)
    assert gc.isenabled()


def test_a_restore_runs_with_the_collector_off() -> None:
    seen: list[bool] = []
    numbers = [[i] for i in range(2000)]  # a stream past the small ones, which hold too few objects to matter
    data = serialize.dumps({"outputs": {"n": numbers}}).data
    assert len(data) > serialize._SMALL_STREAM

    class Spy(serialize._Unpickler):  # type: ignore[name-defined]
        def load(self) -> object:
            seen.append(gc.isenabled())
            return super().load()

    original = serialize._Unpickler
    serialize._Unpickler = Spy
    try:
        assert serialize.loads(data)["outputs"] == {"n": numbers}
    finally:
        serialize._Unpickler = original
    assert seen == [False]
    assert gc.isenabled()


def test_nested_pauses_resume_at_the_last_exit_even_after_an_error() -> None:
    with pytest.raises(KeyError):
        with paused_gc:
            with paused_gc:
                assert not gc.isenabled()
            assert not gc.isenabled()
            raise KeyError("boom")
    assert gc.isenabled()


def test_a_collector_the_user_turned_off_stays_off() -> None:
    gc.disable()
    with paused_gc:
        pass
    hash_value([1, 2, 3])
    assert not gc.isenabled()


def test_threads_pausing_at_once_leave_the_collector_on() -> None:
    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        for _ in range(2000):
            with paused_gc:
                pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert gc.isenabled()
