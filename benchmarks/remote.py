"""A remote store's first hit on a machine against fsspec reading the same bytes from the same S3 server.

moto's S3 server runs on loopback, so the figures are what nbcache adds to the transfer (the requests, checking
the signature and every blob's hash, writing the local copy, unpickling), not a network's speed. Both sides use a
client that has made a request already, as in a kernel that has run a cell: creating one (botocore loads its models)
takes about a second here, once per session, on both sides alike.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from nbcache.store.entry import EntryMeta
from nbcache.store.remote import TieredStore
from tests.integration.s3server import moto_server

from .common import row, timings

SECRET = b"nbcache-benchmark"
KEY = "be" * 32
BUCKET = "nbcache-bench"


@contextmanager
def _s3() -> Iterator[None]:
    """A loopback S3 server, named to boto3 and fsspec through the standard variables (restored afterwards)."""
    saved = dict(os.environ)
    with moto_server() as url:
        os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": url})
        try:
            import boto3

            boto3.client("s3").create_bucket(Bucket=BUCKET)
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _objects(url: str) -> tuple[Any, list[str]]:
    import fsspec

    fs, root = fsspec.core.url_to_fs(url, skip_instance_cache=True)
    return fs, fs.find(root)


def _case(url: str, nbytes: int, repeat: int, work: Path) -> dict[str, Any]:
    payload = {"outputs": {"arr": np.arange(nbytes // 8, dtype=np.int64)}, "value": None, "events": []}
    TieredStore(url, local_root=work / "writer", secret=SECRET, size_limit=None).save(KEY, payload, EntryMeta())
    fresh = work / "reader"
    store = TieredStore(url, local_root=fresh, secret=SECRET, size_limit=None)

    def forget() -> None:  # this machine never had the entry
        shutil.rmtree(fresh, ignore_errors=True)

    def hit() -> None:
        entry = store.load(KEY)
        assert entry is not None and entry[0]["outputs"]["arr"].nbytes == nbytes

    fs, paths = _objects(url)

    def read() -> None:  # the baseline: every object of the entry read whole through fsspec, nothing checked
        for path in paths:
            fs.cat_file(path)

    hit(), read()  # warm both clients
    ours = timings(hit, repeat, forget)
    theirs = timings(read, repeat)
    size = f"{nbytes // 2**20} MiB" if nbytes >= 2**20 else f"{nbytes // 1024} KiB"
    return row("remote hit", f"first hit on a machine, {size} array", ours, "fsspec reads the same bytes",
               theirs, "< 2x", lambda s, b: s < 2 * b)


def run(quick: bool = False) -> list[dict[str, Any]]:
    sizes = (64 * 1024, 2**20) if quick else (64 * 1024, 64 * 2**20)
    repeat = 3 if quick else 7
    rows = []
    with _s3(), tempfile.TemporaryDirectory() as tmp:
        for i, nbytes in enumerate(sizes):
            rows.append(_case(f"s3://{BUCKET}/cache-{i}", nbytes, repeat, Path(tmp) / str(i)))
    return rows
