"""From a location (a folder or an fsspec URL) and the settings to an open store."""

from __future__ import annotations

import os

from .sizes import parse_size
from .store import DEFAULT_SIZE_LIMIT, Store


def is_remote(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def open_store(location: str) -> Store:
    """A local folder is the store itself; a remote URL gets a local cache in front of it (see remote.py).

    ValueError if the URL's protocol needs a package that is not installed.
    """
    if is_remote(location):
        try:
            from .remote import TieredStore  # delayed: fsspec is only needed for remote stores

            return TieredStore(location)
        except ImportError as exc:
            raise ValueError(f"{location} needs {exc.name or 'fsspec'}: pip install 'nbcache[s3]' (or the "
                             "fsspec package for that protocol)") from None
    return Store(location.removeprefix("file://"))


def size_limit_from(configured: str = "") -> int:
    """The size limit in bytes: the setting if given, else $NBCACHE_SIZE_LIMIT, else 10 GiB. ValueError if bad."""
    text = configured or os.environ.get("NBCACHE_SIZE_LIMIT", "")
    return parse_size(text) if text else DEFAULT_SIZE_LIMIT
