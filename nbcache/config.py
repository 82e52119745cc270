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
"""

from __future__ import annotations

import os
from pathlib import Path

from blake3 import blake3

DEFAULT_SIZE_LIMIT = 10 * 2**30


def _env(name: str) -> str:
    return os.environ.get(name, "")


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
