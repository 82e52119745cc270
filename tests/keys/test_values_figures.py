"""Issue 12, item 9: a matplotlib figure is hashed by its content, so a restored figure hashes as the original did
(in this process and in a new one), and every change a cell can make to a figure changes its hash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nbcache.keys.values import hash_value
from nbcache.store import serialize
from tests.support import run_in_new_process


def _figure() -> Any:
    """Without pyplot: choosing a backend would change rcParams, a setting later cells in this process key on."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.plot([1, 2, 3], [4, 1, 2], label="a")
    ax.bar([1, 2], [3, 4])
    ax.scatter([1, 2], [3, 4])
    ax.set_title("t")
    ax.legend()
    fig.colorbar(ax.imshow(np.arange(12.0).reshape(3, 4)))
    ax.annotate("x", (1, 1), arrowprops={})
    ax.set_xlim(0, 5)
    return fig, ax


def _restored(value: Any) -> Any:
    saved = serialize.dumps({"outputs": {"value": value}})
    return serialize.loads(saved.data, saved.buffers)["outputs"]["value"]


def test_a_restored_figure_and_its_axes_hash_as_the_originals() -> None:
    """A restore shares strings and dtypes unlike the original (interned names, one-character strings, a copy of
    each array's dtype) and gives strided arrays back contiguous: none of that is content."""
    fig, ax = _figure()
    again_fig, again_ax = _restored((fig, ax))
    assert hash_value(again_fig) == hash_value(fig)
    assert hash_value(again_ax) == hash_value(ax)
    assert hash_value((again_fig, again_ax)) == hash_value((fig, ax))


def test_a_figure_restored_in_a_new_process_hashes_as_the_original(tmp_path: Path) -> None:
    fig, ax = _figure()
    saved = serialize.dumps({"outputs": {"value": (fig, ax)}})
    assert not saved.buffers  # small arrays stay inside the pickle: one file is enough
    (tmp_path / "saved.pkl").write_bytes(saved.data)
    script = f"""
from pathlib import Path
from nbcache.keys.values import hash_value
from nbcache.store import serialize
fig, ax = serialize.loads(Path({str(tmp_path / 'saved.pkl')!r}).read_bytes())["outputs"]["value"]
print(hash_value(fig).hex(), hash_value(ax).hex())
"""
    out = run_in_new_process(script).split()
    assert out == [hash_value(fig).hex(), hash_value(ax).hex()]


def test_a_masked_array_without_a_mask_hashes_as_its_restored_copy() -> None:
    """A restore gives an array whose mask was ``nomask`` a mask of False everywhere."""
    masked = np.ma.masked_array(np.arange(6.0))
    assert hash_value(_restored(masked)) == hash_value(masked)
    assert hash_value(np.ma.masked_array(np.arange(6.0), mask=[1, 0, 0, 0, 0, 0])) != hash_value(masked)


_CHANGES: dict[str, Callable[[Any, Any], Any]] = {
    "data": lambda fig, ax: ax.lines[0].set_ydata([4, 1, 3]),
    "data in place": lambda fig, ax: ax.lines[0].get_xydata().__setitem__((0, 1), 9.0),
    "limits": lambda fig, ax: ax.set_ylim(-1, 9),
    "title": lambda fig, ax: ax.set_title("other"),
    "axis label": lambda fig, ax: ax.set_xlabel("x"),
    "line style": lambda fig, ax: ax.lines[0].set_linestyle("--"),
    "color": lambda fig, ax: ax.patches[0].set_facecolor("red"),
    "image data": lambda fig, ax: ax.images[0].set_data(np.ones((3, 4))),
    "colormap": lambda fig, ax: ax.images[0].set_cmap("gray"),
    "artist added": lambda fig, ax: ax.axhline(1),
    "artist removed": lambda fig, ax: ax.patches[0].remove(),
    "legend removed": lambda fig, ax: ax.get_legend().remove(),
    "figure size": lambda fig, ax: fig.set_size_inches(3, 2),
    "scale": lambda fig, ax: ax.set_yscale("log"),
    "grid": lambda fig, ax: ax.grid(True),
}


@pytest.mark.parametrize("change", sorted(_CHANGES))
def test_a_change_to_a_figure_changes_its_hash_and_its_axes_hash(change: str) -> None:
    fig, ax = _figure()
    before = hash_value(fig), hash_value(ax)
    _CHANGES[change](fig, ax)
    after = hash_value(fig), hash_value(ax)
    assert before[0] != after[0] and before[1] != after[1]



def test_inside_shared_figures_a_figure_is_written_once_for_all_the_values_holding_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from nbcache.keys import values

    fig, ax = _figure()
    writes: list[object] = []
    dump = values._FigurePickler.dump
    monkeypatch.setattr(values._FigurePickler, "dump", lambda self, obj: (writes.append(obj), dump(self, obj))[1])
    alone = hash_value(fig), hash_value(ax)
    assert len(writes) == 2
    with values.shared_figures():
        shared = hash_value(fig), hash_value(ax)
    assert shared == alone and len(writes) == 3


def test_a_colormap_hashes_alike_before_and_after_its_lookup_table_is_made() -> None:
    """scikit-learn's plot_cv_indices: the inline backend draws after the cell, which fills the colormap's table;
    a hit draws nothing, so the next cell reading the colormap missed."""
    import matplotlib as mpl

    fresh = mpl.colormaps["Paired"]
    used = mpl.colormaps["Paired"]
    used(0.5)  # makes the lookup table
    assert used._isinit and not fresh._isinit
    assert hash_value(used) == hash_value(fresh) == hash_value(_restored(used))
    fig, ax = _figure()
    ax.scatter([1, 2], [1, 2], c=[0, 1], cmap=fresh)
    before = hash_value(fig)
    fresh(0.5)  # as drawing the figure does
    assert fresh._isinit and hash_value(fig) == before


@pytest.mark.parametrize("change", ["set_bad('red')", "set_over('blue')", "colors[0] = (0, 0, 0)", "name = 'x'"])
def test_a_change_to_a_colormap_changes_its_hash(change: str) -> None:
    import matplotlib as mpl

    cmap = mpl.colormaps["Paired"]
    cmap(0.5)
    before = hash_value(cmap)
    if change.startswith("colors"):
        cmap.colors = list(cmap.colors)
        before = hash_value(cmap)
    exec(f"cmap.{change}", {"cmap": cmap})
    assert hash_value(cmap) != before
def _labelled_figure(fmt: str) -> Any:
    fig, ax = _figure()
    ax.bar_label(ax.containers[0], fmt=fmt, label_type="center")  # each label keeps a lambda of matplotlib's
    return fig, ax


def test_a_figure_with_a_library_s_lambda_is_hashed_as_one_pickle_and_restores_to_the_same_hash() -> None:
    """``Axes.bar_label`` keeps a lambda pickle cannot name; it is written as its code's place and its state
    instead of sending the whole figure to the slow item-by-item walk."""
    from nbcache.keys import values

    fig, ax = _labelled_figure("%.1f")
    assert values._figure_digest(fig) is not None
    again_fig, again_ax = _restored((fig, ax))
    assert hash_value(again_fig) == hash_value(fig) and hash_value(again_ax) == hash_value(ax)


def test_what_a_library_s_lambda_holds_is_content() -> None:
    """Its defaults (the bar it measures) are hashed: a label whose lambda follows another bar hashes differently,
    though the code and its name are the same."""
    import types

    fig, ax = _labelled_figure("%.1f")
    before = hash_value(fig)
    first, second = [text for text in ax.texts if callable(text.xycoords)][:2]
    other = second.xycoords
    copy = types.FunctionType(other.__code__, other.__globals__, other.__name__, other.__defaults__)
    copy.__qualname__ = other.__qualname__
    first.xycoords = copy
    assert hash_value(fig) != before


def _histogram() -> Any:
    fig, ax = _figure()
    ax.hist(np.arange(100.0), bins=40)  # 40 bars, each removable through its Axes' list of children
    return fig, ax


def test_an_axes_of_many_artists_is_hashed_as_one_pickle_and_restores_to_the_same_hash() -> None:
    """Each artist keeps its Axes' ``_children.remove``: written in full at each artist, that list led back to
    itself, and a histogram's figure fell back to the item-by-item walk, 6x slower (0.15 s for scatter_hist)."""
    from nbcache.keys import values

    fig, ax = _histogram()
    assert values._figure_digest(fig) is not None
    again_fig, again_ax = _restored((fig, ax))
    assert hash_value(again_fig) == hash_value(fig) and hash_value(again_ax) == hash_value(ax)


@pytest.mark.parametrize("change", ["bar height", "bar removed", "remover moved"])
def test_a_change_to_a_histogram_changes_its_hash(change: str) -> None:
    fig, ax = _histogram()
    before = hash_value(fig)
    bar = ax.patches[-1]
    if change == "bar height":
        bar.set_height(bar.get_height() + 1)
    elif change == "bar removed":
        bar.remove()
    else:  # the bar would now be removed from another list than its Axes' children
        bar._remove_method = list(ax._children).remove
    assert hash_value(fig) != before
