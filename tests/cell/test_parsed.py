"""A re-run cell reuses its parse and analysis, yet behaves as if parsed anew (transformers, syntax errors, misses)."""

from __future__ import annotations

import ast
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from nbcache.cell import execute, parsed
from nbcache.keys.cellkey import normalise
from tests.support import Shell


def test_the_same_text_is_parsed_once() -> None:
    ip = InteractiveShell.instance()
    first = parsed.parse_cell(ip, "y = x + 1\n")
    assert parsed.parse_cell(ip, "y = x + 1\n") is first
    assert parsed.parse_cell(ip, "y = x + 2\n") is not first


def test_an_input_transformer_added_later_applies_to_a_text_seen_before() -> None:
    ip = InteractiveShell.instance()
    assert "ONE" in parsed.parse_cell(ip, "y = ONE\n").source

    def spell_out(lines: list[str]) -> list[str]:
        return [line.replace("ONE", "1") for line in lines]

    ip.input_transformers_post.append(spell_out)
    try:
        assert parsed.parse_cell(ip, "y = ONE\n").source == "y = 1\n"
    finally:
        ip.input_transformers_post.remove(spell_out)
    assert "ONE" in parsed.parse_cell(ip, "y = ONE\n").source


def test_a_syntax_error_is_raised_on_every_run(shell: Shell) -> None:
    for _ in range(2):
        result, _ = shell.run("%%cache\ny = (")
        assert isinstance(result.error_in_exec, SyntaxError)  # type: ignore[attr-defined]


def test_running_a_cell_leaves_its_remembered_tree_unchanged(shell: Shell) -> None:
    shell.ns["x"] = [3, 1, 2]
    body = f"%%cache\n{shell.count_line()}\nx.sort()\ny = sorted(x)[-1]\ny"
    shell.run(body)
    text = body.split("\n", 1)[1]
    cell = parsed.parse_cell(shell.ip, text, execute.body_offset(shell.ip, text))
    assert normalise(cell.tree) == cell.normalised
    shell.ns["x"] = [3, 1, 2]
    shell.run(body)
    assert shell.runs == 1 and shell.ns["x"] == [1, 2, 3] and shell.ns["y"] == 3


def test_a_tree_is_numbered_past_the_lines_before_its_text() -> None:
    ip = InteractiveShell.instance()
    alone, in_cell = parsed.parse_cell(ip, "y = 1\nz = 2\n"), parsed.parse_cell(ip, "y = 1\nz = 2\n", 1)
    assert [n.lineno for n in alone.tree.body] == [1, 2] and [n.lineno for n in in_cell.tree.body] == [2, 3]
    assert in_cell.normalised == alone.normalised and in_cell.source == alone.source  # the same key


def test_a_miss_parses_its_body_once(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed_texts: list[str] = []
    real = ast.parse

    def counting(source: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(source, str) and any(line.startswith("once_") for line in source.splitlines()):
            parsed_texts.append(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting)
    result, _ = shell.run("%%cache\nonce_y = 41\nonce_y + 1")
    assert result.result == 42 and shell.ns["once_y"] == 41
    assert len(parsed_texts) == 1  # the analysis' tree is the one compiled, numbered as in the cell


# Cells with and without IPython's syntax: each must come out exactly as IPython's own transform makes it.
_CELLS = [
    "y = x + 1\ny",
    "a = [j * 3 for j in range(100)]\nlen(a)\n",
    "\n\nx = 1\ny = 2",  # leading blank lines
    "    x = 1\n    y = 2\n",  # indented as pasted
    ">>> x = 1\n>>> y = x",  # a pasted doctest
    "In [1]: x = 1\n   ...: y = 2",  # a pasted IPython session
    "x = 1\n...: y = 2",
    "s = '''\n/not an escape\n'''\nlen(s)",
    "def f(a, b):\n    return a / b\n\nf(1,\n  2)",
    "x = (1\n     / 2)\nx",
    "%time x = 1\ny = 2",
    "x = 1\n!echo hi",
    "files = !ls\nfiles",
    "t = %timeit -o pass\nt",
    "x = 1\nlen?",
    "x = 1\n/len x",
    "x = 1\n,print a b",
    "x = 1\n;print a",
    "x = 1\n  /len x",
    "%%capture\nprint(1)",
    "ls",  # one line: automagic
    "pwd\n",
    "x = 'a%b'\nx",
    "# a comment only\n",
    "",
    "x = 1 \\\n    + 2\nx",
]


def test_the_transform_is_ipythons_for_every_kind_of_cell() -> None:
    ip = InteractiveShell.instance()
    for raw in _CELLS:
        assert parsed.transformed(ip, raw) == ip.transform_cell(raw), raw


def test_a_cell_without_ipython_syntax_is_not_tokenized_by_ipython(monkeypatch) -> None:  # noqa: ANN001
    ip = InteractiveShell.instance()
    asked: list[str] = []
    transform = ip.transform_cell
    monkeypatch.setattr(ip, "transform_cell", lambda raw: (asked.append(raw), transform(raw))[1])
    for raw in ("y = x + 1\ny", ">>> x = 1\n>>> y = x", "    x = 1\n    y = 2\n"):
        parsed.transformed(ip, raw)
    assert asked == []
    for raw in ("%time x = 1\ny = 2", "x = 1\n/len x", "ls", ">>> x = 1\n>>> /len x"):
        parsed.transformed(ip, raw)
    assert len(asked) == 4


def test_a_token_transformer_added_by_the_user_is_applied() -> None:
    from IPython.core.inputtransformer2 import TokenTransformBase

    class Shout(TokenTransformBase):
        @classmethod
        def find(cls, tokens_by_line):  # noqa: ANN001, ANN206
            for line in tokens_by_line:
                for token in line:
                    if token.string == "quiet":
                        return cls(token.start)
            return None

        def transform(self, lines: list[str]) -> list[str]:
            return [line.replace("quiet", "LOUD") for line in lines]

    ip = InteractiveShell.instance()
    ip.input_transformer_manager.token_transformers.append(Shout)
    try:
        assert parsed.transformed(ip, "quiet = 1\nquiet") == "LOUD = 1\nLOUD\n"
    finally:
        ip.input_transformer_manager.token_transformers.remove(Shout)
