"""Auto mode in real kernels: the "Python 3 (nbcache auto)" kernel against a plain python3 kernel."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.kernel

KERNELSPEC = Path(__file__).resolve().parents[2] / "jupyter-config" / "kernels" / "nbcache-auto"


def _notebook(marker: Path, nocache: str = "%%nocache") -> nbformat.NotebookNode:
    """A small notebook; a plain kernel gets a comment where %%nocache is (so line numbers stay)."""
    count = f"open({str(marker)!r}, 'a').write('.')"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in [
        "import time\nimport sys",
        f"{count}\ncheap = 21",
        f"{count}\ntime.sleep(0.3)\nslow = cheap * 2\nprint('slow is', slow)\nslow",
        f"{nocache}\n{count}\nplain = slow + 1\nplain",
        f"{count}\nprint('to stderr', file=sys.stderr)\ncheap / 0",
    ]]
    return nb


def _execute(nb: nbformat.NotebookNode, kernel: str, folder: Path, *extra: str) -> nbformat.NotebookNode:
    client = NotebookClient(nb, kernel_name=kernel, timeout=120, allow_errors=True, extra_arguments=list(extra),
                            resources={"metadata": {"path": str(folder)}})
    client.execute()
    return nb


def _outputs(nb: nbformat.NotebookNode, panels: bool = False) -> list[list[dict]]:
    """Each cell's outputs; nbcache's own panels (whose text starts with "nbcache: ") left out unless asked."""
    def is_panel(o: dict) -> bool:
        return str(o.get("data", {}).get("text/plain", "")).startswith("nbcache: ")

    return [coalesced([o for o in cell.outputs if panels or not is_panel(o)]) for cell in nb.cells]


def coalesced(outputs: list[dict]) -> list[dict]:
    """Consecutive stream outputs joined, as a frontend shows them (the kernel's batching depends on timing)."""
    joined: list[dict] = []
    for o in outputs:
        if o["output_type"] == "stream" and joined and joined[-1]["output_type"] == "stream" \
                and joined[-1]["name"] == o["name"]:
            joined[-1] = {**joined[-1], "text": joined[-1]["text"] + o["text"]}
        else:
            joined.append(dict(o))
    return joined


@pytest.fixture
def auto_kernel() -> None:
    shutil.copytree(KERNELSPEC, Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "nbcache-auto")


def test_the_auto_kernelspec(auto_kernel: None) -> None:
    spec = json.loads((KERNELSPEC / "kernel.json").read_text())
    assert spec["display_name"] == "Python 3 (nbcache auto)" and spec["argv"][-1] == "--ext=nbcache.ipython.auto"


def test_outputs_and_tracebacks_as_plain_and_a_slow_cell_hits_after_a_restart(auto_kernel: None,
                                                                              tmp_path: Path) -> None:
    marker = tmp_path / "runs.txt"
    plain = _execute(_notebook(marker, "# plain"), "python3", tmp_path)
    assert marker.read_text() == "...."
    marker.unlink()
    limit = "--CacheMagics.auto_min_seconds=0.2"
    cold = _execute(_notebook(marker), "nbcache-auto", tmp_path, limit)
    assert _outputs(cold) == _outputs(plain)
    assert marker.read_text() == "...."
    warm = _execute(_notebook(marker), "nbcache-auto", tmp_path, limit)  # a new kernel: a restart
    assert _outputs(warm) == _outputs(plain)
    # The slow cell was restored; the cheap one, the %%nocache one and the failing one ran again.
    assert marker.read_text() == "......."
    texts = [[str(o.get("data", {}).get("text/plain", "")) for o in outs] for outs in _outputs(warm, panels=True)]
    assert [t for t in texts[2] if t.startswith("nbcache: ")][0].startswith("nbcache: hit")
    assert not any(t.startswith("nbcache: ") for i, cell in enumerate(texts) if i != 2 for t in cell)
    error = [o for o in warm.cells[4].outputs if o["output_type"] == "error"][0]
    assert error == [o for o in plain.cells[4].outputs if o["output_type"] == "error"][0]


def test_min_seconds_zero_stores_every_cell(auto_kernel: None, tmp_path: Path) -> None:
    marker = tmp_path / "runs.txt"
    for _ in range(2):
        _execute(_notebook(marker), "nbcache-auto", tmp_path, "--CacheMagics.auto_min_seconds=0")
    # cheap and slow hit the second time; %%nocache and the failing cell ran twice
    assert marker.read_text() == "......"


def test_enable_auto_turns_auto_mode_on_at_start(capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess
    import sys

    from nbcache.cli import main

    assert main(["enable", "--auto"]) == 0
    assert "auto mode" in capsys.readouterr().out
    code = "print(get_ipython()._nbcache_magics.auto_runner.state.on)"
    done = subprocess.run([sys.executable, "-m", "IPython", "--no-banner", "--HistoryManager.enabled=False", "-c",
                           code], capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert done.stdout.strip().splitlines()[-1] == "True", done.stderr
    assert main(["disable"]) == 0
