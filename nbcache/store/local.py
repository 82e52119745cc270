"""The on-disk store: signed manifests naming content-addressed blobs, written so a crash never leaves half an entry.

Layout under the root::

    entries/<key>.json   signed manifest: format, key, the blobs it needs with their sizes, created, the caller's meta
    blobs/<digest>       a serialized payload or one raw out-of-band buffer, named by its blake3 (stored once)
    stats/<key>.json     unsigned usage counters (hits, last use, time saved); damage there only resets them

Blobs are written first and the manifest last, each to a temporary file renamed into place, so a reader sees a
whole entry or none. A manifest is trusted only if its HMAC verifies, and a blob only if its size and digest match
the manifest's: unpickling runs code, so nothing else is ever unpickled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbcache.config import DEFAULT_SIZE_LIMIT
from nbcache.errors import BlobDamaged, CacheWarning, EntryDamaged, ForeignEntry, StoreError
from nbcache.store import serialize
from nbcache.store.blobs import TMP_PREFIX, read_verified, write_atomic, write_hashed
from nbcache.store.locks import KeyLock
from nbcache.store.signing import load_secret

# Increment on cache-breaking changes to the manifest or payload layout. Format 1: one dill pickle per entry.
# Format 2: a C pickle (dill only where needed) plus raw out-of-band buffers as blobs of their own.
FORMAT_VERSION = 2
_READABLE_FORMATS = (1, 2)

_KEY = re.compile(r"^[0-9a-f]{16,128}$")
_STALE_TMP_S = 3600.0
# An unreferenced blob younger than this may belong to an entry another kernel is writing right now.
_ORPHAN_GRACE_S = 60.0
_SWEEP_EVERY_S = 3600.0


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


class Store:
    def __init__(self, root: str | os.PathLike, secret: bytes | None = None,
                 size_limit: int | None = DEFAULT_SIZE_LIMIT) -> None:
        self.root = Path(root).expanduser()
        self._secret = secret
        self.size_limit = size_limit
        self._last_sweep = -_SWEEP_EVERY_S  # the first save of a session sweeps

    # ---- paths and signing
    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = load_secret()
        return self._secret

    def _manifest_path(self, key: str) -> Path:
        return self.root / "entries" / f"{_check_key(key)}.json"

    def _blob_path(self, blob: str) -> Path:
        return self.root / "blobs" / _check_key(blob)

    def _stats_path(self, key: str) -> Path:
        return self.root / "stats" / f"{_check_key(key)}.json"

    def lock(self, key: str) -> KeyLock:
        """The lock a kernel holds while computing ``key``, so that another kernel waits instead of recomputing."""
        return KeyLock(self.root / "locks" / f"{_check_key(key)}.lock")

    def _sign(self, manifest: dict[str, Any]) -> str:
        return hmac.new(self.secret, _canonical(manifest), hashlib.sha256).hexdigest()

    # ---- writing, one step a method so that tests can fail each
    def _put_blob(self, data: Any) -> list:
        """Write one blob (or find it there already); return its [hash, size] for the manifest."""
        return [write_hashed(self.root / "blobs", data), memoryview(data).nbytes]

    def _put_manifest(self, key: str, encoded: bytes) -> None:
        write_atomic(self._manifest_path(key), encoded)

    def _manifest_for(self, key: str, engine: str, blobs: list[list], meta: dict[str, Any]) -> dict[str, Any]:
        manifest = {"format": FORMAT_VERSION, "key": key, "engine": engine, "data": blobs[0], "buffers": blobs[1:],
                    "size": sum(size for _, size in blobs), "created": time.time(), "meta": meta}
        manifest["sig"] = self._sign(manifest)
        return manifest

    def save(self, key: str, payload: dict[str, Any], meta: dict[str, Any],
             refs: dict[int, Any] | None = None) -> int:
        """Store an entry; return its size (its blobs' bytes, as ``EntryInfo.size``, hits and listings count it).

        SerializationError: nothing written; StoreError: disk trouble."""
        _check_key(key)
        ser = serialize.dumps(payload, refs)  # before touching the disk: an unsaveable value writes nothing
        try:
            blobs = [self._put_blob(data) for data in [ser.data, *ser.buffers]]
            manifest = self._manifest_for(key, ser.engine, blobs, meta)
            encoded = json.dumps(manifest).encode()
            self._put_manifest(key, encoded)
        except OSError as exc:
            raise StoreError(f"could not write to {self.root}: {exc.strerror or exc}") from exc
        self._enforce_limit(key)
        return int(manifest["size"])

    def _enforce_limit(self, keep: str) -> None:
        """After a save: evict down to the size limit, and now and then sweep what crashed writers left."""
        try:
            if self.size_limit is not None:
                self.prune(self.size_limit, keep=(keep,), grace=_ORPHAN_GRACE_S)
            if time.monotonic() - self._last_sweep > _SWEEP_EVERY_S:
                self._last_sweep = time.monotonic()
                self.sweep(_ORPHAN_GRACE_S)
        except OSError as exc:  # the entry is stored; only the clean-up failed
            warnings.warn(f"nbcache: could not evict old entries from {self.root}: {exc}", CacheWarning,
                          stacklevel=3)

    # ---- reading
    def _verified(self, raw: bytes) -> dict[str, Any] | None:
        """The verified manifest, None if of another format version; EntryDamaged if it cannot be trusted."""
        try:
            manifest = json.loads(raw)
        except ValueError as exc:
            raise EntryDamaged(f"unreadable manifest ({exc})") from None
        if not isinstance(manifest, dict):
            raise EntryDamaged("manifest is not an object")
        if manifest.get("format") not in _READABLE_FORMATS:
            return None
        if not hmac.compare_digest(str(manifest.get("sig", "")), self._sign(manifest)):
            raise ForeignEntry("its signature does not match (tampered with, or written with another key)")
        try:
            blob_refs(manifest)
        except (KeyError, TypeError, ValueError):
            raise EntryDamaged("its manifest lacks fields") from None
        return manifest

    def _read_manifest(self, path: Path) -> dict[str, Any] | None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:  # evicted or cleared by another kernel a moment ago: simply absent
            return None
        except OSError as exc:
            raise EntryDamaged(f"unreadable manifest ({exc.strerror or exc})") from None
        manifest = self._verified(raw)
        if manifest is not None and manifest["key"] != path.stem:  # a signed manifest copied to another key's name
            raise EntryDamaged("its manifest belongs to another key")
        return manifest

    def _read_blobs(self, manifest: dict[str, Any]) -> list[Any]:
        try:
            return [read_verified(self._blob_path(blob), blob, size) for blob, size in blob_refs(manifest)]
        except (BlobDamaged, ValueError) as exc:
            raise EntryDamaged(str(exc)) from None

    def _payload(self, manifest: dict[str, Any], resolve: Callable[[Any], Any] | None) -> dict[str, Any]:
        data, *buffers = self._read_blobs(manifest)
        try:
            if manifest["format"] == 1:
                return serialize.loads_dill(bytes(data), resolve)
            return serialize.loads(data, buffers, resolve, manifest.get("engine", "pickle"))
        except Exception as exc:
            raise EntryDamaged(f"it could not be loaded ({type(exc).__name__}: {exc})") from None

    def load(self, key: str, resolve: Callable[[Any], Any] | None = None) -> tuple[dict[str, Any], EntryInfo] | None:
        """The entry's payload and info; None if absent, of another format, or damaged (with one warning)."""
        path = self._manifest_path(key)
        if not path.exists():
            return None
        manifest = None
        try:
            manifest = self._read_manifest(path)
            if manifest is None:
                return None
            payload = self._payload(manifest, resolve)
        except EntryDamaged as damage:
            warnings.warn(f"nbcache: ignoring cache entry {key[:12]}: {damage}; the cell runs instead",
                          CacheWarning, stacklevel=2)
            if not isinstance(damage, ForeignEntry):  # maybe a teammate's entry: not ours to delete
                self._discard(key, manifest)
            return None
        return payload, self._info(manifest)

    def _discard(self, key: str, manifest: dict[str, Any] | None) -> None:
        """Drop a damaged entry and those of its blobs that no longer match their names."""
        try:
            self._manifest_path(key).unlink(missing_ok=True)
            self._stats_path(key).unlink(missing_ok=True)
            for blob, size in blob_refs(manifest) if manifest else []:
                try:
                    read_verified(self._blob_path(blob), blob, size)
                except BlobDamaged:
                    self._blob_path(blob).unlink(missing_ok=True)
        except OSError:  # a read-only store: the damage stays, and is reported again next time
            pass

    # ---- usage statistics
    def _stats(self, key: str) -> dict[str, float]:
        try:
            stats = json.loads(self._stats_path(key).read_bytes())
            return {k: float(stats[k]) for k in ("hits", "last_used", "saved_s")}
        except Exception:  # absent or damaged: counters start again
            return {"hits": 0.0, "last_used": 0.0, "saved_s": 0.0}

    def record_hit(self, key: str, saved_s: float) -> None:
        stats = self._stats(key)
        stats.update(hits=stats["hits"] + 1, last_used=time.time(), saved_s=stats["saved_s"] + max(saved_s, 0.0))
        try:
            write_atomic(self._stats_path(key), json.dumps(stats).encode())
        except OSError:  # statistics are best effort
            pass

    def _info(self, manifest: dict[str, Any]) -> EntryInfo:
        key, meta = manifest["key"], manifest.get("meta", {})
        stats = self._stats(key)
        return EntryInfo(
            key=key, cell=str(meta.get("cell", "")), cell_id=meta.get("cell_id"),
            created=float(manifest["created"]), last_used=stats["last_used"] or float(manifest["created"]),
            hits=int(stats["hits"]), size=int(manifest["size"]), compute_s=float(meta.get("compute_s", 0.0)),
            saved_s=stats["saved_s"], outputs=tuple(meta.get("outputs", ())), meta=meta,
            blobs=tuple(blob_refs(manifest)),
        )

    # ---- listing
    def _manifest_paths(self) -> list[Path]:
        folder = self.root / "entries"
        if not folder.is_dir():
            return []
        return [p for p in folder.glob("*.json") if not p.name.startswith(TMP_PREFIX)]

    def _manifests(self) -> Iterator[dict[str, Any]]:
        for path in self._manifest_paths():
            try:
                manifest = self._read_manifest(path)
            except EntryDamaged:
                continue
            if manifest is not None:
                yield manifest

    def entries(self) -> list[EntryInfo]:
        """Every valid entry, newest first; damaged ones are skipped, never raised."""
        return sorted((self._info(m) for m in self._manifests()), key=lambda e: e.created, reverse=True)

    def latest_for_cell(self, cell_ident: str) -> EntryInfo | None:
        return next((e for e in self.entries() if e.meta.get("cell_ident") == cell_ident), None)

    def total_size(self) -> int:
        return sum(e.size for e in self.entries())

    def usage(self, entries: Iterable[EntryInfo] | None = None) -> int:
        """Bytes the entries' blobs take, each blob counted once however many entries share it."""
        blobs = {b for e in (self.entries() if entries is None else entries) for b in e.blobs}
        return sum(size for _, size in blobs)

    # ---- removal
    def remove_keys(self, keys: Iterable[str], grace: float = 0.0) -> int:
        return self._evict(keys, grace)

    def _evict(self, keys: Iterable[str], grace: float) -> int:
        """Remove entries from this machine's folder (for a remote store: from its local cache only)."""
        removed = 0
        for key in keys:
            path = self._manifest_path(key)
            if path.exists():
                path.unlink(missing_ok=True)
                removed += 1
            self._stats_path(key).unlink(missing_ok=True)
        if removed:
            self.sweep(grace)
        return removed

    def remove(self, key_prefix: str) -> int:
        if not re.fullmatch(r"[0-9a-f]+", key_prefix):
            return 0  # a prefix that is not hex matches no key
        return self.remove_keys(p.stem for p in self._manifest_paths() if p.stem.startswith(key_prefix))

    def select(self, older_than_s: float | None = None, larger_than: int | None = None) -> list[EntryInfo]:
        """Entries last used more than ``older_than_s`` ago and larger than ``larger_than`` bytes (both if given)."""
        now = time.time()
        return [e for e in self.entries()
                if (older_than_s is None or now - e.last_used > older_than_s)
                and (larger_than is None or e.size > larger_than)]

    def prune(self, max_size: int, keep: Iterable[str] = (), grace: float = 0.0) -> int:
        """Evict least recently used entries until the blobs take at most ``max_size`` bytes; return how many."""
        kept = set(keep)
        # Store.entries, not self.entries: a remote store evicts from its local cache, whatever the remote holds.
        entries = sorted(Store.entries(self), key=lambda e: e.last_used)
        victims: list[str] = []
        while entries and self.usage(entries) > max_size:
            candidates = [e for e in entries if e.key not in kept]
            if not candidates:
                break
            victims.append(candidates[0].key)
            entries.remove(candidates[0])
        return self._evict(victims, grace)

    def clear(self) -> int:
        count = len(self._manifest_paths())
        for sub in ("entries", "stats", "blobs"):
            folder = self.root / sub
            if folder.is_dir():
                for path in folder.iterdir():
                    path.unlink(missing_ok=True)
        return count

    def sweep(self, grace: float = 0.0) -> None:
        """Remove blobs no manifest names (older than ``grace`` s) and temporary files a crashed writer left."""
        referenced = {blob for m in self._manifests() for blob, _ in blob_refs(m)}
        now = time.time()
        for sub in ("entries", "stats", "blobs", "locks"):
            folder = self.root / sub
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                try:
                    age = now - path.stat().st_mtime
                except FileNotFoundError:  # another kernel swept it first
                    continue
                # An old lock file is as good as none: at worst two kernels compute one cell, both correctly.
                temporary = path.name.startswith(TMP_PREFIX) or sub == "locks"
                orphan = sub == "blobs" and not temporary and path.name not in referenced and age >= grace
                if (temporary and age > _STALE_TMP_S) or orphan:
                    path.unlink(missing_ok=True)

    # ---- checking
    def verify(self) -> list[str]:
        """One line per problem: manifests that do not verify, blobs missing or not matching their hash."""
        problems = []
        for path in self._manifest_paths():
            try:
                manifest = self._read_manifest(path)
                if manifest is None:
                    continue
                self._read_blobs(manifest)
            except EntryDamaged as damage:
                problems.append(f"{path.stem[:12]}: {damage}")
        return problems
