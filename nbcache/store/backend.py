"""Where a store keeps its bytes: a small protocol, so a local folder and an object store are interchangeable.

A backend holds bytes under names such as ``entries/<key>.json`` or ``blobs/<digest>``; it knows nothing of
manifests, signatures or pickles. Everything above it (checking, signing, eviction) is written once, in the store,
against this protocol. A backend never trusts what it returns: the store verifies every byte it reads.

Extension point: any class with these four methods (and ``location``) is a backend; ``FolderBackend`` here is the
local one, ``FsspecBackend`` in ``fsspec_backend.py`` the one for object storage.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
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


class FolderBackend:
    """Bytes as files under a root folder, written to a temporary name and renamed, so readers never see half."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.location = str(self.root)

    def path(self, name: str) -> Path:
        """The file behind a name; a name that would leave the root is refused."""
        parts = Path(name).parts
        if not parts or Path(name).is_absolute() or ".." in parts:
            raise ValueError(f"not a store name: {name!r}")
        return self.root.joinpath(*parts)

    def get(self, name: str) -> bytes:
        return self.path(name).read_bytes()

    def put(self, name: str, data: bytes) -> None:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{secrets.token_hex(6)}")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def names(self, folder: str) -> list[str]:
        try:
            return sorted(f"{folder}/{p.name}" for p in self.path(folder).iterdir()
                          if not p.name.startswith(TMP_PREFIX))
        except FileNotFoundError:
            return []

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)
