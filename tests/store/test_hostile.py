"""The store under hostile files, shared keys and bad input (issue 13): one test per finding, each failing on it.

Files outside the store are never touched, the bytes unpickled are the bytes verified, short keys are refused,
several keys share a store, a sweep spares what a writer is about to commit, one bad file harms one entry only,
pipes never hang, files of the wrong type are repaired, and bad input is a message.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from IPython.core.error import UsageError

from nbcache import cli
from nbcache.errors import CacheWarning, StoreError
from nbcache.store import blobs as blobfile
from nbcache.store import files
from nbcache.store.clearing import ClearRequest, clear
from nbcache.store.entry import EntryMeta
from nbcache.store.local import Store
from nbcache.store.signing import KeyRefused
from tests.support import Shell

KEY = b"k" * 32
OLD = 10 * 24 * 3600.0  # ten days, far beyond every grace period
A, B = "ab" * 16, "cd" * 16


def _payload(value: object) -> dict:
    return {"outputs": {"x": value}, "value": None, "events": []}


def _age_everything(root: Path) -> None:
    past = time.time() - OLD
    for path in root.rglob("*"):
        os.utime(path, (past, past), follow_symlinks=False)


def _quiet(store: Store, key: str) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = store.load(key)
    return None if loaded is None else loaded[0]["outputs"]["x"]


class Hung(BaseException):
    """Raised by the alarm: no ``except OSError`` or ``except Exception`` in the store may swallow it."""


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail, never hang, if something blocks (opening a named pipe does until a writer comes)."""
    def interrupt(*_: object) -> None:
        raise Hung("blocked on a file")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.alarm(20)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ---- 1. nothing outside the store is created, written or deleted; only names nbcache gives are removed

@pytest.mark.parametrize("sub", ["blobs", "entries", "stats", "locks"])
def test_a_linked_store_folder_is_never_written_or_swept_through(tmp_path: Path, sub: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victims = [outside / "notes.txt", outside / ("0" * 64), outside / f"{A}.json", outside / f"{A}.lock"]
    for path in victims:
        path.write_text("precious")
    root = tmp_path / "s"
    root.mkdir()
    (root / sub).symlink_to(outside)
    _age_everything(outside)
    store = Store(root, secret=KEY)
    try:
        store.save(A, _payload(1), EntryMeta())
        store.record_hit(A, 1.0)
    except StoreError:
        pass  # refusing to write through the link is right
    store.lock(A).try_acquire()
    store.prune(0)
    store.remove("ab")
    store.clear()
    assert sorted(p.name for p in outside.iterdir()) == sorted(p.name for p in victims)


def test_sweeps_remove_only_names_nbcache_gives(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", secret=KEY)
    store.save(A, _payload(1), EntryMeta())
    store.record_hit(A, 1.0)
    strangers = [store.root / "blobs" / "README", store.root / "stats" / "notes.json", store.root / "entries" / "x"]
    for path in strangers:
        path.write_text("not nbcache's")
    _age_everything(store.root)
    store.sweep()
    store.clear()
    assert all(p.exists() for p in strangers)


# ---- 2. the bytes unpickled are the bytes verified; mapping only where nobody else can write

def test_a_pickle_rewritten_between_check_and_load_never_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "s", secret=KEY)
    big = [f"row {i}" for i in range(200_000)]  # a pickle stream of over 1 MiB, no out-of-band buffer
    store.save(A, _payload(big), EntryMeta())
    [data] = [p for p in (store.root / "blobs").iterdir() if p.stat().st_size >= blobfile.MAP_MIN]
    evil = b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR."
    real_digest = blobfile.digest

    def digest_then_rewrite(buffer: object) -> str:
        result = real_digest(buffer)
        with open(data, "r+b") as f:  # the attacker wins the race: right after the check
            f.write(evil.ljust(64, b" "))
        return result

    monkeypatch.setattr(blobfile, "digest", digest_then_rewrite)
    loaded = store.load(A)
    assert not (tmp_path / "pwned").exists()
    assert loaded is not None and loaded[0]["outputs"]["x"] == big


def test_a_blob_others_can_write_is_copied_so_edits_do_not_reach_the_restored_array(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", secret=KEY)
    store.save(A, _payload(np.arange(2**20)), EntryMeta())
    [buffer] = [p for p in (store.root / "blobs").iterdir() if p.stat().st_size >= blobfile.MAP_MIN]
    buffer.chmod(0o666)  # a store others may write: its blobs are copied, never mapped
    arr = _quiet(store, A)
    with open(buffer, "r+b") as f:
        f.write(b"\xff" * 4096)
    os.truncate(buffer, 4096)  # were it mapped, touching the array now would kill the process (SIGBUS)
    assert isinstance(arr, np.ndarray) and int(arr.sum()) == sum(range(2**20))


def test_blobs_are_written_read_only_and_a_mapped_buffer_is_hashed_once_per_file_identity(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blobfile, "_SETTLE_NS", -10**12)  # no waiting for the file's clock tick to pass
    Store(tmp_path / "s", secret=KEY).save(A, _payload(np.arange(2**20)), EntryMeta())
    [buffer] = [p for p in (tmp_path / "s" / "blobs").iterdir() if p.stat().st_size >= blobfile.MAP_MIN]
    assert not buffer.stat().st_mode & 0o222
    hashed: list[int] = []
    real_digest = blobfile.digest
    monkeypatch.setattr(blobfile, "digest", lambda data: hashed.append(memoryview(data).nbytes) or real_digest(data))
    assert int(_quiet(Store(tmp_path / "s", secret=KEY), A).sum()) == sum(range(2**20))
    assert max(hashed) == buffer.stat().st_size  # the first restore checks it
    hashed.clear()
    assert int(_quiet(Store(tmp_path / "s", secret=KEY), A).sum()) == sum(range(2**20))  # a restart
    assert hashed and max(hashed) < blobfile.MAP_MIN  # only the small pickle stream again
    with open(buffer, "r+b") as f:  # an edit changes the file's identity (its ctime): checked again, refused
        f.write(b"\xff" * 8)
    with pytest.warns(CacheWarning, match="hash"):
        assert Store(tmp_path / "s", secret=KEY).load(A) is None


# ---- 3. keys

@pytest.mark.parametrize("content", ["", "short", "/dev/null"])
def test_an_empty_or_short_key_is_refused_and_a_forged_entry_never_runs(
        shell: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str) -> None:
    key_file = tmp_path / "secret.key"
    if content == "/dev/null":
        key_file.symlink_to("/dev/null")
    else:
        key_file.write_text(content)
    if content != "/dev/null":
        Store(tmp_path / "store", secret=content.encode()).save(A, _payload("forged"), EntryMeta())  # who knows the key
    with pytest.raises(KeyRefused, match="at least 32|not a regular file"):
        Store(tmp_path / "store").save(B, _payload(1), EntryMeta())
    with pytest.warns(CacheWarning, match="at least 32|not a regular file"):
        assert Store(tmp_path / "store").load(A) is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.cached("x = 1")
    assert shell.runs == 1 and shell.ns["x"] == 1 and any("not stored" in str(w.message) for w in caught)
    monkeypatch.setenv("NBCACHE_KEY", "team")
    with pytest.raises(KeyRefused, match="NBCACHE_KEY"):
        Store(tmp_path / "store").save(A, _payload(1), EntryMeta())


def test_a_key_others_can_read_warns_and_a_new_key_is_private(tmp_path: Path) -> None:
    key_file = tmp_path / "conf" / "nbcache" / "secret.key"
    os.environ["NBCACHE_SECRET_FILE"] = str(key_file)
    Store(tmp_path / "s").save(A, _payload(1), EntryMeta())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    key_file.chmod(0o644)
    with pytest.warns(CacheWarning, match="can be read by others"):
        Store(tmp_path / "s").save(B, _payload(2), EntryMeta())


def test_a_folder_as_key_file_is_a_message_in_ls_info_and_verify(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    Store(tmp_path / "store", secret=KEY).save(A, _payload(1), EntryMeta())
    (tmp_path / "secret.key").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli.main(["ls"]) == 0
        assert cli.main(["info"]) == 0
        assert cli.main(["verify"]) == 1
    assert "not a regular file" in capsys.readouterr().out


# ---- 4. several keys on one store

def test_two_keys_share_a_store_without_overwriting_or_sweeping_each_other(tmp_path: Path) -> None:
    alice, bob = Store(tmp_path / "s", secret=b"a" * 32), Store(tmp_path / "s", secret=b"b" * 32)
    alice.save(A, _payload("alice's"), EntryMeta())
    alice.save(B, _payload(np.arange(10**5)), EntryMeta())
    bob.save(A, _payload("bob's"), EntryMeta())  # the same cell under the other key
    _age_everything(tmp_path / "s")
    bob.remove("ab")
    bob.prune(10**9)
    bob.save("ef" * 16, _payload(3), EntryMeta())  # the first save of a session sweeps
    bob.sweep(grace=0)
    assert _quiet(alice, A) == "alice's" and int(_quiet(alice, B).sum()) == sum(range(10**5))
    assert _quiet(bob, A) is None and _quiet(bob, "ef" * 16) == 3
    assert [e.key for e in alice.entries()] == [B, A] and [e.key for e in bob.entries()] == ["ef" * 16]


# ---- 5. sweeps keep young blobs: an entry being written survives a concurrent clear

@pytest.mark.parametrize("how", ["all", "prefix", "older-than", "prune"])
def test_a_clear_during_a_save_does_not_break_the_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        how: str) -> None:
    writer, other = Store(tmp_path / "s", secret=KEY), Store(tmp_path / "s", secret=KEY)
    other.save(B, _payload("old"), EntryMeta())
    real_put = Store._put_manifest

    def clear_between_blobs_and_manifest(self: Store, key: str, encoded: bytes) -> None:
        if how == "prune":
            other.prune(0)
        else:
            request = {"all": ClearRequest(all=True), "prefix": ClearRequest(keys=("cd",)),
                       "older-than": ClearRequest(older_than="0s")}[how]
            clear(other, request)
        real_put(self, key, encoded)

    monkeypatch.setattr(Store, "_put_manifest", clear_between_blobs_and_manifest)
    writer.save(A, _payload(np.arange(10**5)), EntryMeta())
    monkeypatch.undo()
    assert int(_quiet(writer, A).sum()) == sum(range(10**5))


def _claimed_blob(writer: Store) -> Path:
    """A save in progress: its data blob written and claimed, its manifest not yet."""
    name = writer._put_blob(np.arange(10**4).tobytes(), writer._claimer(files.new_owner()))[0]
    return writer.root / "blobs" / name


def test_an_eviction_by_a_process_that_started_before_the_store_existed_spares_a_save_in_progress(
        tmp_path: Path) -> None:
    """A process whose first look at the store found no folder used to keep an index in memory for good, blind to
    every other process's claims, so its evictions removed blobs of entries being written (a missing-data warning
    and a miss for the writer). Its index moves to the store's file once the folder exists."""
    clearer = Store(tmp_path / "s", secret=KEY)
    clearer.sweep()  # the index opened while there is no store folder yet
    blob = _claimed_blob(Store(tmp_path / "s", secret=KEY))
    clearer._removal._remove_unclaimed({blob.name}, grace=0.0)  # what evicting an entry sharing this blob does
    assert blob.exists()


def test_claims_move_with_a_process_to_an_index_another_process_rebuilt(tmp_path: Path) -> None:
    writer = Store(tmp_path / "s", secret=KEY)
    blob = _claimed_blob(writer)
    index = writer.root / "index.sqlite3"
    for suffix in ("-wal", "-shm", ""):  # damaged: another process deletes it and starts a new one
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    index.write_bytes(b"not a database" * 100)
    other = Store(tmp_path / "s", secret=KEY)
    other.entries()  # rebuilds the index; the writer's claim is not in it yet
    writer._index.claims()  # the writer's next use of the index: it moves to the new file, with its claims
    other._removal._remove_unclaimed({blob.name}, grace=0.0)
    assert blob.exists()


# ---- 6. one bad file harms one entry only

@pytest.mark.parametrize("poison", ["nan-stats", "deep-manifest", "deep-manifest-other-name"])
def test_one_poisoned_file_leaves_the_rest_of_the_store_working(
        shell: Shell, tmp_path: Path, capsys: pytest.CaptureFixture[str], poison: str) -> None:
    store = Store(tmp_path / "store")
    store.save(A, _payload(1), EntryMeta())
    store.save(B, _payload(2), EntryMeta())
    if poison == "nan-stats":
        (store.root / "stats").mkdir(exist_ok=True)
        (store.root / "stats" / f"{A}.json").write_text('{"hits": NaN, "last_used": NaN, "saved_s": Infinity}')
    else:
        name = f"{A}.json" if poison == "deep-manifest" else "zz.json"
        (store._manifest_path(A).parent / name).write_text("[" * 100_000 + "]" * 100_000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store.save("ef" * 16, _payload(3), EntryMeta())
        store.size_limit = 1
        store.save("0f" * 16, _payload(4), EntryMeta())  # evicts all but itself
        _, info = shell.run("%cache_info")
    assert [str(w.message) for w in caught if issubclass(w.category, CacheWarning)] == []
    assert [e.key for e in store.entries()] == ["0f" * 16] and "1 entry" in info.stdout
    assert cli.main(["ls"]) == 0 and cli.main(["verify"]) == 0
    capsys.readouterr()


# ---- 7. a named pipe anywhere never hangs

@pytest.mark.parametrize("where", ["manifest", "blob", "stats", "index"])
def test_a_named_pipe_never_hangs(tmp_path: Path, no_hang: None, capsys: pytest.CaptureFixture[str],
                                  where: str) -> None:
    store = Store(tmp_path / "store")
    store.save(A, _payload(np.arange(10**5)), EntryMeta())
    manifest = json.loads(store._manifest_path(A).read_text())
    path = {"manifest": store._manifest_path(A), "blob": store.layout.blob_path(manifest["buffers"][0][0]),
            "stats": store.layout.stats_path(A), "index": store.root / "index.sqlite3"}[where]
    path.parent.mkdir(exist_ok=True)
    files.remove(path)
    os.mkfifo(path)
    fresh = Store(tmp_path / "store")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh.load(A)
        fresh.record_hit(A, 1.0)
        lock = fresh.lock(A)
        assert lock.try_acquire()
        lock.release()
        fresh.entries()
        assert cli.main(["ls"]) == 0 and cli.main(["verify"]) in (0, 1) and cli.main(["info"]) == 0
        fresh.save(A, _payload(np.arange(10**5)), EntryMeta())  # repaired
    assert int(_quiet(Store(tmp_path / "store"), A).sum()) == sum(range(10**5))
    capsys.readouterr()


# ---- 8. files of the wrong type

@pytest.mark.parametrize("where", ["manifest", "blob", "stats"])
def test_a_folder_where_a_file_belongs_is_repaired(tmp_path: Path, where: str) -> None:
    store = Store(tmp_path / "s", secret=KEY)
    store.save(A, _payload(np.arange(10**5)), EntryMeta())
    store.record_hit(A, 1.0)
    manifest = json.loads(store._manifest_path(A).read_text())
    path = {"manifest": store._manifest_path(A), "blob": store.layout.blob_path(manifest["data"][0]),
            "stats": store.layout.stats_path(A)}[where]
    files.remove(path)
    (path / "inside").mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store.load(A)
        store.save(A, _payload(np.arange(10**5)), EntryMeta())
        store.record_hit(A, 1.0)
    assert int(_quiet(store, A).sum()) == sum(range(10**5)) and store.entries()[0].hits >= 1
    (path.parent / ("1" * 64 if where == "blob" else f"{'9' * 32}.json")).mkdir()
    store.prune(0)
    store.clear()
    assert store.entries() == []


def test_a_lock_that_is_a_link_creates_nothing_at_its_target(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", secret=KEY)
    target = tmp_path / "elsewhere" / "planted"
    target.parent.mkdir()
    (store.root / "locks").mkdir(parents=True)
    (store.root / "locks" / f"{A}.lock").symlink_to(target)
    lock = store.lock(A)
    assert lock.try_acquire()
    lock.release()
    assert not target.exists() and (store.root / "locks" / f"{A}.lock").is_file()


def test_a_manifest_with_a_short_name_is_ignored_by_clear(shell: Shell) -> None:
    shell.cached("x = 1")
    store = shell.ip._nbcache_magics.store()
    (store._manifest_path(store.entries()[0].key).parent / "ab.json").write_text("{}")
    _, out = shell.run("%cache_clear ab")
    assert "removed 0 entries" in out.stdout and len(store.entries()) == 1


# ---- 9. bad input is a message

def test_an_unterminated_quote_is_a_usage_error(shell: Shell) -> None:
    with pytest.raises(UsageError, match="%%cache"):
        shell.ip.run_cell_magic("cache", '"unterminated', "x = 1")


def test_a_folder_name_too_long_is_a_warning_not_an_error(shell: Shell, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBCACHE_DIR", str(tmp_path / ("d" * 300)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, out = shell.run("%cache_info")
        shell.cached("y = 2")
    assert result.error_in_exec is None and shell.ns["y"] == 2 and shell.runs == 1
    assert any("File name too long" in str(w.message) for w in caught)


def test_clearing_a_read_only_store_warns(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    shell.cached("x = 1")

    def read_only(*_: object, **__: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(files.os, "unlink", read_only)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, _ = shell.run("%cache_clear --all")
    assert result.error_in_exec is None
    assert any("could not remove" in str(w.message) for w in caught)


# ---- 10. the index: lost, damaged or stale, the store stays correct

@pytest.mark.parametrize("how", ["lost", "garbage", "stale"])
def test_the_store_is_correct_whatever_happened_to_its_index(tmp_path: Path, how: str) -> None:
    store = Store(tmp_path / "s", secret=KEY)
    for i, key in enumerate((A, B, "ef" * 16)):
        store.save(key, _payload(np.full(10**5, i)), EntryMeta(cell_ident=f"cell{i}"))
    index = store.root / "index.sqlite3"
    if how == "stale":  # files changed behind the index's back, as an old nbcache or a kill -9 would
        store._index.close()
        backup = index.read_bytes()
        store.remove(B)
        store._index.close()
        for suffix in ("-wal", "-shm"):
            Path(f"{index}{suffix}").unlink(missing_ok=True)
        index.write_bytes(backup)
        Path(store._manifest_path("ef" * 16)).unlink()
        Store(tmp_path / "t", secret=KEY).save("0f" * 16, _payload(9), EntryMeta(cell_ident="cell9"))
        os.replace(Store(tmp_path / "t", secret=KEY)._manifest_path("0f" * 16), store._manifest_path("0f" * 16))
        for blob in (tmp_path / "t" / "blobs").iterdir():
            os.replace(blob, store.root / "blobs" / blob.name)
    else:
        store._index.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{index}{suffix}").unlink(missing_ok=True)
        if how == "garbage":
            index.write_bytes(b"not a database" * 100)
    _age_everything(store.root)
    fresh = Store(tmp_path / "s", secret=KEY)
    expected = [A, B, "ef" * 16] if how != "stale" else [A, "0f" * 16]
    assert sorted(e.key for e in fresh.entries()) == sorted(expected)
    assert fresh.latest_for_cell("cell0") is not None
    fresh.sweep()
    for key in expected:
        assert _quiet(fresh, key) is not None


def test_a_miss_reason_looks_at_the_entries_a_new_index_does_not_know_yet(tmp_path: Path) -> None:
    """The previous entry of a cell is found from the index; an index made anew (deleted, or a store copied
    without it) first learns the entries folder, so a miss still says "source changed", not "new cell"."""
    store = Store(tmp_path / "s", secret=KEY)
    store.save(A, _payload(1), EntryMeta(cell_ident="cell1", source="s1"))
    store._index.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store.root / 'index.sqlite3'}{suffix}").unlink(missing_ok=True)
    previous = Store(tmp_path / "s", secret=KEY).latest_for_cell("cell1")  # its first question to the index
    assert previous is not None and previous.meta.source == "s1"
    assert Store(tmp_path / "s", secret=KEY).latest_for_cell("cell2") is None


# ---- 11. growth after crashes

def test_blobs_of_evicted_entries_and_temporary_files_of_dead_writers_go_at_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", secret=KEY, size_limit=None)
    store.save(A, _payload(np.arange(10**6)), EntryMeta())
    _age_everything(store.root)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = store.root / "blobs" / files.temporary_name("blob").replace(str(os.getpid()), dead.stdout.strip(), 1)
    leftover.write_bytes(b"x" * 10**6)  # a writer killed a moment ago
    fresh = Store(tmp_path / "s", secret=KEY, size_limit=10**6)
    fresh.save(B, _payload(np.arange(10**5)), EntryMeta())  # evicts A
    on_disk = sum(p.stat().st_size for p in (tmp_path / "s" / "blobs").iterdir())
    assert not leftover.exists() and on_disk < 10**6


CRASH = textwrap.dedent("""
    import os, sys, numpy as np
    from nbcache.store.entry import EntryMeta
    from nbcache.store.local import Store
    from nbcache.store import blobs
    real = blobs.write_atomic
    def die(*args): os._exit(3)
    blobs.write_atomic = die
    import nbcache.store.local as local
    local.write_atomic = die  # killed after its blobs, before its manifest
    Store(sys.argv[1], secret=b"k" * 32, size_limit=None).save(sys.argv[2], {"outputs": {"x": np.full(10**6, 7)}},
                                                               EntryMeta())
""")


def test_after_crashes_the_next_save_brings_the_store_within_its_limit_plus_one_entry(tmp_path: Path) -> None:
    root, limit = tmp_path / "s", 4 * 8 * 10**6
    store = Store(root, secret=KEY, size_limit=limit)
    for i in range(6):
        store.save(f"{i:02x}" * 16, {"outputs": {"x": np.full(10**6, i)}}, EntryMeta())
    for i in range(3):
        subprocess.run([sys.executable, "-c", CRASH, str(root), f"{i + 10:02x}" * 16], check=False)
    Store(root, secret=KEY, size_limit=limit).save("ff" * 16, {"outputs": {"x": np.full(10**6, 99)}}, EntryMeta())
    on_disk = sum(p.stat().st_size for p in (root / "blobs").iterdir())
    assert on_disk <= limit + 8 * 10**6 + 10**4
