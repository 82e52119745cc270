"""The README's tables are written by the runs that measured them."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import row
from benchmarks.readme import replace_section, table

MACHINE = {"date": "2026-11-29", "python": "3.11.7", "cpus": 2, "platform": "Linux-x86_64"}


def test_a_section_is_replaced_and_nothing_else(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:begin -->\nold\n<!-- bench:end -->\nafter\n")
    replace_section(readme, "bench", "new table")
    assert readme.read_text() == "intro\n<!-- bench:begin -->\nnew table\n<!-- bench:end -->\nafter\n"


def test_each_row_states_its_figures_its_ratio_as_the_goal_reads_and_whether_it_was_met() -> None:
    rows = [
        row("kernel", "cheap cell, hit", [0.0071, 0.0075, 0.0080], "the plain cell", [0.0050, 0.0052], "<= +2 ms",
            lambda s, b: s - b <= 0.002),
        row("hashing", "a frame", [0.1, 0.12], "hash_pandas_object", [1.5, 1.6], ">= 10x faster",
            lambda s, b: s * 10 <= b),
        row("store", "restore", [0.05], "np.load", [0.1], "<= 0.5x", lambda s, b: s <= 0.5 * b),
    ]
    text = table(rows, MACHINE, "0.7").splitlines()
    assert text[0].startswith("Measured 2026-11-29 by `make bench` in one run") and "load average 0.7" in text[0]
    kernel, hashing, store = text[-3:]
    assert "7.5 ms (7.1 ms to 8 ms)" in kernel and "+2.40 ms" in kernel and "**missed**" in kernel
    assert "14.1x faster" in hashing and ">= 10x faster: met" in hashing
    assert "0.50x" in store and "<= 0.5x: met" in store
