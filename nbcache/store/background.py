"""Hit statistics off the hit path: a hit is counted in memory, and the counts reach the store in batches.

Writing a stats file (and its index row) costs about a millisecond, several times a trivial cell; done per hit,
even from a thread, it competes with the next cells for the interpreter. So a hit only adds to a counter here;
one flusher thread, started once, writes what gathered a moment after the first hit of a batch. Whoever reads the
statistics in this process (``%cache_info``, clearing, unloading) calls ``wait()``, which writes them at once; at
interpreter exit they are written too, so a kernel that stops normally loses none.
"""

from __future__ import annotations

import atexit
import threading
import time
from dataclasses import dataclass
from typing import Protocol

# How long hits gather before they are written: other kernels and the command line see them this late at most.
FLUSH_AFTER_S = 1.0


class HitRecorder(Protocol):
    def record_hit(self, key: str, saved_s: float, hits: int = 1, last_used: float | None = None) -> None: ...


@dataclass
class _Hits:
    store: HitRecorder
    key: str
    count: int = 0
    saved_s: float = 0.0
    last_used: float = 0.0


_pending: dict[tuple[int, str], _Hits] = {}
_pending_lock = threading.Lock()
# Held while a batch is written, so that wait() returns only once a batch the flusher took is on disk too.
_writing = threading.Lock()
_due = threading.Event()  # set: a batch is gathering
_now = threading.Event()  # set: write it without waiting out FLUSH_AFTER_S (at exit)
_flusher: threading.Thread | None = None


def _flush() -> None:
    with _writing:
        with _pending_lock:
            batch = list(_pending.values())
            _pending.clear()
        for hits in batch:
            try:
                hits.store.record_hit(hits.key, hits.saved_s, hits.count, hits.last_used)
            except Exception:  # statistics are best effort, never the user's work
                pass


def _flush_loop() -> None:
    while True:
        _due.wait()
        _now.wait(FLUSH_AFTER_S)  # let the batch gather: a notebook's run of hits becomes one write per entry
        _due.clear()
        _flush()


def _start_flusher() -> None:
    global _flusher
    # A daemon: it never holds up the interpreter's exit, where _at_exit writes what is left instead.
    _flusher = threading.Thread(target=_flush_loop, name="nbcache-stats", daemon=True)
    _flusher.start()


def record_hit(store: HitRecorder, key: str, saved_s: float) -> None:
    """Count one hit of ``key`` in ``store`` (``saved_s``: the time it saved); written within FLUSH_AFTER_S."""
    with _pending_lock:
        hits = _pending.get((id(store), key))
        if hits is None:
            hits = _pending[id(store), key] = _Hits(store, key)
        hits.count += 1
        hits.saved_s += max(saved_s, 0.0)
        hits.last_used = time.time()
        if _flusher is None:
            _start_flusher()
    if not _due.is_set():  # set() takes a lock and wakes the flusher: once per batch is enough
        _due.set()


def wait() -> None:
    """Write every hit counted so far, e.g. before listing the store's statistics or clearing it."""
    _flush()


@atexit.register
def _at_exit() -> None:
    _now.set()
    _flush()
