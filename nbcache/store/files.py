"""Files in a store folder, touched the way a hostile folder requires: no link followed, no pipe opened.

Everything nbcache reads or writes in a store goes through here, so four rules hold everywhere:

- a store subfolder (``blobs``, ``entries``...) must be a real directory, never a symbolic link: nbcache creates,
  writes and deletes nothing through a link to outside the store;
- a file is opened with ``O_NOFOLLOW | O_NONBLOCK`` and used only if it is a regular file, so a named pipe, a
  device or a directory where a file belongs is damage (a miss), never a hang;
- only names nbcache gives are ever removed (the callers pass those names; see ``layout.py``);
- temporary files carry their writer's process id and host, so a sweep removes those of a dead writer at once.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import socket
import stat
from collections.abc import Callable
from pathlib import Path

from blake3 import blake3

from nbcache.store.backend import TMP_PREFIX

# A manifest or statistics file larger than this is damage, not something to parse.
MAX_SMALL_FILE = 16 << 20
_HOST = blake3(socket.gethostname().encode()).hexdigest()[:8]
_TMP = re.compile(rf"^{re.escape(TMP_PREFIX)}(?P<pid>\d+)@(?P<host>[0-9a-f]{{8}})\.")
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class NotInStore(OSError):
    """A path that would lead outside the store (a linked subfolder) or is not of the expected type."""


def real_dir(root: Path, *parts: str, create: bool = False) -> Path:
    """``root/parts...``, each part a real directory (created if asked); NotInStore if one is a link."""
    path = root
    for part in parts:
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            if not create:
                raise
            try:
                os.mkdir(path)
            except FileExistsError:
                pass
            mode = os.lstat(path).st_mode
        if not stat.S_ISDIR(mode):
            raise NotInStore(errno.ELOOP, f"{path} is not a folder of the store (a link, or a file)")
    return path


def temporary_name(name: str) -> str:
    return f"{TMP_PREFIX}{os.getpid()}@{_HOST}.{secrets.token_hex(6)}.{name}"


def writer_gone(name: str) -> bool:
    """True for a temporary file whose writer ran on this host and is no longer alive."""
    match = _TMP.match(name)
    return match is not None and _gone(match["pid"], match["host"])


def new_owner() -> str:
    """A writer's name for the files it claims while saving (see ``Index.claim``): its process, host, a token."""
    return f"{os.getpid()}@{_HOST}.{secrets.token_hex(4)}"


def owner_gone(owner: str) -> bool:
    match = re.match(r"^(\d+)@([0-9a-f]{8})\.", owner)
    return match is not None and _gone(match[1], match[2])


def _gone(pid: str, host: str) -> bool:
    if host != _HOST:  # another machine's writer: its life cannot be checked from here
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False
    return False


def open_regular(path: Path) -> int:
    """A read descriptor on a regular file; NotInStore for a link, pipe, device or directory."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise NotInStore(exc.errno, f"{path.name} is not a regular file") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotInStore(errno.EINVAL, f"{path.name} is not a regular file (a pipe, device or folder)")
    os.set_blocking(fd, True)
    return fd


def read_small(path: Path, limit: int = MAX_SMALL_FILE) -> bytes:
    """The whole of a small regular file; NotInStore for any other kind of file or one over ``limit`` bytes."""
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise NotInStore(errno.EFBIG, f"{path.name} is {size} bytes, too large to be nbcache's")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit + 1)[:limit]
    finally:
        os.close(fd)


Claim = Callable[[Path], None]


def create_temporary(folder: Path, name: str, claim: Claim | None = None) -> tuple[int, Path]:
    """A new temporary file in ``folder`` (never an existing file, never through a link): its fd and path.

    ``claim`` is told the path before the file exists, so that if this process dies the next save removes it."""
    path = folder / temporary_name(name)
    if claim is not None:
        claim(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return os.open(path, flags, 0o644), path


def remove(path: Path) -> bool:
    """Remove what lies at a name nbcache gave: a file, a link (not its target), or a folder put there by mistake.

    False if there was nothing; OSError (permissions, read-only) propagates.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)  # fd-based on Linux: follows no link inside
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
    return True


def replace(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` over ``path``; a folder squatting at ``path`` is removed first (it is never nbcache's)."""
    try:
        os.replace(tmp, path)
    except IsADirectoryError:
        remove(path)
        os.replace(tmp, path)
