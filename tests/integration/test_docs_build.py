"""Docs builds with nbcache: a real Sphinx + MyST-NB build and `jupyter nbconvert --execute`, each rebuilt after
editing the notebook's last cell; the earlier cells must not run again (marker files count real runs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(600)]

KERNELS = Path(__file__).resolve().parents[2] / "jupyter-config" / "kernels"
CONF = """
extensions = ["myst_nb"]
nb_execution_mode = "force"                       # execute on every build; nbcache restores unchanged cells
nb_kernel_rgx_aliases = {"python3": "nbcache-build-test"}
nb_execution_raise_on_error = True
"""


def _install_kernel(min_seconds: str = "0") -> None:
    """The shipped build kernel, with every cell stored (the test's cells are cheap). Under a name of its own: in
    a virtualenv Jupyter prefers the environment's kernels to the user's, and pip installed the shipped one there."""
    target = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "nbcache-build-test"
    shutil.copytree(KERNELS / "nbcache-build", target)
    spec = json.loads((target / "kernel.json").read_text())
    spec["argv"].append(f"--CacheMagics.auto_min_seconds={min_seconds}")
    (target / "kernel.json").write_text(json.dumps(spec))


def _notebook(path: Path, marker: Path, last: str) -> None:
    def mark(i: int) -> str:
        return f"open({str(marker)!r}, 'a').write('{i},')"

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Page"),
                nbformat.v4.new_code_cell(f"{mark(1)}\ndata = list(range(1000))"),
                nbformat.v4.new_code_cell(f"{mark(2)}\ntotal = sum(data)\nprint('total', total)"),
                nbformat.v4.new_code_cell(f"{mark(3)}\n{last}")]
    nbformat.write(nb, path)


def _runs(marker: Path) -> list[int]:
    text = marker.read_text() if marker.exists() else ""
    marker.unlink(missing_ok=True)
    return [int(i) for i in text.split(",") if i]


def _sphinx(src: Path, out: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", str(src), str(out)],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    return (out / "page.html").read_text()


def test_sphinx_myst_nb_rebuild_after_editing_the_last_cell(tmp_path: Path) -> None:
    _install_kernel()
    src, marker = tmp_path / "docs", tmp_path / "runs.txt"
    src.mkdir()
    (src / "conf.py").write_text(CONF)
    (src / "index.md").write_text("# Docs\n\n```{toctree}\npage\n```\n")
    _notebook(src / "page.ipynb", marker, "total * 2")
    html = _sphinx(src, tmp_path / "html")
    assert _runs(marker) == [1, 2, 3] and "total 499500" in html and "999000" in html
    _notebook(src / "page.ipynb", marker, "total * 3")
    html = _sphinx(src, tmp_path / "html")
    assert _runs(marker) == [3]  # the earlier cells were restored, not run
    assert "total 499500" in html and "1498500" in html and "nbcache" not in html


def test_nbconvert_execute_rebuild_after_editing_the_last_cell(tmp_path: Path) -> None:
    _install_kernel()
    path, marker = tmp_path / "page.ipynb", tmp_path / "runs.txt"

    def convert() -> nbformat.NotebookNode:
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                        "--ExecutePreprocessor.kernel_name=nbcache-build-test", str(path)],
                       check=True, capture_output=True, timeout=300, env=dict(os.environ))
        return nbformat.read(path, as_version=4)

    _notebook(path, marker, "total * 2")
    convert()
    assert _runs(marker) == [1, 2, 3]
    _notebook(path, marker, "total * 3")
    nb = convert()
    assert _runs(marker) == [3]
    assert nb.cells[2].outputs[0]["text"] == "total 499500\n"
    assert nb.cells[3].outputs[0]["data"]["text/plain"] == "1498500"
