"""Fixtures of the S3 tests: one moto server per module, a fresh bucket per test, local caches under tmp_path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.s3server import moto_server, new_bucket, use_endpoint


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh bucket per test; credentials and endpoint through the standard AWS variables."""
    use_endpoint(monkeypatch, endpoint)
    return new_bucket(request.node.name)
