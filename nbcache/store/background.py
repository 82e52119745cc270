"""Best-effort bookkeeping off the hit path: a hit must not wait for a usage-statistics file to reach the disk."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

# One worker runs the jobs in order, so waiting for the last one waits for all; concurrent.futures joins it at
# interpreter exit, so nothing submitted is lost.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbcache")
_last: Future[Any] | None = None


def submit(fn: Callable[..., Any], *args: Any) -> None:
    """Run fn(*args) in the background; its exceptions are dropped (it is bookkeeping, never the user's work)."""
    global _last
    _last = _executor.submit(fn, *args)


def wait() -> None:
    """Block until everything submitted so far is done, e.g. before listing the store's statistics."""
    if _last is not None:
        _last.exception()
