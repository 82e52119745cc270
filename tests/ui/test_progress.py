"""The save ticker: started for every miss's save, so it must not start a thread each time."""

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
    assert len(started) <= 2, started  # the pool's two threads at most, however many tickers


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
