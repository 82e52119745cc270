"""A re-run cell reuses its parse and analysis, yet behaves as if parsed anew (transformers, syntax errors, misses)."""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell

from nbcache.cell import parsed
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
    cell = parsed.parse_cell(shell.ip, body.split("\n", 1)[1])
    assert normalise(cell.tree) == cell.normalised
    shell.ns["x"] = [3, 1, 2]
    shell.run(body)
    assert shell.runs == 1 and shell.ns["x"] == [1, 2, 3] and shell.ns["y"] == 3
