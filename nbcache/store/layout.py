"""Where a store folder keeps what (see ``local.py`` for the layout), and which names in it are nbcache's.

Everything that lists or removes files goes through here, so that nothing follows a link out of the store and
nothing whose name nbcache does not give is ever listed, evicted or removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from nbcache.store import files
from nbcache.store.index import KID
from nbcache.store.manifest import BLOB, KEY, check_key


class Layout:
    """The paths of one store folder's manifests, blobs, statistics and locks."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # ---- one file's path
    def manifest_path(self, kid: str, key: str) -> Path:
        return self.root / "entries" / kid / f"{check_key(key)}.json"

    def legacy_manifest_path(self, key: str) -> Path:
        """Where a manifest lay before manifests were kept in a folder per signing key."""
        return self.root / "entries" / f"{check_key(key)}.json"

    def blob_path(self, blob: str) -> Path:
        return self.root / "blobs" / check_key(blob)

    def stats_path(self, key: str) -> Path:
        return self.root / "stats" / f"{check_key(key)}.json"

    def lock_path(self, key: str) -> Path:
        return self.root / "locks" / f"{check_key(key)}.lock"

    def name(self, path: Path) -> str:
        """A path's name relative to the root, as the index knows it."""
        return path.relative_to(self.root).as_posix()

    # ---- folders, and the files nbcache named in them
    def folder(self, *parts: str, create: bool = False) -> Path:
        """A store subfolder that is a real folder (never a link out of the store); created if asked."""
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        return files.real_dir(self.root, *parts, create=create)

    def remove_named(self, path: Path) -> bool:
        """Remove a file nbcache named, unless its folder is a link out of the store."""
        try:
            self.folder(*path.relative_to(self.root).parts[:-1])
        except FileNotFoundError:
            return False
        return files.remove(path)

    def manifest_paths(self, kid: str) -> list[Path]:
        """A key's manifest files (and those from before key folders), by the names nbcache gives."""
        found = []
        for parts in (("entries", kid), ("entries",)):
            try:
                folder = self.folder(*parts)
                names = [e.name for e in os.scandir(folder) if not e.is_dir(follow_symlinks=False)]
            except OSError:
                continue
            found += [folder / n for n in names if n.endswith(".json") and KEY.match(n[:-5])]
        return found

    def key_folders(self) -> list[tuple[str, ...]]:
        try:
            entries = self.folder("entries")
            kids = [e.name for e in os.scandir(entries) if e.is_dir(follow_symlinks=False) and KID.match(e.name)]
        except OSError:
            return []
        return [("entries",)] + [("entries", kid) for kid in kids]

    def named_files(self, parts: tuple[str, ...], suffix: str) -> Iterator[Path]:
        """Files in a real store folder whose names nbcache gives there (``entries`` covers every key folder)."""
        for folder_parts in self.key_folders() if parts == ("entries",) else [parts]:
            try:
                folder = self.folder(*folder_parts)
                names = [e.name for e in os.scandir(folder)]
            except OSError:  # absent, a link out of the store, unreadable
                continue
            for name in names:
                stem = name.removesuffix(suffix) if suffix else name
                if (not suffix or name.endswith(suffix)) and (BLOB if not suffix else KEY).match(stem):
                    yield folder / name
