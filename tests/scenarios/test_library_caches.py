"""Library objects holding a C++ cache pickle cannot write (matplotlib's Triangulation after ``ax.triplot``, its
TrapezoidMapTriFinder): stored without it, rebuilt on restore, and keyed without it. Before, such a cell was never
stored ("cannot pickle 'matplotlib._tri.Triangulation' object") and ran every time."""

from __future__ import annotations

from pathlib import Path

from tests.scenarios.restarts import Step, differential

_SETUP = ("import numpy as np\nimport matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
          "import matplotlib.tri as mtri\n"
          "x = np.array([0, 1, 0, 1, 0.5, 0.2]); y = np.array([0, 0, 1, 1, 0.5, 0.7])")


def test_a_triangulation_drawn_and_searched_is_stored_and_restored_whole(tmp_path: Path) -> None:
    steps: list[Step] = [
        (_SETUP, False),
        # The C++ triangulation is built by triplot, the finder and interpolator by their own calls.
        ("triang = mtri.Triangulation(x, y)\nfig, ax = plt.subplots()\nax.triplot(triang)\n"
         "finder = triang.get_trifinder()\ninterp = mtri.LinearTriInterpolator(triang, x * 2 + y)\n"
         "print(len(ax.lines), finder(0.3, 0.1))", True),
        # Reads them: a key made without the caches, so it hits after the restore that rebuilt them.
        ("print(finder(0.6, 0.5), float(interp(0.3, 0.2)), triang.edges.shape)", True),
        # Plain probes after the hits: the restored objects work as the live ones did.
        ("print(triang.get_trifinder() is finder, interp._trifinder is finder, finder._triangulation is triang)",
         False),
        ("triang.set_mask([True] + [False] * (len(triang.triangles) - 1))\n"
         "print(finder(0.3, 0.1), float(interp(0.9, 0.05)))", False),
    ]
    plain = differential(steps, tmp_path)
    assert plain[3]["stdout"].split() == ["True", "True", "True"]
    assert plain[4]["error"] is None


def test_a_change_to_the_triangulation_makes_the_cell_reading_it_run_again(tmp_path: Path) -> None:
    steps: list[Step] = [
        (_SETUP, False),
        ("triang = mtri.Triangulation(x, y)\nn_edges = len(triang.edges)  # built by the C++ triangulation", True),
        ("print(mtri.LinearTriInterpolator(triang, x + y)(0.3, 0.1))", True),
        ("triang.set_mask([True] + [False] * (len(triang.triangles) - 1))", False),
        ("print(mtri.LinearTriInterpolator(triang, x + y)(0.3, 0.1))", True),
    ]
    plain = differential(steps, tmp_path)
    assert plain[2]["stdout"] != plain[4]["stdout"]  # the mask changed the answer: a hit would have repeated it


def test_a_triangulation_and_a_figure_holding_one_hash_alike_before_and_after_a_restore() -> None:
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt
    import matplotlib.tri as mtri
    import numpy as np

    from nbcache.keys.values import hash_value
    from nbcache.store import serialize

    x, y = np.array([0, 1, 0, 1, 0.5]), np.array([0, 0, 1, 1, 0.5])
    triang = mtri.Triangulation(x, y)
    fig, ax = plt.subplots()
    contours = ax.tricontourf(triang, x + y)  # holds the triangulation, its C++ object built
    finder = triang.get_trifinder()
    saved = serialize.dumps({"outputs": {"fig": fig, "triang": triang, "finder": finder}})
    back = serialize.loads(saved.data, saved.buffers)["outputs"]
    assert hash_value(back["triang"]) == hash_value(triang)
    assert hash_value(back["fig"]) == hash_value(fig)
    assert back["triang"].get_trifinder() is back["finder"]
    assert back["finder"](0.25, 0.1) == finder(0.25, 0.1)
    before = hash_value(triang)
    triang.set_mask([True, False, False, False])
    assert hash_value(triang) != before
    plt.close(fig)
    del contours
