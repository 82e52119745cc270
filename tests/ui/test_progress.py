"""The tickers: started for every miss (its running badge, its save), so they must not start a thread each time."""

from __future__ import annotations

import threading

import pytest

from nbcache.ui.progress import SaveTicker


def test_tickers_share_their_threads_and_stop_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    started = []
    start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self: (started.append(self.name), start(self))[1])
    for _ in range(6):
        SaveTicker(lambda fraction: None, 1000, delay_s=60.0).start().stop()  # stops at once, mid-delay
    assert len(started) <= 1, started  # the schedule's one thread at most, however many tickers


def test_a_ticker_shows_progress_after_its_delay_until_stopped() -> None:
    shown = threading.Event()
    ticker = SaveTicker(lambda fraction: shown.set(), 10**9, delay_s=0.0, interval_s=0.01).start()
    assert shown.wait(30)
    ticker.stop()
    shown.clear()
    assert not shown.wait(0.05)


def test_stopping_a_ticker_waits_for_a_tick_under_way_and_none_starts_after() -> None:
    ticking, release, ticks = threading.Event(), threading.Event(), []

    def tick(fraction: float) -> None:
        ticks.append(fraction)
        ticking.set()
        release.wait(30)

    ticker = SaveTicker(tick, 10**9, delay_s=0.0, interval_s=0.001).start()
    assert ticking.wait(30)
    stopper = threading.Thread(target=ticker.stop)
    stopper.start()
    stopper.join(0.05)
    assert stopper.is_alive()  # waits for the tick under way
    release.set()
    stopper.join(30)
    count = len(ticks)
    threading.Event().wait(0.05)
    assert len(ticks) == count == 1


def test_a_ticker_due_sooner_than_the_others_still_ticks_on_time() -> None:
    """The schedule's thread sleeps until the earliest ticker is due; one due sooner wakes it."""
    late = SaveTicker(lambda fraction: None, 1000, delay_s=60.0).start()
    shown = threading.Event()
    soon = SaveTicker(lambda fraction: shown.set(), 1000, delay_s=0.0).start()
    try:
        assert shown.wait(30)
    finally:
        soon.stop()
        late.stop()
