"""Bytes under names in any fsspec filesystem (S3, GCS, Azure, memory...): the remote half of a tiered store.

It implements ``backend.Backend`` and adds what only a remote needs: existence checks (an upload skips a blob the
bucket holds already) and modification times (a sweep keeps blobs young enough to belong to an entry still being
uploaded). On S3 every request has a connect and a read timeout and at most one retry: a silent or refused endpoint
costs seconds, not the ten minutes of botocore's and s3fs's own retries with back-off.
"""

from __future__ import annotations

import datetime
import inspect
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import fsspec

from nbcache.store.backend import TMP_PREFIX, Backend

# Object stores write an object whole or not at all; elsewhere an upload goes to a temporary name first.
_ATOMIC_PUT = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"}
_S3 = {"s3", "s3a"}


@dataclass(frozen=True)
class Timeouts:
    connect_s: float
    read_s: float


def _options(protocol: str, timeouts: Timeouts | None) -> dict[str, Any]:
    """Filesystem options that bound each request; only s3fs is known to take them."""
    if timeouts is None or protocol not in _S3:
        return {}
    return {"config_kwargs": {"connect_timeout": timeouts.connect_s, "read_timeout": timeouts.read_s,
                              "retries": {"total_max_attempts": 2, "mode": "standard"}}}


def _modified(info: dict[str, Any]) -> float | None:
    """An object's modification time (epoch seconds) from a listing, whichever key its filesystem uses."""
    for field in ("LastModified", "mtime", "last_modified", "updated", "created"):
        value = info.get(field)
        if isinstance(value, datetime.datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
    return None


def _one_request_options(fs_type: Any) -> dict[str, Any]:
    """What makes the filesystem read a whole object in one request.

    s3fs (since 2024) asks an object's size (a HEAD request) before each whole read, to split one larger than its
    block into concurrent ranges: for a manifest or a small blob that doubles the round trips of a first hit.
    (Read per request: a signature costs microseconds, a request milliseconds.)
    """
    try:
        parameters = inspect.signature(fs_type._cat_file).parameters
    except (AttributeError, TypeError, ValueError):  # not an async filesystem: it has no such step
        return {}
    return {"max_concurrency": 1} if "max_concurrency" in parameters else {}


class FsspecBackend:
    """Bytes under names below an fsspec URL; ``location`` is the URL."""

    def __init__(self, url: str, timeouts: Timeouts | None = None) -> None:
        protocol = fsspec.core.split_protocol(url)[0] or "file"
        self.location = url
        # A filesystem of its own: fsspec's shared instances would keep an endpoint or credentials read earlier.
        self.fs, self.root = fsspec.core.url_to_fs(url, use_listings_cache=False, skip_instance_cache=True,
                                                   **_options(protocol, timeouts))
        protocols = {self.fs.protocol} if isinstance(self.fs.protocol, str) else set(self.fs.protocol)
        self._atomic = bool(protocols & _ATOMIC_PUT)
        if protocols & _S3:
            self.fs.retries = 1  # s3fs retries 5 times with back-off on top of botocore: one try here

    def _path(self, name: str) -> str:
        parts = name.split("/")
        if not name or name.startswith("/") or ".." in parts or "" in parts:
            raise ValueError(f"not a store name: {name!r}")
        return f"{self.root}/{name}"

    def get(self, name: str, size: int | None = None) -> bytes:
        """The object's bytes. ``size``, where the caller knows it, keeps the filesystem's concurrent ranged reads
        for objects larger than its block; any other object (a manifest: unknown but small) is one request."""
        large = size is not None and size > (getattr(self.fs, "default_block_size", 0) or 0)
        options = {} if large else _one_request_options(type(self.fs))
        return bytes(self.fs.cat_file(self._path(name), **options))

    def put(self, name: str, data: Any) -> None:
        path = self._path(name)
        if self._atomic:
            self.fs.pipe_file(path, bytes(data) if not isinstance(data, bytes) else data)
            return
        folder, _, base = path.rpartition("/")
        tmp = f"{folder}/{TMP_PREFIX}{base}.{secrets.token_hex(6)}"
        self.fs.pipe_file(tmp, bytes(data))
        self.fs.mv(tmp, path)

    def _ls(self, folder: str) -> list[tuple[str, dict[str, Any]]]:
        try:
            infos = self.fs.ls(self._path(folder), detail=True)
        except FileNotFoundError:
            return []
        return [(str(info["name"]).rstrip("/").rpartition("/")[2], info) for info in infos]

    def listing(self, folder: str) -> dict[str, float | None]:
        """Names directly in ``folder`` (files only, no temporary ones) with their modification times."""
        return {f"{folder}/{base}": _modified(info) for base, info in self._ls(folder)
                if info.get("type") == "file" and not base.startswith(TMP_PREFIX)}

    def folders(self, folder: str) -> list[str]:
        """Names of the folders directly in ``folder`` (on an object store: the common prefixes)."""
        return sorted(f"{folder}/{base}" for base, info in self._ls(folder) if info.get("type") == "directory")

    def names(self, folder: str) -> list[str]:
        return sorted(self.listing(folder))

    def exists(self, name: str) -> bool:
        return bool(self.fs.exists(self._path(name)))

    def delete(self, name: str) -> None:
        try:
            self.fs.rm_file(self._path(name))
        except FileNotFoundError:
            pass


if TYPE_CHECKING:  # mypy proves here that the class keeps the Backend protocol
    _BACKEND: type[Backend] = FsspecBackend
