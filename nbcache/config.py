"""Every setting nbcache reads from the environment, and its default, in one place.

Each is read at the moment it is used, so a changed ``os.environ`` (or ``%env``) takes effect at once.

=======================  ==========================================================  =============================
variable                 what it sets                                                default
=======================  ==========================================================  =============================
``NBCACHE_DIR``          the store: a folder or an fsspec URL                        ``.nbcache/`` in the working
                                                                                     directory
``NBCACHE_SIZE_LIMIT``   most the store may hold (``10GiB``, ``500MB``)              10 GiB
``NBCACHE_LOCAL_DIR``    the local cache in front of a remote store                  a folder per URL under
                                                                                     ``$XDG_CACHE_HOME/nbcache``
``NBCACHE_KEY``          a team's shared secret that signs entries                   the per-user key file
``NBCACHE_SECRET_FILE``  the per-user key file                                       ``$XDG_CONFIG_HOME/nbcache/
                                                                                     secret.key``
=======================  ==========================================================  =============================

A remote store (``NBCACHE_DIR=s3://...``) is never waited on for long:

==========================  =======================================================  =======
variable                    what it sets                                             default
==========================  =======================================================  =======
``NBCACHE_REMOTE_TIMEOUT``  seconds to connect to the remote, and to wait for each   5
                            of its answers (S3), before a warning and local only
``NBCACHE_REMOTE_RETRY``    seconds a remote that failed is skipped (the local       60
                            cache serves meanwhile) before it is tried again
==========================  =======================================================  =======
"""

from __future__ import annotations

import os
from pathlib import Path

from blake3 import blake3

DEFAULT_SIZE_LIMIT = 10 * 2**30
DEFAULT_REMOTE_TIMEOUT_S = 5.0
DEFAULT_REMOTE_RETRY_S = 60.0


def _env(name: str) -> str:
    """``os.environ.get(name, "")``. Every cell asks for two variables, most often unset, and ``get`` encodes the
    name and raises and catches a KeyError for one that is unset; CPython's mapping behind ``os.environ`` (bytes by
    bytes on POSIX, kept in step with it) answers at once."""
    raw = getattr(os.environ, "_data", None)
    if os.name != "posix" or not isinstance(raw, dict):
        return os.environ.get(name, "")
    encoded = _ENCODED.get(name)
    if encoded is None:
        encoded = _ENCODED[name] = os.fsencode(name)
    value = raw.get(encoded)
    return "" if value is None else os.fsdecode(value)


_ENCODED: dict[str, bytes] = {}  # each variable's name as os.environ keeps it


def store_location(configured: str = "", default_dir: str | None = None) -> str:
    """The setting if given, else ``$NBCACHE_DIR``, else ``.nbcache/`` in ``default_dir`` (the working directory)."""
    return configured or _env("NBCACHE_DIR") or os.path.join(default_dir or os.getcwd(), ".nbcache")


def size_limit_text(configured: str = "") -> str:
    """The size limit as written by the user (the setting, else ``$NBCACHE_SIZE_LIMIT``); empty for the default."""
    return configured or _env("NBCACHE_SIZE_LIMIT")


def local_cache_for(url: str) -> Path:
    """``$NBCACHE_LOCAL_DIR``, else a folder per URL under the user's cache directory."""
    configured = _env("NBCACHE_LOCAL_DIR")
    if configured:
        return Path(configured).expanduser()
    base = Path(_env("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "nbcache" / blake3(url.encode()).hexdigest()[:16]


def _seconds(name: str, default: float) -> float:
    text = _env(name)
    try:
        value = float(text) if text else default
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise ValueError(f"${name}: {text!r} is not a number of seconds (for example 5 or 0.5)")
    return value


def remote_timeout() -> float:
    """``$NBCACHE_REMOTE_TIMEOUT``: seconds to connect to a remote store, and to wait for each of its answers."""
    return _seconds("NBCACHE_REMOTE_TIMEOUT", DEFAULT_REMOTE_TIMEOUT_S)


def remote_retry() -> float:
    """``$NBCACHE_REMOTE_RETRY``: seconds a remote store that failed is skipped before nbcache tries it again."""
    return _seconds("NBCACHE_REMOTE_RETRY", DEFAULT_REMOTE_RETRY_S)


def team_key() -> str:
    """``$NBCACHE_KEY``: a secret a team shares so that its members can read each other's entries."""
    return _env("NBCACHE_KEY")


def secret_path() -> Path:
    """``$NBCACHE_SECRET_FILE``, else the per-user key file under the user's config directory."""
    configured = _env("NBCACHE_SECRET_FILE")
    if configured:
        return Path(configured).expanduser()
    base = Path(_env("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "nbcache" / "secret.key"
