"""Saving progress for the panel: a bar that appears when writing an entry takes more than a second.

The store writes an entry in one call that reports nothing until it is done, so the bar advances toward the time
the write is expected to take (its approximate size at a typical write speed) and stops short of full until the
store returns. Widget updates go out from a background thread, which ipykernel's iopub channel allows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

# A typical speed for dill plus a file write; only used to pace the bar, never reported as a measurement.
EXPECTED_BYTES_PER_S = 150e6
_CAP = 0.95  # the bar never claims completion before the store has returned


def fraction(elapsed_s: float, approx_bytes: int, bytes_per_s: float = EXPECTED_BYTES_PER_S) -> float:
    """How far along the bar should be after ``elapsed_s`` of a write of ``approx_bytes``."""
    expected_s = max(approx_bytes / bytes_per_s, 1e-3)
    return min(elapsed_s / expected_s, _CAP)


# Every miss saves: its ticker runs on a thread started once, not on a thread of its own (a start and a join per
# miss cost a cheap cell about a millisecond in a kernel).
_THREAD_NAME = "nbcache-save-progress"
_tickers = ThreadPoolExecutor(max_workers=2, thread_name_prefix=_THREAD_NAME)


class SaveTicker:
    """Calls ``show(fraction)`` every ``interval_s`` once ``delay_s`` has passed, until ``stop()``."""

    def __init__(self, show: Callable[[float], None], approx_bytes: int, delay_s: float = 1.0,
                 interval_s: float = 0.25) -> None:
        self._show = show
        self._bytes = approx_bytes
        self._delay = delay_s
        self._interval = interval_s
        self._stopped = threading.Event()
        self._running: Future[None] | None = None

    def start(self) -> SaveTicker:
        self._started = time.monotonic()
        self._running = _tickers.submit(self._run)
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._running is not None and not threading.current_thread().name.startswith(_THREAD_NAME):
            self._running.result()

    def _run(self) -> None:
        if self._stopped.wait(self._delay):
            return  # a quick save shows no bar at all
        while not self._stopped.is_set():
            try:
                self._show(fraction(time.monotonic() - self._started, self._bytes))
            except Exception:  # a widget that cannot update must not disturb the save
                return
            self._stopped.wait(self._interval)
