"""What the hit path spares itself must not change what it finds: hit statistics gathered in memory reach the
store (listing, eviction, a normal exit), and a manifest or pickle remembered from an earlier read is used only
while its file is the very one verified; damage done afterwards is still caught."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nbcache.store import background, files, local
from nbcache.store.entry import EntryMeta
from nbcache.store.local import Store
from tests.support import Shell, run_in_new_process

KEY = "ab" * 16


def _saved(root: Path) -> Store:
    store = Store(root, secret=b"k")
    store.save(KEY, {"outputs": {"x": [1, 2]}, "value": None, "events": []}, EntryMeta(cell="x = [1, 2]"))
    return store


def _quiet_load(store: Store) -> object:
    with pytest.warns(Warning):
        return store.load(KEY)


def test_hits_counted_in_memory_are_in_the_listing(shell: Shell) -> None:
    shell.ns["x"] = 1
    for _ in range(4):
        shell.cached("y = x + 1")
    _, captured = shell.run("%cache_info --json")
    (entry,) = json.loads(captured.stdout)["entries"]
    assert entry["hits"] == 3


def test_hit_statistics_reach_the_store_when_the_process_exits_normally(tmp_path: Path) -> None:
    script = """
        from IPython.core.interactiveshell import InteractiveShell
        from IPython.utils.capture import capture_output
        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "nbcache")
        ip.user_ns["x"] = 1
        with capture_output():
            for _ in range(3):
                ip.run_cell("%%cache\\ny = x + 1")
    """  # exits at once: the flusher has not written the two hits yet
    run_in_new_process(script, cwd=tmp_path)
    listing = run_in_new_process("""
        from nbcache.store.location import open_store
        import os
        print(sum(e.hits for e in open_store(os.environ["NBCACHE_DIR"]).entries()))
    """, cwd=tmp_path)
    assert listing.strip() == "2"


def test_eviction_sees_the_recency_of_hits_not_yet_written(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", secret=b"k")
    for key in ("aa" * 16, "bb" * 16):  # aa is the older entry
        store.save(key, {"outputs": {"x": key * 1000}, "value": None, "events": []}, EntryMeta(cell=key))
    room = store.usage() - 1
    background.record_hit(store, "aa" * 16, 0.0)  # only in memory: aa is now the most recently used
    store.prune(room)
    assert [e.key for e in store.entries()] == ["aa" * 16]


def test_a_remembered_manifest_spares_the_next_read(tmp_path: Path, settled: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    store = _saved(tmp_path / "s")
    assert store.load(KEY) is not None
    reads = []
    read_small = files.read_small
    monkeypatch.setattr(files, "read_small", lambda *a, **k: reads.append(a) or read_small(*a, **k))
    loaded = store.load(KEY)
    assert loaded is not None and loaded[0]["outputs"] == {"x": [1, 2]} and reads == []


def test_a_manifest_rewritten_after_it_was_remembered_is_verified_again(tmp_path: Path, settled: None) -> None:
    store = _saved(tmp_path / "s")
    assert store.load(KEY) is not None
    (path,) = (tmp_path / "s" / "entries").glob(f"*/{KEY}.json")
    manifest = json.loads(path.read_text())
    manifest["meta"]["cell"] = "tampered"  # the signature no longer matches
    path.write_text(json.dumps(manifest))
    assert _quiet_load(store) is None


def test_a_pickle_damaged_after_it_was_remembered_is_caught(tmp_path: Path, settled: None) -> None:
    store = _saved(tmp_path / "s")
    assert store.load(KEY) is not None
    (blob,) = [p for p in (tmp_path / "s" / "blobs").iterdir() if not p.name.startswith(".")]
    data = bytearray(blob.read_bytes())
    data[-2] ^= 1
    os.chmod(blob, 0o644)
    blob.write_bytes(bytes(data))
    assert _quiet_load(store) is None


def test_a_pickle_removed_after_it_was_remembered_is_missed(tmp_path: Path, settled: None) -> None:
    store = _saved(tmp_path / "s")
    assert store.load(KEY) is not None
    for blob in (tmp_path / "s" / "blobs").iterdir():
        blob.unlink()
    assert _quiet_load(store) is None


def test_a_hit_right_after_its_save_reads_nothing_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What this process saved a moment ago (not settled) is remembered as written: re-running a notebook in the
    same kernel reads neither the manifest nor the pickle again."""
    store = _saved(tmp_path / "s")
    reads = []
    read_small, read_verified = files.read_small, local.read_verified
    monkeypatch.setattr(files, "read_small", lambda *a, **k: reads.append(a) or read_small(*a, **k))
    monkeypatch.setattr(local, "read_verified", lambda *a, **k: reads.append(a) or read_verified(*a, **k))
    loaded = store.load(KEY)
    assert loaded is not None and loaded[0]["outputs"] == {"x": [1, 2]} and reads == []


def test_a_pickle_removed_right_after_its_save_is_missed(tmp_path: Path) -> None:
    store = _saved(tmp_path / "s")
    for blob in (tmp_path / "s" / "blobs").iterdir():
        blob.unlink()
    assert _quiet_load(store) is None


def test_an_entry_another_kernel_saves_again_right_after_is_read_again(tmp_path: Path) -> None:
    """Another kernel's save of the same key replaces the manifest by a rename (a new file): this process's
    memory of its own save is not used."""
    mine = _saved(tmp_path / "s")
    theirs = Store(tmp_path / "s", secret=b"k")
    theirs.save(KEY, {"outputs": {"x": [3]}, "value": None, "events": []}, EntryMeta(cell="x = [1, 2]"))
    loaded = mine.load(KEY)
    assert loaded is not None and loaded[0]["outputs"] == {"x": [3]}


def _atoms_only(payload: object) -> object:
    """Shares a payload of ints alone, as it is."""
    ints = isinstance(payload, dict) and all(isinstance(v, int) for v in payload["outputs"].values())
    return payload if ints else None


def test_a_payload_its_loader_shares_is_unpickled_once(tmp_path: Path, settled: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "s", secret=b"k")
    store.save(KEY, {"outputs": {"y": 2}}, EntryMeta(cell="y = 2"))
    loads = []
    real = local.serialize.loads
    monkeypatch.setattr(local.serialize, "loads", lambda *a, **k: loads.append(a) or real(*a, **k))
    first, second, third = (store.load(KEY, share=_atoms_only) for _ in range(3))
    assert first is not None and second is not None and third is not None
    assert second[0] is third[0] and third[0]["outputs"] == {"y": 2}
    assert len(loads) <= 2  # the first two loads may each unpickle (the bytes read are then kept); never later


def test_a_payload_not_shared_is_unpickled_at_every_load(tmp_path: Path, settled: None) -> None:
    store = _saved(tmp_path / "s")  # a list: the user may change it, so each hit needs its own
    loads = [store.load(KEY, share=_atoms_only) for _ in range(3)]
    assert all(loaded is not None for loaded in loads)
    lists = [loaded[0]["outputs"]["x"] for loaded in loads if loaded is not None]
    assert lists == [[1, 2]] * 3 and len({id(x) for x in lists}) == 3


def test_a_reused_payload_is_dropped_when_its_pickle_is_damaged(tmp_path: Path, settled: None) -> None:
    store = Store(tmp_path / "s", secret=b"k")
    store.save(KEY, {"outputs": {"y": 2}}, EntryMeta(cell="y = 2"))
    for _ in range(3):
        assert store.load(KEY, share=_atoms_only) is not None
    (blob,) = [p for p in (tmp_path / "s" / "blobs").iterdir() if not p.name.startswith(".")]
    data = bytearray(blob.read_bytes())
    data[-2] ^= 1
    os.chmod(blob, 0o644)
    blob.write_bytes(bytes(data))
    with pytest.warns(Warning):
        assert store.load(KEY, share=_atoms_only) is None
