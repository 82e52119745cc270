"""Issue 12: the reason of a miss is one query on the store's index, with no sync of the index on the miss path,
and still right after a restart and when the index was lost."""

from __future__ import annotations

from pathlib import Path

from nbcache.store.index import FILE_NAME
from tests.support import Shell, run_in_new_process

_SCRIPT = """
import sys
sys.stderr = sys.stdout  # the status lines, where this test reads them
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance(); ip.run_line_magic('load_ext', 'nbcache')
ip.run_cell("x = {value}")
ip.run_cell("%%cache\\ny = x + 1\\nprint('RAN')")
"""


def test_the_first_miss_after_a_restart_says_which_input_changed_without_syncing_the_index(tmp_path: Path) -> None:
    for value in (1, 2):  # the second matches the index with the files once: no process had
        run_in_new_process(_SCRIPT.format(value=value), cwd=tmp_path)
    counting = """
from nbcache.store.index import Index
sync = Index.sync
Index.sync = lambda self, *args, **kwargs: (print("SYNC"), sync(self, *args, **kwargs))
"""
    out = run_in_new_process(counting + _SCRIPT.format(value=3), cwd=tmp_path)
    # a save may sweep the store after the cell ran, which syncs the index: not the miss's business
    assert "miss (input x changed)" in out and "SYNC" not in out.split("RAN")[0]


def test_the_reason_is_right_after_a_restart_and_after_the_index_was_lost(tmp_path: Path) -> None:
    assert "miss (new cell)" in run_in_new_process(_SCRIPT.format(value=1), cwd=tmp_path)
    assert "miss (input x changed)" in run_in_new_process(_SCRIPT.format(value=2), cwd=tmp_path)
    for index in tmp_path.rglob(f"{FILE_NAME}*"):
        index.unlink()
    assert "miss (input x changed)" in run_in_new_process(_SCRIPT.format(value=3), cwd=tmp_path)


def test_the_reason_is_right_when_the_index_is_lost_under_a_running_kernel(shell: Shell, tmp_path: Path) -> None:
    # The kernel knows its index was synced once; a new index file in its place must still be matched first.
    reasons = []
    for value in (1, 2, 3):
        shell.ns["x"] = value
        _, captured = shell.run("%%cache\ny = x + 1")
        reasons.append(captured.stderr)
        if value == 2:
            for index in (tmp_path / "store").rglob(f"{FILE_NAME}*"):
                index.unlink()
    assert "miss (new cell)" in reasons[0] and "miss (input x changed)" in reasons[1]
    assert "miss (input x changed)" in reasons[2]
