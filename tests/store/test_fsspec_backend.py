"""The fsspec backend keeps the Backend protocol's promises (on fsspec's in-memory filesystem: no server needed)."""

from __future__ import annotations

import secrets

import pytest

from nbcache.store.backend import Backend
from nbcache.store.fsspec_backend import FsspecBackend
from nbcache.store.remote import Breaker, RemoteUnavailable


@pytest.fixture
def backend() -> FsspecBackend:
    return FsspecBackend(f"memory://nbcache-test-{secrets.token_hex(4)}/cache")


def test_it_is_a_backend(backend: FsspecBackend) -> None:
    typed: Backend = backend  # structurally: mypy checks it in fsspec_backend.py
    assert typed.location.startswith("memory://")


def test_bytes_under_names(backend: FsspecBackend) -> None:
    backend.put("entries/aa.json", b"manifest")
    backend.put("blobs/bb", memoryview(b"blob"))
    assert backend.get("entries/aa.json") == b"manifest" and backend.get("blobs/bb") == b"blob"
    assert backend.names("entries") == ["entries/aa.json"] and backend.exists("blobs/bb")
    assert list(backend.listing("blobs")) == ["blobs/bb"]
    backend.delete("blobs/bb")
    backend.delete("blobs/bb")  # absent: not an error
    assert backend.names("blobs") == [] and backend.names("stats") == []
    with pytest.raises(FileNotFoundError):
        backend.get("blobs/bb")


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../outside", "entries/../../x", "entries//x"])
def test_a_name_that_leaves_the_root_is_refused(backend: FsspecBackend, name: str) -> None:
    with pytest.raises(ValueError, match="not a store name"):
        backend.get(name)


def test_the_breaker_skips_a_failed_remote_until_it_closes() -> None:
    breaker = Breaker(pause_s=3600)
    breaker.check("s3://b")
    breaker.trip("no answer within 5 s")
    with pytest.raises(RemoteUnavailable, match="skipped .*no answer within 5 s"):
        breaker.check("s3://b")
    breaker.reset()
    breaker.check("s3://b")
    eager = Breaker(pause_s=0)
    eager.trip("refused")
    eager.check("s3://b")  # no pause: the next request tries again


class _RecordingS3:
    """Stands in for s3fs: records how each whole read was asked for."""

    default_block_size = 1000

    def __init__(self) -> None:
        self.reads: list[dict[str, object]] = []

    async def _cat_file(self, path: str, version_id: str | None = None, start: int | None = None,
                        end: int | None = None, chunksize: int | None = None,
                        max_concurrency: int | None = None) -> bytes:
        raise AssertionError("not called: cat_file stands for it")

    def cat_file(self, path: str, **options: object) -> bytes:
        self.reads.append(options)
        return b"x"


class _OlderS3(_RecordingS3):
    """s3fs before 2024: a whole read is one request already, and the option does not exist."""

    async def _cat_file(self, path: str, version_id: str | None = None, start: int | None = None,  # type: ignore[override]
                        end: int | None = None) -> bytes:
        raise AssertionError("not called: cat_file stands for it")


@pytest.mark.parametrize("has_concurrency", [True, False])
def test_small_or_unknown_objects_are_read_in_one_request(has_concurrency: bool) -> None:
    backend = FsspecBackend(f"memory://nbcache-test-{secrets.token_hex(4)}/cache")
    backend.fs = fake = _RecordingS3() if has_concurrency else _OlderS3()
    backend.get("entries/a.json"), backend.get("blobs/small", 1000), backend.get("blobs/large", 1001)
    one = {"max_concurrency": 1} if has_concurrency else {}
    assert fake.reads == [one, one, {}]
