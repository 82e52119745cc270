"""File content digests with a fast path: a file is re-read only when its size, mtime or inode changed.

The fast path never decides that a file *changed*: any change of its stat re-hashes the content, and the key
uses the content digest, so touching a file (same bytes, new mtime) still hits. It decides that a file is
*unchanged* only when its stat is identical and its mtime is safely older than the moment it was hashed: a
write within the same clock tick as the hash (a "racily clean" file, as git calls it) could keep size and mtime.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from blake3 import blake3

# A file modified less than this long before it was hashed is hashed again next time.
_RACY_S = 2.0
_MEMO_LIMIT = 4096


@dataclass(frozen=True)
class _Seen:
    stat: tuple[int, int, int, int]
    hashed_at: float
    digest: bytes


_memo: dict[str, _Seen] = {}


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def _read_digest(path: str, size: int) -> bytes:
    h = blake3(max_threads=blake3.AUTO)
    if size:
        h.update_mmap(path)  # memory-mapped: a large file is never read into memory as one copy
    return h.digest()


def file_digest(path: str) -> bytes:
    """blake3 of the file's bytes. Raises OSError if it cannot be read."""
    real = os.path.realpath(path)
    st = os.stat(real)
    stat = _stat_key(st)
    seen = _memo.get(real)
    if seen is not None and seen.stat == stat and st.st_mtime_ns / 1e9 < seen.hashed_at - _RACY_S:
        return seen.digest
    hashed_at = time.time()
    digest = _read_digest(real, st.st_size)
    if len(_memo) >= _MEMO_LIMIT:
        _memo.clear()
    _memo[real] = _Seen(stat, hashed_at, digest)
    return digest


# A folder with more entries than this is not keyed by its listing: the cell runs uncached, naming it.
FOLDER_LIMIT = 20_000


class FolderTooLarge(Exception):
    """A folder a cell lists or reads through has more than FOLDER_LIMIT entries."""


def folder_digest(path: str) -> bytes:
    """blake3 over a folder's listing, recursively: each entry's name and, for a file, its content digest, so a
    new, removed or edited file is a change. Hidden folders (``.git``, ``.nbcache``, ``.ipynb_checkpoints``) and
    ``__pycache__`` count by name only: their content is tools' bookkeeping, and the store itself lives there."""
    h = blake3()
    count = 0
    for root, dirs, files in os.walk(path):
        entries = sorted(dirs + files)
        count += len(entries)
        if count > FOLDER_LIMIT:
            raise FolderTooLarge(path)
        h.update(f"dir:{os.path.relpath(root, path)}:{len(entries)}\0".encode())
        for name in sorted(files):
            full = os.path.join(root, name)
            h.update(f"{name}\0".encode())
            try:
                h.update(file_digest(full))
            except OSError as exc:  # a dangling link, a file removed meanwhile
                h.update(f"unreadable:{exc.errno}".encode())
        h.update(("\0".join(sorted(dirs)) + "\1").encode())
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
    return h.digest()
