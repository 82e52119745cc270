"""The corpus's judging rule (scripts/corpus.py ``compare``), on made-up runs: what counts as deterministic and
which differences are wrong outputs. The corpus itself runs in tests/integration/test_corpus.py."""

from __future__ import annotations

import nbformat

from scripts.corpus import compare

HIT = "nbcache: hit (restored 1 value), saved 1.0 s"
MISS = "nbcache: miss (new cell), ran in 0.1 s"


def _run(*texts: str, statuses: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """A run of a notebook: a setup cell, then one code cell per text (its printed output), each with its status
    line on stderr when given."""
    cells = [nbformat.v4.new_code_cell("%load_ext nbcache")]
    for index, text in enumerate(texts):
        outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        if statuses:
            outputs.append(nbformat.v4.new_output("stream", name="stderr", text=statuses[index] + "\n"))
        cells.append(nbformat.v4.new_code_cell("print(...)", outputs=outputs))
    return nbformat.v4.new_notebook(cells=cells)


def _cold(*texts: str) -> nbformat.NotebookNode:
    return _run(*texts, statuses=(MISS,) * len(texts))


def test_a_live_run_of_a_deterministic_cell_must_match_the_plain_runs() -> None:
    [same, differs] = compare([_run("1", "2"), _run("1", "2")], [_cold("1", "2"), _cold("1", "3")],
                              _run("1", "2", statuses=(HIT, MISS)))
    assert same.deterministic and not same.wrong_text
    assert differs.deterministic and differs.wrong_text


def test_a_warm_miss_is_a_live_run_too() -> None:
    [result] = compare([_run("1"), _run("1")], [_cold("1"), _cold("1")], _run("9", statuses=(MISS,)))
    assert result.wrong_text


def test_a_hit_must_match_the_run_it_restored_even_when_the_cell_is_not_deterministic() -> None:
    plain = [_run("a"), _run("b")]
    [restored] = compare(plain, [_cold("c"), _cold("d")], _run("d", statuses=(HIT,)))
    [other] = compare(plain, [_cold("c"), _cold("d")], _run("c", statuses=(HIT,)))
    assert not restored.deterministic and not restored.wrong_text
    assert other.wrong_text


def test_a_plain_run_that_differs_makes_the_cell_nondeterministic_and_clears_its_live_runs() -> None:
    """The grid-search case: two plain runs agree by chance, a cold run picks another model, and its warm hit
    restores that run's value. A third plain run that differs shows the cell is not deterministic."""
    cold = [_cold("C=1"), _cold("C=10")]
    warm = _run("C=10", statuses=(HIT,))
    [flagged] = compare([_run("C=1"), _run("C=1")], cold, warm)
    [cleared] = compare([_run("C=1"), _run("C=1"), _run("C=1000")], cold, warm)
    assert flagged.deterministic and flagged.wrong_text
    assert not cleared.deterministic and not cleared.wrong_text


def test_times_are_the_quicker_of_the_first_two_runs_of_each_side() -> None:
    def timed(nb: nbformat.NotebookNode, seconds: float) -> nbformat.NotebookNode:
        nb.cells[1].metadata["execution"] = {"iopub.execute_input": "2026-11-30T10:00:00.000000Z",
                                             "shell.execute_reply": f"2026-11-30T10:00:0{seconds}Z"}
        return nb
    plain = [timed(_run("1"), 3), timed(_run("1"), 2), timed(_run("1"), 1)]  # the third is a recheck
    [result] = compare(plain, [timed(_cold("1"), 4), timed(_cold("1"), 5)], timed(_run("1", statuses=(HIT,)), 1))
    assert (result.plain_s, result.cold_s, result.warm_s) == (2, 4, 1)


def test_memory_addresses_in_reprs_are_not_differences() -> None:
    """A hit shows its restored value's repr made in this process: a function's address is new, as in a re-run.
    scikit-learn's HTML repr cuts it short ("<function f...x7f...>")."""
    for form in ("<function f at 0x{}>", "&lt;function ref...x{}&gt;"):
        plain = [_run(form.format("7f1c2a3b4c5d")), _run(form.format("7f0000000001"))]
        cold = [_cold(form.format("7f2222222222"))] * 2
        [result] = compare(plain, cold, _run(form.format("7f3333333333"), statuses=(HIT,)))
        assert result.deterministic and not result.wrong_text
    [data] = compare([_run("id 0x1f")] * 2, [_cold("id 0x2f")] * 2, _run("id 0x1f", statuses=(HIT,)))
    assert data.wrong_text  # a short hex number is data, not an address


def test_a_script_without_cell_marks_is_cut_at_blank_lines_between_top_level_statements() -> None:
    from scripts.corpus import cells_of

    source = ('"""Title\n\nText."""\nimport a\nimport b\n\n# a comment\nx = a.f(\n\n    1)\n\n\n'
              '@deco\ndef g():\n\n    return x\nprint(g())\n')
    assert cells_of(source) == ["import a\nimport b", "x = a.f(\n\n    1)",
                                "@deco\ndef g():\n\n    return x\nprint(g())"]
    assert cells_of("# %%\nx = 1\n# %%\n# only text\n# %%\ny = 2\n") == ["x = 1", "y = 2"]
