"""Entries saved while the team's remote was unreachable: uploaded by a later save, not lost to the team.

One empty file per key in the local cache's ``uploads/`` folder, so the list outlives the kernel. A name is added
when an upload fails and removed once the entry is on the remote, or once the local cache no longer holds it.
"""

from __future__ import annotations

import os
from pathlib import Path

from nbcache.store import files
from nbcache.store.manifest import KEY, check_key

_FLAGS = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class PendingUploads:
    def __init__(self, root: Path) -> None:
        self.root = root

    def add(self, key: str) -> None:
        """Remember ``key``; a store that cannot be written forgets it (its save warned already)."""
        check_key(key)
        try:
            folder = files.real_dir(self.root, "uploads", create=True)
            os.close(os.open(folder / key, _FLAGS, 0o600))
        except OSError:
            pass

    def keys(self) -> list[str]:
        """The keys waiting, oldest first; none if the folder is absent or not a real folder."""
        try:
            folder = files.real_dir(self.root, "uploads")
            found = [(entry.stat(follow_symlinks=False).st_mtime, entry.name) for entry in os.scandir(folder)
                     if KEY.match(entry.name)]
        except OSError:
            return []
        return [name for _, name in sorted(found)]

    def done(self, key: str) -> None:
        try:
            files.remove(files.real_dir(self.root, "uploads") / key)
        except OSError:
            pass
