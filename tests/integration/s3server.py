"""Endpoints for the remote-store tests, all on loopback: moto's standalone S3 server (started on a free port,
stopped by PID), and two broken ones that count the connections they get: one silent, one that hangs up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_listening(port: int, proc: subprocess.Popen, deadline_s: float = 60.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not start listening")


@contextmanager
def moto_server(env: dict[str, str] | None = None) -> Iterator[str]:
    """Yield the endpoint URL of a fresh S3 server; it is stopped (by its PID) however the block ends.

    ``env`` adds moto settings, e.g. ``INITIAL_NO_AUTH_ACTION_COUNT=0`` for a server that checks credentials.
    """
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    try:
        _wait_until_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


class BrokenEndpoint:
    """A loopback socket that accepts connections and then either never answers (``hang_up=False``: the request
    waits for its read timeout) or closes them at once; ``connections`` counts what it accepted."""

    def __init__(self, hang_up: bool) -> None:
        self.hang_up = hang_up
        self.connections = 0
        self._held: list[socket.socket] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            if self.hang_up:
                conn.close()
            else:
                self._held.append(conn)  # open and silent until the block ends

    def __enter__(self) -> BrokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for conn in [*self._held, self._server]:
            conn.close()


def use_endpoint(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Credentials and endpoint through the standard AWS variables, as a user sets them."""
    for var, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": url}.items():
        monkeypatch.setenv(var, value)


def new_bucket(name: str) -> str:
    """Create a bucket named after a test on the endpoint the environment names; fsspec forgets old listings."""
    import boto3
    import fsspec

    name = name.lower().replace("_", "-")[:50].strip("-")
    boto3.client("s3").create_bucket(Bucket=name)
    fsspec.filesystem("s3").invalidate_cache()
    return name


def objects(bucket: str) -> list[str]:
    import boto3

    listing = boto3.client("s3").list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in listing.get("Contents", []))


# A team key as a store accepts one: at least 32 bytes.
TEAM_KEY = b"team key, at least 32 bytes long!"


def team_store(bucket: str, tmp_path: Path, name: str, secret: bytes = TEAM_KEY) -> Any:
    """A teammate's store on the bucket, with a local cache of its own under ``tmp_path / name``."""
    from nbcache.store.remote import TieredStore

    return TieredStore(f"s3://{bucket}/cache", local_root=tmp_path / name, secret=secret)
