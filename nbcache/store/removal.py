"""Taking things out of a store folder: entries by key or prefix, eviction to a size limit, a clear, and sweeps of
what crashed writers left (unnamed blobs, temporary files, stale locks).

A manifest goes first and its blobs after, each blob only once no manifest of any key names it and no save in
progress claims it (``index.py`` keeps both): a blob shared by entries stays while one of them does.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

from nbcache.errors import CacheWarning
from nbcache.store import files
from nbcache.store.backend import TMP_PREFIX
from nbcache.store.index import EntryRow, Index, Listed
from nbcache.store.layout import Layout
from nbcache.store.manifest import BLOB
from nbcache.store.signing import KeyRefused

# A temporary file of a writer on another host (whose life cannot be checked) is left this long.
_STALE_TMP_S = 3600.0
# An unreferenced blob younger than this may belong to an entry another kernel is writing right now.
ORPHAN_GRACE_S = 60.0
# The folders a clear empties and the names nbcache gives in each ("" : a blob's hash).
_NAMED_FOLDERS = ((("entries",), ".json"), (("stats",), ".json"))


def _warn(message: str) -> None:
    # Said where the Store's caller called it (Store -> Removal -> here), as when this code was the Store's own.
    warnings.warn(message, CacheWarning, stacklevel=4)


def _inode(path: Path) -> int | None:
    try:
        return os.lstat(path).st_ino
    except OSError:
        return None


class Removal:
    """Removes entries and blobs from one store folder, for the ``Store`` that holds it (its public methods call
    these). ``kid`` names the folder of the signing key's manifests, asked only when a removal needs it."""

    def __init__(self, layout: Layout, index: Index, kid: Callable[[], str]) -> None:
        self.root = layout.root
        self._layout = layout
        self._index = index
        self._kid = kid

    def _remove_named(self, path: Path) -> bool:
        return self._layout.remove_named(path)

    def _stats_path(self, key: str) -> Path:
        return self._layout.stats_path(key)

    # ---- entries
    def remove_keys(self, keys: Iterable[str], grace: float = ORPHAN_GRACE_S) -> int:
        """Remove this key's entries of ``keys`` from this machine's folder (for a remote store: its local cache)."""
        wanted = set(keys)
        try:
            self._index.sync(stats=False)
            mine = f"entries/{self._kid()}/"
            rows = [r.row for r in self._index.listed(manifests=False) if r.row.key in wanted
                    and (r.row.name.startswith(mine) or r.row.name.count("/") == 1)]
        except (KeyRefused, sqlite3.Error) as exc:
            _warn(f"nbcache: cannot remove entries from {self.root} ({exc})")
            return 0
        return self._evict_rows(rows, grace)

    def _evict_rows(self, rows: list[EntryRow], grace: float) -> int:
        """Remove these manifests, then at once the blobs only they named (unless a save in progress claims one).

        All under the index's lock, and a manifest only if it is still the file the index knows: one saved again
        meanwhile (same name, new file) is another kernel's fresh entry, and stays with its blobs."""
        removed = 0
        with self._index.exclusive():
            gone = []
            for row in rows:
                if _inode(self.root / row.name) != self._index.inode_of(row.name):
                    continue
                try:
                    removed += self._remove_named(self.root / row.name)
                    self._remove_named(self._stats_path(row.key))
                except OSError:
                    continue
                gone += [row.name, f"stats/{row.key}.json"]
            self._index.drop(gone)
            self._remove_unclaimed({b for row in rows for b, _ in row.refs}, 0.0)
        return removed

    def _remove_unclaimed(self, blobs: set[str], grace: float) -> None:
        """Remove those of ``blobs`` no manifest names and no save in progress claims (older than ``grace``)."""
        if not self._index.shared:  # an index of this process only shows none of the others' claims
            grace = max(grace, ORPHAN_GRACE_S)
        with self._index.exclusive():
            claimed = {n.removeprefix("blobs/") for names in self._index.claims().values() for n in names}
            self._remove_blobs(sorted(blobs - self._index.referenced() - claimed), grace)


    def _remove_blobs(self, blobs: Iterable[str], grace: float) -> None:
        now = time.time()
        for blob in blobs:
            path = self._layout.blob_path(blob)
            try:
                st = os.lstat(path)
                if now - st.st_mtime >= grace or not stat.S_ISREG(st.st_mode):
                    self._remove_named(path)
            except OSError:  # gone already, or a read-only store
                continue

    def remove(self, key_prefix: str) -> int:
        if not re.fullmatch(r"[0-9a-f]+", key_prefix):
            return 0  # a prefix that is not hex matches no key
        try:
            keys = {p.stem for p in self._layout.manifest_paths(self._kid()) if p.stem.startswith(key_prefix)}
        except KeyRefused as exc:
            _warn(f"nbcache: cannot remove entries from {self.root} ({exc})")
            return 0
        return self.remove_keys(keys)

    def prune(self, max_size: int, keep: Iterable[str] = (), grace: float = ORPHAN_GRACE_S) -> int:
        """Evict least recently used entries (of any key) until the blobs take at most ``max_size`` bytes."""
        kept = set(keep)
        try:
            self._index.sync()
            rows = self._index.listed(manifests=False)
        except (OSError, sqlite3.Error) as exc:
            _warn(f"nbcache: cannot evict from {self.root} ({exc})")
            return 0
        return self._evict_rows(_lru_victims(rows, max_size, kept), grace)

    def clear(self) -> int:
        """Remove every entry (of every key) and its statistics; blobs go by a sweep, which keeps young ones that
        an entry being written right now may need. Files that cannot be removed are reported in one warning."""
        removed, failed = 0, 0
        for parts, suffix in _NAMED_FOLDERS:
            for path in self._layout.named_files(parts, suffix):
                try:
                    removed += files.remove(path) and parts[0] == "entries"
                except OSError:
                    failed += 1
        try:
            self.sweep(ORPHAN_GRACE_S)
        except (OSError, sqlite3.Error):
            failed += 1
        if failed:
            _warn(f"nbcache: could not remove everything from {self.root} (read-only, or permissions); "
                  f"{failed} file(s) left")
        return removed

    # ---- what crashed writers left
    def sweep(self, grace: float = ORPHAN_GRACE_S) -> None:
        """Remove blobs no manifest of any key names (older than ``grace`` s), and temporary files left by writers
        that are gone (or, on another host, older than an hour)."""
        self._index.sync(stats=False)
        self._remove_unclaimed({p.name for p in self._layout.named_files(("blobs",), "")}, grace)
        self._sweep_temporary()
        now = time.time()
        for path in self._layout.named_files(("locks",), ".lock"):  # an old lock file is as good as none
            try:
                if now - os.lstat(path).st_mtime > _STALE_TMP_S:
                    self._remove_named(path)
            except OSError:
                continue

    def _sweep_temporary(self) -> None:
        now = time.time()
        for parts in [*self._layout.key_folders(), ("stats",), ("blobs",), ("locks",)]:
            try:
                folder = self._layout.folder(*parts)
                names = [e.name for e in os.scandir(folder) if e.name.startswith(TMP_PREFIX)]
            except OSError:
                continue
            for name in names:
                try:
                    if files.writer_gone(name) or now - os.lstat(folder / name).st_mtime > _STALE_TMP_S:
                        files.remove(folder / name)
                except OSError:
                    continue

    def reap_dead_writers(self) -> None:
        """Remove what saves killed in the middle (on this host) wrote: their temporary files, and their blobs that
        no manifest names and no living writer claims. Cheap when nobody died: one query."""
        claims = self._index.claims()
        dead = {owner for owner in claims if files.owner_gone(owner)}
        if not dead:
            return
        self._index.sync(stats=False)
        with self._index.exclusive():
            claims = self._index.claims()
            keep = self._index.referenced() | {n for o, names in claims.items() if o not in dead for n in names}
            for name in {n for owner in dead for n in claims.get(owner, [])}:
                parts = name.split("/")
                ours = len(parts) == 2 and parts[0] == "blobs" and (BLOB.match(parts[1])
                                                                   or parts[1].startswith(TMP_PREFIX))
                if ours and parts[1] not in keep and name not in keep:
                    try:
                        self._remove_named(self.root / name)
                    except OSError:
                        continue
        for owner in dead:
            self._index.release(owner)


def _lru_victims(rows: list[Listed], max_size: int, kept: set[str]) -> list[EntryRow]:
    """Least recently used first, until the blobs still named take at most ``max_size`` (shared ones once)."""
    count: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for listed in rows:
        for blob, size in listed.row.refs:
            count[blob] = count.get(blob, 0) + 1
            sizes[blob] = size
    usage = sum(sizes.values())
    victims = []
    for listed in sorted(rows, key=lambda r: r.last_used or r.row.created):
        if usage <= max_size:
            break
        if listed.row.key in kept:
            continue
        victims.append(listed.row)
        for blob, _ in listed.row.refs:
            count[blob] -= 1
            if not count[blob]:
                usage -= sizes[blob]
    return victims
