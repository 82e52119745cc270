"""Faults survived: damage of every kind, a full disk, a read-only store, tampering, a crash at every step of a save.

Each damaged entry must be a miss with (at most) one warning, be repaired by the re-run, and never restore wrong.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from nbcache.errors import CacheWarning
from nbcache.store import blobs as blobfile
from nbcache.store.entry import EntryMeta
from nbcache.store.index import FILE_NAME as INDEX_FILE
from nbcache.store.local import Store
from tests.support import Shell

CELL = "arr = np.arange(100_000) * k\ntotal = int(arr.sum())"  # 800 kB: the array is a blob of its own


def _manifest(root: Path) -> tuple[Path, dict]:
    [path] = [p for p in (root / "entries").rglob("*.json") if not p.name.startswith(blobfile.TMP_PREFIX)]
    return path, json.loads(path.read_text())


def _damage(root: Path, kind: str) -> None:
    """Damage the one entry in the store the way ``kind`` says (joblib's corrupt_single_cache_item, widened)."""
    path, manifest = _manifest(root)
    target = {"pickle": root / "blobs" / manifest["data"][0], "buffer": root / "blobs" / manifest["buffers"][0][0],
              "manifest": path, "stats": root / "stats" / path.name}[kind.split()[-1]]
    how = kind.split()[0]
    if how == "missing":
        target.unlink()
    elif how == "truncated":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    else:  # garbled: same size, other bytes
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))


def _warnings_of(shell: Shell, source: str) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.cached(source)
    return [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]


@pytest.mark.parametrize("kind", [
    "missing pickle", "truncated pickle", "garbled pickle",
    "missing buffer", "truncated buffer", "garbled buffer",
    "truncated manifest", "garbled manifest",
])
def test_damage_is_one_warning_a_correct_run_and_a_repair(shell: Shell, tmp_path: Path, kind: str) -> None:
    shell.ns.update(np=np, k=3)
    shell.cached(CELL)
    _damage(tmp_path / "store", kind)
    _, info = shell.run("%cache_info")  # keeps working on a damaged store
    assert "entr" in info.stdout and not info.stderr
    assert len(_warnings_of(shell, CELL)) == 1
    assert shell.runs == 2 and shell.ns["total"] == 3 * sum(range(100_000))
    assert _warnings_of(shell, CELL) == [] and shell.runs == 2  # repaired: a hit again


@pytest.mark.parametrize("kind", ["missing manifest", "missing stats", "garbled stats", "truncated stats"])
def test_damage_that_loses_nothing_trusted_is_quiet(shell: Shell, tmp_path: Path, kind: str) -> None:
    shell.ns.update(np=np, k=3)
    shell.cached(CELL)
    shell.cached(CELL)  # a hit writes the stats file
    shell.run("%cache_info")  # (and the listing waits for statistics still being written)
    _damage(tmp_path / "store", kind)
    assert _warnings_of(shell, CELL) == []
    assert shell.runs == (2 if "manifest" in kind else 1) and shell.ns["total"] == 3 * sum(range(100_000))
    _, info = shell.run("%cache_info")
    assert "1 entry" in info.stdout


def _fail_with(code: int):  # noqa: ANN202
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    return fail


class _FailingFile:
    def __init__(self, code: int) -> None:
        self.code = code

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, data: object) -> int:
        raise OSError(self.code, os.strerror(self.code))


def _writes_fail(code: int):  # noqa: ANN202
    """An ``open`` that fails every write with ``code`` and reads as usual."""
    def fake_open(path: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        return _FailingFile(code) if "w" in mode else open(path, mode, *args, **kwargs)

    return fake_open


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
@pytest.mark.parametrize("where", ["write", "rename"])
def test_full_disk_or_read_only_store_runs_the_cell_and_says_not_stored(
        shell: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, where: str) -> None:
    if where == "write":
        monkeypatch.setattr(blobfile, "open", _writes_fail(code), raising=False)
    else:
        monkeypatch.setattr(blobfile.os, "replace", _fail_with(code))
    shell.ns.update(np=np, k=2)
    messages = _warnings_of(shell, CELL)
    assert shell.ns["total"] == 2 * sum(range(100_000)) and shell.runs == 1
    assert len(messages) == 1 and "not stored" in messages[0] and os.strerror(code) in messages[0]
    leftovers = [p for p in (tmp_path / "store").rglob("*") if p.is_file() and p.parent.name != "locks"
                 and not p.name.startswith(INDEX_FILE)]
    assert leftovers == []  # no temporary file stays behind (a lock file per key and the index are not data)
    monkeypatch.undo()
    shell.cached(CELL)
    assert shell.runs == 2  # nothing half-stored was restored


def test_a_read_only_store_still_serves_hits(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    shell.ns.update(np=np, k=2)
    shell.cached(CELL)
    # As root, chmod does not stop writes: fail every write the way a read-only mount does.
    monkeypatch.setattr(blobfile, "open", _writes_fail(errno.EROFS), raising=False)
    monkeypatch.setattr(blobfile.os, "replace", _fail_with(errno.EROFS))
    shell.ns["arr"] = None
    assert _warnings_of(shell, CELL) == [] and shell.runs == 1 and shell.ns["arr"][1] == 2


def test_an_entry_signed_with_another_key_is_refused_and_left_alone(tmp_path: Path) -> None:
    mine, theirs = Store(tmp_path / "s", secret=b"mine"), Store(tmp_path / "s", secret=b"theirs")
    theirs.save("ab" * 16, {"outputs": {"x": 1}}, EntryMeta())
    path, _ = _manifest(tmp_path / "s")
    path.rename(mine._manifest_path("ab" * 16).parent.parent / path.name)  # where entries lay before key folders
    with pytest.warns(CacheWarning, match="another key"):
        assert mine.load("ab" * 16) is None
    assert theirs.load("ab" * 16)[0]["outputs"] == {"x": 1}  # a teammate's entry is not ours to delete


@pytest.mark.parametrize("field", ["meta", "buffers"])
def test_a_tampered_manifest_is_refused(tmp_path: Path, field: str) -> None:
    store = Store(tmp_path / "s", secret=b"k")
    store.save("ab" * 16, {"outputs": {"x": np.arange(10**5)}}, EntryMeta(cell="x = 1"))
    path, manifest = _manifest(store.root)
    if field == "meta":
        manifest["meta"]["cell"] = "x = 2"
    else:  # point the entry at other data, as an attacker who can write the store might
        other = np.ones(10**5, dtype=np.int64)
        (store.root / "blobs" / blobfile.digest(other)).write_bytes(other.tobytes())
        manifest["buffers"][0][0] = blobfile.digest(other)
    path.write_text(json.dumps(manifest))
    with pytest.warns(CacheWarning, match="signature"):
        assert store.load("ab" * 16) is None


def test_a_tampered_blob_is_refused_before_unpickling(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", secret=b"k")
    store.save("ab" * 16, {"outputs": {"x": [1, 2]}}, EntryMeta())
    _, manifest = _manifest(store.root)
    evil = b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR."
    (store.root / "blobs" / manifest["data"][0]).write_bytes(evil)
    with pytest.warns(CacheWarning, match="data"):
        assert store.load("ab" * 16) is None
    assert not (tmp_path / "pwned").exists()


# ---- a crash at every step of a save: a child process dies (os._exit, no clean-up) at crash point N

CRASH_CHILD = """
import os, sys
import numpy as np
from nbcache.store import blobs as blobfile
from nbcache.store.entry import EntryMeta
from nbcache.store.index import FILE_NAME as INDEX_FILE
from nbcache.store.local import Store

point, how = int(sys.argv[1]), sys.argv[2]
calls = {"n": 0}
real_replace, real_open = blobfile.os.replace, open

def crashing_replace(src, dst):
    calls["n"] += 1
    if calls["n"] == point and how == "before-rename":
        os._exit(3)
    real_replace(src, dst)
    if calls["n"] == point and how == "after-rename":
        os._exit(3)

class HalfWriter:
    # dies half-way through writing its file
    def __init__(self, f):
        self.f = f
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return None
    def write(self, data):
        view = memoryview(data).cast("B")
        self.f.write(view[: view.nbytes // 2])
        self.f.flush()
        os._exit(3)

def crashing_open(path, mode="r", *args, **kwargs):
    f = real_open(path, mode, *args, **kwargs)
    if "w" in mode:
        calls["n"] += 1
        if calls["n"] == point:
            return HalfWriter(f)
    return f

if how == "mid-write":
    blobfile.open = crashing_open
else:
    blobfile.os.replace = crashing_replace
store = Store(sys.argv[3], secret=b"k", size_limit=int(sys.argv[4]))
store.save("cd" * 16, {"outputs": {"a": np.arange(10**5), "b": np.ones(10**5), "s": "new"}}, EntryMeta())
print("COMPLETED")
"""


def _crash_save(root: Path, point: int, how: str, limit: int) -> bool:
    """Run the save in a child that dies at crash point ``point``; True if it got through without dying."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(CRASH_CHILD), str(point), how, str(root),
                           str(limit)], capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 3), done.stderr
    return "COMPLETED" in done.stdout


def _check_whole_or_nothing(root: Path) -> None:
    store = Store(root, secret=b"k", size_limit=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a crash must not even look like damage
        old = store.load("ab" * 16)
        new = store.load("cd" * 16)
    if old is not None:
        assert np.array_equal(old[0]["outputs"]["a"], np.arange(10**5))
    if new is not None:
        out = new[0]["outputs"]
        assert np.array_equal(out["a"], np.arange(10**5)) and np.array_equal(out["b"], np.ones(10**5))
    assert store.verify() == []
    for path in root.rglob(f"{blobfile.TMP_PREFIX}*"):
        os.utime(path, (0, 0))  # an old leftover: the next sweep takes it
    store.sweep()
    assert not list(root.rglob(f"{blobfile.TMP_PREFIX}*"))


@pytest.mark.parametrize("how", ["before-rename", "after-rename", "mid-write"])
@pytest.mark.parametrize("evicting", [False, True])
def test_a_crash_at_any_step_of_a_save_leaves_a_whole_entry_or_none(tmp_path: Path, how: str,
                                                                    evicting: bool) -> None:
    points = 0
    for point in range(1, 10):
        root = tmp_path / f"{how}-{point}"
        # An older entry shares the array "a" with the new one; with a small limit the save evicts it.
        Store(root, secret=b"k").save("ab" * 16, {"outputs": {"a": np.arange(10**5)}}, EntryMeta())
        completed = _crash_save(root, point, how, 10**6 if evicting else 10**9)
        _check_whole_or_nothing(root)
        if completed:
            break
        points += 1
    assert points >= 3 and completed  # pickle, two buffers... each crash point was reached, then a clean run


def test_a_manifest_copied_to_another_key_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", secret=b"k")
    store.save("ab" * 16, {"outputs": {"x": "for ab"}}, EntryMeta())
    path, _ = _manifest(store.root)
    path.rename(path.with_name(f"{'cd' * 16}.json"))  # validly signed, but for another cell's key
    with pytest.warns(CacheWarning, match="another key"):
        assert store.load("cd" * 16) is None
    assert store.entries() == []


def test_the_first_save_of_a_session_sweeps_what_a_crash_left(tmp_path: Path) -> None:
    root = tmp_path / "s"
    Store(root, secret=b"k").save("ab" * 16, {"outputs": {"x": 1}}, EntryMeta())
    leftovers = [root / "blobs" / f"{blobfile.TMP_PREFIX}blob.dead", root / "blobs" / ("0" * 64)]
    for path in leftovers:  # a crashed writer's temporary file and a blob no manifest names, both old
        path.write_bytes(b"x")
        os.utime(path, (0, 0))
    Store(root, secret=b"k").save("cd" * 16, {"outputs": {"x": 2}}, EntryMeta())
    assert not any(p.exists() for p in leftovers)
    assert Store(root, secret=b"k").load("ab" * 16)[0]["outputs"] == {"x": 1}
