"""The key that signs store entries: a team secret from the environment, or a per-user random key on disk."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from nbcache import config


def _create(path: Path) -> None:
    """Write a new key without ever exposing a partial one; if another process wins the race, keep its key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if the key exists: first writer wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def load_secret() -> bytes:
    """$NBCACHE_KEY if set (shared by a team), else the per-user key, created with mode 0600 on first use."""
    team = config.team_key()
    if team:
        return team.encode()
    path = config.secret_path()
    if not path.exists():
        _create(path)
    return path.read_bytes().strip()
