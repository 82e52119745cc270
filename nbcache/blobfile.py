"""Blob files: written whole or not at all, read back only if their content hash is the one expected.

No fsync: every file is checked against a signed hash before use, so a file torn by a power cut is detected and
treated as a miss, never restored; skipping fsync keeps saving a large array near the cost of ``np.save``.
"""

from __future__ import annotations

import mmap
import os
import secrets
from pathlib import Path
from typing import Any

from blake3 import blake3

TMP_PREFIX = ".tmp-"
# Blobs at least this large are mapped copy-on-write instead of read: lazy, and the store file never changes.
MAP_MIN = 1 << 20
# Above this, hashing uses all cores.
_THREADED_MIN = 1 << 22


class BlobDamaged(Exception):
    """A blob that is missing, of the wrong size, or whose content does not match its hash."""


def digest(data: Any) -> str:
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    threads = blake3.AUTO if view.nbytes >= _THREADED_MIN else 1
    return blake3(view, max_threads=threads).hexdigest()


def write_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file in the same folder, then rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{secrets.token_hex(6)}")
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
