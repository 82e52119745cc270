"""Where a store keeps its bytes: a small protocol, so a local folder and an object store are interchangeable.

A backend holds bytes under names such as ``entries/<key>.json`` or ``blobs/<digest>``; it knows nothing of
manifests, signatures or pickles. Everything above it (checking, signing, eviction) is written once, in the store,
against this protocol. A backend never trusts what it returns: the store verifies every byte it reads.

Extension point: any class with these four methods (and ``location``) is a backend; ``FsspecBackend`` in
``fsspec_backend.py`` is the one nbcache ships, for object storage and any other fsspec URL. The local store is not
written on it: it needs what bytes-under-names cannot say (no links followed, file identities for the read retries
and the index, memory-mapped blobs; see ``files.py``), so it keeps its files itself and this protocol is the remote
half only.
"""

from __future__ import annotations

from typing import Protocol

TMP_PREFIX = ".tmp-"


class Backend(Protocol):
    """Bytes under names. ``get`` raises FileNotFoundError for an absent name; ``put`` is whole or nothing."""

    location: str

    def get(self, name: str) -> bytes: ...

    def put(self, name: str, data: bytes) -> None: ...

    def names(self, folder: str) -> list[str]:
        """The names directly in ``folder`` (``"entries"``), without temporary files of writers."""
        ...

    def delete(self, name: str) -> None:
        """Remove ``name``; an absent name is not an error."""
        ...
