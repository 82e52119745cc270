"""A cell's text turned into what keying needs (transformed source, tree, analysis, normalised form), remembered.

All four depend on the cell's text alone (and on IPython's input transformers), so a cell re-run unchanged, the
common case for a hit, reuses them instead of paying IPython's transform, a parse, the analysis and ``ast.dump``
again. Nothing here reads the namespace or files: the key's inputs are still hashed on every run.
"""

from __future__ import annotations

import ast
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from IPython.core.displayhook import DisplayHook

from nbcache.analysis.names import CellAnalysis, analyse_tree
from nbcache.keys.cellkey import normalise

# Cells of a long notebook, with room to spare; each entry is a small cell's text and tree.
_CAPACITY = 512


# What IPython's token transforms look for (IPython.core.inputtransformer2): a magic, a shell command or help
# (``%``, ``!``, ``?``, anywhere: ``x = %time f()``, ``f?``), or an autocall escape opening a line (``,;/``).
_TOKEN_MARKS = frozenset("%!?")
_ESCAPES = (",", ";", "/")


def _default_token_transforms(shell: Any) -> bool:
    """IPython's own transforms, none added or replaced, and no shell that transforms differently."""
    from IPython.core import inputtransformer2 as it
    from IPython.core.interactiveshell import InteractiveShell

    manager = getattr(shell, "input_transformer_manager", None)
    return (type(manager) is it.TransformerManager and getattr(type(shell), "transform_cell", None)
            is InteractiveShell.transform_cell and not getattr(shell, "input_transformers_post", True)
            and manager.token_transformers == [it.MagicAssign, it.SystemAssign, it.EscapedCommand, it.HelpEnd])


def transformed(shell: Any, raw: str) -> str:
    """``shell.transform_cell(raw)``: the text IPython runs. Its token transforms tokenize the whole cell (most of
    the 0.15 ms a new cell's transform costs) and change nothing in a cell without their marks, so such a cell
    gets only the cheap cleanup and line transforms (blank lines, indentation, pasted prompts), as IPython
    applies them. A one-line cell always goes through IPython: automagic and autocall act on a bare word."""
    if any(mark in raw for mark in _TOKEN_MARKS) or not _default_token_transforms(shell):
        return str(shell.transform_cell(raw))
    manager = shell.input_transformer_manager
    lines = (raw if raw.endswith("\n") else raw + "\n").splitlines(keepends=True)
    for transform in manager.cleanup_transforms + manager.line_transforms:
        lines = transform(lines)
    if len(lines) <= 1 or any(line.lstrip().startswith(_ESCAPES) for line in lines):
        return str(shell.transform_cell(raw))
    return "".join(lines)


@dataclass(frozen=True)
class ParsedCell:
    source: str
    tree: ast.Module  # numbered as in the whole cell: ``offset`` lines (the ``%%cache`` line) before the source
    analysis: CellAnalysis
    normalised: str  # without line numbers: the same whatever the offset
    offset: int = 0


_cache: OrderedDict[tuple[Any, ...], ParsedCell] = OrderedDict()


def _transformers(shell: Any) -> tuple[int | None, ...]:
    """Which input transformers are installed: one added or removed later changes what a text becomes."""
    manager = getattr(shell, "input_transformer_manager", None)
    return (*map(id, getattr(manager, "cleanup_transforms", ())), None,
            *map(id, getattr(manager, "line_transforms", ())), None,
            *map(id, getattr(manager, "token_transformers", ())), None,
            *map(id, getattr(shell, "input_transformers_post", ())))


def parse_cell(shell: Any, raw: str, offset: int = 0) -> ParsedCell:
    """The cell as IPython would run it, parsed and analysed; a SyntaxError propagates (and nothing is kept).

    ``offset``: lines of the cell before this text; the tree is numbered past them, as the run compiles it, so a
    miss parses its text once (and a SyntaxError names the cell's line)."""
    key = (raw, offset, _transformers(shell))
    found = _cache.get(key)
    if found is not None:
        _cache.move_to_end(key)
        return found
    source = transformed(shell, raw)
    tree = ast.parse("\n" * offset + source)
    parsed = ParsedCell(source, tree, analyse_tree(tree), normalise(tree), offset)
    _cache[key] = parsed
    if len(_cache) > _CAPACITY:
        _cache.popitem(last=False)
    return parsed


@lru_cache(maxsize=_CAPACITY)
def hides_value(raw: str) -> bool:
    """Does the cell end in ``;``, which hides its value? IPython tokenizes the text to tell: once per text here,
    and only for a text holding a ``;`` at all (tokenizing a new cell cost its miss about 0.1 ms)."""
    return ";" in raw and bool(DisplayHook.semicolon_at_end_of_expression(raw))
