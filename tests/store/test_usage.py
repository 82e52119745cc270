"""The store's usage, which every save compares with the size limit, kept by the index as entries come and go.

It was a sum over the distinct blobs of every entry at each save (25 ms at 10,000 entries); the index now keeps the
total itself. These tests hold that total to the files: whatever saves, removals, clears, hand deletions and index
upgrades happen, it equals the bytes of the distinct blobs the manifests on disk name.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbcache.store.entry import EntryMeta
from nbcache.store.index import FILE_NAME
from nbcache.store.local import Store
from nbcache.store.manifest import blob_refs

SECRET = b"usage test key"


def _on_disk(store: Store) -> int:
    """Bytes of the distinct blobs named by the manifests in the store folder, read from the files alone."""
    blobs = set()
    for path in (store.root / "entries").rglob("*.json"):
        manifest = store.verified(path.read_bytes())
        if manifest is not None:
            blobs |= set(blob_refs(manifest))
    return sum(size for _, size in blobs)


def _key(i: int) -> str:
    return f"{i:02x}" * 16


def _payload(content: int, nbytes: int) -> dict:
    """Entries with the same ``content`` and ``nbytes`` share their array's blob."""
    return {"outputs": {"arr": np.full(nbytes, content, dtype=np.uint8)}, "value": None, "events": []}


_STEPS = st.lists(st.one_of(
    st.tuples(st.just("save"), st.integers(0, 7), st.integers(0, 2), st.sampled_from([1000, 5000])),
    st.tuples(st.just("remove"), st.integers(0, 7)),
    st.tuples(st.just("delete by hand"), st.integers(0, 7)),
    st.tuples(st.just("clear")),
), min_size=1, max_size=14)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_STEPS)
def test_the_usage_the_index_keeps_equals_the_files(tmp_path_factory, steps: list[tuple]) -> None:
    root = tmp_path_factory.mktemp("store")
    store = Store(root, secret=SECRET, size_limit=None)
    for step in steps:
        if step[0] == "save":
            store.save(_key(step[1]), _payload(step[2], step[3]), EntryMeta())
        elif step[0] == "remove":
            store.remove_keys([_key(step[1])], grace=0.0)
        elif step[0] == "delete by hand":  # the index learns it from the folder at its next sync
            for path in (root / "entries").rglob(f"{_key(step[1])}.json"):
                path.unlink()
            store.entries()
        else:
            store.clear()
        assert store._index.usage() == _on_disk(store) == store.usage()


def test_an_index_written_before_the_total_is_counted_when_opened(tmp_path: Path) -> None:
    """An index of the previous version is dropped and rebuilt from the files; one without a version (written
    before versions) keeps its rows, and its total is counted from them."""
    store = Store(tmp_path, secret=SECRET, size_limit=None)
    for i in range(4):
        store.save(_key(i), _payload(i % 2, 3000 + i), EntryMeta())
    expected = _on_disk(store)
    db_path = tmp_path / FILE_NAME
    for version in (1, 0):
        db = sqlite3.connect(db_path, isolation_level=None)
        db.executescript("DROP TABLE blob_uses; DROP TABLE usage_total;")  # their triggers go with them
        db.execute(f"PRAGMA user_version={version}")
        db.close()
        reopened = Store(tmp_path, secret=SECRET, size_limit=None)
        if version == 1:  # dropped: rebuilt from the files at the next listing
            assert reopened._index.usage() == 0
            reopened.entries()
        assert reopened._index.usage() == expected
        reopened.save(_key(9), _payload(7, 777), EntryMeta())
        assert reopened._index.usage() == _on_disk(reopened) > expected
        reopened.remove_keys([_key(9)], grace=0.0)
        assert reopened._index.usage() == _on_disk(reopened) == expected
