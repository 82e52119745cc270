"""One lock file per cache key, so that a second kernel missing on a key another kernel is computing waits for
that result instead of computing it again. POSIX advisory locks (flock): released by the kernel when the holder
exits or crashes, so a dead kernel never blocks another. Where locking is unavailable, nobody waits."""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no waiting, both compute (still correct)
    fcntl = None  # type: ignore[assignment]


class KeyLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def _open(self) -> int | None:
        if fcntl is None:
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:  # a read-only store: nothing to coordinate through
            return None

    def try_acquire(self) -> bool:
        """Take the lock if free; False only if another process holds it."""
        fd = self._open()
        if fd is None:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:
            os.close(fd)
            return True
        self._fd = fd
        return True

    def wait(self) -> None:
        """Block until the holder is done (or dies); then hold the lock."""
        fd = self._open()
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:  # interrupted by the user: give the descriptor back and let it propagate
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None
