"""The entry's metadata record: what it writes is what releases before it wrote, and it reads what they wrote."""

from __future__ import annotations

import json
from pathlib import Path

from nbcache.store.entry import EntryMeta
from nbcache.store.local import Store
from nbcache.ui.listing import entries_json
from tests.support import Shell

FULL = EntryMeta(cell="y = f(x)", cell_ident="cell-1", source="ab12", inputs={"x": "d1", "f": "d2"},
                 outputs={"y": "int"}, deletions=("tmp",), mutated=("x",), compute_s=1.5, reason="new cell",
                 nondeterministic="calls time.time()", random_state={"random": "d3"})
# The meta of a format 1 entry as that release wrote it (tests/data/format1).
FORMAT_1 = {"cell": "y = [1, 2]", "cell_ident": "src:old", "outputs": {"y": "list", "double": "function"},
            "compute_s": 0.5}


def test_a_record_survives_its_json() -> None:
    assert EntryMeta.from_json(json.loads(json.dumps(FULL.to_json()))) == FULL


def test_the_json_has_the_fields_releases_before_the_record_wrote() -> None:
    assert list(FULL.to_json()) == ["cell", "cell_ident", "source", "inputs", "outputs", "deletions", "mutated",
                                    "compute_s", "reason", "nondeterministic", "random_state"]


def test_missing_fields_get_their_defaults() -> None:
    meta = EntryMeta.from_json(FORMAT_1)
    assert meta == EntryMeta(cell="y = [1, 2]", cell_ident="src:old", outputs={"y": "list", "double": "function"},
                             compute_s=0.5)
    assert EntryMeta.from_json({}) == EntryMeta.from_json(None) == EntryMeta()


def test_unknown_fields_are_ignored() -> None:
    assert EntryMeta.from_json({**FULL.to_json(), "written_by": "a newer release"}) == FULL


def test_malformed_fields_get_their_defaults() -> None:
    meta = EntryMeta.from_json({"cell": 3, "outputs": ["y"], "deletions": "tmp", "compute_s": float("nan"),
                                "inputs": "x", "nondeterministic": "", "random_state": None})
    assert meta == EntryMeta()
    assert EntryMeta.from_json({"compute_s": -1}).compute_s == EntryMeta.from_json({"compute_s": True}).compute_s == 0


def test_an_entry_with_the_meta_of_an_older_release_still_hits(shell: Shell) -> None:
    shell.run("x = 20")
    shell.cached("y = x + 1")
    store = shell.ip._nbcache_magics.store()
    (entry,) = store.entries()
    path = store._find_manifest(entry.key)
    manifest = json.loads(path.read_text())
    written = manifest["meta"]
    # What a release before the record wrote: fewer fields; and one only a later release knows.
    manifest["meta"] = {k: written[k] for k in ("cell", "cell_ident", "source", "inputs", "outputs", "compute_s")}
    manifest["meta"]["written_by"] = "another release"
    manifest["sig"] = store._sign(manifest)
    path.write_text(json.dumps(manifest))
    shell.ns.pop("y")
    _, again = shell.cached("y = x + 1")
    assert shell.runs == 1 and "hit" in again.stderr and shell.ns["y"] == 21
    assert [e.cell for e in store.entries()] == [entry.cell] and store.entries()[0].outputs == ("y",)


def test_the_json_listing_keeps_its_rows(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", secret=b"k")
    store.save("ab" * 16, {"outputs": {"y": 1}}, FULL)
    (row,) = json.loads(entries_json(store.entries(), str(store.root), None))["entries"]
    assert list(row) == ["key", "cell", "cell_id", "created", "last_used", "hits", "size", "compute_s", "saved_s",
                         "outputs", "meta", "blobs"]
    assert (row["cell"], row["compute_s"], row["outputs"]) == ("y = f(x)", 1.5, ["y"])
    assert row["meta"] == json.loads(json.dumps(FULL.to_json()))
