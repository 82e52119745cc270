"""Which installed distribution provides a top-level module, without reading every distribution on each start.

``importlib.metadata.packages_distributions()`` parses every installed distribution's metadata and file list
(hundreds of milliseconds with a few hundred packages), and a kernel restart paid it again on the first hit that
keyed a library. Here each ``sys.path`` folder's index (top-level name -> ``(name, version)`` of the
distributions that provide it) is built by a light reading of the ``*.dist-info``/``*.egg-info`` folders and
kept on disk, keyed by the folder's modification time: installing, upgrading or removing a package adds or
removes entries in that folder, which changes its mtime, so only then is that folder read again.

The index holds no code: it is JSON, read as data, so a damaged file only costs a rebuild.
"""

from __future__ import annotations

import csv
import inspect
import json
import os
import sys
import tempfile
import time
from functools import cache

from blake3 import blake3

# Increment when the index's content or its inference changes: older files are then rebuilt.
INDEX_VERSION = 1
# An index built within this many seconds of its folder's mtime is not saved: a package installed in the same
# clock tick would leave the mtime unchanged and the saved index stale (git's "racy clean" rule).
_RACY_S = 2.0

Providers = dict[str, list[tuple[str, str]]]


def _index_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nbcache", "distributions")


def _headers(folder: str) -> tuple[str, str] | None:
    """``(Name, Version)`` from a distribution's METADATA (or an egg's PKG-INFO) headers."""
    for name in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
                found: dict[str, str] = {}
                for line in f:
                    if not line.strip():
                        break  # the body starts: no more headers
                    key, _, value = line.partition(":")
                    if key in ("Name", "Version") and key not in found:
                        found[key] = value.strip()
                if "Name" in found:
                    return found["Name"], found.get("Version", "")
        except OSError:
            continue
    return None


def _top_level_of(path: str) -> str | None:
    """The importable top-level name a RECORD path installs, as ``importlib.metadata`` infers it."""
    first, sep, _ = path.partition("/")
    name = first if sep else (inspect.getmodulename(path) or path)
    return None if "." in name or not name else name


def _top_levels(folder: str) -> set[str]:
    """Declared in top_level.txt, else inferred from the file list (RECORD)."""
    try:
        with open(os.path.join(folder, "top_level.txt"), encoding="utf-8") as f:
            declared = set(f.read().split())
        if declared:
            return declared
    except OSError:
        pass
    try:
        with open(os.path.join(folder, "RECORD"), encoding="utf-8", newline="") as f:
            return {top for row in csv.reader(f) if row and (top := _top_level_of(row[0]))}
    except (OSError, csv.Error):
        return set()


def _scan(folder: str) -> Providers:
    """Read every distribution in one folder: top-level name -> [(name, version)]."""
    providers: Providers = {}
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return providers
    for entry in entries:
        if not entry.endswith((".dist-info", ".egg-info")):
            continue
        meta = os.path.join(folder, entry)
        headers = _headers(meta) if os.path.isdir(meta) else None
        if headers is None:
            continue
        for top in _top_levels(meta):
            providers.setdefault(top, []).append(headers)
    return providers


def _index_file(folder: str) -> str:
    return os.path.join(_index_dir(), blake3(folder.encode()).hexdigest()[:32] + ".json")


def _read_index(path: str, folder: str, mtime_ns: int) -> Providers | None:
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        if saved["version"] == INDEX_VERSION and saved["folder"] == folder and saved["mtime_ns"] == mtime_ns:
            return {top: [(n, v) for n, v in dists] for top, dists in saved["providers"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        pass  # missing, damaged or of another folder/version: rebuilt below
    return None


def _write_index(path: str, folder: str, mtime_ns: int, providers: Providers) -> None:
    record = {"version": INDEX_VERSION, "folder": folder, "mtime_ns": mtime_ns, "providers": providers}
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: the index is rebuilt in each process, nothing else changes


def folder_providers(folder: str) -> Providers:
    """One ``sys.path`` folder's index, from disk while the folder's mtime matches, else read and saved."""
    try:
        mtime_ns = os.stat(folder).st_mtime_ns
    except OSError:
        return {}
    path = _index_file(folder)
    saved = _read_index(path, folder, mtime_ns)
    if saved is not None:
        return saved
    providers = _scan(folder)
    if time.time() - mtime_ns / 1e9 > _RACY_S:
        _write_index(path, folder, mtime_ns, providers)
    return providers


@cache
def _all_providers() -> Providers:
    """Every ``sys.path`` folder's providers, the first folder first (as ``importlib.metadata.version`` finds)."""
    merged: Providers = {}
    seen: set[str] = set()
    for entry in sys.path:
        folder = os.path.realpath(entry or os.getcwd())
        if folder in seen or not os.path.isdir(folder):
            continue  # zip files hold no installed distributions here
        seen.add(folder)
        for top, dists in folder_providers(folder).items():
            known = {name for name, _ in merged.get(top, [])}
            merged.setdefault(top, []).extend(d for d in dists if d[0] not in known)
    return merged


def provider(top: str) -> tuple[str, str] | None:
    """``(name, version)`` of the distribution providing top-level module ``top`` (the first by name if several)."""
    dists = _all_providers().get(top)
    return min(dists, key=lambda d: d[0]) if dists else None
