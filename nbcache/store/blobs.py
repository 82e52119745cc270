"""Blob files: written whole or not at all, read back only if their content hash is the one expected.

No fsync: every file is checked against a signed hash before use, so a file torn by a power cut is detected and
treated as a miss, never restored; skipping fsync keeps saving a large array near the cost of ``np.save``.
"""

from __future__ import annotations

import mmap
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from blake3 import blake3

from nbcache.errors import BlobDamaged
from nbcache.store.backend import TMP_PREFIX

# Blobs at least this large are mapped copy-on-write instead of read: lazy, and the store file never changes.
MAP_MIN = 1 << 20
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


def _temporary(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{TMP_PREFIX}{name}.{secrets.token_hex(6)}"


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


def write_hashed(folder: Path, data: Any) -> str:
    """Store ``data`` in ``folder`` under its blake3 hash, hashing while writing; return the hash.

    If a blob of that name exists it is kept (same name, same content) and its time refreshed, so that a sweep
    does not take it while the caller's manifest is on its way.
    """
    view = _bytes_view(data)
    tmp = _temporary(folder, "blob")
    try:
        with open(tmp, "wb") as f:
            name = _write_and_hash(f, view)
        final = folder / name
        if final.exists():
            os.utime(final)
            tmp.unlink()
        else:
            os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return name


def write_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file in the same folder, then rename: readers see the old file or the new one."""
    tmp = _temporary(path.parent, path.name)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read(f: Any, size: int) -> Any:
    if size >= MAP_MIN:
        # ACCESS_COPY: the user may write to the restored array; the pages are copied, the file never changes.
        return memoryview(mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY))
    data = bytearray(size)  # writable, as the original buffer was
    if f.readinto(data) != size:
        raise BlobDamaged("its data is shorter than recorded")
    return data


def read_verified(path: Path, expected: str, size: int) -> Any:
    """The blob's content (a writable buffer) after checking its size and hash; BlobDamaged otherwise."""
    try:
        with open(path, "rb") as f:
            actual = os.fstat(f.fileno()).st_size
            if actual != size:
                raise BlobDamaged(f"its data has {actual} bytes instead of {size} (truncated or replaced)")
            data = _read(f, size)
    except OSError as exc:
        raise BlobDamaged(f"its data is missing ({exc.strerror or exc})") from None
    if digest(data) != expected:
        raise BlobDamaged("its data does not match its recorded hash (corrupted or tampered with)")
    return data
