"""Whether a key's manifest is in the store, asked of its key folder held open rather than by its path.

A miss asks for a manifest that is not there: by path, one lookup in the key folder and one where manifests lay
before key folders, each walking the store's whole path. In a kernel, where every system call after the cell's
messaging is slow, those two cost a cheap cell's miss about a quarter of a millisecond. Here the key folder is held
open and the name is looked up in it alone; the older place is looked at only in a store that holds manifests
there (seen by listing the entries folder, listed again only when that folder changes).

The folder held open may be removed or replaced under it (a store cleared or moved by hand, and made again). So
the path is checked against it again once ``RECHECK_S`` has passed since the last check, and whenever this
process writes a manifest (a save, an entry downloaded from a remote store): until then an entry another kernel
saved into a new folder is not seen, and the cell runs instead, which is never wrong.
"""

from __future__ import annotations

import os
import time
import weakref
from dataclasses import dataclass

from nbcache.store.files import NotInStore
from nbcache.store.layout import Layout
from nbcache.store.manifest import KEY

RECHECK_S = 1.0
_USABLE = os.stat in os.supports_dir_fd and os.stat in os.supports_follow_symlinks and hasattr(os, "O_DIRECTORY")
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


@dataclass
class _Held:
    kid: str
    fd: int
    folder: tuple[int, int]  # the key folder's device and inode, as opened
    entries: tuple[int, int, int]  # the entries folder's device, inode and mtime when it was last listed
    legacy: bool  # the entries folder then held manifests of the layout before key folders
    checked: float  # when the paths were last compared with what is held (time.monotonic)


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _holds_legacy(folder: str) -> bool:
    with os.scandir(folder) as listing:
        return any(e.name.endswith(".json") and KEY.match(e.name[:-5]) is not None for e in listing)


class ManifestFinder:
    """One store's key folder, held open for lookups; ``None`` answers mean "ask by path"."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._held: _Held | None = None
        self._closer: weakref.finalize | None = None

    def holds(self, kid: str, name: str) -> tuple[bool, bool] | None:
        """(the key folder holds ``name``, the older place must be looked at too); None if this cannot tell
        (no key folder yet, a folder that is a link, a platform without lookups relative to a folder)."""
        held = self._current(kid)
        if held is None:
            return None
        try:
            os.stat(name, dir_fd=held.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False, held.legacy
        except OSError:
            return None
        return True, held.legacy

    def wrote(self, kid: str) -> None:
        """This process just wrote a manifest into the key folder (a save, an entry downloaded): that folder may be
        new (the store was cleared under a folder held open), so the path is checked again now, while the writer's
        own lookups have just walked it, rather than at the next miss."""
        if self._held is not None:
            self._held.checked = float("-inf")
            self._current(kid)

    def _current(self, kid: str) -> _Held | None:
        if not _USABLE:
            return None
        held = self._held
        if held is not None and held.kid == kid and time.monotonic() - held.checked < RECHECK_S:
            return held
        try:
            self._held = self._checked(held, kid)
        except (OSError, NotInStore):
            self._release()
        return self._held

    def _checked(self, held: _Held | None, kid: str) -> _Held:
        """What is held, compared with the paths now: the key folder opened again if its path holds another
        folder, the entries folder listed again if it changed."""
        entries = self.layout.folder("entries")
        entries_now = os.lstat(entries)
        entries_seen = (*_identity(entries_now), entries_now.st_mtime_ns)
        folder = self.layout.folder("entries", kid)
        if held is None or held.kid != kid or _identity(os.lstat(folder)) != held.folder:
            self._release()
            fd = os.open(folder, _OPEN_FLAGS)
            self._closer = weakref.finalize(self, _close, fd)
            held = _Held(kid, fd, _identity(os.fstat(fd)), (-1, -1, -1), True, 0.0)
        if held.entries != entries_seen:
            held.legacy, held.entries = _holds_legacy(str(entries)), entries_seen
        held.checked = time.monotonic()
        return held

    def _release(self) -> None:
        self._held = None
        if self._closer is not None:
            self._closer()  # closes the descriptor once
            self._closer = None
