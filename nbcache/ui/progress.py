"""Saving progress for the panel: a bar that appears when writing an entry takes more than a second.

The store writes an entry in one call that reports nothing until it is done, so the bar advances toward the time
the write is expected to take (its approximate size at a typical write speed) and stops short of full until the
store returns. Widget updates go out from a background thread, which ipykernel's iopub channel allows.
"""

from __future__ import annotations

import heapq
import os
import threading
import time
from collections.abc import Callable

# A typical speed for dill plus a file write; only used to pace the bar, never reported as a measurement.
EXPECTED_BYTES_PER_S = 150e6
_CAP = 0.95  # the bar never claims completion before the store has returned


def fraction(elapsed_s: float, approx_bytes: int, bytes_per_s: float = EXPECTED_BYTES_PER_S) -> float:
    """How far along the bar should be after ``elapsed_s`` of a write of ``approx_bytes``."""
    expected_s = max(approx_bytes / bytes_per_s, 1e-3)
    return min(elapsed_s / expected_s, _CAP)


class _Schedule:
    """One thread that runs every ticker's ticks when they are due.

    Every miss starts up to three tickers (its key's lock, a panel's "running" badge, its save's bar) and almost
    always stops them long before they are due. Waking a thread for each start and each stop cost a cheap cell
    in a kernel about as much as the rest of its panel (each wake competes with the cell for the interpreter
    lock), so neither wakes it: a start wakes the thread only when it is idle or due later than the new ticker,
    a stop only marks the ticker, and the thread drops stopped tickers when it next wakes.
    """

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Ticker]] = []  # a heap by due time
        self._count = 0  # ties in the heap go by order of scheduling, never to comparing tickers
        self._changed = threading.Condition()
        self._wake_at: float | None = None  # when the thread will look next; None: idle (or not started)
        self._thread: threading.Thread | None = None

    def add(self, ticker: Ticker, delay_s: float) -> None:
        due = time.monotonic() + delay_s
        with self._changed:
            self._count += 1
            heapq.heappush(self._due, (due, self._count, ticker))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="nbcache-progress", daemon=True)
                self._thread.start()
            elif self._wake_at is None or due < self._wake_at:
                self._changed.notify()

    def _next(self) -> Ticker:
        """The next ticker that is due and not stopped, waiting for it."""
        with self._changed:
            while True:
                while self._due and self._due[0][2].stopped:
                    heapq.heappop(self._due)
                now = time.monotonic()
                if self._due and self._due[0][0] <= now:
                    self._wake_at = now
                    return heapq.heappop(self._due)[2]
                self._wake_at = self._due[0][0] if self._due else None
                self._changed.wait(None if self._wake_at is None else self._wake_at - now)

    def _run(self) -> None:
        while True:
            ticker = self._next()
            again = ticker.tick()
            if again is not None:
                self.add(ticker, again)


_schedule = _Schedule()


def _forked() -> None:
    global _schedule  # a forked child has no schedule thread (nor a usable lock): it starts its own
    _schedule = _Schedule()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


class Ticker:
    """Calls ``tick()`` once ``delay_s`` has passed, then every ``interval_s`` (or only once, without one), until
    ``stop()``. Most are stopped before their delay: neither the start nor the stop wakes a thread then."""

    def __init__(self, tick: Callable[[], None], delay_s: float, interval_s: float | None = None) -> None:
        self._tick = tick
        self._delay = delay_s
        self._interval = interval_s
        self.stopped = False
        # Held while a tick runs: ``stop`` waits for one under way (never for the delay), and none starts after.
        # Reentrant: a tick may stop its own ticker.
        self._ticking = threading.RLock()

    def start(self) -> Ticker:
        _schedule.add(self, self._delay)
        return self

    def stop(self) -> None:
        self.stopped = True
        with self._ticking:
            pass

    def tick(self) -> float | None:
        """One tick (on the schedule's thread); the seconds until the next, None for none."""
        with self._ticking:
            if self.stopped:
                return None
            try:
                self._tick()
            except Exception:  # a widget that cannot update must not disturb the cell or the save
                return None
        return None if self._interval is None or self.stopped else self._interval


class SaveTicker(Ticker):
    """Calls ``show(fraction)`` every ``interval_s`` once ``delay_s`` has passed, until ``stop()``."""

    def __init__(self, show: Callable[[float], None], approx_bytes: int, delay_s: float = 1.0,
                 interval_s: float = 0.25) -> None:
        super().__init__(self._advance, delay_s, interval_s)
        self._show = show
        self._bytes = approx_bytes
        self._started = time.monotonic()

    def start(self) -> SaveTicker:
        self._started = time.monotonic()
        super().start()
        return self

    def _advance(self) -> None:
        self._show(fraction(time.monotonic() - self._started, self._bytes))
