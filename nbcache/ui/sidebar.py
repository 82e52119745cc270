"""``%cache_panel``: the store's entries in JupyterLab's right sidebar, grouped by cell, with ways to clear them.

The browser is built from ipywidgets and placed in a ``sidecar.Sidecar`` (or inline where there is no sidebar).
Every open browser refreshes after each cell runs and after a status panel clears an entry.
"""

from __future__ import annotations

import html
import time
import weakref
from collections.abc import Sequence
from typing import Any

from nbcache.store.clearing import ClearRequest, clear, removed_text
from nbcache.ui.listing import totals_text
from nbcache.ui.staleness import staleness_widget
from nbcache.units import human_size, human_time

_OPEN: weakref.WeakSet[CacheBrowser] = weakref.WeakSet()


def notify() -> None:
    """Refresh every open browser; a refresh failure never reaches the user's cell."""
    for browser in list(_OPEN):
        try:
            browser.refresh()
        except Exception:
            pass


def refresh_after_cell(result: Any = None) -> None:
    """post_run_cell hook: a cell may have stored, hit or cleared entries."""
    notify()


def _ago(timestamp: float) -> str:
    return f"{human_time(max(time.time() - timestamp, 0.0))} ago"


def _groups(entries: Sequence[Any], query: str) -> dict[str, list[Any]]:
    """Entries matching ``query`` (in the cell's first line or the key), grouped by cell, newest first."""
    query = query.strip().lower()
    groups: dict[str, list[Any]] = {}
    for entry in entries:
        if query and query not in entry.cell.lower() and not entry.key.startswith(query):
            continue
        ident = entry.meta.get("cell_ident") or entry.key
        groups.setdefault(ident, []).append(entry)
    return groups


class CacheBrowser:
    """The list, search box and clearing buttons, bound to one store."""

    def __init__(self, store: Any) -> None:
        import ipywidgets as w  # delayed import: only a widget frontend needs it

        self._w = w
        self.store = store
        self.sidecar: Any = None  # the sidebar holding it, kept alive as long as the browser
        self.selected: set[str] = set()
        self.totals = w.HTML("")
        self.search = w.Text(placeholder="search cells or keys", continuous_update=True)
        self.search.observe(lambda _: self.refresh(), names="value")
        self.listing = w.VBox([])
        self.clear_selected = self._button("clear selected", self._on_clear_selected)
        self.clear_all = self._button("clear all", self._on_clear_all)
        self.days = w.BoundedIntText(value=30, min=0, max=3650, layout=w.Layout(width="5em"))
        self.clear_old = self._button("clear", self._on_clear_old)
        self.confirm = w.HBox([])
        self.message = w.HTML("")
        old = w.VBox([w.Label("clear entries not used for"), w.HBox([self.days, w.Label("days"), self.clear_old])])
        rows = [self.totals, self.search, self.listing, w.HBox([self.clear_selected, self.clear_all]), self.confirm,
                old, self.message, staleness_widget()]
        self.root = w.VBox(rows)
        self.root.add_class("nbcache-browser")
        _OPEN.add(self)
        self.refresh()

    def close(self) -> None:
        """Close its sidebar tab and stop refreshing."""
        _OPEN.discard(self)
        if self.sidecar is not None:
            self.sidecar.close()
            self.sidecar = None

    def _button(self, text: str, handler: Any) -> Any:
        button = self._w.Button(description=text, layout=self._w.Layout(width="auto"))
        button.on_click(lambda _: handler())
        return button

    # ---- the list
    def refresh(self) -> None:
        entries = self.store.entries()
        self.selected &= {e.key for e in entries}
        self.totals.value = html.escape(totals_text(entries, getattr(self.store, "size_limit", None)))
        children = []
        for group in _groups(entries, self.search.value).values():
            children.append(self._w.HTML(f"<b>{html.escape(group[0].cell[:80] or '(empty cell)')}</b>"))
            children.extend(self._entry_row(entry) for entry in group)
        self.listing.children = children or [self._w.HTML("<i>no entries</i>")]

    def _entry_row(self, entry: Any) -> Any:
        w = self._w
        box = w.Checkbox(value=entry.key in self.selected, indent=False, layout=w.Layout(width="auto"))
        box.observe(lambda change, key=entry.key: self._select(key, change["new"]), names="value")
        facts = (f"<code>{entry.key[:10]}</code> {human_size(entry.size)} · "
                 f"{entry.hits} hit{'' if entry.hits == 1 else 's'} · "
                 f"used {_ago(entry.last_used)}")
        row = w.HBox([box, w.HTML(facts)])
        row.add_class("nbcache-entry")
        return row

    def _select(self, key: str, on: bool) -> None:
        if on:
            self.selected.add(key)
        else:
            self.selected.discard(key)

    # ---- clearing
    def _say(self, removed: int) -> None:
        self.message.value = removed_text(removed)
        self.confirm.children = []
        self.refresh()

    def _on_clear_selected(self) -> None:
        self._say(clear(self.store, ClearRequest(keys=sorted(self.selected))) if self.selected else 0)

    def _on_clear_all(self) -> None:
        """Clearing everything asks first: the confirmation buttons appear, nothing is removed yet."""
        count = len(self.store.entries())
        yes = self._button(f"yes, clear all {count}", self._on_confirmed_clear_all)
        no = self._button("cancel", lambda: setattr(self.confirm, "children", []))
        self.confirm.children = [self._w.HTML("Really remove every entry?"), yes, no]

    def _on_confirmed_clear_all(self) -> None:
        self._say(clear(self.store, ClearRequest(all=True)))

    def _on_clear_old(self) -> None:
        self._say(clear(self.store, ClearRequest(older_than=f"{self.days.value}d")))


def open_browser(shell: Any, store: Any, inline: bool) -> CacheBrowser:
    """Show a browser in the right sidebar (or inline) and keep it fresh as cells run."""
    from IPython.display import display

    browser = CacheBrowser(store)
    if refresh_after_cell not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("post_run_cell", refresh_after_cell)
    # The text form says what the widget is, for frontends without widgets; nbcache's prefix marks it as a report.
    bundle = {"text/plain": f"nbcache: cache browser ({browser.totals.value})",
              "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0,
                                                           "model_id": browser.root.model_id}}
    if inline:
        display(bundle, raw=True)
        return browser
    try:
        from sidecar import Sidecar
    except ImportError:  # no sidecar package: inline is the next best place
        display(bundle, raw=True)
        return browser
    for other in list(_OPEN):  # one sidebar tab at a time: a second %cache_panel replaces the first
        if other is not browser and other.sidecar is not None:
            other.close()
    sidecar = Sidecar(title="nbcache")
    with sidecar:
        display(bundle, raw=True)
    browser.sidecar = sidecar
    return browser
