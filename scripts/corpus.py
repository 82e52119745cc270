"""Run example galleries nobody on this project wrote, plain and under ``%%cache``, and report what differs.

The examples come from the source distributions of the installed scikit-learn, matplotlib and networkx (``pip
download --no-binary :all: --no-deps``, into a gitignored cache folder); each ``# %%`` block is a cell (in a script
without them, each group of top-level statements between blank lines). Every example runs
in fresh kernels (nbclient), each in a folder of its own:

    plain, cold, plain, cold    in turns; each cold run is %%cache on every code cell with a fresh store
    warm                        %%cache again, on the second cold run's store

A cell's plain and cold times are each the quicker of its two runs: the machine's other work only adds time, and
taking turns spreads a busy spell over both sides instead of one.

The report gives cells, broken cells (raise under %%cache but not plain), wrong outputs, the warm hit rate of
deterministic cells, cells not cached by reason, the cold overhead and the warm speedup. Outputs are judged by
what the first law promises:

- a cell that *ran* (every cold cell, a warm miss) must show what a plain run shows, when the cell is
  deterministic: its outputs are equal in every plain run;
- a warm *hit* must show exactly what the run it restored showed (the second cold run, whose store it used),
  deterministic or not, and so, for a deterministic cell, what a plain run shows too.

Two equal plain runs do not prove a cell deterministic: a grid search whose refit picks the quickest candidate
agrees with itself by chance. So when a cell looks wrong, the example runs plain again, up to
``RECHECK_PLAIN_RUNS`` more times, stopping at the first run that differs: a cell whose plain outputs then differ
is not deterministic and its live runs are not judged (its hits still are), and a cell still flagged after every
recheck is wrong. The rechecks' times are not counted.

``--json`` also writes each cell's times (plain, cold, warm) and warm status, by example.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_notebooks import _seconds, comparable_outputs, status_line  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.readme import replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Examples that run in seconds on two cores, offline (no dataset download). Paths inside each sdist.
EXAMPLES = {
    "scikit-learn": [
        "examples/linear_model/plot_nnls.py",
        "examples/model_selection/plot_cv_predict.py",
        "examples/feature_selection/plot_feature_selection_pipeline.py",
        "examples/ensemble/plot_forest_importances.py",
        "examples/frozen/plot_frozen_examples.py",
        "examples/miscellaneous/plot_isotonic_regression.py",
        "examples/linear_model/plot_ridge_path.py",
        "examples/cluster/plot_kmeans_plusplus.py",
        "examples/miscellaneous/plot_roc_curve_visualization_api.py",
        "examples/miscellaneous/plot_estimator_representation.py",
        "examples/model_selection/plot_cv_indices.py",
        "examples/model_selection/plot_grid_search_digits.py",
    ],
    "matplotlib": [
        "galleries/examples/lines_bars_and_markers/bar_label_demo.py",
        "galleries/examples/lines_bars_and_markers/fill_between_demo.py",
        "galleries/examples/lines_bars_and_markers/scatter_hist.py",
        "galleries/examples/lines_bars_and_markers/stackplot_demo.py",
        "galleries/examples/statistics/hist.py",
        "galleries/examples/statistics/histogram_multihist.py",
        "galleries/examples/pie_and_polar_charts/pie_features.py",
        "galleries/examples/specialty_plots/sankey_basics.py",
        "galleries/examples/images_contours_and_fields/triplot_demo.py",
        "galleries/examples/pie_and_polar_charts/pie_label.py",
        "galleries/examples/ticks/date_formatters_locators.py",
        "galleries/examples/text_labels_and_annotations/custom_legends.py",
    ],
    # Graph objects: views cached on the graph that refer back to it (functools.cached_property).
    "networkx": [
        "examples/algorithms/plot_davis_club.py",
        "examples/algorithms/plot_girvan_newman.py",
        "examples/algorithms/plot_greedy_coloring.py",
        "examples/algorithms/plot_krackhardt_centrality.py",
        "examples/basic/plot_properties.py",
        "examples/drawing/plot_degree.py",
        "examples/graph/plot_karate_club.py",
    ],
}
# What CI runs (tests/integration/test_corpus.py): a few examples, well under two minutes.
CI_SUBSET = {
    "scikit-learn": ["examples/linear_model/plot_nnls.py"],
    "matplotlib": ["galleries/examples/statistics/hist.py",
                   "galleries/examples/lines_bars_and_markers/bar_label_demo.py",
                   "galleries/examples/specialty_plots/sankey_basics.py"],
    "networkx": ["examples/algorithms/plot_davis_club.py"],
}
_SDIST_NAMES = {"scikit-learn": "scikit_learn", "matplotlib": "matplotlib", "networkx": "networkx"}
# Both galleries build with meson-python, and pip prepares an sdist's metadata before saving it: this stand-in
# backend copies the sdist's own PKG-INFO instead of configuring a build, so nothing is compiled.
_METADATA_ONLY_BACKEND = '''
import os, shutil
def get_requires_for_build_wheel(config_settings=None):
    return []
def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    fields = dict(line.split(": ", 1) for line in open("PKG-INFO").read().splitlines()[:3] if ": " in line)
    dist = f"{fields['Name'].replace('-', '_')}-{fields['Version']}.dist-info"
    os.makedirs(os.path.join(metadata_directory, dist))
    shutil.copy("PKG-INFO", os.path.join(metadata_directory, dist, "METADATA"))
    return dist
'''
_SETUP_CELL = "%load_ext nbcache"
RECHECK_PLAIN_RUNS = 3
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")


# ---- the examples
def _sdist(package: str, cache: Path) -> Path:
    """The package's source distribution for the installed version, downloaded once into ``cache``."""
    wanted = f"{_SDIST_NAMES[package]}-{version(package)}.tar.gz"
    path = cache / wanted
    if not path.exists():
        shim = cache / "metadata-only-backend" / "mesonpy"
        shim.mkdir(parents=True, exist_ok=True)
        (shim / "__init__.py").write_text(_METADATA_ONLY_BACKEND)
        env = {**os.environ, "PYTHONPATH": str(shim.parent)}
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps",
                        "--no-build-isolation", "-d", str(cache), f"{package}=={version(package)}"],
                       check=True, env=env, cwd=cache)
    return path


def example_sources(cache: Path, subset: dict[str, list[str]]) -> dict[str, str]:
    """``package/file.py`` -> the example's source, read from the sdists."""
    sources = {}
    for package, paths in subset.items():
        with tarfile.open(_sdist(package, cache)) as tar:
            prefix = tar.getnames()[0].split("/")[0]
            for inner in paths:
                member = tar.extractfile(f"{prefix}/{inner}")
                assert member is not None, inner
                sources[f"{package}/{Path(inner).name}"] = member.read().decode()
    return sources


def cells_of(source: str) -> list[str]:
    """The example's code cells: ``# %%`` blocks, without comment-only blocks (sphinx-gallery's text); a script
    without them (networkx's gallery) is cut where a blank line separates top-level statements, as a notebook's
    author would cut it."""
    if not re.search(r"^# %%", source, flags=re.MULTILINE):
        return _paragraphs(source)
    blocks = re.split(r"^# %%.*$", source, flags=re.MULTILINE)
    cells = []
    for block in blocks:
        code = re.sub(r'\A\s*""".*?"""', "", block, flags=re.DOTALL).strip("\n")  # the gallery's title text
        if any(line.strip() and not line.lstrip().startswith("#") for line in code.splitlines()):
            cells.append(code)
    return cells


def _paragraphs(source: str) -> list[str]:
    """Top-level statements (the module docstring left out), grouped where no blank line separates them."""
    lines = source.splitlines()
    body = ast.parse(source).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    cells: list[list[str]] = []
    end = None
    for node in body:
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
        if end is None or any(not line.strip() for line in lines[end:start]):
            cells.append([])
        cells[-1] += lines[start:node.end_lineno]
        end = node.end_lineno
    return ["\n".join(cell) for cell in cells]


def notebook(cells: list[str], cached: bool) -> nbformat.NotebookNode:
    prefix = "%%cache\n" if cached else ""
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_SETUP_CELL)] + [
        nbformat.v4.new_code_cell(prefix + cell) for cell in cells])


def execute(nb: nbformat.NotebookNode, folder: Path, store: Path, timeout: int) -> nbformat.NotebookNode:
    """Run in a fresh kernel in ``folder``; errors are recorded in the outputs, the run goes on."""
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["NBCACHE_DIR"] = str(store)  # the kernel inherits it
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return nb


# ---- comparing runs
@dataclass(frozen=True)
class CellResult:
    """One code cell of one example over the four runs."""

    deterministic: bool
    broken: bool
    wrong_text: bool
    wrong_image: bool
    warm_status: str
    plain_s: float
    cold_s: float
    warm_s: float


# A repr's memory address ("<function f at 0x7f...>", or cut short in an HTML repr: "<function f...x7f...>") is
# new in every process: a re-run shows another one too.
_ADDRESS = re.compile(r"(?<![0-9A-Za-z])0?x[0-9a-fA-F]{8,16}\b")


def _split(outputs: list[Any]) -> tuple[str, list[Any]]:
    """(text outputs, images) of a cell's comparable outputs; the text as one string, its addresses blanked."""
    texts, images = [], []
    for item in outputs:
        if item[0] in ("display_data", "execute_result"):
            data = item[1]
            images += [data[k] for k in _IMAGE_TYPES if k in data]
            texts.append((item[0], {k: v for k, v in data.items() if k not in _IMAGE_TYPES}))
        else:
            texts.append(item)
    return _ADDRESS.sub("0x?", json.dumps(texts, sort_keys=True)), images


def _errors(cell: nbformat.NotebookNode) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def compare(plain: list[nbformat.NotebookNode], cold: list[nbformat.NotebookNode],
            warm: nbformat.NotebookNode) -> list[CellResult]:
    """Every plain run, two cold runs, the warm run on the second cold run's store (the module docstring has the
    rule). A cell's time on each side is the quicker of its first two runs there (the machine's other work only
    ever adds time; further plain runs are rechecks, not timed)."""
    results = []
    for index in range(1, len(warm.cells)):
        plains = [_split(comparable_outputs(nb.cells[index])) for nb in plain]
        colds = [_split(comparable_outputs(nb.cells[index])) for nb in cold]
        status = status_line(warm.cells[index])
        hit = status.startswith("nbcache: hit")
        warm_seen = _split(comparable_outputs(warm.cells[index]))
        deterministic = all(seen == plains[0] for seen in plains[1:])
        live = colds if hit else [*colds, warm_seen]
        judged = [(seen, plains[0]) for seen in live if deterministic] + ([(warm_seen, colds[-1])] if hit else [])
        broken = (any(_errors(nb.cells[index]) for nb in (*cold, warm))
                  and not _errors(plain[0].cells[index]))
        results.append(CellResult(
            deterministic, broken,
            wrong_text=any(seen[0] != want[0] for seen, want in judged),
            wrong_image=any(seen[1] != want[1] for seen, want in judged),
            warm_status=status,
            plain_s=min(_seconds(nb.cells[index]) for nb in plain[:2]),
            cold_s=min(_seconds(nb.cells[index]) for nb in cold[:2]),
            warm_s=_seconds(warm.cells[index])))
    return results


def _reason(status: str) -> str:
    """Why a warm cell was not a hit, in words that group: the text in the status line's parentheses."""
    match = re.match(r"nbcache: (miss|not cached) \((.*?)\)(, ran|$)", status)
    if not match:
        return status or "no status line"
    words = re.sub(r"[\w.]+ \(.*?\)|'[^']*'|\b\w+\b(?= (changed|cannot))", "<name>", match.group(2))
    return f"{match.group(1)}: {words}"


@dataclass
class Summary:
    examples: int = 0
    results: list[CellResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    by_example: dict[str, list[CellResult]] = field(default_factory=dict)  # per cell, for finding the overhead

    def add(self, name: str, results: list[CellResult]) -> None:
        self.examples += 1
        self.results += results
        self.by_example[name] = results
        for index, r in enumerate(results, start=1):
            for flag, what in ((r.broken, "broken"), (r.wrong_text, "wrong text"), (r.wrong_image, "wrong image")):
                if flag:
                    self.problems.append(f"{name} cell {index}: {what}")

    def figures(self) -> dict[str, Any]:
        rs = self.results
        deterministic = [r for r in rs if r.deterministic]
        hits = [r for r in deterministic if r.warm_status.startswith("nbcache: hit")]
        plain_s, cold_s, warm_s = (sum(getattr(r, f) for r in rs) for f in ("plain_s", "cold_s", "warm_s"))
        reasons = Counter(_reason(r.warm_status) for r in deterministic if r not in hits)
        return {
            "examples": self.examples, "cells": len(rs), "deterministic": len(deterministic),
            "broken": sum(r.broken for r in rs), "wrong_text": sum(r.wrong_text for r in rs),
            "wrong_image": sum(r.wrong_image for r in rs), "hits": len(hits),
            "hit_rate": len(hits) / len(deterministic) if deterministic else 1.0,
            "plain_s": plain_s, "cold_s": cold_s, "warm_s": warm_s,
            "cold_overhead": cold_s / plain_s - 1 if plain_s else 0.0,
            "warm_speedup": plain_s / warm_s if warm_s else float("inf"),
            "not_hit": dict(reasons.most_common()),
        }


def table(fig: dict[str, Any]) -> str:
    rows = [
        ("examples (notebooks)", fig["examples"]), ("code cells", fig["cells"]),
        ("deterministic cells (equal outputs in every plain run)", fig["deterministic"]),
        ("broken cells", fig["broken"]), ("wrong outputs: text", fig["wrong_text"]),
        ("wrong outputs: images", fig["wrong_image"]),
        ("warm hit rate, deterministic cells", f"{fig['hit_rate']:.1%} ({fig['hits']}/{fig['deterministic']})"),
        ("cold overhead (cold / plain cell time)", f"{fig['cold_overhead']:+.1%}"),
        ("warm speedup (plain / warm cell time)",
         f"{fig['warm_speedup']:.1f}x ({fig['plain_s']:.1f}s -> {fig['warm_s']:.1f}s)"),
    ]
    rows += [(f"not a warm hit: {reason}", count) for reason, count in fig["not_hit"].items()]
    return "\n".join(["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)])


# ---- running
def run_example(name: str, source: str, work: Path, timeout: int) -> list[CellResult]:
    cells = cells_of(source)
    folder = work / name.replace("/", "__")
    store = folder / "store"
    plain, cold = [], []
    for i in (1, 2):  # in turns, so that a busy spell on the machine slows one run of each side, not one side
        plain.append(execute(notebook(cells, False), folder / f"plain{i}", folder / f"unused{i}", timeout))
        cold.append(execute(notebook(cells, True), folder / f"cold{i}", store / str(i), timeout))
    warm = execute(notebook(cells, True), folder / "warm", store / "2", timeout)
    results = compare(plain, cold, warm)
    for i in range(RECHECK_PLAIN_RUNS):  # a flagged cell may be nondeterministic by chance: ask plain runs again
        if not any(r.wrong_text or r.wrong_image for r in results):
            break
        plain.append(execute(notebook(cells, False), folder / f"recheck{i}", folder / f"unused-r{i}", timeout))
        results = compare(plain, cold, warm)
    return results


def run_corpus(subset: dict[str, list[str]], cache: Path, timeout: int = 300) -> Summary:
    summary = Summary()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nbcache-corpus-") as tmp:
        for name, source in example_sources(cache, subset).items():
            results = run_example(name, source, Path(tmp), timeout)
            summary.add(name, results)
            print(f"{name}: {len(results)} cells, {sum(r.warm_status.startswith('nbcache: hit') for r in results)}"
                  f" warm hits", flush=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", choices=("all", "ci"), default="all")
    parser.add_argument("--cache", type=Path, default=ROOT / ".corpus-cache", help="where the sdists are kept")
    parser.add_argument("--readme", type=Path, help="write the table into this README's corpus section")
    parser.add_argument("--json", type=Path, help="write the figures and problems as JSON")
    args = parser.parse_args(argv)
    summary = run_corpus(CI_SUBSET if args.subset == "ci" else EXAMPLES, args.cache)
    fig = summary.figures()
    text = table(fig)
    print(text)
    for problem in summary.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    if args.readme:
        replace_section(args.readme, "corpus", text)
    if args.json:
        cells = {name: [asdict(r) for r in results] for name, results in summary.by_example.items()}
        args.json.write_text(json.dumps({"figures": fig, "problems": summary.problems, "cells": cells}, indent=2))
    return 1 if summary.problems else 0


if __name__ == "__main__":
    sys.exit(main())
