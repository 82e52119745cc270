"""Saving progress for the panel: a bar that appears when writing an entry takes more than a second.

The store writes an entry in one call that reports nothing until it is done, so the bar advances toward the time
the write is expected to take (its approximate size at a typical write speed) and stops short of full until the
store returns. Widget updates go out from a background thread, which ipykernel's iopub channel allows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

# A typical speed for dill plus a file write; only used to pace the bar, never reported as a measurement.
EXPECTED_BYTES_PER_S = 150e6
_CAP = 0.95  # the bar never claims completion before the store has returned


def fraction(elapsed_s: float, approx_bytes: int, bytes_per_s: float = EXPECTED_BYTES_PER_S) -> float:
    """How far along the bar should be after ``elapsed_s`` of a write of ``approx_bytes``."""
    expected_s = max(approx_bytes / bytes_per_s, 1e-3)
    return min(elapsed_s / expected_s, _CAP)


# Every miss saves: its ticker runs on a thread started once, not on a thread of its own (a start and a join per
# miss cost a cheap cell about a millisecond in a kernel). Two: a panel's "running" ticker and its save ticker.
_tickers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nbcache-progress")


class Ticker:
    """Calls ``tick()`` once ``delay_s`` has passed, then every ``interval_s`` (or only once, without one), until
    ``stop()``. Most are stopped before their delay: a stop costs no wait for the thread then."""

    def __init__(self, tick: Callable[[], None], delay_s: float, interval_s: float | None = None) -> None:
        self._tick = tick
        self._delay = delay_s
        self._interval = interval_s
        self._stopped = threading.Event()
        # Held while a tick runs: ``stop`` waits for one under way (never for the delay), and none starts after.
        # Reentrant: a tick may stop its own ticker.
        self._ticking = threading.RLock()

    def start(self) -> Ticker:
        _tickers.submit(self._run)
        return self

    def stop(self) -> None:
        self._stopped.set()
        with self._ticking:
            pass

    def _run(self) -> None:
        wait = self._delay
        while not self._stopped.wait(wait):
            with self._ticking:
                if self._stopped.is_set():
                    return
                try:
                    self._tick()
                except Exception:  # a widget that cannot update must not disturb the cell or the save
                    return
            if self._interval is None:
                return
            wait = self._interval


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
