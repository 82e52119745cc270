"""From a location (a folder or an fsspec URL) and the settings to an open store."""

from __future__ import annotations

from nbcache import config
from nbcache.store.local import Store
from nbcache.store.protocol import EntryStore
from nbcache.units import parse_size


def is_remote(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def open_store(location: str) -> EntryStore:
    """A local folder is the store itself; a remote URL gets a local cache in front of it (see remote.py).

    ValueError if the URL's protocol needs a package that is not installed.
    """
    if is_remote(location):
        try:
            from nbcache.store.remote import TieredStore

            return TieredStore(location)
        except ImportError as exc:
            raise ValueError(f"{location} needs {exc.name or 'fsspec'}: pip install 'nbcache[s3]' (or the "
                             "fsspec package for that protocol)") from None
    return Store(location.removeprefix("file://"))


def size_limit_from(configured: str = "") -> int:
    """The size limit in bytes: the setting if given, else $NBCACHE_SIZE_LIMIT, else 10 GiB. ValueError if bad."""
    text = config.size_limit_text(configured)
    return parse_size(text) if text else config.DEFAULT_SIZE_LIMIT
