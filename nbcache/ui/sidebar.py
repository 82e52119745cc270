"""``%cache_panel``: the store's entries in JupyterLab's right sidebar, grouped by cell, with ways to clear them.

The browser is built from ipywidgets and placed in a ``sidecar.Sidecar``. Where the frontend has no sidebar for it
(Notebook 7, or no ``sidecar`` package) it shows in the cell's output instead: the kernel cannot ask the frontend
what it is, so it watches whether a view of the browser appears in the sidebar, and shows it inline if none does.
Every open browser refreshes after each cell runs and after a status panel clears an entry.
"""

from __future__ import annotations

import html
import threading
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


def _label(entry: Any) -> str:
    """A cell's heading: what it binds, then its first line (often an import, so second)."""
    outputs = sorted(entry.outputs)
    binds = ", ".join(outputs[:4]) + (f" +{len(outputs) - 4}" if len(outputs) > 4 else "")
    first = html.escape(entry.cell[:80] or "(empty cell)")
    code = f"<code style='opacity:0.7'>{first}</code>"
    return f"<b>{html.escape(binds)}</b> {code}" if binds else code


def _groups(entries: Sequence[Any], query: str) -> dict[str, list[Any]]:
    """Entries matching ``query`` (in the cell's first line or the key), grouped by cell, newest first."""
    query = query.strip().lower()
    groups: dict[str, list[Any]] = {}
    for entry in entries:
        names = " ".join(entry.outputs).lower()
        if query and query not in entry.cell.lower() and query not in names and not entry.key.startswith(query):
            continue
        ident = entry.meta.cell_ident or entry.key
        groups.setdefault(ident, []).append(entry)
    return groups


class CacheBrowser:
    """The list, search box and clearing buttons, bound to one store."""

    def __init__(self, store: Any) -> None:
        import ipywidgets as w  # delayed import: only a widget frontend needs it

        self._w = w
        self.store = store
        self.sidecar: Any = None  # the sidebar holding it, kept alive as long as the browser
        self.inline: Any = None  # the Output widget in the cell that holds it where there is no sidebar
        self.watch: SidebarWatch | None = None
        self.selected: set[str] = set()
        full = w.Layout(width="100%")
        self.totals = w.HTML("", layout=full)
        self.search = w.Text(placeholder="search cells, names or keys", continuous_update=True,
                             layout=w.Layout(width="100%"))
        self.search.observe(lambda _: self.refresh(), names="value")
        self.listing = w.VBox([], layout=w.Layout(width="100%"))
        self.clear_selected = self._button("clear selected", self._on_clear_selected)
        self.clear_all = self._button("clear all", self._on_clear_all)
        self.days = w.BoundedIntText(value=30, min=0, max=3650, layout=w.Layout(width="5em"))
        self.clear_old = self._button("clear", self._on_clear_old)
        self.confirm = w.HBox([], layout=w.Layout(flex_flow="row wrap"))
        self.message = w.HTML("")
        wrap = w.Layout(flex_flow="row wrap", align_items="center")
        old = w.HBox([w.Label("clear entries not used for"), self.days, w.Label("days"), self.clear_old], layout=wrap)
        rows = [self.totals, self.search, self.listing, w.HBox([self.clear_selected, self.clear_all], layout=wrap),
                self.confirm, old, self.message, staleness_widget()]
        # Padding keeps the search box clear of the sidebar's tab bar; the width follows the sidebar's.
        self.root = w.VBox(rows, layout=w.Layout(width="100%", min_width="18em", padding="8px 8px 4px 8px"))
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
    def refresh(self, keep_message: bool = False) -> None:
        """Show the store as it is now; a message about an earlier clear goes, unless it was just made."""
        entries = self.store.entries()
        if not keep_message:
            self.message.value = ""
        self.selected &= {e.key for e in entries}
        self.totals.value = html.escape(totals_text(entries, getattr(self.store, "size_limit", None)))
        children = []
        for group in _groups(entries, self.search.value).values():
            heading = self._w.HTML(f"<div class='nbcache-group' style='white-space:nowrap;overflow:hidden;"
                                   f"text-overflow:ellipsis' title='{html.escape(group[0].cell)}'>"
                                   f"{_label(group[0])}</div>", layout=self._w.Layout(width="100%"))
            children.append(heading)
            children.extend(self._entry_row(entry) for entry in group)
        self.listing.children = children or [self._w.HTML("<i>no entries</i>")]

    def _entry_row(self, entry: Any) -> Any:
        w = self._w
        box = w.Checkbox(value=entry.key in self.selected, indent=False, layout=w.Layout(width="auto", flex="none"))
        box.observe(lambda change, key=entry.key: self._select(key, change["new"]), names="value")
        uses = f"{entry.hits} hit{'' if entry.hits == 1 else 's'} · used {_ago(entry.last_used)}"
        # Two short lines that fit the sidebar's default width: which entry and its size, then how it was used.
        facts = (f"<div style='line-height:1.3'><code>{entry.key[:10]}</code> · {human_size(entry.size)}<br>"
                 f"<small style='opacity:0.75'>{html.escape(uses)}</small></div>")
        row = w.HBox([box, w.HTML(facts, layout=w.Layout(overflow="hidden"))],
                     layout=w.Layout(width="100%", align_items="center"))
        row.add_class("nbcache-entry")
        return row

    def _select(self, key: str, on: bool) -> None:
        if on:
            self.selected.add(key)
        else:
            self.selected.discard(key)

    # ---- clearing
    def _say(self, removed: int) -> None:
        self.confirm.children = []
        self.refresh()
        self.message.value = removed_text(removed)

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


def _bundle(browser: CacheBrowser) -> dict[str, Any]:
    # The text form says what the widget is, for frontends without widgets; nbcache's prefix marks it as a report.
    return {"text/plain": f"nbcache: cache browser ({browser.totals.value})",
            "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0,
                                                         "model_id": browser.root.model_id}}


class SidebarWatch:
    """Shows the browser in the cell's output too if no view of it appears in the sidebar within ``wait_s``.

    The frontend counts the views of a widget whose ``_view_count`` starts at 0, and reports the count once the
    cell has finished; a thread reads it then, so the cell does not wait. The sidecar stays: on a frontend that
    is only slow to draw it, the browser then shows in both places, and both stay fresh.
    """

    wait_s = 5.0

    def __init__(self, browser: CacheBrowser, inline: Any) -> None:
        self.browser = browser
        self.inline = inline
        self.done = threading.Event()
        self.moved = False
        browser.root._view_count = 0
        threading.Thread(target=self._run, name="nbcache-sidebar-watch", daemon=True).start()

    def _seen(self) -> bool:
        return bool(self.browser.root._view_count)

    def _run(self) -> None:
        try:
            end = time.monotonic() + self.wait_s
            while time.monotonic() < end and not self._seen():
                time.sleep(0.05)
            if not self._seen() and self.browser in _OPEN:
                self.inline.outputs = ({"output_type": "display_data", "data": _bundle(self.browser),
                                        "metadata": {}},)
                self.moved = True
        except Exception:  # a widget that cannot update must not disturb the kernel
            pass
        finally:
            self.done.set()


def open_browser(shell: Any, store: Any, inline: bool) -> CacheBrowser:
    """Show a browser in the right sidebar (or inline) and keep it fresh as cells run."""
    import ipywidgets as w
    from IPython.display import display

    browser = CacheBrowser(store)
    if refresh_after_cell not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("post_run_cell", refresh_after_cell)
    if inline:
        display(_bundle(browser), raw=True)
        return browser
    try:
        from sidecar import Sidecar
    except ImportError:  # no sidecar package: inline is the next best place
        display(_bundle(browser), raw=True)
        return browser
    for other in list(_OPEN):  # one sidebar tab at a time: a second %cache_panel replaces the first
        if other is not browser and other.sidecar is not None:
            other.close()
    sidecar = Sidecar(title="nbcache")
    with sidecar:
        display(_bundle(browser), raw=True)
    browser.sidecar = sidecar
    # Where the sidebar shows nothing (Notebook 7), the browser shows in this output in the cell instead.
    browser.inline = w.Output()
    display(browser.inline)
    browser.watch = SidebarWatch(browser, browser.inline)
    return browser
