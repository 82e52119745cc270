"""The on-disk store: signed manifests naming content-addressed blobs, written so a crash never leaves half an entry.

Layout under the root::

    entries/<key>.json   signed manifest: format, key, blob digest, size, created, the caller's meta
    blobs/<digest>       the serialized payload, named by its blake3 (the same bytes are stored once)
    stats/<key>.json     unsigned usage counters (hits, last use, time saved); damage there only resets them

The blob is written first and the manifest last, each to a temporary file renamed into place, so a reader sees a
whole entry or none. A manifest is trusted only if its HMAC verifies, and a blob only if its digest matches the
manifest's: unpickling runs code, so nothing else is ever unpickled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blake3 import blake3

from . import serialize
from .errors import CacheWarning, StoreError
from .secret import load_secret

# Increment on cache-breaking changes to the manifest or payload layout.
FORMAT_VERSION = 1

_KEY = re.compile(r"^[0-9a-f]{16,128}$")
_TMP_PREFIX = ".tmp-"
_STALE_TMP_S = 3600.0


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


class _Damaged(Exception):
    """An entry that cannot be trusted or read; turned into one warning and a miss."""


def _check_key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"not a cache key: {key!r}")
    return key


def _canonical(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{_TMP_PREFIX}{path.name}.{secrets.token_hex(6)}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Store:
    def __init__(self, root: str | os.PathLike, secret: bytes | None = None) -> None:
        self.root = Path(root).expanduser()
        self._secret = secret

    # ---- paths and signing
    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = load_secret()
        return self._secret

    def _manifest_path(self, key: str) -> Path:
        return self.root / "entries" / f"{_check_key(key)}.json"

    def _blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / _check_key(digest)

    def _stats_path(self, key: str) -> Path:
        return self.root / "stats" / f"{_check_key(key)}.json"

    def _sign(self, manifest: dict[str, Any]) -> str:
        return hmac.new(self.secret, _canonical(manifest), hashlib.sha256).hexdigest()

    # ---- writing
    def save(self, key: str, payload: dict[str, Any], meta: dict[str, Any],
             refs: dict[int, str] | None = None) -> int:
        """Store an entry; return bytes written. SerializationError: nothing written; StoreError: disk trouble."""
        data = serialize.dumps(payload, refs)  # before touching the disk: an unsaveable value writes nothing
        digest = blake3(data).hexdigest()
        manifest = {"format": FORMAT_VERSION, "key": key, "blob": digest, "size": len(data),
                    "created": time.time(), "meta": meta}
        manifest["sig"] = self._sign(manifest)
        encoded = json.dumps(manifest).encode()
        try:
            blob = self._blob_path(digest)
            if not blob.exists():
                _write_atomic(blob, data)
            _write_atomic(self._manifest_path(key), encoded)
        except OSError as exc:
            raise StoreError(f"could not write to {self.root}: {exc.strerror or exc}") from exc
        return len(data) + len(encoded)

    # ---- reading
    def _read_manifest(self, path: Path) -> dict[str, Any] | None:
        """The verified manifest, None if of another format version; _Damaged if it cannot be trusted."""
        try:
            manifest = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise _Damaged(f"unreadable manifest ({exc})") from None
        if not isinstance(manifest, dict):
            raise _Damaged("manifest is not an object")
        if manifest.get("format") != FORMAT_VERSION:
            return None
        if not hmac.compare_digest(str(manifest.get("sig", "")), self._sign(manifest)):
            raise _Damaged("its signature does not match (tampered with, or written with another key)")
        return manifest

    def _read_blob(self, manifest: dict[str, Any]) -> bytes:
        try:
            data = self._blob_path(manifest["blob"]).read_bytes()
        except (OSError, ValueError) as exc:
            raise _Damaged(f"its data is missing ({exc})") from None
        if blake3(data).hexdigest() != manifest["blob"]:
            raise _Damaged("its data does not match its recorded hash (truncated or corrupted)")
        return data

    def load(self, key: str, resolve: Callable[[str], Any] | None = None) -> tuple[dict[str, Any], EntryInfo] | None:
        """The entry's payload and info; None if absent, of another format, or damaged (with one warning)."""
        path = self._manifest_path(key)
        if not path.exists():
            return None
        try:
            manifest = self._read_manifest(path)
            if manifest is None:
                return None
            data = self._read_blob(manifest)
            try:
                payload = serialize.loads(data, resolve)
            except Exception as exc:
                raise _Damaged(f"it could not be loaded ({type(exc).__name__}: {exc})") from None
        except _Damaged as damage:
            warnings.warn(f"nbcache: ignoring cache entry {key[:12]}: {damage}; the cell runs instead",
                          CacheWarning, stacklevel=2)
            self._discard(key, manifest_only="signature" in str(damage))
            return None
        return payload, self._info(manifest)

    def _discard(self, key: str, manifest_only: bool = False) -> None:
        """Drop a damaged entry. A foreign signature may be a teammate's entry: its blob is not ours to judge."""
        try:
            manifest = json.loads(self._manifest_path(key).read_bytes())
            blob = self._blob_path(manifest["blob"]) if not manifest_only else None
        except Exception:
            blob = None
        if manifest_only:
            return
        self._manifest_path(key).unlink(missing_ok=True)
        self._stats_path(key).unlink(missing_ok=True)
        if blob is not None and blob.exists():
            data = blob.read_bytes()
            if blake3(data).hexdigest() != blob.name:
                blob.unlink(missing_ok=True)

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
            _write_atomic(self._stats_path(key), json.dumps(stats).encode())
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
        )

    # ---- listing and removal
    def _manifests(self) -> Iterator[dict[str, Any]]:
        folder = self.root / "entries"
        if not folder.is_dir():
            return
        for path in folder.glob("*.json"):
            try:
                manifest = self._read_manifest(path)
            except _Damaged:
                continue
            if manifest is not None:
                yield manifest

    def entries(self) -> list[EntryInfo]:
        """Every valid entry, newest first; damaged ones are skipped, never raised."""
        return sorted((self._info(m) for m in self._manifests()), key=lambda e: e.created, reverse=True)

    def latest_for_cell(self, cell_ident: str) -> EntryInfo | None:
        return next((e for e in self.entries() if e.meta.get("cell_ident") == cell_ident), None)

    def remove(self, key_prefix: str) -> int:
        folder = self.root / "entries"
        if not key_prefix or not folder.is_dir():
            return 0
        removed = 0
        for path in folder.glob(f"{glob_escape(key_prefix)}*.json"):
            path.unlink(missing_ok=True)
            self._stats_path(path.stem).unlink(missing_ok=True)
            removed += 1
        self.sweep()
        return removed

    def clear(self) -> int:
        count = len(list((self.root / "entries").glob("*.json"))) if (self.root / "entries").is_dir() else 0
        for sub in ("entries", "stats", "blobs"):
            folder = self.root / sub
            if folder.is_dir():
                for path in folder.iterdir():
                    path.unlink(missing_ok=True)
        return count

    def sweep(self) -> None:
        """Remove blobs no manifest names and temporary files a crashed writer left behind."""
        referenced = {m["blob"] for m in self._manifests()}
        now = time.time()
        for sub in ("entries", "stats", "blobs"):
            folder = self.root / sub
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                stale_tmp = path.name.startswith(_TMP_PREFIX) and now - path.stat().st_mtime > _STALE_TMP_S
                orphan = sub == "blobs" and not path.name.startswith(_TMP_PREFIX) and path.name not in referenced
                if stale_tmp or orphan:
                    path.unlink(missing_ok=True)

    def total_size(self) -> int:
        return sum(e.size for e in self.entries())


def glob_escape(text: str) -> str:
    if not re.fullmatch(r"[0-9a-f]+", text):
        return "\0"  # a prefix that is not hex matches no key
    return text
