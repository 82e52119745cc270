"""A miss takes its key's lock only once it has run for a while: a cheap cell makes no lock file, a long one holds
the lock while it runs (another kernel then waits for its result), and a lock file that exists is taken at once."""

from __future__ import annotations

from pathlib import Path

import pytest

import nbcache.cell.run
from nbcache.store.locks import KeyLock
from tests.support import Shell


def _lock_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "store" / "locks"
    return sorted(folder.glob("*.lock")) if folder.exists() else []


def _held_elsewhere(path: Path) -> bool:
    """Another open of the lock file cannot take it (flock conflicts between two opens, even in one process)."""
    other = KeyLock(path)
    free = other.try_acquire(create=False)
    other.release()
    return not free


def test_a_cheap_miss_makes_no_lock_file(shell: Shell, tmp_path: Path) -> None:
    shell.cached("y = 1")
    assert shell.ns["y"] == 1 and shell.runs == 1
    assert _lock_files(tmp_path) == []
    shell.cached("y = 1")
    assert shell.runs == 1  # stored as before: a hit


def test_a_long_miss_holds_its_lock_while_it_runs(shell: Shell, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nbcache.cell.run, "LOCK_AFTER_S", 0.01)
    shell.ns["held"] = lambda: any(_held_elsewhere(p) for p in _lock_files(tmp_path))
    # The cell waits until its own lock is taken (a guard of many seconds against a hang, not a measurement).
    _, captured = shell.cached("""
        import time
        deadline = time.monotonic() + 60
        while not held() and time.monotonic() < deadline:
            time.sleep(0.01)
        seen = held()
    """)
    assert shell.ns["seen"] is True, captured.stderr
    (path,) = _lock_files(tmp_path)
    assert not _held_elsewhere(path)  # released once stored


def test_an_existing_lock_file_is_taken_without_waiting(tmp_path: Path) -> None:
    path = tmp_path / "locks" / f"{'a' * 64}.lock"
    fresh = KeyLock(path)
    assert fresh.try_acquire(create=False) and not fresh.held and not path.exists()  # nobody holds it, none made
    made = KeyLock(path)
    assert made.try_acquire() and made.held and path.exists()
    assert not KeyLock(path).try_acquire(create=False)  # held by the other open
    made.release()
    again = KeyLock(path)
    assert again.try_acquire(create=False) and again.held
    again.release()
