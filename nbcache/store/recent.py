"""What a store read and verified lately, so that the next hit of the same entry re-reads none of it.

A hit of a small cell is mostly file opens: the manifest (read, parsed, its signature checked) and the pickle
stream (read, hashed). Both are remembered here, each in the way that keeps "never use unverified bytes" true:

- a manifest under the identity of the file it came from (device, inode, size, times): while its name holds
  that very file the content is the one verified, since a rewrite changes the times and a replacement the
  inode. As for mapped blobs, an identity counts only once settled (a write within the same clock tick could
  leave the times unchanged), so a manifest saved a moment ago is read again until it is a second old;
- a pickle stream the same way, under its blob file's identity: the bytes kept are the bytes that were hashed,
  and a blob file damaged or removed since is noticed as it would be without this memory.

What this process has just saved is remembered at once, unsettled, under the identity of the files it wrote: the
bytes are its own (the stream hashes to its blob's name, the manifest is the one it signed), so nothing unverified
can reach the unpickler, and re-running a notebook in the same kernel hits without reading back what it wrote.
nbcache replaces files by renaming (a new inode), so another kernel's save or eviction is noticed as before;
only an edit of the file in place within the same clock tick could go unseen, and what is used is then the
entry as this process saved it under that key.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbcache.store.blobs import Identity

# A notebook's worth of entries; a manifest is a few kilobytes.
MANIFESTS = 1024
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


@dataclass
class _Read:
    path: Path
    identity: Identity
    content: Any  # a verified manifest (a dict, shared: read-only) or a pickle stream (bytes)
    decoded: Any = None  # what a stream's loader kept of its payload, to hand out again (``decoded``)


class RecentReads:
    """Verified manifests (by entry key) and pickle streams (by blob hash) with the identity of the file each came
    from, least recently used dropped first."""

    def __init__(self) -> None:
        self._manifests: OrderedDict[str, _Read] = OrderedDict()
        self._streams: OrderedDict[str, _Read] = OrderedDict()
        self._stream_bytes = 0

    def manifest_path(self, key: str) -> Path | None:
        """Where ``key``'s manifest was read from last (the same Path object: its hash is computed already)."""
        found = self._manifests.get(key)
        return None if found is None else found.path

    def manifest(self, key: str, now: Identity | None) -> dict[str, Any] | None:
        """The manifest verified before if its name still holds the very file it came from (``now``)."""
        found = self._manifests.get(key)
        if found is None or now is None or found.identity != now:
            return None
        self._manifests.move_to_end(key)
        return found.content

    def remember_manifest(self, key: str, path: Path, read_from: Identity | None, manifest: dict[str, Any],
                          written: bool = False) -> None:
        """``manifest`` was verified from ``path`` while it held the file ``read_from`` (before and after the read);
        None: it changed meanwhile, remember nothing. ``written``: this process wrote it (settled or not)."""
        if read_from is None or not (written or read_from.settled()):
            self._manifests.pop(key, None)
            return
        self._manifests[key] = _Read(path, read_from, manifest)
        self._manifests.move_to_end(key)
        while len(self._manifests) > MANIFESTS:
            self._manifests.popitem(last=False)

    def stream(self, blob: str) -> bytes | None:
        """The pickle stream read and hashed before, if its file is still the very one it came from."""
        found = self._streams.get(blob)
        if found is None or identity(found.path) != found.identity:
            return None
        self._streams.move_to_end(blob)
        return found.content

    def decoded(self, blob: str, data: bytes) -> Any:
        """What was kept of the payload unpickled from ``data``, if ``data`` is the stream held for ``blob`` (just
        returned by ``stream``, its file's identity checked); else None."""
        found = self._streams.get(blob)
        return found.decoded if found is not None and found.content is data else None

    def remember_decoded(self, blob: str, data: bytes, payload: Any) -> None:
        """``payload`` (or what its loader makes of it) came from ``data``, the stream held for ``blob``, and may be
        handed out again: its loader said so (immutable values, no reference into the namespace). Forgotten with
        the stream."""
        found = self._streams.get(blob)
        if found is not None and found.content is data:
            found.decoded = payload

    def remember_stream(self, blob: str, path: Path, read_from: Identity | None, data: bytes,
                        written: bool = False) -> None:
        """``data`` hashed to ``blob`` and came from ``path`` holding the file ``read_from``; kept only if small.
        ``written``: this process wrote ``data`` there (settled or not)."""
        if read_from is None or not (written or read_from.settled()) or len(data) > STREAM_MAX:
            return
        old = self._streams.pop(blob, None)
        self._stream_bytes += len(data) - (len(old.content) if old else 0)
        self._streams[blob] = _Read(path, read_from, data)
        while self._stream_bytes > _STREAMS_TOTAL:
            self._stream_bytes -= len(self._streams.popitem(last=False)[1].content)
