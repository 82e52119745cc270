"""The cell key's digest, computed from a copy of its hashed constant start, is the one every saved entry has:
blake3 over each part after its length, then each input, as the reference below spells it out."""

from __future__ import annotations

import ast
import sys

import pytest
from blake3 import blake3

from nbcache.keys.cellkey import CACHE_VERSION, cell_key, normalise
from tests.support import EVERY_KIND, standard_library_trees


def _reference(normalised: str, inputs: dict[str, str]) -> str:
    h = blake3()
    for part in (f"nbcache:{CACHE_VERSION}", f"python:{sys.version_info[0]}.{sys.version_info[1]}", normalised):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part.encode())
    for name in sorted(inputs):
        h.update(f"\0{name}\0{inputs[name]}".encode())
    return h.hexdigest()


@pytest.mark.parametrize(("normalised", "inputs"), [
    ("x = 1", {}),
    ("y = x + 1\ny", {"x": "ab" * 32, "setting:logging": "cd", "file:é.csv": "00"}),
    ('s = "héllo ✓"', {"z": "1", "a": ""}),
])
def test_the_key_is_the_reference_digest(normalised: str, inputs: dict[str, str]) -> None:
    assert cell_key(normalised, inputs) == _reference(normalised, inputs)
    assert cell_key(normalised, inputs) == cell_key(normalised, inputs)  # the constant start is copied, not used up


def test_the_normalised_cell_is_ast_dumps_text() -> None:
    """Every key made so far holds ast.dump's text: the faster writer must give the same, byte for byte."""
    trees = [ast.parse(EVERY_KIND), ast.parse(EVERY_KIND, type_comments=True), *standard_library_trees(120)]
    for tree in trees:
        assert normalise(tree) == ast.dump(tree, annotate_fields=False, include_attributes=False)
    assert len(trees) > 80


def test_layout_and_comments_do_not_count_but_literals_do() -> None:
    assert normalise(ast.parse("x = f( 1 )  # one")) == normalise(ast.parse("x = f(1)"))
    assert normalise(ast.parse("x = f(1)")) != normalise(ast.parse("x = f('1')"))
