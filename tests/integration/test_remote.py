"""A store on S3 (moto's server on loopback) with a local cache in front: a team shares it, strangers do not."""

from __future__ import annotations

import warnings
from pathlib import Path

import boto3
import numpy as np
import pytest

from nbcache.cli import main
from nbcache.errors import CacheWarning
from nbcache.store.entry import EntryMeta
from tests.integration.s3server import TEAM_KEY, objects
from tests.integration.s3server import team_store as _user
from tests.support import Shell, run_in_new_process

KEY = "ab" * 16
PAYLOAD = {"outputs": {"arr": np.arange(100_000), "label": "team result"}, "value": None, "events": []}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The local caches of remote stores live under tmp_path, never in the real ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))



def test_two_users_with_the_team_key_share_entries(bucket: str, tmp_path: Path) -> None:
    alice, bob = _user(bucket, tmp_path, "alice"), _user(bucket, tmp_path, "bob")
    alice.save(KEY, PAYLOAD, EntryMeta(cell="arr = ..."))
    assert len(objects(bucket)) == 3  # the manifest, the pickle, the array's buffer
    payload, info = bob.load(KEY)
    assert np.array_equal(payload["outputs"]["arr"], np.arange(100_000)) and info.cell == "arr = ..."
    assert [e.key for e in bob.entries()] == [KEY]
    for key in objects(bucket):  # the bucket empties: bob's next hit needs nothing from it
        boto3.client("s3").delete_object(Bucket=bucket, Key=key)
    assert bob.load(KEY)[0]["outputs"]["label"] == "team result"


def test_a_user_with_another_key_is_refused(bucket: str, tmp_path: Path) -> None:
    alice = _user(bucket, tmp_path, "alice")
    alice.save(KEY, PAYLOAD, EntryMeta())
    mallory = _user(bucket, tmp_path, "mallory", secret=b"other key")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mallory.load(KEY) is None  # another key's folder: not hers to read, a plain miss
    s3 = boto3.client("s3")  # alice's manifest planted in mallory's key folder is refused, not deleted
    planted = f"cache/entries/{mallory.local.kid}/{KEY}.json"
    s3.copy_object(Bucket=bucket, Key=planted, CopySource={"Bucket": bucket,
                                                           "Key": f"cache/entries/{alice.local.kid}/{KEY}.json"})
    with pytest.warns(CacheWarning, match="another key"):
        assert mallory.load(KEY) is None
    assert len(objects(bucket)) == 4


def test_two_keys_saving_the_same_cell_keep_an_entry_each(bucket: str, tmp_path: Path) -> None:
    """With one manifest name per cell, the second key's save replaced the first's, whose next run missed, ran and
    replaced it back: each overwrote the other on every run. Now each key has its own, and both hit."""
    alice, ci = _user(bucket, tmp_path, "alice"), _user(bucket, tmp_path, "ci", secret=b"ci key")
    alice.save(KEY, PAYLOAD, EntryMeta())
    ci.save(KEY, PAYLOAD, EntryMeta())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for user, secret in (("alice-2", TEAM_KEY), ("ci-2", b"ci key")):
            fresh = _user(bucket, tmp_path, user, secret)
            assert fresh.load(KEY)[0]["outputs"]["label"] == "team result"


def test_a_blob_tampered_in_the_bucket_is_refused_and_repaired(bucket: str, tmp_path: Path) -> None:
    alice, bob = _user(bucket, tmp_path, "alice"), _user(bucket, tmp_path, "bob")
    alice.save(KEY, PAYLOAD, EntryMeta())
    s3 = boto3.client("s3")
    blob = max(objects(bucket), key=lambda k: s3.head_object(Bucket=bucket, Key=k)["ContentLength"])
    data = bytearray(s3.get_object(Bucket=bucket, Key=blob)["Body"].read())
    data[100] ^= 0xFF
    s3.put_object(Bucket=bucket, Key=blob, Body=bytes(data))
    with pytest.warns(CacheWarning, match="does not match"):
        assert bob.load(KEY) is None
    assert f"{bucket}/{blob}" not in [f"{bucket}/{k}" for k in objects(bucket)]  # the bad blob is gone
    bob.save(KEY, PAYLOAD, EntryMeta())  # bob's re-run stores it again, whole
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(_user(bucket, tmp_path, "carol").load(KEY)[0]["outputs"]["arr"], np.arange(100_000))


def test_clear_on_the_url_empties_the_bucket(bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBCACHE_KEY", TEAM_KEY.decode())
    _user(bucket, tmp_path, "alice").save(KEY, PAYLOAD, EntryMeta())
    assert main(["--dir", f"s3://{bucket}/cache", "ls"]) == 0
    assert "1 entry" in capsys.readouterr().out
    assert main(["--dir", f"s3://{bucket}/cache", "clear", "--all"]) == 0
    assert objects(bucket) == []


CELL_SCRIPT = """
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic('load_ext', 'nbcache')
r = ip.run_cell('''%%cache
open({marker!r}, 'a').write('.')
import numpy as np

arr = np.arange(200_000)
def total():
    return int(arr.sum())
''')
assert r.success, r
print('RESULT', ip.user_ns['total']())
"""


def test_kernels_of_two_users_share_through_nbcache_dir(bucket: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "runs.txt"
    monkeypatch.setenv("NBCACHE_DIR", f"s3://{bucket}/team")
    monkeypatch.setenv("NBCACHE_KEY", "shared team secret of 32 bytes or more")
    outputs = []
    for user in ("alice", "bob"):
        monkeypatch.setenv("NBCACHE_LOCAL_DIR", str(tmp_path / user))
        outputs.append(run_in_new_process(CELL_SCRIPT.format(marker=str(marker))))
    assert all(f"RESULT {sum(range(200_000))}" in out for out in outputs)
    assert marker.read_text() == "."  # bob's kernel restored alice's result from the bucket


def test_an_unknown_protocol_is_a_usage_error_naming_the_setting(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.core.error import UsageError

    monkeypatch.setenv("NBCACHE_DIR", "nosuchproto://bucket/cache")
    with pytest.raises(UsageError, match="NBCACHE_DIR"):
        shell.ip.run_cell_magic("cache", "", "y = 1")
    assert main(["ls"]) == 2


def test_an_unreachable_remote_still_runs_the_cell(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    for var, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(var, value)  # port 9 (discard): nothing listens there
    monkeypatch.setenv("NBCACHE_DIR", "s3://nowhere/cache")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.cached("y = 41 + 1")
        shell.cached("y = 41 + 1")
    assert shell.ns["y"] == 42 and shell.runs == 1  # the local cache served the second run
    assert any("not in s3://nowhere/cache" in str(w.message) for w in caught)


def test_listing_a_remote_store_downloads_no_blobs(bucket: str, tmp_path: Path) -> None:
    _user(bucket, tmp_path, "alice").save(KEY, PAYLOAD, EntryMeta(cell="arr = ..."))
    bob = _user(bucket, tmp_path, "bob")
    assert [e.cell for e in bob.entries()] == ["arr = ..."]
    assert not (tmp_path / "bob" / "blobs").exists()
    assert bob.verify() == [] and len(list((tmp_path / "bob" / "blobs").iterdir())) == 2


def test_a_first_hit_reads_each_object_in_one_request(bucket: str, tmp_path: Path) -> None:
    """s3fs asked each object's size (HEAD) before reading it whole (GET): a first hit made six round trips for
    three objects, 2.8x fsspec reading the same bytes. Objects of known size beyond s3fs's block still go ranged."""
    _user(bucket, tmp_path, "alice").save(KEY, PAYLOAD, EntryMeta())
    bob = _user(bucket, tmp_path, "bob")
    bob.remote.exists("blobs/none")  # the client exists from here on
    calls: list[str] = []
    bob.remote.fs.s3.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    assert np.array_equal(bob.load(KEY)[0]["outputs"]["arr"], np.arange(100_000))
    assert calls == ["GetObject"] * 3


def test_a_first_hit_requests_its_blobs_at_once(bucket: str, tmp_path: Path) -> None:
    """One blob after another, a first hit of an entry with two blobs waited three round trips, where fsspec reading
    the same objects (the benchmark's baseline) waits as many: after its manifest, the blobs are now asked together."""
    _user(bucket, tmp_path, "alice").save(KEY, PAYLOAD, EntryMeta())
    bob = _user(bucket, tmp_path, "bob")
    bob.remote.exists("blobs/none")
    events: list[str] = []
    for when in ("before", "after"):
        bob.remote.fs.s3.meta.events.register(f"{when}-call.s3.GetObject", lambda w=when, **_: events.append(w))
    assert np.array_equal(bob.load(KEY)[0]["outputs"]["arr"], np.arange(100_000))
    assert events == ["before", "after", "before", "before", "after", "after"]  # the manifest, then both blobs


def test_entries_written_before_keys_had_folders_still_serve_and_clear(bucket: str, tmp_path: Path) -> None:
    alice = _user(bucket, tmp_path, "alice")
    alice.save(KEY, PAYLOAD, EntryMeta())
    s3 = boto3.client("s3")
    new = f"cache/entries/{alice.local.kid}/{KEY}.json"
    s3.copy_object(Bucket=bucket, Key=f"cache/entries/{KEY}.json", CopySource={"Bucket": bucket, "Key": new})
    s3.delete_object(Bucket=bucket, Key=new)
    bob = _user(bucket, tmp_path, "bob")
    assert [e.key for e in bob.entries()] == [KEY]
    assert bob.load(KEY)[0]["outputs"]["label"] == "team result"
    assert _user(bucket, tmp_path, "carol").remove(KEY[:4]) == 1
    assert objects(bucket) == []
