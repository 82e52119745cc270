"""One lock file per cache key, so that a second kernel missing on a key another kernel is computing waits for
that result instead of computing it again. POSIX advisory locks (flock): released by the kernel when the holder
exits or crashes, so a dead kernel never blocks another. Where locking is unavailable, nobody waits.

A lock file is opened without following a link and used only if it is a regular file: a link or a pipe planted at
its name is removed (the name is nbcache's) and a fresh file made, never a file at the link's target."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from nbcache.store import files

try:
    import fcntl
except ImportError:  # Windows: no waiting, both compute (still correct)
    fcntl = None  # type: ignore[assignment]

_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class KeyLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def _open_regular(self) -> int:
        for _ in range(2):
            try:
                fd = os.open(self.path, _FLAGS, 0o600)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
                    raise
            else:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    return fd
                os.close(fd)
            files.remove(self.path)  # not a lock file nbcache made: replace it
        raise OSError(errno.EEXIST, f"{self.path} keeps being replaced")

    def _open(self) -> int | None:
        if fcntl is None:
            return None
        root, folder = self.path.parent.parent, self.path.parent.name
        try:
            try:
                files.real_dir(root, folder, create=True)
            except FileNotFoundError:  # no store yet (the root is made only then: one syscall less per miss)
                root.mkdir(parents=True, exist_ok=True)
                files.real_dir(root, folder, create=True)
            return self._open_regular()
        except OSError:  # a read-only store, a linked locks folder: nothing to coordinate through
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
