"""Loading nbcache without %load_ext: the opt-in startup file and the "Python 3 (nbcache)" kernelspec."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from nbcache.cli import main

KERNELSPEC = Path(__file__).resolve().parents[2] / "jupyter-config" / "kernels" / "nbcache"
HAS_MAGIC = "print('cache' in get_ipython().magics_manager.magics['cell'])"


def _ipython(code: str) -> str:
    done = subprocess.run([sys.executable, "-m", "IPython", "--no-banner", "--HistoryManager.enabled=False",
                           "-c", code], capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_enable_then_disable_the_startup_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert _ipython(HAS_MAGIC) == "False"
    assert main(["enable"]) == 0
    path = Path(os.environ["IPYTHONDIR"]) / "profile_default" / "startup" / "50-nbcache.py"
    assert path.exists() and str(path) in capsys.readouterr().out
    assert _ipython(HAS_MAGIC) == "True"
    assert main(["disable"]) == 0
    assert not path.exists() and _ipython(HAS_MAGIC) == "False"
    assert main(["disable"]) == 0
    assert "had no nbcache startup file" in capsys.readouterr().out


def test_disable_leaves_a_users_own_file_alone() -> None:
    path = Path(os.environ["IPYTHONDIR"]) / "profile_default" / "startup" / "50-nbcache.py"
    path.parent.mkdir(parents=True)
    path.write_text("x = 1\n")
    assert main(["disable"]) == 0
    assert path.read_text() == "x = 1\n"


@pytest.mark.kernel
def test_the_kernelspec_starts_a_kernel_with_nbcache_loaded(tmp_path: Path) -> None:
    spec = json.loads((KERNELSPEC / "kernel.json").read_text())
    assert spec["argv"][-1] == "--ext=nbcache" and spec["display_name"] == "Python 3 (nbcache)"
    shutil.copytree(KERNELSPEC, Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "nbcache")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%%cache\ny = 1\ny")]
    NotebookClient(nb, kernel_name="nbcache", timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    (output,) = [o for o in nb.cells[0].outputs if o["output_type"] == "execute_result"]
    assert output["data"]["text/plain"] == "1"
