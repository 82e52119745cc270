"""The key that signs store entries: a team secret from the environment, or a per-user random key on disk.

A key is refused (``KeyRefused``, with a message saying what to do) if it is shorter than 32 bytes, since a short or
empty key makes every signature forgeable, or if its file is not a regular file. A key file others can read is
used with a warning. A new key is created with mode 0600 in a folder only the user can enter.
"""

from __future__ import annotations

import os
import secrets
import stat
import warnings
from pathlib import Path

from nbcache import config
from nbcache.errors import CacheWarning, StoreError

MIN_KEY_BYTES = 32
_HOW = "make one with: python -c 'import secrets; print(secrets.token_hex(32))'"
_warned: set[Path] = set()


class KeyRefused(StoreError):
    """The signing key cannot be used: too short, empty, or not a readable regular file."""


def _private_folder(folder: Path) -> None:
    """Create the key's folder 0700; nbcache's own folder (named nbcache, ours) is made private if it was not."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = folder.stat()
    if st.st_mode & 0o077 and folder.name == "nbcache" and st.st_uid == os.geteuid():
        folder.chmod(0o700)


def _create(path: Path) -> None:
    """Write a new key without ever exposing a partial one; if another process wins the race, keep its key."""
    _private_folder(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if the key exists: first writer wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def _checked(key: bytes, where: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise KeyRefused(f"the signing key in {where} has {len(key)} bytes; nbcache needs at least "
                         f"{MIN_KEY_BYTES} ({_HOW})")
    return key


def _read_key_file(path: Path) -> bytes:
    try:
        # A link to a key file is fine; a pipe must not hang us: open without blocking, then check the type.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise KeyRefused(f"cannot read the key file {path} ({exc.strerror or exc}); fix or remove it "
                         "(NBCACHE_SECRET_FILE)") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyRefused(f"the key file {path} is not a regular file; remove it and nbcache makes a new one "
                             "(NBCACHE_SECRET_FILE)")
        if st.st_mode & 0o044 and path not in _warned:
            _warned.add(path)
            warnings.warn(f"nbcache: the key file {path} can be read by others, who could forge cache entries "
                          f"that run code in your kernels; chmod 600 {path}", CacheWarning, stacklevel=4)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(1 << 16).strip()
    finally:
        os.close(fd)


def load_secret() -> bytes:
    """$NBCACHE_KEY if set (shared by a team), else the per-user key, created with mode 0600 on first use."""
    team = config.team_key()
    if team:
        return _checked(team.encode(), "NBCACHE_KEY")
    path = config.secret_path()
    if not os.path.lexists(path):
        _create(path)
    return _checked(_read_key_file(path), str(path))
