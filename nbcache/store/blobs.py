"""Blob files: written whole or not at all, read back only if their content hash is the one expected.

No fsync: every file is checked against a signed hash before use, so a file torn by a power cut is detected and
treated as a miss, never restored; skipping fsync keeps saving a large array near the cost of ``np.save``.
"""

from __future__ import annotations

import mmap
import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from blake3 import blake3

from nbcache.errors import BlobDamaged
from nbcache.store import files
from nbcache.store.backend import TMP_PREFIX

__all__ = ["MAP_MIN", "TMP_PREFIX", "Identity", "Verified", "digest", "may_map", "read_verified", "write_atomic",
           "write_hashed"]

# Buffers at least this large are mapped copy-on-write instead of read (where ``may_map`` allows): lazy, and the
# store file never changes.
MAP_MIN = 1 << 20
# A file identity is remembered as verified only once its times are this old: a write in the same clock tick as
# the last one could leave them unchanged.
_SETTLE_NS = 1_000_000_000
# Above this, hashing uses all cores.
_THREADED_MIN = 1 << 22
# Saving writes a chunk at a time from a helper thread while this one hashes the same chunk: the write's system
# call runs without the GIL, so with two cores the hash adds almost nothing to the write.
_CHUNK = 1 << 23


def digest(data: Any) -> str:
    view = _bytes_view(data)
    threads = blake3.AUTO if view.nbytes >= _THREADED_MIN else 1
    return blake3(view, max_threads=threads).hexdigest()


def _bytes_view(data: Any) -> memoryview:
    view = memoryview(data)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def _write_and_hash(f: Any, view: memoryview) -> str:
    hasher = blake3()
    if view.nbytes <= _CHUNK:
        hasher.update(view)
        f.write(view)
        return hasher.hexdigest()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbcache-write") as writer:
        for start in range(0, view.nbytes, _CHUNK):
            chunk = view[start:start + _CHUNK]
            written = writer.submit(f.write, chunk)
            hasher.update(chunk)
            written.result()
    return hasher.hexdigest()


def write_hashed(folder: Path, data: Any, claim: files.Claim | None = None) -> str:
    """Store ``data`` in ``folder`` under its blake3 hash, hashing while writing; return the hash.

    The file is made read-only before it is renamed into place (nobody edits a blob; see ``may_map``). If a blob of
    that name exists it is kept (same name, same content) and its time refreshed, so that a sweep does not take it
    while the caller's manifest is on its way.
    """
    view = _bytes_view(data)
    fd, tmp = files.create_temporary(folder, "blob", claim)
    try:
        with open(fd, "wb") as f:
            name = _write_and_hash(f, view)
            os.fchmod(f.fileno(), 0o444)
        final = folder / name
        if claim is not None:
            claim(final)
        if os.path.lexists(final) and _is_regular(final):
            os.utime(final, follow_symlinks=False)
            tmp.unlink()
        else:
            files.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return name


def _is_regular(path: Path) -> bool:
    return stat.S_ISREG(os.lstat(path).st_mode)


def write_atomic(path: Path, data: Any, claim: files.Claim | None = None) -> None:
    """Write to a temporary file in the same folder, then rename: readers see the old file or the new one."""
    fd, tmp = files.create_temporary(path.parent, path.name, claim)
    try:
        with open(fd, "wb") as f:
            f.write(data)
        files.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Identity(NamedTuple):
    """What changes whenever a file's content may have: a rewrite changes ctime, a replacement the inode.
    A tuple: every hit makes two (a frozen dataclass cost five ``object.__setattr__`` calls each)."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Identity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def settled(self) -> bool:
        """Old enough that a later write cannot share its timestamps (file times tick coarsely)."""
        return time.time_ns() - max(self.mtime_ns, self.ctime_ns) > _SETTLE_NS


class Verified(Protocol):
    """Remembers which file identities were found to hold which blob (see ``index.py``)."""

    def seen(self, blob: str, identity: Identity) -> bool: ...

    def remember(self, blob: str, identity: Identity) -> None: ...


def may_map(st: os.stat_result) -> bool:
    """Mapping is safe only for a file nobody but its owner, this user, could ever change: owned by us and read-only
    to everyone (nbcache writes blobs so). Anything else is copied and the copy is verified."""
    return st.st_uid == os.geteuid() and not st.st_mode & 0o222


def _make_read_only(fd: int, st: os.stat_result) -> os.stat_result:
    """A blob of ours written before blobs were read-only: make it so, then it may be mapped next time."""
    if st.st_uid == os.geteuid() and st.st_mode & 0o222:
        try:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & ~0o222)
        except OSError:
            pass
    return st


def _copy(fd: int, size: int) -> bytearray:
    data = bytearray(size)  # writable, as the original buffer was
    view, done = memoryview(data), 0
    while done < size:
        got = os.readv(fd, [view[done:]])
        if not got:
            raise BlobDamaged("its data is shorter than recorded")
        done += got
    return data


def _check(data: Any, expected: str) -> None:
    if digest(data) != expected:
        raise BlobDamaged("its data does not match its recorded hash (corrupted or tampered with)")


def _read_buffer(fd: int, st: os.stat_result, expected: str, verified: Verified | None) -> Any:
    size, identity = st.st_size, Identity.of(st)
    if size < MAP_MIN or not may_map(st):
        data = _copy(fd, size)
        _check(data, expected)  # the copy is what was checked, and what is used
        _make_read_only(fd, st)
        return data
    # ACCESS_COPY: the user may write to the restored array; the pages are copied, the file never changes.
    mapped = memoryview(mmap.mmap(fd, size, access=mmap.ACCESS_COPY))
    if verified is not None and verified.seen(expected, identity):
        return mapped
    _check(mapped, expected)
    if verified is not None and identity.settled():
        verified.remember(expected, identity)
    return mapped


def read_verified(path: Path, expected: str, size: int, verified: Verified | None = None,
                  pickle_stream: bool = False) -> Any:
    """The blob's content (a writable buffer) after checking its size and hash; BlobDamaged otherwise.

    A pickle stream is always read into memory and that copy hashed: the bytes unpickled are the bytes verified.
    An out-of-band buffer (raw array data, never executed) is mapped where ``may_map`` allows, and its hash then
    checked once per file identity (``verified``), else copied and the copy checked.
    """
    try:
        fd = files.open_regular(path)
    except OSError as exc:
        raise BlobDamaged(f"its data is missing ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if st.st_size != size:
            raise BlobDamaged(f"its data has {st.st_size} bytes instead of {size} (truncated or replaced)")
        if pickle_stream:
            data = _copy(fd, size)
            _check(data, expected)
            return data
        return _read_buffer(fd, st, expected, verified)
    except OSError as exc:
        raise BlobDamaged(f"its data could not be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
