"""The manifest: the signed JSON that names an entry's blobs. How one is written, and when one is trusted.

A manifest holds its format, the key, the serialization engine, the blobs (the pickle stream first, then the
out-of-band buffers) with their sizes, their total size, when it was created, the caller's metadata
(``entry.EntryMeta``) and an HMAC of all that under the user's key. Nothing a manifest names is used unless its HMAC
verifies: unpickling runs code.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Callable
from typing import Any

from nbcache.errors import EntryDamaged, ForeignEntry
from nbcache.store.entry import EntryMeta

# Increment on cache-breaking changes to the manifest or payload layout. Format 1: one dill pickle per entry.
# Format 2: a C pickle (dill only where needed) plus raw out-of-band buffers as blobs of their own.
# Format 3: as 2, the payload a dict of builtins (``Payload.stored``) that holds what a run mutated, which a reader
# of format 2 would take for a payload of its own and ignore: such a reader must see a newer entry as absent.
FORMAT_VERSION = 3
_READABLE_FORMATS = (1, 2, 3)

KEY = re.compile(r"^[0-9a-f]{16,128}$")
BLOB = re.compile(r"^[0-9a-f]{64}$")

Sign = Callable[[dict[str, Any]], str]


def check_key(key: str) -> str:
    if not KEY.match(key):
        raise ValueError(f"not a cache key: {key!r}")
    return key


def canonical(manifest: dict[str, Any]) -> bytes:
    """The bytes the signature covers: every field but the signature, in one order."""
    body = {k: v for k, v in manifest.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def blob_refs(manifest: dict[str, Any]) -> list[tuple[str, int]]:
    """(digest, size) of every blob an entry needs: its pickle first, then its out-of-band buffers."""
    if manifest["format"] == 1:
        return [(manifest["blob"], int(manifest["size"]))]
    return [(d, int(s)) for d, s in [manifest["data"], *manifest["buffers"]]]


def safe_refs(manifest: Any) -> tuple[tuple[str, int], ...]:
    """The blobs an unverified manifest names, for sweeps to keep; () if it names none in a form nbcache writes."""
    try:
        refs = blob_refs(manifest)
    except Exception:
        return ()
    return tuple((b, s) for b, s in refs if isinstance(b, str) and BLOB.match(b) and s >= 0)


def new_manifest(key: str, engine: str, blobs: list[list], meta: EntryMeta, sign: Sign) -> dict[str, Any]:
    """The signed manifest of an entry whose blobs (``[digest, size]``, the pickle stream first) are written."""
    manifest = {"format": FORMAT_VERSION, "key": key, "engine": engine, "data": blobs[0], "buffers": blobs[1:],
                "size": sum(size for _, size in blobs), "created": time.time(), "meta": meta.to_json()}
    manifest["sig"] = sign(manifest)
    return manifest


def verify_manifest(raw: bytes, sign: Sign) -> dict[str, Any] | None:
    """The verified manifest, None if of another format version; EntryDamaged if it cannot be trusted."""
    try:
        manifest = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise EntryDamaged(f"unreadable manifest ({type(exc).__name__})") from None
    if not isinstance(manifest, dict):
        raise EntryDamaged("manifest is not an object")
    if manifest.get("format") not in _READABLE_FORMATS:
        return None
    if not hmac.compare_digest(str(manifest.get("sig", "")), sign(manifest)):
        raise ForeignEntry("its signature does not match (tampered with, or written with another key)")
    try:
        refs = blob_refs(manifest)
        float(manifest["created"])
    except (KeyError, TypeError, ValueError):
        raise EntryDamaged("its manifest lacks fields") from None
    if len(safe_refs(manifest)) != len(refs):
        raise EntryDamaged("its manifest names blobs nbcache does not write")
    return manifest
