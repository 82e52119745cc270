"""What a store read and verified lately, so that the next hit of the same entry re-reads none of it.

A hit of a small cell is mostly file opens: the manifest (read, parsed, its signature checked) and the pickle
stream (read, hashed). Both are remembered here, each in the way that keeps "never use unverified bytes" true:

- a manifest under the identity of the file it came from (device, inode, size, times): while its name holds
  that very file the content is the one verified, since a rewrite changes the times and a replacement the
  inode. As for mapped blobs, an identity counts only once settled (a write within the same clock tick could
  leave the times unchanged), so a manifest saved a moment ago is read again until it is a second old;
- a pickle stream the same way, under its blob file's identity: the bytes kept are the bytes that were hashed,
  and a blob file damaged or removed since is noticed as it would be without this memory.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from nbcache.store.blobs import Identity

# A notebook's worth of entries; a manifest is a few kilobytes.
_MANIFESTS = 1024
# Small streams only (a trivial cell's is a few hundred bytes): large ones cost their read less than their
# unpickling, and memory is the user's.
STREAM_MAX = 1 << 16
_STREAMS_TOTAL = 16 << 20


def identity(path: Path) -> Identity | None:
    """Which file a name holds now, None if none. Not the inode alone: a manifest removed and saved again at once
    may get the freed inode number back, and a reader must still see that the file changed under it."""
    try:
        return Identity.of(os.lstat(path))
    except OSError:
        return None


class RecentReads:
    """Verified manifests and pickle streams by file identity, least recently used dropped first."""

    def __init__(self) -> None:
        self._manifests: OrderedDict[Path, tuple[Identity, dict[str, Any]]] = OrderedDict()
        self._streams: OrderedDict[str, tuple[Identity, bytes]] = OrderedDict()
        self._stream_bytes = 0

    def manifest(self, path: Path, now: Identity | None) -> dict[str, Any] | None:
        """The manifest verified from ``path`` if the name still holds that file (read-only: shared by hits)."""
        found = self._manifests.get(path)
        if found is None or now is None or found[0] != now:
            return None
        self._manifests.move_to_end(path)
        return found[1]

    def remember_manifest(self, path: Path, read_from: Identity | None, manifest: dict[str, Any]) -> None:
        """``manifest`` was verified from the file of identity ``read_from`` (taken before and after the read)."""
        if read_from is None or not read_from.settled():
            self._manifests.pop(path, None)
            return
        self._manifests[path] = (read_from, manifest)
        self._manifests.move_to_end(path)
        while len(self._manifests) > _MANIFESTS:
            self._manifests.popitem(last=False)

    def stream(self, blob: str, now: Identity | None) -> bytes | None:
        found = self._streams.get(blob)
        if found is None or now is None or found[0] != now:
            return None
        self._streams.move_to_end(blob)
        return found[1]

    def remember_stream(self, blob: str, read_from: Identity | None, data: bytes) -> None:
        """``data`` hashed to ``blob`` and came from the file of identity ``read_from``; kept only if small."""
        if read_from is None or not read_from.settled() or len(data) > STREAM_MAX:
            return
        old = self._streams.pop(blob, None)
        self._stream_bytes += len(data) - (len(old[1]) if old else 0)
        self._streams[blob] = (read_from, data)
        while self._stream_bytes > _STREAMS_TOTAL:
            self._stream_bytes -= len(self._streams.popitem(last=False)[1][1])
