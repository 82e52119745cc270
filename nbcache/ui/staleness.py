"""The sidebar's list of the cells this kernel ran under nbcache, stale ones marked, refreshed after each cell
while that stays cheap (``aftercell.py``).

It shows what ``%cache_status`` prints; the states come from a provider set when the extension loads.
"""

from __future__ import annotations

import html
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from nbcache.ui.aftercell import AfterCell

_PROVIDER: Callable[[], Sequence[Any]] | None = None
_VIEWS: weakref.WeakSet[StalenessView] = weakref.WeakSet()


def watch(provider: Callable[[], Sequence[Any]] | None) -> None:
    """Where the states come from (``CacheMagics.status_states``); None when the extension is unloaded."""
    global _PROVIDER
    _PROVIDER = provider


def refresh_after_cell(result: Any = None) -> None:
    """post_run_cell hook: a cell may have changed an input; views that fail to refresh are left as they were."""
    if not _VIEWS:  # no sidebar open: nothing to do after each cell
        return
    for view in list(_VIEWS):
        try:
            if view.after_cell.automatic:
                view.refresh()
        except Exception:
            pass


def row_html(state: Any) -> str:
    count = f"[{state.execution_count}]" if state.execution_count is not None else "[ ]"
    mark = ("<span style='color:#2e7d32'>✓ hit</span>" if state.would_hit
            else f"<span style='color:#c62828'>✗ stale</span> <i>{html.escape(state.reason)}</i>")
    return f"<div class='nbcache-stale-row'><code>{count}</code> {html.escape(state.cell[:60])} · {mark}</div>"


class StalenessView:
    """A heading and one row per cell: would it hit if run now, and if not, why."""

    def __init__(self) -> None:
        import ipywidgets as w  # delayed import: only a widget frontend needs it

        self.body = w.HTML("")
        self.after_cell = AfterCell("checking the cells (their inputs are hashed again)")
        self.note = w.HTML("")
        self.button = w.Button(description="refresh", layout=w.Layout(width="auto", display="none"))
        # By weak reference: the button must not keep the view alive (and refreshing after cells) past its owner.
        view = weakref.ref(self)
        self.button.on_click(lambda _: _refresh(view()))
        self.root = w.VBox([w.HTML("<b>cells in this kernel</b>"), self.body, w.HBox([self.note, self.button])])
        self.root.add_class("nbcache-staleness")
        _VIEWS.add(self)
        self.refresh()

    def refresh(self) -> None:
        self.after_cell.refresh(self._show, self.note, self.button)

    def _show(self) -> None:
        states = list(_PROVIDER()) if _PROVIDER is not None else []
        rows = [row_html(s) for s in states] or ["<i>no cells ran under nbcache yet</i>"]
        self.body.value = "".join(rows)


def _refresh(view: StalenessView | None) -> None:
    if view is not None:
        view.refresh()


def staleness_widget() -> Any:
    """The view's widget, for the sidebar to place; the widget keeps its view alive (and refreshing) with it."""
    view = StalenessView()
    view.root._nbcache_view = view
    return view.root
