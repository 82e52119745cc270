"""The CI subset of the real-notebook corpus (scripts/corpus.py): examples nobody on this project wrote, plain
twice, then under %%cache cold and warm in fresh kernels. No cell may break and no deterministic cell may show
another output (text or image) than the plain run."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.corpus import CI_SUBSET, ROOT, run_corpus


@pytest.mark.kernel
@pytest.mark.timeout(600)
def test_the_ci_corpus_has_no_broken_cell_and_no_wrong_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "")  # run_corpus sets both for its kernels; restored after the test
    summary = run_corpus(CI_SUBSET, Path(ROOT / ".corpus-cache"))
    figures = summary.figures()
    assert figures["cells"] > 5 and figures["deterministic"] > 0
    assert summary.problems == []
    assert figures["broken"] == figures["wrong_text"] == figures["wrong_image"] == 0
    assert figures["hit_rate"] == 1.0, figures["not_hit"]
