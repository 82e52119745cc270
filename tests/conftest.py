"""Shared fixtures: an in-process IPython shell with nbcache loaded and a store of the test's own."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

import nbcache
from nbcache.store import blobs
from tests.support import Shell


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """File identities count as settled at once (else a file must be a second old to be remembered)."""
    monkeypatch.setattr(blobs, "_SETTLE_NS", -(10**12))


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real home: store, secret and IPython's dirs live under tmp_path."""
    monkeypatch.setenv("NBCACHE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("NBCACHE_SECRET_FILE", str(tmp_path / "secret.key"))
    monkeypatch.delenv("NBCACHE_KEY", raising=False)
    for var in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    ip = InteractiveShell.instance()
    ip.reset(new_session=False)
    nbcache.load_ipython_extension(ip)
    try:
        yield Shell(ip, tmp_path / "runs.txt")
    finally:
        nbcache.unload_ipython_extension(ip)
        ip.config.pop("CacheMagics", None)  # the shell is a singleton: a test's %config must not leak
        ip.reset(new_session=False)
        _library_settings_as_loaded()


def _library_settings_as_loaded() -> None:
    """rcParams as a new process has them: nbcache keys every cell on rcParams that depart from the rc file, so
    one test's plot style, or the backend pyplot chose (``backend``, ``backend_fallback``, which the rc file leaves
    unresolved), would give the next test's restarted process another key."""
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None:
        dict.update(matplotlib.rcParams, matplotlib.rcParamsOrig)  # as loaded, backend included, unvalidated
