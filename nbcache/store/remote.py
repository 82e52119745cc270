"""A store on any fsspec URL (``s3://bucket/prefix``, ``gs://...``): a local ``Store`` in front of a remote backend.

A composition, not a subclass: the local store is a read-through, write-through cache and the remote is bytes
under names (``fsspec_backend.FsspecBackend``), in the same layout as a local store (``entries/<kid>/<key>.json``,
one folder per signing key so that two keys never overwrite each other's entry of the same cell, and
``blobs/<digest>``, shared). A save writes locally, then uploads the blobs and the manifest last (an object PUT is
atomic, so teammates see a whole entry or none); an upload that fails is retried by a later save
(``uploads.PendingUploads``). A load of an entry not held locally downloads its manifest, which the local store
verifies, then each blob, checked against its hash before it is written locally. Nothing from the remote is
trusted: the local load checks every signature and hash again before anything is unpickled.

The remote never costs the user their cell: every request is bounded (``$NBCACHE_REMOTE_TIMEOUT``), a remote that
failed is skipped for a while (``$NBCACHE_REMOTE_RETRY``, a circuit breaker), and the cell gets its result with a
warning. Removal on the URL removes from both; sweeps there spare young blobs, blobs another key's manifest names,
and every object whose name nbcache did not give.
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

from nbcache import config
from nbcache.config import DEFAULT_SIZE_LIMIT
from nbcache.errors import BlobDamaged, CacheWarning, EntryDamaged, StoreError
from nbcache.store.blobs import digest
from nbcache.store.entry import EntryInfo, EntryMeta
from nbcache.store.fsspec_backend import FsspecBackend, Timeouts
from nbcache.store.local import Store
from nbcache.store.locks import KeyLock
from nbcache.store.manifest import blob_refs
from nbcache.store.uploads import PendingUploads

T = TypeVar("T")

# A manifest: in its key's folder, or (written before keys had folders) directly in entries/.
_ENTRY = re.compile(r"^entries/(?:([0-9a-f]{16})/)?([0-9a-f]{16,128})\.json$")
_BLOB = re.compile(r"^blobs/([0-9a-f]{16,128})$")
# An unreferenced blob younger than this may belong to an entry a teammate is uploading right now (blobs go first,
# the manifest last, and a large entry takes minutes); older ones are orphans of crashed uploads.
REMOTE_GRACE_S = 3600.0
# Blob requests of one first hit in flight at once: the round trips overlap, and memory holds at most this many blobs.
_FETCHES = 4


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=3)


def _legacy_entry(key: str) -> str:
    return f"entries/{key}.json"


@dataclass(frozen=True)
class RemoteEntry:
    """A manifest on the remote: its object name, its key, and whether it lies in this store's key folder."""

    name: str
    key: str
    mine: bool


def _blob(name: str) -> str:
    return f"blobs/{name}"


class RemoteUnavailable(StoreError):
    """The remote did not answer in time, refused, or denied access; or it failed a moment ago and is skipped."""


class RemoteSkipped(RemoteUnavailable):
    """The remote failed a moment ago and is left alone for a while: the failure was reported then."""


def _reason(exc: Exception, timeout_s: float) -> str:
    if isinstance(exc, PermissionError):
        return "access denied (check the credentials, e.g. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    text = f"{type(exc).__name__}: {exc}"
    if "timeout" in text.lower() or "timed out" in text.lower():
        return f"no answer within {timeout_s:g} s ($NBCACHE_REMOTE_TIMEOUT)"
    return text


@dataclass
class Breaker:
    """After a failure the remote is left alone for ``pause_s``: a dead endpoint costs one timeout, not one a cell."""

    pause_s: float
    _until: float = 0.0
    _why: str = ""

    def check(self, location: str) -> None:
        left = self._until - time.monotonic()
        if left > 0:
            raise RemoteSkipped(f"{location} is skipped for {left:.0f} s more ($NBCACHE_REMOTE_RETRY): "
                                    f"{self._why}")

    def trip(self, why: str) -> None:
        self._until, self._why = time.monotonic() + self.pause_s, why

    def reset(self) -> None:
        self._until = 0.0


class TieredStore:
    """A local ``Store`` (the cache this machine reads) in front of an ``FsspecBackend`` (what the team shares)."""

    def __init__(self, url: str, local_root: str | os.PathLike[str] | None = None, secret: bytes | None = None,
                 size_limit: int | None = DEFAULT_SIZE_LIMIT) -> None:
        self.url = url
        self.local = Store(local_root or config.local_cache_for(url), secret, size_limit)
        self._timeout_s = config.remote_timeout()
        self.remote = FsspecBackend(url, Timeouts(self._timeout_s, self._timeout_s))
        self.breaker = Breaker(config.remote_retry())
        self.grace_s = REMOTE_GRACE_S
        self.pending = PendingUploads(self.local.root)

    @property
    def size_limit(self) -> int | None:
        """The limit of the local cache; the remote grows until someone clears it."""
        return self.local.size_limit

    @size_limit.setter
    def size_limit(self, value: int | None) -> None:
        self.local.size_limit = value

    # ---- every remote request goes through here
    def _call(self, request: Callable[..., T], *args: Any, explicit: bool = False) -> T:
        """``request(*args)``; RemoteUnavailable if it fails (an absent name stays FileNotFoundError).

        An ``explicit`` request (a clear, a verify: the user asked and waits) is tried even while the breaker is open.
        """
        if not explicit:
            self.breaker.check(self.url)
        try:
            result = request(*args)
        except FileNotFoundError:
            raise
        except Exception as exc:  # timeouts, refusals, denials: each library raises its own types
            why = _reason(exc, self._timeout_s)
            self.breaker.trip(why)
            raise RemoteUnavailable(f"{self.url}: {why}") from None
        self.breaker.reset()
        return result

    def _entry(self, key: str) -> str:
        return f"entries/{self.local.kid}/{key}.json"

    def _manifests(self, everyone: bool = False, explicit: bool = False) -> list[RemoteEntry]:
        """The manifests on the remote in this key's folder and where older versions kept them (``everyone``: in
        every key's folder too); objects named otherwise are not nbcache's and are ignored."""
        mine = f"entries/{self.local.kid}"
        folders = ["entries", mine]
        if everyone:
            folders += [f for f in self._call(self.remote.folders, "entries", explicit=explicit) if f != mine]
        found = []
        for folder in folders:
            for name in self._call(self.remote.names, folder, explicit=explicit):
                match = _ENTRY.match(name)
                if match:
                    found.append(RemoteEntry(name, match.group(2), match.group(1) == self.local.kid))
        return found

    def _get_manifest(self, key: str, explicit: bool = False) -> bytes:
        """This key's manifest of ``key``, or one written before keys had folders; FileNotFoundError if neither."""
        try:
            return self._call(self.remote.get, self._entry(key), explicit=explicit)
        except FileNotFoundError:
            return self._call(self.remote.get, _legacy_entry(key), explicit=explicit)

    # ---- writing: locally first, then blobs and the manifest last to the remote
    def _push(self, key: str) -> None:
        raw, blobs = self.local.export(key)
        for name, data in blobs:
            if not self._call(self.remote.exists, _blob(name)):
                self._call(self.remote.put, _blob(name), data)
        self._call(self.remote.put, self._entry(key), raw)

    def save(self, key: str, payload: Any, meta: EntryMeta, refs: dict[int, Any] | None = None,
             reason: Callable[[], str] | None = None) -> int:
        size = self.local.save(key, payload, meta, refs, reason)
        try:
            self._push(key)
        except (RemoteUnavailable, EntryDamaged, OSError) as exc:  # the entry still serves this machine
            self.pending.add(key)
            _warn(f"nbcache: stored locally but not in {self.url} (a later save uploads it): {exc}")
            return size
        self.pending.done(key)
        self._push_pending()
        return size

    def _push_pending(self) -> None:
        """Upload the entries earlier saves could not, now that the remote answers; stop at the first failure."""
        for key in self.pending.keys():
            try:
                self._push(key)
            except (FileNotFoundError, EntryDamaged):  # no longer held here (cleared, evicted, damaged)
                pass
            except (RemoteUnavailable, OSError):
                return
            self.pending.done(key)

    # ---- reading: download what is not held locally, then read it as a local entry
    def _fetch_blob(self, name: str, size: int) -> bytes:
        try:
            data = self._call(self.remote.get, _blob(name), size)
        except FileNotFoundError:
            raise BlobDamaged(f"its data is missing in {self.url}") from None
        if len(data) != size or digest(data) != name:
            # Its name is its hash: a blob that does not match is garbage for everyone; the next save repairs it.
            self._call(self.remote.delete, _blob(name))
            raise BlobDamaged(f"its data in {self.url} does not match its recorded hash (corrupted or tampered "
                              "with); removed there")
        return data

    def _fetch_blobs(self, wanted: list[tuple[str, int]]) -> Iterator[tuple[str, bytes]]:
        """Each blob as it arrives. Up to ``_FETCHES`` are requested at once: a first hit waits for about one round
        trip after its manifest's, not one a blob, and memory holds at most that many blobs not yet written."""
        if len(wanted) <= 1:
            yield from ((name, self._fetch_blob(name, size)) for name, size in wanted)
            return
        queue = iter(wanted)
        pool = ThreadPoolExecutor(min(_FETCHES, len(wanted)), thread_name_prefix="nbcache-fetch")
        try:
            running = {pool.submit(self._fetch_blob, name, size): name for name, size in islice(queue, _FETCHES)}
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield running.pop(future), future.result()
                    for name, size in islice(queue, 1):
                        running[pool.submit(self._fetch_blob, name, size)] = name
        finally:  # a failure, or a reader that stopped, leaves no request behind it
            pool.shutdown(wait=True, cancel_futures=True)

    def _adopt(self, key: str, explicit: bool = False) -> None:
        self.local.adopt(key, self._get_manifest(key, explicit), self._fetch_blobs)

    def _fetch(self, key: str) -> None:
        """Make the entry local if the remote has a sound one; otherwise one warning, and the cell runs."""
        try:
            self._adopt(key)
        except FileNotFoundError:  # not there either: a plain miss
            pass
        except EntryDamaged as damage:
            _warn(f"nbcache: ignoring cache entry {key[:12]} in {self.url}: {damage}; the cell runs instead")
        except RemoteSkipped:  # its failure was reported when it happened; the save says it again
            pass
        except RemoteUnavailable as exc:
            _warn(f"nbcache: could not read {self.url} ({exc}); using the local cache only")

    def load(self, key: str, resolve: Callable[[Any], Any] | None = None,
             share: Callable[[Any], Any] | None = None) -> tuple[Any, EntryInfo] | None:
        if not self.local.holds(key):
            self._fetch(key)
        return self.local.load(key, resolve, share)

    def lock(self, key: str) -> KeyLock:
        return self.local.lock(key)

    def record_hit(self, key: str, saved_s: float, hits: int = 1, last_used: float | None = None) -> None:
        self.local.record_hit(key, saved_s, hits, last_used)

    # ---- listing: remote entries too, read through the local cache
    def _remote_info(self, entry: RemoteEntry) -> EntryInfo | None:
        """A remote entry's listing from its manifest alone (None if damaged, foreign or gone); blobs stay remote."""
        try:
            manifest = self.local.verified(self._call(self.remote.get, entry.name))
        except (FileNotFoundError, EntryDamaged):
            return None
        return self.local.info(manifest) if manifest is not None and manifest.get("key") == entry.key else None

    def entries(self) -> list[EntryInfo]:
        found = {e.key: e for e in self.local.entries()}
        try:
            for entry in self._manifests():
                info = None if entry.key in found else self._remote_info(entry)
                if info is not None:
                    found[entry.key] = info
        except RemoteUnavailable as exc:
            _warn(f"nbcache: could not list {self.url} ({exc}); showing the local cache only")
        return sorted(found.values(), key=lambda e: e.created, reverse=True)

    def latest_for_cell(self, cell_ident: str) -> EntryInfo | None:
        # The local cache holds every entry this kernel saved or restored: no listing of the remote per miss.
        return self.local.latest_for_cell(cell_ident)

    def usage(self, entries: Iterable[EntryInfo] | None = None) -> int:
        return self.local.usage(self.entries() if entries is None else entries)

    def select(self, older_than_s: float | None = None, larger_than: int | None = None) -> list[EntryInfo]:
        """As ``Store.select``, over the entries here and on the remote."""
        now = time.time()
        return [e for e in self.entries()
                if (older_than_s is None or now - e.last_used > older_than_s)
                and (larger_than is None or e.size > larger_than)]

    def verify(self) -> list[str]:
        """Download every remote entry not held here, then check signatures and hashes as for a local store."""
        problems = []
        try:
            for key in {e.key for e in self._manifests(explicit=True)}:
                if self.local.holds(key):
                    continue
                try:
                    self._adopt(key, explicit=True)
                except FileNotFoundError:  # removed meanwhile
                    continue
                except EntryDamaged as damage:
                    problems.append(f"{key[:12]} in {self.url}: {damage}")
        except RemoteUnavailable as exc:
            problems.append(f"{exc}; only the local cache was checked")
        return problems + self.local.verify()

    # ---- removal: from the remote first (an unreachable one changes nothing), then from the local cache
    def prune(self, max_size: int, keep: Iterable[str] = (), grace: float = 0.0) -> int:
        """Evict from the local cache only: the remote is the team's."""
        return self.local.prune(max_size, keep, grace)

    def _ours(self, entry: RemoteEntry) -> bool:
        """Whether this store's key may remove the entry: in its key's folder, or written before keys had folders
        and verifying with its key. A prefix never removes another key's entries."""
        if entry.mine:
            return True
        if entry.name != _legacy_entry(entry.key):
            return False
        try:
            return self.local.verified(self._call(self.remote.get, entry.name, explicit=True)) is not None
        except (FileNotFoundError, EntryDamaged):
            return False

    def _remove_remote(self, entries: list[RemoteEntry]) -> set[str]:
        """Remove these manifests from the remote, then the blobs nothing names any more; return their keys."""
        doomed = self._referenced(entries)
        for entry in entries:
            self._call(self.remote.delete, entry.name, explicit=True)
        self._sweep_remote(doomed)
        return {entry.key for entry in entries}

    def remove_keys(self, keys: Iterable[str], grace: float = 0.0) -> int:
        wanted = set(keys)
        return self._remove(lambda key: key in wanted, grace)

    def remove(self, key_prefix: str) -> int:
        if not re.fullmatch(r"[0-9a-f]+", key_prefix):
            return 0  # a prefix that is not hex matches no key
        return self._remove(lambda key: key.startswith(key_prefix), 0.0)

    def _remove(self, matches: Callable[[str], bool], grace: float) -> int:
        """This key's entries whose keys match, from the remote (one listing of it), then from the local cache."""
        remote = self._remove_remote([e for e in self._manifests(explicit=True) if matches(e.key) and self._ours(e)])
        local = {key for key in self.local.keys() if matches(key)}
        self.local.remove_keys(local, grace)
        return len(remote | local)

    def clear(self) -> int:
        """Every entry of every key, here and on the remote; objects nbcache did not name stay."""
        remote = self._remove_remote(self._manifests(everyone=True, explicit=True))
        local = set(self.local.keys())
        self.local.clear()
        return len(remote | local)

    def _referenced(self, entries: Iterable[RemoteEntry]) -> set[str]:
        """Blobs these remote manifests name, whichever key signed them (unsigned reading: only names)."""
        referenced: set[str] = set()
        for entry in entries:
            try:
                manifest = json.loads(self._call(self.remote.get, entry.name, explicit=True))
                referenced |= {name for name, _ in blob_refs(manifest)}
            except (FileNotFoundError, ValueError, KeyError, TypeError, AttributeError):
                continue  # unreadable: it protects no blob
        return referenced

    def _sweep_remote(self, doomed: set[str]) -> None:
        """Remove blobs no remaining manifest names: those of entries just removed at once, others once old."""
        kept = self._referenced(self._manifests(everyone=True, explicit=True))
        now = time.time()
        for name, modified in self._call(self.remote.listing, "blobs", explicit=True).items():
            match = _BLOB.match(name)
            if not match or match.group(1) in kept:
                continue
            old = modified is not None and now - modified >= self.grace_s
            if match.group(1) in doomed or old:
                self._call(self.remote.delete, name, explicit=True)
