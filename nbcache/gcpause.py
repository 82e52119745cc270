"""The cyclic garbage collector held off while nbcache walks a value: hashing an input, pickling or unpickling an
entry.

Those walks keep thousands of short-lived containers alive until they end (a pickler's memo holds every state
dict ``__getstate__`` returned; the hasher keeps what it has seen), so the collections they trigger find nothing to
free yet promote those containers, which brings the next full collection closer: a figure's save set off a full
collection (0.1-0.2 s with scikit-learn and matplotlib loaded) in 3 of 11 gallery examples where the plain run had
none. Paused, the containers are freed by their reference counts when the walk ends, and the collector never sees
them. Nothing the user's code runs is paused: only nbcache's own walks, which hold the collector off for as long as
they take (the user's ``__reduce__`` or ``__getstate__`` can still call ``gc.collect()``).
"""

from __future__ import annotations

import gc
import threading
from types import TracebackType


class _Paused:
    """Reentrant and shared by threads: the collector is held off from the first entry to the last exit, and turned
    back on only if it was on at the first entry (a user who turned it off keeps it off)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._resume:
                gc.enable()


# ``with paused_gc:`` around a walk.
paused_gc = _Paused()
