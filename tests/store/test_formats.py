"""Entries written by every released format version load (or are cleanly ignored); unknown versions are misses."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from nbcache.cell.payload import Payload, Stream, StreamEvent
from nbcache.store.local import Store
from nbcache.store.manifest import FORMAT_VERSION

DATA = Path(__file__).resolve().parents[1] / "data"
# Each folder was written by that format's release, signed with NBCACHE_KEY = nbcache-test-format-<n>.
KEYS = {1: "0123456789abcdef" * 4, 2: "fedcba9876543210" * 4, 3: "0f1e2d3c4b5a6978" * 4}


def _copy(version: int, tmp_path: Path) -> Store:
    root = tmp_path / f"format{version}"
    shutil.copytree(DATA / f"format{version}", root)
    return Store(root, secret=f"nbcache-test-format-{version}".encode())


def test_every_released_format_has_an_entry() -> None:
    assert sorted(KEYS) == list(range(1, FORMAT_VERSION + 1))


def test_format_1_entry_loads(tmp_path: Path) -> None:
    payload, info = _copy(1, tmp_path).load(KEYS[1])
    assert payload["outputs"]["y"] == [1, 2] and payload["outputs"]["double"](4) == 8
    assert payload["events"] == [("stream", "stdout", "hi\n")] and info.cell == "y = [1, 2]"


def test_format_2_entry_loads_with_its_buffer(tmp_path: Path) -> None:
    payload, info = _copy(2, tmp_path).load(KEYS[2])
    out = payload["outputs"]
    assert np.array_equal(out["arr"], np.arange(6)) and out["same"] is out["arr"] and out["double"](4) == 8
    assert len(info.blobs) == 2


def test_format_3_entry_loads_as_the_payload_it_was(tmp_path: Path) -> None:
    """Format 3 holds the payload as builtins: a format 2 reader would ignore what the run mutated, so it must
    not read one (see test_an_unknown_format_is_a_quiet_miss); this release reads every field back."""
    stored, info = _copy(3, tmp_path).load(KEYS[3])
    payload = Payload.of(stored)
    assert np.array_equal(payload.outputs["arr"], np.arange(6)) and payload.outputs["same"] is payload.outputs["arr"]
    assert payload.outputs["double"](4) == 8 and payload.value == 6 and payload.mutated == {"log": ["ran"]}
    assert payload.events == (StreamEvent(Stream.STDOUT, "hi\n"),) and info.meta.mutated == ("log",)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_old_entries_are_listed(version: int, tmp_path: Path) -> None:
    assert [e.key for e in _copy(version, tmp_path).entries()] == [KEYS[version]]


def test_an_unknown_format_is_a_quiet_miss(tmp_path: Path) -> None:
    store = _copy(2, tmp_path)
    path = store.root / "entries" / f"{KEYS[2]}.json"
    manifest = json.loads(path.read_text())
    manifest["format"] = 99  # a newer release: not ours to read, and not damage either
    path.write_text(json.dumps(manifest))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.load(KEYS[2]) is None
    assert store.entries() == [] and store.verify() == []
