"""One lock file per cache key, so that a second kernel missing on a key another kernel is computing waits for
that result instead of computing it again. POSIX advisory locks (flock): released by the kernel when the holder
exits or crashes, so a dead kernel never blocks another. Where locking is unavailable, nobody waits.

A lock file is opened without following a link and used only if it is a regular file: a link or a pipe planted at
its name is removed (the name is nbcache's) and a fresh file made, never a file at the link's target.

Making a key's lock file is most of what a lock costs (about 0.15 ms, a new file in a folder of many), and most
cells run for far less than anyone could wait for them: ``try_acquire(create=False)`` takes a lock whose file
exists and otherwise only says that nobody holds it (a holder makes the file before locking it), so the caller
can make and take it later, once the cell has run long enough for a second kernel's wait to be worth it."""

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

_OPEN = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_FLAGS = _OPEN | os.O_CREAT


class KeyLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """This process holds the lock."""
        return self._fd is not None

    def _open_regular(self, flags: int = _FLAGS) -> int:
        for _ in range(2):
            try:
                fd = os.open(self.path, flags, 0o600)
            except FileNotFoundError:
                raise
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
                    raise
            else:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    return fd
                os.close(fd)
            files.remove(self.path)  # not a lock file nbcache made: replace it
        raise OSError(errno.EEXIST, f"{self.path} keeps being replaced")

    def _open(self, create: bool = True) -> int | None:
        """The lock file's descriptor; None where there is nothing to coordinate through, or (``create`` false)
        no lock file yet."""
        if fcntl is None:
            return None
        root, folder = self.path.parent.parent, self.path.parent.name
        try:
            try:
                files.real_dir(root, folder, create=create)
            except FileNotFoundError:  # no store yet (the root is made only then: one syscall less per miss)
                if not create:
                    return None
                root.mkdir(parents=True, exist_ok=True)
                files.real_dir(root, folder, create=True)
            return self._open_regular(_FLAGS if create else _OPEN)
        except OSError:  # a read-only store, a linked locks folder, no lock file: nothing to coordinate through
            return None

    def try_acquire(self, create: bool = True) -> bool:
        """Take the lock if free; False only if another process holds it.

        ``create`` false: a lock file that does not exist is not made, and True says only that nobody holds the
        lock (``held`` tells whether this process took it)."""
        fd = self._open(create)
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
