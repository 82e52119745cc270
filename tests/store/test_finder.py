"""A miss's lookup of an absent manifest, asked of the key folder held open (``store/finder.py``): the same answers
as looking by path, one lookup instead of two, and a folder removed or replaced under it noticed."""

from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path

import pytest

from nbcache.store import finder, local
from nbcache.store.entry import EntryMeta
from nbcache.store.local import Store
from tests.store.test_formats import KEYS, _copy

SECRET = b"nbcache-test-finder-key-0123456789"
KEY_A, KEY_B = "a1" * 32, "b2" * 32


def _save(store: Store, key: str, value: int) -> None:
    store.save(key, {"outputs": {"y": value}}, EntryMeta(cell=f"y = {value}"))


def _path_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    lexists = os.path.lexists
    monkeypatch.setattr(local.os.path, "lexists", lambda p: (seen.append(str(p)), lexists(p))[1])
    return seen


def test_an_absent_manifest_is_one_lookup_in_the_folder_held_open(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "s", secret=SECRET)
    _save(store, KEY_A, 1)
    by_path = _path_lookups(monkeypatch)
    assert store.load(KEY_B) is None and by_path == []  # nothing walked the store's path
    assert Store(tmp_path / "s", secret=SECRET).load(KEY_A)[0]["outputs"]["y"] == 1  # found through a new finder


def test_a_key_folder_made_anew_under_it_is_looked_in_once_checked_again(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Another kernel clears the store by hand and saves into a new key folder: until the path is checked again
    (at most ``RECHECK_S`` later) the entry is not seen and the cell would run, never anything wrong; then it is
    found."""
    here, there = Store(tmp_path / "s", secret=SECRET), Store(tmp_path / "s", secret=SECRET)
    _save(here, KEY_A, 1)
    assert here.load(KEY_B) is None  # the key folder is held open now
    shutil.rmtree(tmp_path / "s" / "entries")
    _save(there, KEY_B, 2)
    monkeypatch.setattr(finder, "RECHECK_S", 3600.0)
    assert here.load(KEY_B) is None
    monkeypatch.setattr(finder, "RECHECK_S", 0.0)
    assert here.load(KEY_B)[0]["outputs"]["y"] == 2


def test_a_key_folder_this_process_makes_anew_is_looked_in_at_once(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A store cleared under the folder held open, then written to by this very process: by a save, or by an entry
    downloaded from a remote store (``adopt``, which a tiered store's first hit on a machine goes through)."""
    monkeypatch.setattr(finder, "RECHECK_S", 3600.0)
    store = Store(tmp_path / "s", secret=SECRET)
    _save(store, KEY_A, 1)
    assert store.load(KEY_B) is None  # the key folder is held open now
    raw, blobs = store.export(KEY_A)
    shutil.rmtree(tmp_path / "s")
    store.adopt(KEY_A, raw, lambda wanted: blobs)
    assert store.load(KEY_A)[0]["outputs"]["y"] == 1
    shutil.rmtree(tmp_path / "s")
    _save(Store(tmp_path / "s", secret=SECRET), KEY_A, 3)  # another kernel's entry: not seen yet...
    _save(store, KEY_B, 2)  # ...until this process writes one
    assert store.load(KEY_A)[0]["outputs"]["y"] == 3 and store.load(KEY_B)[0]["outputs"]["y"] == 2


def test_a_store_with_manifests_from_before_key_folders_is_asked_there_too(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    store = _copy(2, tmp_path)
    _save(store, KEY_A, 1)  # a key folder beside the old manifests
    assert store.load(KEYS[2]) is not None and store.load(KEY_A) is not None
    by_path = _path_lookups(monkeypatch)
    assert store.load(KEY_B) is None and by_path == [str(store.root / "entries" / f"{KEY_B}.json")]


def test_a_manifest_from_before_key_folders_that_appears_later_is_found(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _save(_copy(2, tmp_path), KEY_A, 1)  # a key folder beside the old manifest (whose blobs the save's sweep keeps)
    store = Store(tmp_path / "format2", secret=b"nbcache-test-format-2")
    legacy = store.root / "entries" / f"{KEYS[2]}.json"
    kept = legacy.read_bytes()
    legacy.unlink()
    assert store.load(KEYS[2]) is None  # the entries folder holds no old manifest: not asked there
    legacy.write_bytes(kept)  # an older release saves one
    monkeypatch.setattr(finder, "RECHECK_S", 0.0)
    assert store.load(KEYS[2]) is not None


def test_a_key_folder_that_is_a_link_is_looked_up_by_path_as_before(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", secret=SECRET)
    _save(store, KEY_A, 1)
    folder = next((tmp_path / "s" / "entries").iterdir())
    elsewhere = tmp_path / "elsewhere"
    folder.rename(elsewhere)
    folder.symlink_to(elsewhere, target_is_directory=True)
    fresh = Store(tmp_path / "s", secret=SECRET)
    assert fresh._finder.holds(fresh.kid, f"{KEY_A}.json") is None  # never held open through a link
    assert fresh.load(KEY_B) is None


def test_a_dropped_store_closes_the_folder_it_held(tmp_path: Path) -> None:
    _save(Store(tmp_path / "s", secret=SECRET), KEY_A, 1)
    fds = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        assert Store(tmp_path / "s", secret=SECRET).load(KEY_B) is None
    gc.collect()  # a store is freed by the cycle collector (its parts call back into it)
    assert len(os.listdir("/proc/self/fd")) <= fds + 1
