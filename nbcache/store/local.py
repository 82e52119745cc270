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
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import sqlite3
import stat
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from nbcache.config import DEFAULT_SIZE_LIMIT
from nbcache.errors import BlobDamaged, CacheWarning, EntryDamaged, ForeignEntry, StoreError
from nbcache.store import background, files, recent, serialize
from nbcache.store.blobs import TMP_PREFIX, Identity, read_verified, write_atomic, write_hashed
from nbcache.store.index import KID, EntryRow, Index, Listed, StatsRow
from nbcache.store.locks import KeyLock
from nbcache.store.signing import KeyRefused, load_secret

# Increment on cache-breaking changes to the manifest or payload layout. Format 1: one dill pickle per entry.
# Format 2: a C pickle (dill only where needed) plus raw out-of-band buffers as blobs of their own.
FORMAT_VERSION = 2
_READABLE_FORMATS = (1, 2)

_KEY = re.compile(r"^[0-9a-f]{16,128}$")
_BLOB = re.compile(r"^[0-9a-f]{64}$")
# A temporary file of a writer on another host (whose life cannot be checked) is left this long.
_STALE_TMP_S = 3600.0
# An unreferenced blob younger than this may belong to an entry another kernel is writing right now.
_ORPHAN_GRACE_S = 60.0
# A read that finds its entry changed under it reads again, this many times in all, before calling it a miss.
_READ_TRIES = 5
# What ``load`` reports as an entry's usage: a hit does not read the stats file (listings do).
_UNREAD_STATS = {"hits": 0.0, "last_used": 0.0, "saved_s": 0.0}
# How often saves sweep what crashed writers left: soon after the grace, so crashes do not pile up.
_SWEEP_EVERY_S = 2 * _ORPHAN_GRACE_S


@dataclass(frozen=True)
class EntryInfo:
    key: str
    cell: str
    cell_id: str | None
    created: float
    last_used: float
    hits: int
    size: int
    compute_s: float
    saved_s: float
    outputs: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    blobs: tuple[tuple[str, int], ...] = ()


def _check_key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"not a cache key: {key!r}")
    return key


def _canonical(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def blob_refs(manifest: dict[str, Any]) -> list[tuple[str, int]]:
    """(digest, size) of every blob an entry needs: its pickle first, then its out-of-band buffers."""
    if manifest["format"] == 1:
        return [(manifest["blob"], int(manifest["size"]))]
    return [(d, int(s)) for d, s in [manifest["data"], *manifest["buffers"]]]


def _safe_refs(manifest: Any) -> tuple[tuple[str, int], ...]:
    """The blobs an unverified manifest names, for sweeps to keep; () if it names none in a form nbcache writes."""
    try:
        refs = blob_refs(manifest)
    except Exception:
        return ()
    return tuple((b, s) for b, s in refs if isinstance(b, str) and _BLOB.match(b) and s >= 0)


def key_id(secret: bytes) -> str:
    """The name of a key's folder of manifests: a hash of the key that reveals nothing of it."""
    return hmac.new(secret, b"nbcache key folder", hashlib.sha256).hexdigest()[:16]


def _finite(value: Any, default: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return number if math.isfinite(number) and number >= 0 else default


def _inode(path: Path) -> int | None:
    try:
        return os.lstat(path).st_ino
    except OSError:
        return None


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=3)


class _Verifier:
    """Blob identities whose hash checked out, remembered in the index under an HMAC of the user's key."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._seen: dict[str, Identity] = {}

    def _mac(self, blob: str, identity: Identity) -> str:
        text = f"{blob}|{identity.dev}|{identity.ino}|{identity.size}|{identity.mtime_ns}|{identity.ctime_ns}"
        return hmac.new(self._store.secret, text.encode(), hashlib.sha256).hexdigest()

    def seen(self, blob: str, identity: Identity) -> bool:
        if self._seen.get(blob) == identity:
            return True
        try:
            found = self._store._index.verified_mac(blob)
        except sqlite3.Error:
            return False
        if found is None or not hmac.compare_digest(found[1], self._mac(blob, identity)):
            return False
        self._seen[blob] = identity
        return True

    def remember(self, blob: str, identity: Identity) -> None:
        self._seen[blob] = identity
        try:
            self._store._index.put_verified(blob, "", self._mac(blob, identity))
        except sqlite3.Error:  # remembered for this process only
            pass


class Store:
    def __init__(self, root: str | os.PathLike, secret: bytes | None = None,
                 size_limit: int | None = DEFAULT_SIZE_LIMIT) -> None:
        self.root = Path(root).expanduser()
        self._secret = secret
        self.size_limit = size_limit
        self._last_sweep = -_SWEEP_EVERY_S  # the first save of a session sweeps
        self._verifier = _Verifier(self)
        self._recent = recent.RecentReads()
        self._synced = False
        self._kid: tuple[bytes, str] | None = None

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

    @cached_property
    def _index(self) -> Index:
        return Index(self.root, self._entry_row, self._stats_row)

    def _manifest_path(self, key: str) -> Path:
        return self.root.joinpath("entries", self.kid, f"{_check_key(key)}.json")  # one join: this runs every hit

    def _legacy_manifest_path(self, key: str) -> Path:
        return self.root / "entries" / f"{_check_key(key)}.json"

    def _blob_path(self, blob: str) -> Path:
        return self.root.joinpath("blobs", _check_key(blob))

    def _stats_path(self, key: str) -> Path:
        return self.root / "stats" / f"{_check_key(key)}.json"

    def _folder(self, *parts: str, create: bool = False) -> Path:
        """A store subfolder that is a real folder (never a link out of the store); created if asked."""
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        return files.real_dir(self.root, *parts, create=create)

    def lock(self, key: str) -> KeyLock:
        """The lock a kernel holds while computing ``key``, so that another kernel waits instead of recomputing."""
        return KeyLock(self.root / "locks" / f"{_check_key(key)}.lock")

    def _sign(self, manifest: dict[str, Any]) -> str:
        return hmac.new(self.secret, _canonical(manifest), hashlib.sha256).hexdigest()

    # ---- writing, one step a method so that tests can fail each
    def _put_blob(self, data: Any, claim: files.Claim | None = None) -> list:
        """Write one blob (or find it there already); return its [hash, size] for the manifest."""
        return [write_hashed(self._folder("blobs", create=True), data, claim), memoryview(data).nbytes]

    def _put_manifest(self, key: str, encoded: bytes) -> None:
        self._folder("entries", self.kid, create=True)
        write_atomic(self._manifest_path(key), encoded)

    def _manifest_for(self, key: str, engine: str, blobs: list[list], meta: dict[str, Any]) -> dict[str, Any]:
        manifest = {"format": FORMAT_VERSION, "key": key, "engine": engine, "data": blobs[0], "buffers": blobs[1:],
                    "size": sum(size for _, size in blobs), "created": time.time(), "meta": meta}
        manifest["sig"] = self._sign(manifest)
        return manifest

    def save(self, key: str, payload: Any, meta: dict[str, Any],
             refs: dict[int, Any] | None = None) -> int:
        """Store an entry; return its size (its blobs' bytes, as ``EntryInfo.size``, hits and listings count it).

        SerializationError: nothing written; StoreError: disk trouble."""
        _check_key(key)
        ser = serialize.dumps(payload, refs)  # before touching the disk: an unsaveable value writes nothing
        self.secret  # noqa: B018  (an unusable key refuses the save before a blob is written)
        owner = files.new_owner()
        try:
            claim = self._claimer(owner)
            blobs = [self._put_blob(data, claim) for data in [ser.data, *ser.buffers]]
            manifest = self._manifest_for(key, ser.engine, blobs, meta)
            encoded = json.dumps(manifest).encode()
            self._put_manifest(key, encoded)
            self._index_saved(key, encoded)
        except OSError as exc:
            raise StoreError(f"could not write to {self.root}: {exc.strerror or exc}") from exc
        finally:
            self._release(owner)  # only now: until the index names the blobs, the claims protect them
        self._enforce_limit(key)
        return int(manifest["size"])

    def _claimer(self, owner: str) -> files.Claim:
        def claim(path: Path) -> None:
            try:
                self._index.claim(owner, self._name(path))
            except sqlite3.Error:  # unclaimed, a leftover waits for a sweep instead of the next save
                pass

        return claim

    def _release(self, owner: str) -> None:
        try:
            self._index.release(owner)
        except sqlite3.Error:
            pass

    def _reap_dead_writers(self) -> None:
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
                ours = len(parts) == 2 and parts[0] == "blobs" and (_BLOB.match(parts[1])
                                                                    or parts[1].startswith(TMP_PREFIX))
                if ours and parts[1] not in keep and name not in keep:
                    try:
                        self._remove_named(self.root / name)
                    except OSError:
                        continue
        for owner in dead:
            self._index.release(owner)

    def _index_saved(self, key: str, encoded: bytes) -> None:
        path = self._manifest_path(key)
        try:
            row = self._entry_row(self._name(path), path, encoded)
            if row is not None:
                self._index.put_entry(row, os.lstat(path).st_ino)
        except (OSError, sqlite3.Error):  # the next sync finds the file
            pass

    def _enforce_limit(self, keep: str) -> None:
        """After a save: evict down to the size limit, and now and then sweep what crashed writers left."""
        try:
            self._reap_dead_writers()
            if self.size_limit is not None and self._index.usage() > self.size_limit:
                self.prune(self.size_limit, keep=(keep,), grace=_ORPHAN_GRACE_S)
            if time.monotonic() - self._last_sweep > _SWEEP_EVERY_S:
                self._last_sweep = time.monotonic()
                self.sweep(_ORPHAN_GRACE_S)
        except (OSError, sqlite3.Error) as exc:  # the entry is stored; only the clean-up failed
            warnings.warn(f"nbcache: could not evict old entries from {self.root}: {exc}", CacheWarning,
                          stacklevel=3)

    # ---- reading
    def _verified(self, raw: bytes) -> dict[str, Any] | None:
        """The verified manifest, None if of another format version; EntryDamaged if it cannot be trusted."""
        try:
            manifest = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise EntryDamaged(f"unreadable manifest ({type(exc).__name__})") from None
        if not isinstance(manifest, dict):
            raise EntryDamaged("manifest is not an object")
        if manifest.get("format") not in _READABLE_FORMATS:
            return None
        if not hmac.compare_digest(str(manifest.get("sig", "")), self._sign(manifest)):
            raise ForeignEntry("its signature does not match (tampered with, or written with another key)")
        try:
            refs = blob_refs(manifest)
            float(manifest["created"])
        except (KeyError, TypeError, ValueError):
            raise EntryDamaged("its manifest lacks fields") from None
        if len(_safe_refs(manifest)) != len(refs):
            raise EntryDamaged("its manifest names blobs nbcache does not write")
        return manifest

    def _read_manifest(self, path: Path, read_from: Identity | None = None) -> dict[str, Any] | None:
        """The verified manifest; from memory while ``path`` still holds ``read_from``, the file it came from."""
        known = self._recent.manifest(path.stem, read_from)
        if known is not None:
            return known
        try:
            raw = files.read_small(path)
        except FileNotFoundError:  # evicted or cleared by another kernel a moment ago: simply absent
            return None
        except OSError as exc:
            raise EntryDamaged(f"unreadable manifest ({exc.strerror or exc})") from None
        manifest = self._verified(raw)
        if manifest is not None and manifest["key"] != path.stem:  # a signed manifest copied to another key's name
            raise EntryDamaged("its manifest belongs to another key")
        if manifest is not None and read_from is not None:  # the same file before and after the read: remember it
            same = read_from if recent.identity(path) == read_from else None
            self._recent.remember_manifest(path.stem, path, same, manifest)
        return manifest

    def _read_blobs(self, manifest: dict[str, Any], recheck: bool = False) -> list[Any]:
        verified = None if recheck else self._verifier
        try:
            return [self._pickle_stream(blob, size) if i == 0 and not recheck
                    else read_verified(self._blob_path(blob), blob, size, verified, pickle_stream=i == 0)
                    for i, (blob, size) in enumerate(blob_refs(manifest))]
        except (BlobDamaged, ValueError) as exc:
            raise EntryDamaged(str(exc)) from None

    def _pickle_stream(self, blob: str, size: int) -> Any:
        """An entry's pickle, read and hashed, or as read and hashed before from the very same file (recent.py)."""
        known = self._recent.stream(blob)
        if known is not None and len(known) == size:
            return known
        path = self._blob_path(blob)
        before = recent.identity(path)
        data = read_verified(path, blob, size, pickle_stream=True)
        if size <= recent.STREAM_MAX and recent.identity(path) == before:
            self._recent.remember_stream(blob, path, before, bytes(data))
        return data

    def _payload(self, manifest: dict[str, Any], resolve: Callable[[Any], Any] | None) -> dict[str, Any]:
        data, *buffers = self._read_blobs(manifest)
        try:
            if manifest["format"] == 1:
                return serialize.loads_dill(bytes(data), resolve)
            return serialize.loads(data, buffers, resolve, manifest.get("engine", "pickle"))
        except Exception as exc:
            raise EntryDamaged(f"it could not be loaded ({type(exc).__name__}: {exc})") from None

    def _find_manifest(self, key: str) -> Path | None:
        """This key's manifest, in its key folder or where entries were kept before; None if neither."""
        for where in (self._manifest_path, self._legacy_manifest_path):  # the legacy name only if needed
            path = where(key)
            if os.path.lexists(path):
                return path
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

    def load(self, key: str, resolve: Callable[[Any], Any] | None = None) -> tuple[dict[str, Any], EntryInfo] | None:
        """The entry's payload and info (its usage statistics not read); None if absent, of another format, or
        damaged (with one warning)."""
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
                manifest = self._read_manifest(path, before)
                if manifest is None:
                    return None
                payload = self._payload(manifest, resolve)
                return payload, self._info(manifest, _UNREAD_STATS)  # a hit needs none: spare it a file read
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
                self._remove_named(manifest_path)
            self._remove_named(self._stats_path(key))
            self._index.drop([self._name(p) for p in paths] + [self._name(self._stats_path(key))])
            for blob, size in blob_refs(manifest) if manifest else []:
                try:
                    read_verified(self._blob_path(blob), blob, size)
                except BlobDamaged:
                    self._remove_named(self._blob_path(blob))
        except (OSError, sqlite3.Error):  # a read-only store: the damage stays, and is reported again next time
            pass

    def _name(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _remove_named(self, path: Path) -> bool:
        """Remove a file nbcache named, unless its folder is a link out of the store."""
        try:
            self._folder(*path.relative_to(self.root).parts[:-1])
        except FileNotFoundError:
            return False
        return files.remove(path)

    # ---- rows of the index, read from the files
    def _entry_row(self, name: str, path: Path, raw: bytes | None = None) -> EntryRow | None:
        parts = name.split("/")
        key = parts[-1].removesuffix(".json")
        if not (parts[-1].endswith(".json") and _KEY.match(key)) or (len(parts) == 3 and not KID.match(parts[1])):
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
        meta: dict[str, Any] = manifest["meta"] if isinstance(manifest.get("meta"), dict) else {}
        return EntryRow(name, key, self.kid if ok and not kid else kid, ok, _finite(manifest.get("created")),
                        int(_finite(manifest.get("size"))), str(meta.get("cell_ident", "")),
                        raw.decode("utf-8", "replace") if ok else "", _safe_refs(manifest))

    def _trusted(self, raw: bytes, manifest: dict[str, Any], key: str, kid: str) -> bool:
        try:
            if kid and kid != self.kid:
                return False  # another key's entry: its holder verifies it
            return self._verified(raw) is not None and manifest.get("key") == key
        except (EntryDamaged, KeyRefused, RecursionError, TypeError, ValueError):
            return False

    def _stats_row(self, name: str, path: Path) -> StatsRow | None:
        key = name.split("/")[-1].removesuffix(".json")
        if not _KEY.match(key):
            return None
        stats = self._stats_file(path)
        return StatsRow(name, key, stats["hits"], stats["last_used"], stats["saved_s"])

    # ---- usage statistics
    @staticmethod
    def _stats_file(path: Path) -> dict[str, float]:
        """Counters from a stats file; absent or damaged (NaN, negative, not numbers, a pipe): zeros."""
        try:
            stats = json.loads(files.read_small(path, 1 << 16))
            return {k: _finite(stats[k]) for k in ("hits", "last_used", "saved_s")}
        except Exception:  # absent or damaged: counters start again
            return {"hits": 0.0, "last_used": 0.0, "saved_s": 0.0}

    def _stats(self, key: str) -> dict[str, float]:
        return self._stats_file(self._stats_path(key))

    def record_hit(self, key: str, saved_s: float, hits: int = 1, last_used: float | None = None) -> None:
        """Add ``hits`` hits that saved ``saved_s`` in all (``background`` gathers them), the last at ``last_used``."""
        stats = self._stats(key)
        stats.update(hits=stats["hits"] + hits, last_used=time.time() if last_used is None else last_used,
                     saved_s=stats["saved_s"] + max(saved_s, 0.0))
        path = self._stats_path(key)
        try:
            files.real_dir(self.root, "stats", create=True)  # not the root: a store removed meanwhile stays gone
            write_atomic(path, json.dumps(stats).encode())
            self._index.put_stats(StatsRow(self._name(path), key, **stats), os.lstat(path).st_ino)
        except (OSError, sqlite3.Error):  # statistics are best effort
            pass

    def _info(self, manifest: dict[str, Any], stats: dict[str, float] | None = None,
              blobs: tuple[tuple[str, int], ...] | None = None) -> EntryInfo:
        key, meta = manifest["key"], manifest.get("meta", {})
        stats = self._stats(key) if stats is None else stats
        return EntryInfo(
            key=key, cell=str(meta.get("cell", "")), cell_id=meta.get("cell_id"),
            created=float(manifest["created"]), last_used=stats["last_used"] or float(manifest["created"]),
            hits=int(stats["hits"]), size=int(manifest["size"]), compute_s=float(meta.get("compute_s", 0.0)),
            saved_s=stats["saved_s"], outputs=tuple(meta.get("outputs", ())), meta=meta,
            blobs=tuple(blob_refs(manifest)) if blobs is None else blobs,
        )

    def _info_of(self, listed: Listed) -> EntryInfo | None:
        try:
            stats = {"hits": listed.hits, "last_used": listed.last_used, "saved_s": listed.saved_s}
            return self._info(json.loads(listed.row.manifest), stats, listed.row.refs)
        except Exception:  # a row that does not parse is a listing the index got wrong: skip it
            return None

    # ---- listing
    def _manifest_paths(self) -> list[Path]:
        """This key's manifest files (and those from before key folders), by the names nbcache gives."""
        found = []
        for parts in (("entries", self.kid), ("entries",)):
            try:
                folder = self._folder(*parts)
                names = [e.name for e in os.scandir(folder) if not e.is_dir(follow_symlinks=False)]
            except OSError:
                continue
            found += [folder / n for n in names if n.endswith(".json") and _KEY.match(n[:-5])]
        return found

    def _manifests(self) -> Iterator[dict[str, Any]]:
        for path in self._manifest_paths():
            try:
                manifest = self._read_manifest(path)
            except EntryDamaged:
                continue
            if manifest is not None:
                yield manifest

    def _listed(self, cell_ident: str | None = None, sync: bool = True) -> list[EntryInfo]:
        """This key's sound entries from the index, newest first; a store that cannot be read lists nothing."""
        try:
            kid = self.kid
            if sync or not self._synced:
                self._index.sync()
                self._synced = True
            rows = self._index.listed(kid, cell_ident)
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
        """The cell's newest entry, for the reason of a miss: from the index as it stands (brought up to date once
        a session, and by every listing), since a miss must stay cheap however many entries there are."""
        return next(iter(self._listed(cell_ident, sync=False)), None)

    def usage(self, entries: Iterable[EntryInfo] | None = None) -> int:
        """Bytes the entries' blobs take, each blob counted once however many entries share it."""
        blobs = {b for e in (self.entries() if entries is None else entries) for b in e.blobs}
        return sum(size for _, size in blobs)

    # ---- removal
    def remove_keys(self, keys: Iterable[str], grace: float = _ORPHAN_GRACE_S) -> int:
        return self._evict(keys, grace)

    def _evict(self, keys: Iterable[str], grace: float) -> int:
        """Remove this key's entries of ``keys`` from this machine's folder (for a remote store: its local cache)."""
        wanted = set(keys)
        try:
            self._index.sync(stats=False)
            mine = f"entries/{self.kid}/"
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
        with self._index.exclusive():
            claimed = {n.removeprefix("blobs/") for names in self._index.claims().values() for n in names}
            self._remove_blobs(sorted(blobs - self._index.referenced() - claimed), grace)

    def _remove_blobs(self, blobs: Iterable[str], grace: float) -> None:
        now = time.time()
        for blob in blobs:
            path = self._blob_path(blob)
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
            keys = {p.stem for p in self._manifest_paths() if p.stem.startswith(key_prefix)}
        except KeyRefused as exc:
            _warn(f"nbcache: cannot remove entries from {self.root} ({exc})")
            return 0
        return self.remove_keys(keys)

    def select(self, older_than_s: float | None = None, larger_than: int | None = None) -> list[EntryInfo]:
        """Entries last used more than ``older_than_s`` ago and larger than ``larger_than`` bytes (both if given)."""
        now = time.time()
        return [e for e in self.entries()
                if (older_than_s is None or now - e.last_used > older_than_s)
                and (larger_than is None or e.size > larger_than)]

    def prune(self, max_size: int, keep: Iterable[str] = (), grace: float = _ORPHAN_GRACE_S) -> int:
        """Evict least recently used entries (of any key) until the blobs take at most ``max_size`` bytes."""
        kept = set(keep)
        background.wait()  # the recency of hits counted in memory decides what goes
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
            for path in self._named_files(parts, suffix):
                try:
                    removed += files.remove(path) and parts[0] == "entries"
                except OSError:
                    failed += 1
        try:
            self.sweep(_ORPHAN_GRACE_S)
        except (OSError, sqlite3.Error):
            failed += 1
        if failed:
            _warn(f"nbcache: could not remove everything from {self.root} (read-only, or permissions); "
                  f"{failed} file(s) left")
        return removed

    def _key_folders(self) -> list[tuple[str, ...]]:
        try:
            entries = self._folder("entries")
            kids = [e.name for e in os.scandir(entries) if e.is_dir(follow_symlinks=False) and KID.match(e.name)]
        except OSError:
            return []
        return [("entries",)] + [("entries", kid) for kid in kids]

    def _named_files(self, parts: tuple[str, ...], suffix: str) -> Iterator[Path]:
        """Files in a real store folder whose names nbcache gives there (``entries`` covers every key folder)."""
        for folder_parts in self._key_folders() if parts == ("entries",) else [parts]:
            try:
                folder = self._folder(*folder_parts)
                names = [e.name for e in os.scandir(folder)]
            except OSError:  # absent, a link out of the store, unreadable
                continue
            for name in names:
                stem = name.removesuffix(suffix) if suffix else name
                if (not suffix or name.endswith(suffix)) and (_BLOB if not suffix else _KEY).match(stem):
                    yield folder / name

    def sweep(self, grace: float = _ORPHAN_GRACE_S) -> None:
        """Remove blobs no manifest of any key names (older than ``grace`` s), and temporary files left by writers
        that are gone (or, on another host, older than an hour)."""
        self._index.sync(stats=False)
        self._remove_unclaimed({p.name for p in self._named_files(("blobs",), "")}, grace)
        self._sweep_temporary()
        now = time.time()
        for path in self._named_files(("locks",), ".lock"):  # an old lock file is as good as none
            try:
                if now - os.lstat(path).st_mtime > _STALE_TMP_S:
                    self._remove_named(path)
            except OSError:
                continue

    def _sweep_temporary(self) -> None:
        now = time.time()
        for parts in [*self._key_folders(), ("stats",), ("blobs",), ("locks",)]:
            try:
                folder = self._folder(*parts)
                names = [e.name for e in os.scandir(folder) if e.name.startswith(TMP_PREFIX)]
            except OSError:
                continue
            for name in names:
                try:
                    if files.writer_gone(name) or now - os.lstat(folder / name).st_mtime > _STALE_TMP_S:
                        files.remove(folder / name)
                except OSError:
                    continue

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

    def adopt(self, key: str, raw: bytes, fetch: Callable[[str, int], Any]) -> None:
        """Hold an entry written elsewhere: verify its manifest, get the blobs not held here from ``fetch(digest,
        size)``, write the manifest last. EntryDamaged if it cannot be trusted; ``load`` checks every blob again."""
        manifest = self._verified(raw)
        if manifest is None or manifest["key"] != key:
            raise EntryDamaged("its manifest is of another format or belongs to another key")
        self._folder("blobs", create=True)
        for blob, size in blob_refs(manifest):
            if not self._blob_path(blob).exists():
                write_atomic(self._blob_path(blob), fetch(blob, size))
        self._put_manifest(key, raw)
        self._index_saved(key, raw)

# The folders a clear empties and the names nbcache gives in each ("" : a blob's hash).
_NAMED_FOLDERS = ((("entries",), ".json"), (("stats",), ".json"))


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
