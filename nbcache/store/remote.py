"""A store on any fsspec URL (``s3://bucket/prefix``, ``gs://...``), with a local store in front of it.

The local store is a read-through, write-through cache: a save writes locally, then uploads blobs and the manifest
last (an object PUT is atomic, so teammates see a whole entry or none); a load of an entry not held locally
downloads its manifest and blobs once, after which hits are local. Nothing from the remote is trusted: the local
store checks every signature and hash before anything is unpickled, exactly as for entries written locally. The
size limit applies to the local cache; ``nbcache clear`` on the URL removes entries from the remote too.
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fsspec

from nbcache import config
from nbcache.config import DEFAULT_SIZE_LIMIT
from nbcache.errors import BlobDamaged, CacheWarning, EntryDamaged
from nbcache.store.blobs import TMP_PREFIX, read_verified
from nbcache.store.local import EntryInfo, Store, blob_refs

# Object stores write an object whole or not at all; elsewhere an upload goes to a temporary name first.
_ATOMIC_PUT = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"}


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=3)


class TieredStore(Store):
    def __init__(self, url: str, local_root: str | os.PathLike | None = None, secret: bytes | None = None,
                 size_limit: int | None = DEFAULT_SIZE_LIMIT) -> None:
        super().__init__(local_root or config.local_cache_for(url), secret, size_limit)
        self.url = url
        self.fs, self.remote_root = fsspec.core.url_to_fs(url, use_listings_cache=False)
        self._downloaded: set[str] = set()

    def _remote(self, kind: str, name: str) -> str:
        return f"{self.remote_root}/{kind}/{name}"

    # ---- writing: locally first, then blobs and the manifest last to the remote
    def _upload(self, local: Path, remote: str) -> None:
        protocols = {self.fs.protocol} if isinstance(self.fs.protocol, str) else set(self.fs.protocol)
        if protocols & _ATOMIC_PUT:
            self.fs.put_file(str(local), remote)
            return
        tmp = f"{remote}{TMP_PREFIX}{secrets.token_hex(6)}"
        self.fs.put_file(str(local), tmp)
        self.fs.mv(tmp, remote)

    def _push(self, key: str) -> None:
        manifest = json.loads(self._manifest_path(key).read_bytes())
        for blob, _ in blob_refs(manifest):
            if not self.fs.exists(self._remote("blobs", blob)):
                self._upload(self._blob_path(blob), self._remote("blobs", blob))
        self._upload(self._manifest_path(key), self._remote("entries", f"{key}.json"))

    def save(self, key: str, payload: Any, meta: dict[str, Any],
             refs: dict[int, Any] | None = None) -> int:
        size = super().save(key, payload, meta, refs)
        try:
            self._push(key)
        except Exception as exc:  # the network, permissions: the entry still serves this machine
            _warn(f"nbcache: stored locally but not in {self.url}: {exc}")
        return size

    # ---- reading: download what is not held locally, then read it as a local entry
    def _download(self, remote: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f"{TMP_PREFIX}{local.name}.{secrets.token_hex(6)}")
        try:
            self.fs.get_file(remote, str(tmp))
            os.replace(tmp, local)
        finally:
            tmp.unlink(missing_ok=True)

    def _fetch_blobs(self, manifest: dict[str, Any]) -> None:
        for blob, _ in blob_refs(manifest):
            if not self._blob_path(blob).exists():
                self._download(self._remote("blobs", blob), self._blob_path(blob))
                self._downloaded.add(blob)

    def _fetch(self, key: str) -> None:
        """Make the entry local if the remote has it; damage is left for the local load to report."""
        path = self._manifest_path(key)
        try:
            if not path.exists():
                self._download(self._remote("entries", f"{key}.json"), path)
            manifest = self._verified(path.read_bytes())
            if manifest is not None:
                self._fetch_blobs(manifest)
        except FileNotFoundError:
            if path.exists():  # the manifest came, a blob did not: a broken remote entry
                path.unlink(missing_ok=True)
                _warn(f"nbcache: ignoring cache entry {key[:12]} in {self.url}: its data is missing there")
        except EntryDamaged:
            pass  # the local load warns about it
        except Exception as exc:
            _warn(f"nbcache: could not read {self.url} ({exc}); using the local cache only")

    def load(self, key: str, resolve: Any = None) -> tuple[dict[str, Any], EntryInfo] | None:
        self._fetch(key)
        return super().load(key, resolve)

    def _discard(self, key: str, manifest: dict[str, Any] | None) -> None:
        """A blob downloaded damaged is garbage for everyone (its name is its hash): remove it remotely too."""
        bad = []
        for blob, size in blob_refs(manifest) if manifest else []:
            try:
                read_verified(self._blob_path(blob), blob, size)
            except (BlobDamaged, ValueError):
                bad.append(blob)
        super()._discard(key, manifest)
        for blob in bad:
            if blob in self._downloaded:
                try:
                    self.fs.rm_file(self._remote("blobs", blob))
                except Exception:  # another teammate may have removed it already
                    pass

    # ---- listing: remote entries too, read through the local cache
    def _remote_keys(self) -> list[str]:
        try:
            names = self.fs.ls(f"{self.remote_root}/entries", detail=False)
        except FileNotFoundError:
            return []
        except Exception as exc:  # unreachable: list what this machine holds
            _warn(f"nbcache: could not list {self.url} ({exc}); showing the local cache only")
            return []
        return [Path(n).stem for n in names if n.endswith(".json") and TMP_PREFIX not in n]

    def _remote_info(self, key: str) -> EntryInfo | None:
        """A remote entry's listing from its manifest alone; its blobs stay remote until a hit needs them."""
        try:
            manifest = self._verified(self.fs.cat_file(self._remote("entries", f"{key}.json")))
        except Exception:  # damaged, foreign or gone: not listed, as for a local store
            return None
        return self._info(manifest) if manifest is not None and manifest.get("key") == key else None

    def entries(self) -> list[EntryInfo]:
        found = {e.key: e for e in super().entries()}
        for key in set(self._remote_keys()) - found.keys():
            info = self._remote_info(key)
            if info is not None:
                found[key] = info
        return sorted(found.values(), key=lambda e: e.created, reverse=True)

    def latest_for_cell(self, cell_ident: str) -> EntryInfo | None:
        # The local cache holds every entry this kernel saved or restored: no listing of the remote per miss.
        return next((e for e in super().entries() if e.meta.get("cell_ident") == cell_ident), None)

    def verify(self) -> list[str]:
        """Download every remote entry, then check signatures and hashes as for a local store."""
        for key in self._remote_keys():
            self._fetch(key)
        return super().verify()

    # ---- removal: from both
    def remove_keys(self, keys: Iterable[str], grace: float = 0.0) -> int:
        keys = list(keys)
        removed = super().remove_keys(keys, grace)
        for key in keys:
            try:
                self.fs.rm_file(self._remote("entries", f"{key}.json"))
            except FileNotFoundError:
                continue
        self._sweep_remote()
        return removed

    def remove(self, key_prefix: str) -> int:
        keys = [k for k in {*self._remote_keys(), *(p.stem for p in self._manifest_paths())}
                if key_prefix and k.startswith(key_prefix)]
        return self.remove_keys(keys) if all(c in "0123456789abcdef" for c in key_prefix) else 0

    def clear(self) -> int:
        count = len(set(self._remote_keys()) | {p.stem for p in self._manifest_paths()})
        super().clear()
        for kind in ("entries", "blobs"):
            if self.fs.exists(f"{self.remote_root}/{kind}"):
                self.fs.rm(f"{self.remote_root}/{kind}", recursive=True)
        return count

    def _sweep_remote(self) -> None:
        referenced = set()
        for key in self._remote_keys():
            try:
                referenced |= {b for b, _ in blob_refs(json.loads(self.fs.cat_file(self._remote("entries",
                                                                                            f"{key}.json"))))}
            except Exception:  # unreadable: it protects no blob
                continue
        try:
            names = self.fs.ls(f"{self.remote_root}/blobs", detail=False)
        except FileNotFoundError:
            return
        for name in names:
            if Path(name).name not in referenced:
                self.fs.rm_file(name)
