"""The panel's and the sidebar's behaviour in an in-process shell: buttons clicked, store and namespace checked."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import pytest

import nbcache.ipython.magics
import nbcache.store.local
import nbcache.ui.panel
from nbcache.errors import CacheWarning
from nbcache.ui import progress, sidebar
from nbcache.ui.panel import StatusPanel
from nbcache.ui.report import CellState, CellStatus
from tests.support import Shell


@pytest.fixture
def panels(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> list[StatusPanel]:
    """Pretend a widget frontend exists and keep every panel the magic builds."""
    made: list[StatusPanel] = []

    class Recorded(StatusPanel):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(nbcache.ipython.magics, "has_widget_frontend", lambda shell: True)
    monkeypatch.setattr(nbcache.ui.panel, "StatusPanel", Recorded)
    return made


def badge(panel: StatusPanel) -> str:
    """The badge's state, with ",stored" for a miss whose entry was written."""
    html = panel.header.description
    state = html.split('data-state="')[1].split('"')[0]
    return state + (",stored" if 'data-stored="true"' in html else "")


def click(panel: StatusPanel, button: str) -> None:
    """Press one of the header's buttons, as the frontend does: it selects the button's index."""
    panel.header.index = list(panel.header.options).index(button)


def open_details(panel: StatusPanel) -> str:
    click(panel, "details")
    return panel.details.value


def test_panel_replaces_the_stderr_line(shell: Shell, panels: list[StatusPanel]) -> None:
    _, captured = shell.cached("y = 1")
    assert badge(panels[-1]) == "miss,stored" and "nbcache:" not in captured.stderr
    assert captured.outputs[-1].data["text/plain"].startswith("nbcache: miss (new cell)")
    shell.cached("y = 1")
    assert badge(panels[-1]) == "hit" and panels[-1].summary.startswith("restored")


def test_recompute_runs_the_cell_again_with_force(shell: Shell, panels: list[StatusPanel]) -> None:
    shell.ns["x"] = 2
    shell.cached("y = x + 1")
    shell.ns["y"] = None
    click(panels[-1], "recompute")
    assert shell.runs == 2 and shell.ns["y"] == 3
    assert badge(panels[-1]) == "miss,stored" and panels[-1].summary.startswith("forced with -f")


def test_clear_this_entry_makes_the_next_run_a_miss(shell: Shell, panels: list[StatusPanel]) -> None:
    shell.cached("y = 1")
    open_details(panels[-1])
    panels[-1].clear_button.click()
    assert badge(panels[-1]) == "cleared" and shell.ip._nbcache_magics.store().entries() == []
    shell.cached("y = 1")
    assert shell.runs == 2 and badge(panels[-1]) == "miss,stored"
    assert panels[-1].summary.startswith("entry cleared")  # not "new cell"


def test_details_show_key_inputs_what_changed_and_outputs(shell: Shell, panels: list[StatusPanel]) -> None:
    shell.ns.update(x=1, k=5)
    shell.cached("y = [x + k] * 100")
    shell.ns["x"] = 2
    shell.cached("y = [x + k] * 100")
    panel = panels[-1]
    details = open_details(panel)
    assert panel.details_box.layout.display == "" and panel.status is not None
    assert panel.status.key[:16] in details
    assert "<td style='padding:0 8px'>x</td>" in details and "changed" in details
    assert details.count("changed") == 1  # k did not change
    assert "<td style='padding:0 8px'>list</td>" in details


def test_a_failing_panel_falls_back_to_the_line(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(StatusPanel):
        def begin(self, state: str, reason: str = "") -> None:
            raise RuntimeError("no frontend")

    monkeypatch.setattr(nbcache.ipython.magics, "has_widget_frontend", lambda shell: True)
    monkeypatch.setattr(nbcache.ui.panel, "StatusPanel", Broken)
    with warnings.catch_warnings(record=True) as caught:
        result, captured = shell.cached("y = 41 + 1")
    assert result.success and shell.ns["y"] == 42
    assert "nbcache: miss (new cell)" in captured.stderr
    assert any(issubclass(w.category, CacheWarning) and "status panel failed" in str(w.message) for w in caught)


def _browser(shell: Shell) -> sidebar.CacheBrowser:
    return sidebar.CacheBrowser(shell.ip._nbcache_magics.store())


def test_sidebar_lists_by_cell_searches_and_clears_selected(shell: Shell) -> None:
    shell.run("%%cache\ny = 1")
    shell.ns["x"] = 1
    shell.run("%%cache\nz = x")
    shell.ns["x"] = 2
    shell.run("%%cache\nz = x")
    browser = _browser(shell)
    assert browser.totals.value.startswith("3 entries")
    rows = [c for c in browser.listing.children if "nbcache-entry" in c._dom_classes]
    assert len(rows) == 3 and len(browser.listing.children) == 5  # two cell headings
    browser.search.value = "z = x"
    assert len([c for c in browser.listing.children if "nbcache-entry" in c._dom_classes]) == 2
    rows = [c for c in browser.listing.children if "nbcache-entry" in c._dom_classes]
    rows[0].children[0].value = True
    browser.clear_selected.click()
    assert len(browser.store.entries()) == 2 and browser.message.value == "removed 1 entry"


def test_sidebar_clear_all_asks_first(shell: Shell) -> None:
    shell.cached("y = 1")
    browser = _browser(shell)
    browser.clear_all.click()
    assert len(browser.store.entries()) == 1  # only asked
    cancel = browser.confirm.children[2]
    cancel.click()
    assert browser.confirm.children == () and len(browser.store.entries()) == 1
    browser.clear_all.click()
    browser.confirm.children[1].click()
    assert browser.store.entries() == [] and "no entries" in browser.listing.children[0].value


def test_sidebar_clears_entries_not_used_for_n_days(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    shell.cached("y = 1")
    browser = _browser(shell)
    browser.days.value = 3
    browser.clear_old.click()
    assert len(browser.store.entries()) == 1  # used just now
    now = sidebar.time.time()
    monkeypatch.setattr(sidebar.time, "time", lambda: now + 4 * 86400)
    browser.clear_old.click()
    assert browser.store.entries() == []


def test_sidebar_refreshes_as_cached_cells_run(shell: Shell) -> None:
    browser = _browser(shell)
    shell.ip.run_line_magic("cache_panel", "--inline")  # registers the refresh after each cell
    shell.cached("y = 1")
    assert browser.totals.value.startswith("1 entry")


def test_progress_fraction_advances_and_never_claims_completion() -> None:
    assert progress.fraction(0.0, 300_000_000) == 0.0
    assert progress.fraction(1.0, 300_000_000, bytes_per_s=100e6) == pytest.approx(1 / 3)
    assert progress.fraction(60.0, 300_000_000) == 0.95


def test_a_running_badge_asks_for_the_reason_only_when_it_shows(shell: Shell) -> None:
    """A quick miss never asks (its save works the reason out); a long one's badge asks, from its thread."""
    asked: list[int] = []

    def reason() -> str:
        asked.append(1)
        return "input x changed"

    panel = StatusPanel(shell.ip._nbcache_magics.store())
    panel.begin(CellState.RUNNING, reason)
    panel.output_starts()  # the place holder says only that the cell runs
    assert asked == [] and panel._text == "nbcache: running"
    panel.done(CellStatus("miss", "nbcache: miss (new cell)", "new cell", size=10))
    assert asked == []

    panel = StatusPanel(shell.ip._nbcache_magics.store())
    panel.running_delay_s = 0.0
    shown = threading.Event()
    panel._show_state = lambda *a, show=panel._show_state: (show(*a), shown.set())  # type: ignore[method-assign]
    panel.begin(CellState.RUNNING, reason)
    assert shown.wait(30) and asked == [1]
    assert badge(panel) == "running" and "input x changed" in panel.header.description
    assert panel._text == "nbcache: running (input x changed)"
    panel.done(CellStatus("miss", "nbcache: miss (input x changed)", "input x changed", size=10))


def test_a_long_save_shows_a_bar_that_goes_away_when_stored(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    published: list[bool] = []
    publish = nbcache.ui.panel._publish

    def recorded(bundle: dict, display_id: str, update: bool, header: Any = None) -> None:
        published.append(update)
        publish(bundle, display_id, update, header)

    monkeypatch.setattr(nbcache.ui.panel, "_publish", recorded)
    panel = StatusPanel(shell.ip._nbcache_magics.store())
    panel.begin(CellState.RUNNING, "new cell")  # a miss without output: nothing shown yet
    assert published == []
    panel.progress_delay_s = 0.0  # as if the save had already taken more than a second
    shown = threading.Event()
    panel._show_progress = lambda fraction, show=panel._show_progress: (show(fraction), shown.set())  # type: ignore
    panel.saving(10**9)
    assert shown.wait(30) and panel.progress in panel.root.children
    assert published == [False]  # the bar is shown, in a display of its own since nothing held the place
    panel.done(CellStatus("miss", "nbcache: miss (new cell)", "new cell", size=10**9))
    assert panel.progress is None and panel._ticker is None
    assert panel.root.children == (panel.header,)  # the bar is gone: the header alone


def test_output_sizes_are_cheap_estimates() -> None:
    import numpy as np
    import pandas as pd

    from nbcache.ui.report import approx_size

    assert approx_size(np.zeros(1000)) == 8000
    assert approx_size(pd.DataFrame({"a": np.zeros(1000)})) >= 8000
    assert approx_size([1, 2, 3]) > 0


def test_a_second_cache_panel_replaces_the_first(shell: Shell) -> None:
    store = shell.ip._nbcache_magics.store()
    first = sidebar.open_browser(shell.ip, store, inline=False)
    first_sidecar = first.sidecar
    second = sidebar.open_browser(shell.ip, store, inline=False)
    assert first.sidecar is None and first_sidecar.comm is None  # closed: its tab leaves the sidebar
    assert first not in sidebar._OPEN and second in sidebar._OPEN and second.sidecar.comm is not None
    second.close()


class _HeldElsewhere:
    """A key lock another kernel holds; it finishes (without storing anything) the moment we wait."""

    held = False

    def try_acquire(self, create: bool = True) -> bool:
        return False

    def wait(self) -> None:
        self.held = True

    def release(self) -> None:
        pass


@pytest.mark.parametrize("flags", ["", "-q"])
def test_waiting_for_another_kernel_is_said_unless_quiet(shell: Shell, flags: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nbcache.store.local.Store, "lock", lambda self, key: _HeldElsewhere())
    _, captured = shell.cached("y = 1", flags)
    assert shell.runs == 1 and shell.ns["y"] == 1  # nothing was stored meanwhile: it computes itself
    said = "nbcache: another kernel is computing this cell; waiting for its result" in captured.stderr
    assert said == (flags == "")


def test_the_panel_shows_waiting_before_the_result(shell: Shell, panels: list[StatusPanel],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nbcache.store.local.Store, "lock", lambda self, key: _HeldElsewhere())
    states: list[str] = []
    monkeypatch.setattr(StatusPanel, "begin", lambda self, state, reason="": states.append(state))
    shell.cached("y = 1")
    assert states[:1] == ["waiting"] and badge(panels[-1]) == "miss,stored"


def test_recompute_is_offered_without_opening_details(shell: Shell, panels: list[StatusPanel]) -> None:
    shell.cached("y = 1")
    assert list(panels[-1].header.options) == ["recompute", "details"] and panels[-1].details_box is None


def test_a_long_reason_is_the_tooltip_and_never_the_badge(shell: Shell, panels: list[StatusPanel]) -> None:
    import threading as th

    shell.ns["lock"] = th.Lock()
    shell.cached("with lock:\n    total = 1")
    header = panels[-1].header
    assert badge(panels[-1]) == "not cached" and ">not cached</span>" in header.description
    assert header.tooltip.startswith("input lock cannot be hashed") and "--ignore lock" in header.tooltip


def test_details_leave_out_builtins_and_empty_sections(shell: Shell, panels: list[StatusPanel]) -> None:
    shell.ns["x"] = 1
    shell.cached("y = len(str(x))\nprint(y)")
    details = open_details(panels[-1])
    assert "<td style='padding:0 8px'>x</td>" in details
    assert "print" not in details and "len" not in details and "builtin" not in details
    assert "(none)" not in details and "Files" not in details


def test_details_of_a_not_cached_cell_give_the_reason_not_empty_inputs(shell: Shell,
                                                                      panels: list[StatusPanel]) -> None:
    import threading as th

    shell.ns["lock"] = th.Lock()
    shell.cached("with lock:\n    total = 1")
    details = open_details(panels[-1])
    assert "input lock cannot be hashed" in details and "Inputs" not in details
    assert panels[-1].clear_button.layout.display == "none"


def test_a_failed_cell_offers_nothing_to_clear(shell: Shell, panels: list[StatusPanel]) -> None:
    shell.cached("raise ValueError('no')")
    assert badge(panels[-1]) == "failed"
    details = open_details(panels[-1])
    assert "nothing was stored" in details and panels[-1].clear_button.layout.display == "none"


def test_a_hit_builds_no_details_and_shows_once(shell: Shell, panels: list[StatusPanel],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[bool] = []
    monkeypatch.setattr(nbcache.ui.panel, "_publish", lambda bundle, display_id, update, header=None:
                        shown.append(update))
    shell.cached("y = 1")
    shown.clear()
    shell.cached("y = 1")
    assert badge(panels[-1]) == "hit" and shown == [False]  # nothing to replay: shown once, with its final line
    assert panels[-1].details_box is None and panels[-1].out is None and panels[-1].progress is None


def test_sizes_agree_between_miss_hit_and_the_store(shell: Shell) -> None:
    import re

    _, miss = shell.cached("y = list(range(1000))")
    _, hit = shell.cached("y = list(range(1000))")
    (entry,) = shell.ip._nbcache_magics.store().entries()
    stored = re.search(r"stored (\S+ \S+) in", miss.stderr).group(1)
    restored = re.search(r"restored, (\S+ \S+)\) in", hit.stderr).group(1)
    assert stored == restored == nbcache.ui.panel.human_size(entry.size) and "KiB" in stored


def test_sizes_are_binary_units() -> None:
    from nbcache.units import human_size

    assert [human_size(n) for n in (999, 1024, 1536, 10 * 2**30)] == ["999 B", "1.0 KiB", "1.5 KiB", "10.0 GiB"]


def test_the_sidebar_forgets_a_clear_message_at_the_next_cell(shell: Shell) -> None:
    browser = sidebar.open_browser(shell.ip, shell.ip._nbcache_magics.store(), inline=True)
    shell.cached("y = 1")
    browser._on_clear_all()
    browser.confirm.children[1].click()
    assert browser.message.value == "removed 1 entry"
    shell.cached("y = 2")
    assert browser.message.value == "" and browser.totals.value.startswith("1 entry")


def test_sidebar_groups_are_named_by_what_the_cell_binds(shell: Shell) -> None:
    shell.run("%%cache\nimport math\nroot = math.sqrt(2)")
    browser = _browser(shell)
    heading = browser.listing.children[0].value
    assert "<b>math, root</b>" in heading and "import math" in heading
    browser.search.value = "root"
    assert len([c for c in browser.listing.children if "nbcache-entry" in c._dom_classes]) == 1


def _open_widgets() -> int:
    from ipywidgets.widgets.widget import _instances

    return len(_instances)


def test_an_open_browser_keeps_its_rows_from_cell_to_cell(shell: Shell) -> None:
    """Each refresh (after every cell) built every row anew, eight widgets an entry, and never closed the old ones:
    a store of 500 entries left 4,000 open widgets a cell. Rows are now kept by key and closed when their entry
    goes."""
    shell.ns["x"] = 0
    for i in range(5):
        shell.ns["x"] = i
        shell.run("%%cache\nz = x")
    browser = _browser(shell)
    rows = [c for c in browser.listing.children if "nbcache-entry" in c._dom_classes]
    before = _open_widgets()
    for _ in range(3):
        shell.run("w = 1")  # a plain cell: the open browser refreshes after it
        sidebar.notify()
    assert _open_widgets() == before
    assert [c for c in browser.listing.children if "nbcache-entry" in c._dom_classes] == rows
    browser.store.remove(rows[0].children[1].value.split("<code>")[1][:10])
    sidebar.notify()
    assert len([c for c in browser.listing.children if "nbcache-entry" in c._dom_classes]) == 4
    assert _open_widgets() == before - 3 and rows[0].comm is None  # its checkbox, facts and box closed


def test_a_browser_lists_the_newest_entries_and_says_how_many_more(shell: Shell,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sidebar, "LISTED", 3)
    for i in range(5):
        shell.ns["x"] = i
        shell.run("%%cache\nz = x")
    browser = _browser(shell)
    assert len([c for c in browser.listing.children if "nbcache-entry" in c._dom_classes]) == 3
    assert "showing the 3 newest of 5 entries" in browser.listing.children[-1].value
    assert browser.totals.value.startswith("5 entries")
    browser.search.value = "nothing matches this"
    assert "no entries" in browser.listing.children[0].value


def test_a_browser_slow_to_list_stops_refreshing_after_cells(shell: Shell) -> None:
    """Listing 10,000 entries takes about 0.4 s: after every cell, that would slow the whole notebook."""
    shell.cached("y = 1")
    if sidebar.refresh_after_cell not in shell.ip.events.callbacks["post_run_cell"]:  # as open_browser does
        shell.ip.events.register("post_run_cell", sidebar.refresh_after_cell)
    browser = _browser(shell)
    try:
        _check_a_slow_browser(shell, browser)
    finally:
        browser.close()  # later tests' cells must not refresh it


def _check_a_slow_browser(shell: Shell, browser: sidebar.CacheBrowser) -> None:
    browser.after_cell.limit_s = -1.0
    browser.refresh()
    assert "not refreshed after each cell: listing the store took" in browser.note.value
    shell.cached("y = 2")  # no refresh after this cell
    assert browser.totals.value.startswith("1 entry")
    browser.after_cell.limit_s = 10.0
    browser.refresh_button.click()
    assert browser.totals.value.startswith("2 entries") and browser.note.value == ""
    shell.cached("y = 3")
    assert browser.totals.value.startswith("3 entries")


@pytest.mark.parametrize("viewed", [True, False])
def test_cache_panel_moves_inline_where_no_sidebar_shows_it(shell: Shell, viewed: bool,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """JupyterLab shows the sidecar (a view appears); Notebook 7 has none, so the browser moves into the cell."""
    monkeypatch.setattr(sidebar.SidebarWatch, "wait_s", 0.5)
    browser = sidebar.open_browser(shell.ip, shell.ip._nbcache_magics.store(), inline=False)
    if viewed:
        browser.root._view_count = 1  # what the frontend reports once the sidebar has drawn it
    assert browser.watch is not None and browser.watch.done.wait(30)
    assert browser.watch.moved is not viewed and browser.sidecar is not None
    inline = browser.inline.outputs
    assert bool(inline) is not viewed and browser in sidebar._OPEN
    if not viewed:
        assert inline[0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] == browser.root.model_id
    browser.close()


def test_panels_survive_closing_every_widget(shell: Shell, panels: list[StatusPanel]) -> None:
    import ipywidgets

    shell.cached("y = 1")
    ipywidgets.Widget.close_all()  # the shared style sheet, layouts and styles go too
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # no fallback to the text line
        shell.cached("y = 1")
    assert badge(panels[-1]) == "hit" and panels[-1].root is panels[-1].header and panels[-1].root.comm is not None
