"""A remote store under faults (issue 13): dead endpoints, wrong credentials, foreign objects, shared buckets.

Each test stands for one finding and fails on it: a silent endpoint hung a cell for minutes, a refused one cost
every miss ~10 s of retries, `nbcache clear aa` on S3 said "removed 0 entries" while deleting one, a sweep took the
blobs of an entry still being uploaded or of another key's entry, one foreign object made `nbcache verify` exit 2,
and wrong credentials made `%cache_clear` raise PermissionError after clearing the local copy.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest
from IPython.core.error import UsageError

from nbcache.cli import main
from nbcache.errors import CacheWarning
from nbcache.store.entry import EntryMeta
from tests.integration.s3server import TEAM_KEY, BrokenEndpoint, moto_server, objects, use_endpoint
from tests.integration.s3server import team_store as _user
from tests.support import Shell

MINE, THEIRS = "ab" * 16, "ac" * 16
PAYLOAD = {"outputs": {"arr": np.arange(50_000), "label": "team result"}, "value": None, "events": []}
OTHER = {"outputs": {"arr": np.arange(60_000), "label": "their result"}, "value": None, "events": []}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Local caches and keys live under tmp_path, never in the real home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("NBCACHE_KEY", TEAM_KEY.decode())



def _messages(caught: list[warnings.WarningMessage]) -> str:
    return "\n".join(str(w.message) for w in caught)


# ---- item 7: a remote that does not answer costs one timeout, then is skipped; the cell always gets its result
@pytest.mark.timeout(120)  # without timeouts the first cell waits for minutes: the test fails instead of hanging
@pytest.mark.parametrize("hang_up", [False, True], ids=["silent", "hangs-up"])
def test_a_dead_endpoint_costs_one_attempt_then_is_skipped(shell: Shell, monkeypatch: pytest.MonkeyPatch,
                                                           hang_up: bool) -> None:
    monkeypatch.setenv("NBCACHE_REMOTE_TIMEOUT", "0.5")
    monkeypatch.setenv("NBCACHE_DIR", "s3://team/cache")
    with BrokenEndpoint(hang_up) as dead, warnings.catch_warnings(record=True) as caught:
        use_endpoint(monkeypatch, dead.url)
        warnings.simplefilter("always")
        shell.cached("y = 41 + 1")
        after_first = dead.connections
        shell.cached("z = y + 1")
        shell.cached("z = y + 1")
    assert (shell.ns["y"], shell.ns["z"], shell.runs) == (42, 43, 2)  # results, and the local cache's hit
    # One try and one retry (aiohttp reconnects once when a connection drops): not 5 s3fs retries of 5 botocore ones.
    assert 1 <= after_first <= 4
    assert dead.connections == after_first  # the next cells skip the remote that just failed
    text = _messages(caught)
    assert "not in s3://team/cache" in text and "NBCACHE_REMOTE_RETRY" in text
    if not hang_up:
        assert "no answer within 0.5 s" in text


def test_a_bad_remote_timeout_is_a_usage_error_naming_it(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBCACHE_DIR", "s3://team/cache")
    monkeypatch.setenv("NBCACHE_REMOTE_TIMEOUT", "soon")
    with pytest.raises(UsageError, match="NBCACHE_REMOTE_TIMEOUT"):
        shell.ip.run_cell_magic("cache", "", "y = 1")


# ---- item 5: the count a clear reports is what it removed; sweeps keep blobs of entries being uploaded
def test_clearing_a_prefix_on_s3_reports_what_it_removed(bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture) -> None:
    _user(bucket, tmp_path, "alice").save(MINE, PAYLOAD, EntryMeta())
    monkeypatch.setenv("NBCACHE_LOCAL_DIR", str(tmp_path / "bob"))  # bob never loaded it: remote only for him
    assert main(["--dir", f"s3://{bucket}/cache", "clear", MINE[:2]]) == 0
    assert "removed 1 entry" in capsys.readouterr().out
    assert objects(bucket) == []


def test_a_sweep_on_s3_keeps_the_blobs_of_an_entry_being_uploaded(bucket: str, tmp_path: Path) -> None:
    alice = _user(bucket, tmp_path, "alice")
    alice.save(MINE, PAYLOAD, EntryMeta())
    uploading = f"cache/blobs/{'cd' * 32}"  # bob's upload: blobs first, his manifest is on its way
    boto3.client("s3").put_object(Bucket=bucket, Key=uploading, Body=b"bob's pickle")
    assert alice.remove(MINE[:4]) == 1
    assert objects(bucket) == [uploading]  # alice's blobs went, bob's young one stays
    alice.grace_s = 0.0  # once old, an unreferenced blob is an orphan of a crashed upload
    alice.save(MINE, PAYLOAD, EntryMeta())
    alice.remove(MINE)
    assert objects(bucket) == []


# ---- item 4: two keys on one bucket
def test_two_keys_on_one_bucket_do_not_remove_each_others_entries(bucket: str, tmp_path: Path) -> None:
    alice = _user(bucket, tmp_path, "alice")
    ci = _user(bucket, tmp_path, "ci", secret=b"ci key")
    alice.save(MINE, PAYLOAD, EntryMeta())
    ci.save(THEIRS, OTHER, EntryMeta())
    alice.grace_s = 0.0  # even with no grace at all
    assert alice.remove("a") == 1  # "a" matches both keys; only alice's own entry is hers to remove
    assert alice.remove_keys([MINE]) == 0
    restored = _user(bucket, tmp_path, "ci-2", secret=b"ci key").load(THEIRS)
    assert restored is not None and restored[0]["outputs"]["label"] == "their result"


# ---- item 8: objects nbcache did not write are neither errors nor its to delete
def test_foreign_objects_in_the_bucket_are_left_alone(bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    s3 = boto3.client("s3")
    foreign = ["cache/README.md", "cache/blobs/notes.txt", "cache/entries/notes.json", "cache/entries/x/y.json"]
    for key in foreign:
        s3.put_object(Bucket=bucket, Key=key, Body=b"not nbcache's")
    _user(bucket, tmp_path, "alice").save(MINE, PAYLOAD, EntryMeta())
    monkeypatch.setenv("NBCACHE_LOCAL_DIR", str(tmp_path / "bob"))
    url = f"s3://{bucket}/cache"
    assert main(["--dir", url, "verify"]) == 0
    assert "all 1 entries sound" in capsys.readouterr().out
    assert main(["--dir", url, "ls"]) == 0
    assert main(["--dir", url, "clear", "--all"]) == 0
    assert "removed 1 entry" in capsys.readouterr().out
    assert objects(bucket) == sorted(foreign)


# ---- item 9: wrong credentials are a message, and nothing is removed
@pytest.fixture
def denying_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An S3 server that checks credentials and knows none: every request is refused (403)."""
    with moto_server({"INITIAL_NO_AUTH_ACTION_COUNT": "0"}) as url:
        use_endpoint(monkeypatch, url)
        yield url


def test_wrong_credentials_make_clear_a_message_and_keep_the_local_copy(shell: Shell, denying_endpoint: str,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("NBCACHE_DIR", "s3://team/cache")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.cached("y = 42")
    monkeypatch.setenv("NBCACHE_REMOTE_RETRY", "0")
    with pytest.raises(UsageError, match="access denied .*credentials"):
        shell.ip.run_line_magic("cache_clear", "--all")
    assert "access denied" in _messages(caught)  # the save said it stored locally only, and why
    assert main(["clear", "--all"]) == 2
    assert "access denied" in capsys.readouterr().err
    del shell.ns["y"]
    shell.cached("y = 42")
    assert shell.ns["y"] == 42 and shell.runs == 1  # the local copy is still there: nothing was removed


# ---- an entry saved while the remote was down reaches the team with a later save, also after a restart
def test_an_entry_saved_while_the_remote_was_down_is_uploaded_by_a_later_save(bucket: str, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    alice = _user(bucket, tmp_path, "alice")

    def down(*args: object) -> None:
        raise ConnectionError("endpoint unreachable")

    with monkeypatch.context() as patch, pytest.warns(CacheWarning, match="not in .*a later save uploads it"):
        patch.setattr(alice.remote, "put", down)
        alice.save(MINE, PAYLOAD, EntryMeta())
    assert objects(bucket) == []
    monkeypatch.setenv("NBCACHE_REMOTE_RETRY", "0")
    restarted = _user(bucket, tmp_path, "alice")  # a new kernel on the same machine, the remote back
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        restarted.save(THEIRS, OTHER, EntryMeta())
        bob = _user(bucket, tmp_path, "bob")
        assert bob.load(MINE)[0]["outputs"]["label"] == "team result"
        assert bob.load(THEIRS)[0]["outputs"]["label"] == "their result"
    assert restarted.pending.keys() == []
