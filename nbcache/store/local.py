"""The on-disk store: signed manifests naming content-addressed blobs, written so a crash never leaves half an entry.

Layout under the root::

    entries/<kid>/<key>.json  signed manifest: format, key, the blobs it needs with their sizes, created, the
                              caller's meta; <kid> names the signing key (a hash of it), so that several keys
                              share a store without overwriting each other (entries/<key>.json: before that)
    blobs/<digest>            a serialized payload or one raw out-of-band buffer, named by its blake3 (stored once,
                              read-only, shared by every key: a blob is only used after its hash checked out)
    stats/<key>.json          unsigned usage counters (hits, last use, time saved); damage there only resets them
    locks/<key>.lock          held while a kernel computes the key (``locks.py``)
    index.sqlite3             a cache of what the manifests and stats say, for listing and eviction (``index.py``)

Blobs are written first and the manifest last, each to a temporary file renamed into place, so a reader sees a
whole entry or none. A manifest is trusted only if its HMAC verifies, and a blob only if its size and digest match
the manifest's: unpickling runs code, so nothing else is ever unpickled.

``Store`` here writes, reads and lists entries; the rest of the store folder's work is composed from one module a
job: ``manifest.py`` (what a manifest holds and when it is trusted), ``layout.py`` (where each file lies, which names
are nbcache's), ``removal.py`` (removal, eviction to the size limit, clear, sweeps), ``stats.py`` (usage counters),
``verified.py`` (blob checks remembered across processes), ``entry.py`` (the metadata and listing records).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from nbcache.config import DEFAULT_SIZE_LIMIT
from nbcache.errors import BlobDamaged, CacheWarning, EntryDamaged, ForeignEntry, StoreError
from nbcache.store import background, files, recent, serialize
from nbcache.store.blobs import Identity, read_verified, write_atomic, write_hashed
from nbcache.store.entry import EntryInfo, EntryMeta
from nbcache.store.finder import ManifestFinder
from nbcache.store.index import KID, EntryRow, Index, Listed, StatsRow
from nbcache.store.layout import Layout
from nbcache.store.locks import KeyLock
from nbcache.store.manifest import KEY, blob_refs, canonical, check_key, new_manifest, safe_refs, verify_manifest
from nbcache.store.removal import ORPHAN_GRACE_S, Removal
from nbcache.store.signing import KeyRefused, load_secret
from nbcache.store.stats import Counters, finite, read_counters
from nbcache.store.verified import VerifiedBlobs

# A read that finds its entry changed under it reads again, this many times in all, before calling it a miss.
_READ_TRIES = 5
# What ``load`` reports as an entry's usage: a hit does not read the stats file (listings do).
_UNREAD_STATS = Counters()
# How often saves sweep what crashed writers left: soon after the grace, so crashes do not pile up.
_SWEEP_EVERY_S = 2 * ORPHAN_GRACE_S


def key_id(secret: bytes) -> str:
    """The name of a key's folder of manifests: a hash of the key that reveals nothing of it."""
    return hmac.new(secret, b"nbcache key folder", hashlib.sha256).hexdigest()[:16]


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=3)


class Store:
    """A store folder: saves and loads entries, lists them, and removes them through its ``Removal``."""

    def __init__(self, root: str | os.PathLike, secret: bytes | None = None,
                 size_limit: int | None = DEFAULT_SIZE_LIMIT) -> None:
        self.root = Path(root).expanduser()
        self._secret = secret
        self.size_limit = size_limit
        self._last_sweep = -_SWEEP_EVERY_S  # the first save of a session sweeps
        self._kid: tuple[bytes, str] | None = None
        self.layout = Layout(self.root)
        self._index = Index(self.root, self._entry_row, self._stats_row)  # opens its file on first use only
        self._verifier = VerifiedBlobs(lambda: self.secret, self._index)
        self._recent = recent.RecentReads()
        self._finder = ManifestFinder(self.layout)
        # A hit's info per verified manifest object (a remembered manifest is the same object at each hit).
        self._hit_infos: dict[int, tuple[dict[str, Any], EntryInfo]] = {}
        self._removal = Removal(self.layout, self._index, lambda: self.kid)

    # ---- paths and signing
    @property
    def secret(self) -> bytes:
        """The signing key; KeyRefused (a StoreError with a message saying what to do) if it is unusable."""
        if self._secret is None:
            self._secret = load_secret()
        return self._secret

    @property
    def kid(self) -> str:
        secret = self.secret
        if self._kid is None or self._kid[0] != secret:
            self._kid = (secret, key_id(secret))
        return self._kid[1]

    def _manifest_path(self, key: str) -> Path:
        return self.layout.manifest_path(self.kid, key)

    def lock(self, key: str) -> KeyLock:
        """The lock a kernel holds while computing ``key``, so that another kernel waits instead of recomputing."""
        return KeyLock(self.layout.lock_path(key))

    def _sign(self, fields: dict[str, Any]) -> str:
        return hmac.new(self.secret, canonical(fields), hashlib.sha256).hexdigest()

    # ---- writing, one step a method so that tests can fail each
    def _put_blob(self, data: Any, claim: files.Claim | None = None) -> list:
        """Write one blob (or find it there already); return its [hash, size] for the manifest."""
        return [write_hashed(self.layout.folder("blobs", create=True), data, claim), memoryview(data).nbytes]

    def _put_manifest(self, key: str, encoded: bytes) -> None:
        self.layout.folder("entries", self.kid, create=True)
        write_atomic(self._manifest_path(key), encoded)
        self._finder.wrote(self.kid)

    def save(self, key: str, payload: Any, meta: EntryMeta, refs: dict[int, Any] | None = None,
             reason: Callable[[], str] | None = None) -> int:
        """Store an entry; return its size (its blobs' bytes, as ``EntryInfo.size``, hits and listings count it).

        ``reason``: the miss's reason, for the manifest's ``meta.reason``, asked once the blobs are written: it
        reads the index (``latest_for_cell``), which their claims have just used, and which does not hold this
        entry yet. SerializationError: nothing written; StoreError: disk trouble."""
        check_key(key)
        ser = serialize.dumps(payload, refs)  # before touching the disk: an unsaveable value writes nothing
        self.secret  # noqa: B018  (an unusable key refuses the save before a blob is written)
        owner = files.new_owner()
        try:
            claim = self._claimer(owner)
            blobs = [self._put_blob(data, claim) for data in [ser.data, *ser.buffers]]
            meta = meta if reason is None else replace(meta, reason=reason())
            written = new_manifest(key, ser.engine, blobs, meta, self._sign)
            encoded = json.dumps(written).encode()
            self._put_manifest(key, encoded)
            self._index_saved(key, encoded)
            self._remember_written(key, encoded, blobs[0][0], ser.data)
        except OSError as exc:
            raise StoreError(f"could not write to {self.root}: {exc.strerror or exc}") from exc
        finally:
            self._release(owner)  # only now: until the index names the blobs, the claims protect them
        self._enforce_limit(key)
        return int(written["size"])

    def _claimer(self, owner: str) -> files.Claim:
        def claim(path: Path) -> None:
            try:
                self._index.claim(owner, self.layout.name(path))
            except sqlite3.Error:  # unclaimed, a leftover waits for a sweep instead of the next save
                pass

        return claim

    def _release(self, owner: str) -> None:
        try:
            self._index.release(owner)
        except sqlite3.Error:
            pass

    def _index_saved(self, key: str, encoded: bytes) -> None:
        path = self._manifest_path(key)
        try:
            row = self._entry_row(self.layout.name(path), path, encoded)
            if row is not None:
                self._index.put_entry(row, os.lstat(path).st_ino)
        except (OSError, sqlite3.Error):  # the next sync finds the file
            pass

    def _remember_written(self, key: str, encoded: bytes, stream_blob: str, stream: bytes) -> None:
        """What this save wrote, as a hit would read and verify it, so a hit in this process reads none of it back
        (see recent.py). A save that replaced another under the same key leaves that one's memory behind."""
        path = self._manifest_path(key)
        self._recent.remember_manifest(key, path, recent.identity(path), json.loads(encoded), written=True)
        if len(stream) <= recent.STREAM_MAX:
            blob_path = self.layout.blob_path(stream_blob)
            self._recent.remember_stream(stream_blob, blob_path, recent.identity(blob_path), bytes(stream),
                                         written=True)

    def _enforce_limit(self, keep: str) -> None:
        """After a save: evict down to the size limit, and now and then sweep what crashed writers left."""
        try:
            self._removal.reap_dead_writers()
            if self.size_limit is not None and self._index.usage() > self.size_limit:
                self.prune(self.size_limit, keep=(keep,), grace=ORPHAN_GRACE_S)
            if time.monotonic() - self._last_sweep > _SWEEP_EVERY_S:
                self._last_sweep = time.monotonic()
                self.sweep(ORPHAN_GRACE_S)
        except (OSError, sqlite3.Error) as exc:  # the entry is stored; only the clean-up failed
            warnings.warn(f"nbcache: could not evict old entries from {self.root}: {exc}", CacheWarning,
                          stacklevel=3)

    # ---- reading
    def _verified(self, raw: bytes) -> dict[str, Any] | None:
        return verify_manifest(raw, self._sign)

    def _read_manifest(self, path: Path, read_from: Identity | None = None, key: str | None = None
                       ) -> dict[str, Any] | None:
        """The verified manifest; from memory while ``path`` still holds ``read_from``, the file it came from.
        ``key``: the entry's, which ``path`` is named by (else read from ``path``)."""
        key = path.stem if key is None else key
        known = self._recent.manifest(key, read_from)
        if known is not None:
            return known
        try:
            raw = files.read_small(path)
        except FileNotFoundError:  # evicted or cleared by another kernel a moment ago: simply absent
            return None
        except OSError as exc:
            raise EntryDamaged(f"unreadable manifest ({exc.strerror or exc})") from None
        manifest = self._verified(raw)
        if manifest is not None and manifest["key"] != key:  # a signed manifest copied to another key's name
            raise EntryDamaged("its manifest belongs to another key")
        if manifest is not None and read_from is not None:  # the same file before and after the read: remember it
            same = read_from if recent.identity(path) == read_from else None
            self._recent.remember_manifest(key, path, same, manifest)
        return manifest

    def _read_blobs(self, manifest: dict[str, Any], recheck: bool = False,
                    refs: list[tuple[str, int]] | None = None) -> list[Any]:
        verified = None if recheck else self._verifier
        try:
            return [self._pickle_stream(blob, size) if i == 0 and not recheck
                    else read_verified(self.layout.blob_path(blob), blob, size, verified, pickle_stream=i == 0)
                    for i, (blob, size) in enumerate(blob_refs(manifest) if refs is None else refs)]
        except (BlobDamaged, ValueError) as exc:
            raise EntryDamaged(str(exc)) from None

    def _pickle_stream(self, blob: str, size: int) -> Any:
        """An entry's pickle, read and hashed, or as read and hashed before from the very same file (recent.py)."""
        known = self._recent.stream(blob)
        if known is not None and len(known) == size:
            return known
        path = self.layout.blob_path(blob)
        before = recent.identity(path)
        data = read_verified(path, blob, size, pickle_stream=True)
        if size <= recent.STREAM_MAX and recent.identity(path) == before:
            self._recent.remember_stream(blob, path, before, bytes(data))
        return data

    def _payload(self, manifest: dict[str, Any], resolve: Callable[[Any], Any] | None,
                 share: Callable[[Any], Any] | None = None) -> Any:
        """The entry's payload, unpickled from its verified blobs; or what ``share`` kept of the payload unpickled
        from the very same bytes object (``_pickle_stream``'s memory, its file's identity checked again just now):
        a cheap cell's hit unpickles nothing."""
        refs = blob_refs(manifest)
        data, *buffers = self._read_blobs(manifest, refs=refs)
        stream = refs[0][0]
        shareable = share is not None and not buffers and isinstance(data, bytes)
        if shareable and (kept := self._recent.decoded(stream, data)) is not None:
            return kept
        try:
            if manifest["format"] == 1:
                payload = serialize.loads_dill(bytes(data), resolve)
            else:
                payload = serialize.loads(data, buffers, resolve, manifest.get("engine", "pickle"))
        except Exception as exc:
            raise EntryDamaged(f"it could not be loaded ({type(exc).__name__}: {exc})") from None
        if shareable and share is not None and (kept := share(payload)) is not None:
            self._recent.remember_decoded(stream, data, kept)
        return payload

    def _find_manifest(self, key: str) -> Path | None:
        """This key's manifest, in its key folder or where entries were kept before; None if neither. Asked of
        the key folder held open (``finder.py``), else by path. Looked for by its name as a string, the Path made
        only for a manifest found: a miss looks for one that is absent, and three Path joins a name cost it more
        than the two lstats."""
        name = f"{check_key(key)}.json"
        found = self._finder.holds(self.kid, name)
        if found is not None:
            in_folder, legacy = found
            if in_folder:
                return self._manifest_path(key)
            if not legacy:
                return None
            legacy_name = os.path.join(self.root, "entries", name)
            return self.layout.legacy_manifest_path(key) if os.path.lexists(legacy_name) else None
        entries = os.path.join(self.root, "entries")
        names = (os.path.join(entries, self.kid, name), os.path.join(entries, name))
        for where, path in zip((self._manifest_path, self.layout.legacy_manifest_path), names, strict=True):
            if os.path.lexists(path):  # the legacy name only if needed
                return where(key)
        return None

    def _locate(self, key: str) -> tuple[Path | None, Identity | None]:
        """The key's manifest file and its identity now: where it was read from last if still there (one lstat),
        else found by name."""
        path = self._recent.manifest_path(key)
        now = None if path is None else recent.identity(path)
        if now is None:
            path = self._find_manifest(key)
            now = None if path is None else recent.identity(path)
        return path, now

    def load(self, key: str, resolve: Callable[[Any], Any] | None = None,
             share: Callable[[Any], Any] | None = None) -> tuple[Any, EntryInfo] | None:
        """The entry's payload and info (its usage statistics not read); None if absent, of another format, or
        damaged (with one warning). ``share``: see ``EntryStore.load`` (``_payload``)."""
        try:
            path, before = self._locate(key)
        except (KeyRefused, OSError) as exc:
            _warn(f"nbcache: cannot read the store {self.root} ({exc}); the cell runs instead")
            return None
        if path is None:
            return None
        for _ in range(_READ_TRIES):  # again while other kernels replace or evict the entry under this read
            manifest = None
            try:
                manifest = self._read_manifest(path, before, key)
                if manifest is None:
                    return None
                payload = self._payload(manifest, resolve, share)
                return payload, self._hit_info(manifest)
            except EntryDamaged as damage:
                now = recent.identity(path)
                if now != before:  # evicted or saved again by another kernel while being read
                    before = now
                    continue
                self._damaged(key, manifest, damage)
                return None
        return None

    def _damaged(self, key: str, manifest: dict[str, Any] | None, damage: EntryDamaged) -> None:
        """One warning, and a damaged entry of ours removed so that the re-run repairs it."""
        warnings.warn(f"nbcache: ignoring cache entry {key[:12]}: {damage}; the cell runs instead",
                      CacheWarning, stacklevel=4)
        if not isinstance(damage, ForeignEntry):  # maybe a teammate's entry: not ours to delete
            self._discard(key, manifest)

    def _discard(self, key: str, manifest: dict[str, Any] | None) -> None:
        """Drop a damaged entry (the manifest ``load`` read) and those of its blobs that no longer match their names."""
        try:
            path = self._find_manifest(key)
            paths = [] if path is None else [path]
            for manifest_path in paths:
                self.layout.remove_named(manifest_path)
            self.layout.remove_named(self.layout.stats_path(key))
            self._index.drop([self.layout.name(p) for p in paths] + [self.layout.name(self.layout.stats_path(key))])
            for blob, size in blob_refs(manifest) if manifest else []:
                try:
                    read_verified(self.layout.blob_path(blob), blob, size)
                except BlobDamaged:
                    self.layout.remove_named(self.layout.blob_path(blob))
        except (OSError, sqlite3.Error):  # a read-only store: the damage stays, and is reported again next time
            pass

    # ---- rows of the index, read from the files
    def _entry_row(self, name: str, path: Path, raw: bytes | None = None) -> EntryRow | None:
        parts = name.split("/")
        key = parts[-1].removesuffix(".json")
        if not (parts[-1].endswith(".json") and KEY.match(key)) or (len(parts) == 3 and not KID.match(parts[1])):
            return None  # not a name nbcache gives: never listed, evicted or removed
        try:
            raw = files.read_small(path) if raw is None else raw
            manifest = json.loads(raw)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError):
            manifest = None
        if raw is None or not isinstance(manifest, dict):  # damage: listed nowhere, evictable, names no blob
            return EntryRow(name, key, "", False, 0.0, 0, "", "", ())
        kid = parts[1] if len(parts) == 3 else ""
        ok = self._trusted(raw, manifest, key, kid)
        meta = EntryMeta.from_json(manifest.get("meta"))
        return EntryRow(name, key, self.kid if ok and not kid else kid, ok, finite(manifest.get("created")),
                        int(finite(manifest.get("size"))), meta.cell_ident,
                        raw.decode("utf-8", "replace") if ok else "", safe_refs(manifest))

    def _trusted(self, raw: bytes, manifest: dict[str, Any], key: str, kid: str) -> bool:
        try:
            if kid and kid != self.kid:
                return False  # another key's entry: its holder verifies it
            return self._verified(raw) is not None and manifest.get("key") == key
        except (EntryDamaged, KeyRefused, RecursionError, TypeError, ValueError):
            return False

    def _stats_row(self, name: str, path: Path) -> StatsRow | None:
        key = name.split("/")[-1].removesuffix(".json")
        if not KEY.match(key):
            return None
        counters = read_counters(path)
        return StatsRow(name, key, counters.hits, counters.last_used, counters.saved_s)

    # ---- usage statistics (stats.py)
    def _stats(self, key: str) -> Counters:
        return read_counters(self.layout.stats_path(key))

    def record_hit(self, key: str, saved_s: float, hits: int = 1, last_used: float | None = None) -> None:
        """Add ``hits`` hits that saved ``saved_s`` in all (``background`` gathers them), the last at ``last_used``."""
        counters = self._stats(key).after_hits(saved_s, hits, last_used)
        path = self.layout.stats_path(key)
        try:
            files.real_dir(self.root, "stats", create=True)  # not the root: a store removed meanwhile stays gone
            write_atomic(path, counters.to_json())
            row = StatsRow(self.layout.name(path), key, counters.hits, counters.last_used, counters.saved_s)
            self._index.put_stats(row, os.lstat(path).st_ino)
        except (OSError, sqlite3.Error):  # statistics are best effort
            pass

    def _hit_info(self, manifest: dict[str, Any]) -> EntryInfo:
        """A hit's info, without usage statistics (a hit needs none: spare it a file read), made once per manifest
        object so that hits of a remembered manifest do not parse its metadata again."""
        known = self._hit_infos.get(id(manifest))
        if known is not None and known[0] is manifest:
            return known[1]
        if len(self._hit_infos) >= recent.MANIFESTS:
            self._hit_infos.clear()
        info = self._info(manifest, _UNREAD_STATS)
        self._hit_infos[id(manifest)] = (manifest, info)  # the manifest held: its id is not reused meanwhile
        return info

    def _info(self, manifest: dict[str, Any], stats: Counters | None = None,
              blobs: tuple[tuple[str, int], ...] | None = None) -> EntryInfo:
        key, meta = manifest["key"], EntryMeta.from_json(manifest.get("meta"))
        stats = self._stats(key) if stats is None else stats
        return EntryInfo(
            key=key, cell=meta.cell, cell_id=None, created=float(manifest["created"]),
            last_used=stats.last_used or float(manifest["created"]), hits=int(stats.hits), size=int(manifest["size"]),
            compute_s=meta.compute_s, saved_s=stats.saved_s, outputs=tuple(meta.outputs), meta=meta,
            blobs=tuple(blob_refs(manifest)) if blobs is None else blobs,
        )

    def _info_of(self, listed: Listed) -> EntryInfo | None:
        try:
            stats = Counters(listed.hits, listed.last_used, listed.saved_s)
            return self._info(json.loads(listed.row.manifest), stats, listed.row.refs)
        except Exception:  # a row that does not parse is a listing the index got wrong: skip it
            return None

    # ---- listing
    def _manifest_paths(self) -> list[Path]:
        """This key's manifest files (and those from before key folders), by the names nbcache gives."""
        return self.layout.manifest_paths(self.kid)

    def _listed(self) -> list[EntryInfo]:
        """This key's sound entries from the index, newest first; a store that cannot be read lists nothing."""
        try:
            kid = self.kid
            self._index.sync()
            rows = self._index.listed(kid)
        except (KeyRefused, OSError, sqlite3.Error) as exc:
            _warn(f"nbcache: cannot list the store {self.root} ({exc})")
            return []
        infos = [info for info in map(self._info_of, rows) if info is not None]
        return sorted(infos, key=lambda e: e.created, reverse=True)

    def entries(self) -> list[EntryInfo]:
        """Every valid entry, newest first; damaged ones are skipped, never raised."""
        background.wait()  # hits this process counted in memory belong in the listing (and in eviction's order)
        return self._listed()

    def latest_for_cell(self, cell_ident: str) -> EntryInfo | None:
        """The cell's newest entry, for the reason of a miss: one query on the index as it stands, which every
        writer keeps current and every listing repairs; matched with the files first only if it never was."""
        try:
            text = self._index.newest_manifest(self.kid, cell_ident, self._sync_entries)
            return None if text is None else self._info(json.loads(text), _UNREAD_STATS, ())
        except Exception:  # a store that cannot be read, a row that does not parse: no previous entry to compare
            return None

    def _sync_entries(self) -> None:
        if os.path.isdir(self.root / "entries"):
            self._index.sync(stats=False)

    def usage(self, entries: Iterable[EntryInfo] | None = None) -> int:
        """Bytes the entries' blobs take, each blob counted once however many entries share it."""
        blobs = {b for e in (self.entries() if entries is None else entries) for b in e.blobs}
        return sum(size for _, size in blobs)

    def select(self, older_than_s: float | None = None, larger_than: int | None = None) -> list[EntryInfo]:
        """Entries last used more than ``older_than_s`` ago and larger than ``larger_than`` bytes (both if given)."""
        now = time.time()
        return [e for e in self.entries()
                if (older_than_s is None or now - e.last_used > older_than_s)
                and (larger_than is None or e.size > larger_than)]

    # ---- removal (removal.py)
    def remove_keys(self, keys: Iterable[str], grace: float = ORPHAN_GRACE_S) -> int:
        """Remove this key's entries of ``keys`` from this machine's folder (for a remote store: its local cache)."""
        return self._removal.remove_keys(keys, grace)

    def remove(self, key_prefix: str) -> int:
        return self._removal.remove(key_prefix)

    def prune(self, max_size: int, keep: Iterable[str] = (), grace: float = ORPHAN_GRACE_S) -> int:
        """Evict least recently used entries (of any key) until the blobs take at most ``max_size`` bytes."""
        background.wait()  # the recency of hits counted in memory decides what goes
        return self._removal.prune(max_size, keep, grace)

    def clear(self) -> int:
        """Remove every entry (of every key) and its statistics; blobs go by a sweep."""
        return self._removal.clear()

    def sweep(self, grace: float = ORPHAN_GRACE_S) -> None:
        """Remove blobs no manifest names (older than ``grace`` s) and what crashed writers left."""
        self._removal.sweep(grace)

    # ---- checking
    def verify(self) -> list[str]:
        """One line per problem: manifests that do not verify, blobs missing or not matching their hash."""
        problems = []
        try:
            paths = self._manifest_paths()
        except KeyRefused as exc:
            return [f"the key: {exc}"]
        for path in paths:
            try:
                manifest = self._read_manifest(path)
                if manifest is None:
                    continue
                self._read_blobs(manifest, recheck=True)
            except EntryDamaged as damage:
                problems.append(f"{path.stem[:12]}: {damage}")
        return problems

    # ---- for a store composed with this one (remote.py): public views of the checks above
    def verified(self, raw: bytes) -> dict[str, Any] | None:
        """``raw`` as a manifest this store trusts; None if of another format; EntryDamaged if it cannot be."""
        return self._verified(raw)

    def info(self, manifest: dict[str, Any]) -> EntryInfo:
        """The listing of a verified manifest (with this store's usage counters, if any)."""
        return self._info(manifest)

    def keys(self) -> list[str]:
        """The keys of the manifests held here, without reading them."""
        return [p.stem for p in self._manifest_paths()]

    def holds(self, key: str) -> bool:
        return self._find_manifest(key) is not None

    def export(self, key: str) -> tuple[bytes, list[tuple[str, Any]]]:
        """A held entry as its signed manifest's bytes and its blobs (digest, content), each verified."""
        path = self._find_manifest(key)
        if path is None:
            raise FileNotFoundError(key)
        raw = files.read_small(path)
        manifest = self._verified(raw)
        if manifest is None:
            raise EntryDamaged("its manifest is of another format")
        return raw, list(zip([b for b, _ in blob_refs(manifest)], self._read_blobs(manifest), strict=True))

    def adopt(self, key: str, raw: bytes,
              fetch: Callable[[list[tuple[str, int]]], Iterable[tuple[str, Any]]]) -> None:
        """Hold an entry written elsewhere: verify its manifest, get the blobs not held here from ``fetch([(digest,
        size), ...])`` (which yields each as ``(digest, content)`` in any order), write the manifest last.
        EntryDamaged if it cannot be trusted; ``load`` checks every blob again."""
        manifest = self._verified(raw)
        if manifest is None or manifest["key"] != key:
            raise EntryDamaged("its manifest is of another format or belongs to another key")
        self.layout.folder("blobs", create=True)
        wanted = {blob: size for blob, size in blob_refs(manifest) if not self.layout.blob_path(blob).exists()}
        for blob, data in fetch(list(wanted.items())):
            if blob in wanted:
                write_atomic(self.layout.blob_path(blob), data)
        self._put_manifest(key, raw)
        self._index_saved(key, raw)
