"""``%cache_panel``: the store's entries in JupyterLab's right sidebar, grouped by cell, with ways to clear them.

The browser is built from ipywidgets and placed in a ``sidecar.Sidecar``. Where the frontend has no sidebar for it
(Notebook 7, or no ``sidecar`` package) it shows in the cell's output instead: the kernel cannot ask the frontend
what it is, so it watches whether a view of the browser appears in the sidebar, and shows it inline if none does.
Every open browser refreshes after a status panel clears an entry, and after each cell runs while that refresh
stays cheap (``aftercell.py``).
"""

from __future__ import annotations

import html
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nbcache.store.clearing import ClearRequest, clear, removed_text
from nbcache.ui.aftercell import AfterCell
from nbcache.ui.listing import totals_text
from nbcache.ui.staleness import staleness_widget
from nbcache.units import human_size, human_time

_OPEN: weakref.WeakSet[CacheBrowser] = weakref.WeakSet()


def notify(after_cell: bool = False) -> None:
    """Refresh every open browser (``after_cell``: those whose refresh after cells stays cheap); a refresh failure
    never reaches the user's cell."""
    for browser in list(_OPEN):
        try:
            if not after_cell or browser.after_cell.automatic:
                browser.refresh()
        except Exception:
            pass


def refresh_after_cell(result: Any = None) -> None:
    """post_run_cell hook: a cell may have stored, hit or cleared entries."""
    notify(after_cell=True)


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


# The listing shows at most this many entries, the newest (of those the search matches); the totals count them all.
# Every cell refreshes an open browser, and a row is three widgets: a store of thousands would cost each cell seconds
# and a frontend as many widgets, where nobody scrolls past the first few hundred.
LISTED = 200


@dataclass
class _Row:
    """One entry's row: its checkbox, its facts, the box holding both."""

    box: Any
    facts: Any
    row: Any

    def close(self) -> None:
        for widget in (self.box, self.facts, self.row):
            widget.close()


class EntryRows:
    """The listing's headings and rows, kept from one refresh to the next by cell and by key.

    Before, each refresh (after every cell) built every row anew and never closed the old ones: eight or nine
    widgets an entry (their layouts and styles included), a store of 500 entries 4,150 widgets a cell, left open
    in the kernel and the frontend. Now a row is made once, its facts updated only when they change (an unchanged
    value sends nothing), and closed when its entry goes; rows share their layouts and styles.
    """

    def __init__(self, w: Any, listing: Any, select: Callable[[str, bool], None]) -> None:
        from ipywidgets.widgets.widget_bool import CheckboxStyle
        from ipywidgets.widgets.widget_string import HTMLStyle

        self._w, self._listing, self._select = w, listing, select
        self._layouts = {"row": w.Layout(width="100%", align_items="center"), "facts": w.Layout(overflow="hidden"),
                         "box": w.Layout(width="auto", flex="none"), "heading": w.Layout(width="100%")}
        self._styles = {"box": CheckboxStyle(), "html": HTMLStyle()}
        self._rows: dict[str, _Row] = {}
        self._headings: dict[str, Any] = {}
        self._empty = w.HTML("<i>no entries</i>")
        self._more = w.HTML("")

    def show(self, groups: dict[str, list[Any]], selected: set[str]) -> None:
        """List these groups (cell ident: its entries, newest first), up to ``LISTED`` entries in all."""
        children: list[Any] = []
        listed = 0
        for ident, group in groups.items():
            if listed >= LISTED:
                break
            group = group[:LISTED - listed]
            children.append(self._heading(ident, group[0]))
            children.extend(self._row(entry, entry.key in selected).row for entry in group)
            listed += len(group)
        matching = sum(len(group) for group in groups.values())
        if matching > listed:
            self._more.value = (f"<small style='opacity:0.75'>showing the {listed} newest of {matching:,} entries: "
                                "search to narrow</small>")
            children.append(self._more)
        shown = tuple(children) or (self._empty,)
        if shown != self._listing.children:
            self._listing.children = shown
        self._close_unlisted(children)  # after the listing stopped showing them

    def _heading(self, ident: str, newest: Any) -> Any:
        value = (f"<div class='nbcache-group' style='white-space:nowrap;overflow:hidden;text-overflow:ellipsis' "
                 f"title='{html.escape(newest.cell)}'>{_label(newest)}</div>")
        heading = self._headings.get(ident)
        if heading is None:
            heading = self._headings[ident] = self._w.HTML(value, layout=self._layouts["heading"],
                                                           style=self._styles["html"])
        heading.value = value
        return heading

    def _row(self, entry: Any, selected: bool) -> _Row:
        uses = f"{entry.hits} hit{'' if entry.hits == 1 else 's'} · used {_ago(entry.last_used)}"
        # Two short lines that fit the sidebar's default width: which entry and its size, then how it was used.
        facts = (f"<div style='line-height:1.3'><code>{entry.key[:10]}</code> · {human_size(entry.size)}<br>"
                 f"<small style='opacity:0.75'>{html.escape(uses)}</small></div>")
        row = self._rows.get(entry.key)
        if row is None:
            w = self._w
            box = w.Checkbox(value=selected, indent=False, layout=self._layouts["box"], style=self._styles["box"])
            box.observe(lambda change, key=entry.key: self._select(key, change["new"]), names="value")
            text = w.HTML(facts, layout=self._layouts["facts"], style=self._styles["html"])
            # Classes given at creation: add_class afterwards would cost a message of its own.
            row = self._rows[entry.key] = _Row(box, text, w.HBox([box, text], layout=self._layouts["row"],
                                                                  _dom_classes=("nbcache-entry",)))
        row.facts.value, row.box.value = facts, selected
        return row

    def _close_unlisted(self, children: list[Any]) -> None:
        """Close the rows and headings of entries no longer listed (removed, or beyond the search or the limit)."""
        listed = {id(child) for child in children}
        for key, row in list(self._rows.items()):
            if id(row.row) not in listed:
                row.close()
                del self._rows[key]
        for ident, heading in list(self._headings.items()):
            if id(heading) not in listed:
                heading.close()
                del self._headings[ident]


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
        self.rows = EntryRows(w, self.listing, self._select)
        self.clear_selected = self._button("clear selected", self._on_clear_selected)
        self.clear_all = self._button("clear all", self._on_clear_all)
        self.days = w.BoundedIntText(value=30, min=0, max=3650, layout=w.Layout(width="5em"))
        self.clear_old = self._button("clear", self._on_clear_old)
        self.confirm = w.HBox([], layout=w.Layout(flex_flow="row wrap"))
        self.message = w.HTML("")
        self.after_cell = AfterCell("listing the store")
        self.note = w.HTML("")
        self.refresh_button = self._button("refresh", self.refresh)
        self.refresh_button.layout.display = "none"
        wrap = w.Layout(flex_flow="row wrap", align_items="center")
        old = w.HBox([w.Label("clear entries not used for"), self.days, w.Label("days"), self.clear_old], layout=wrap)
        rows = [self.totals, w.HBox([self.note, self.refresh_button], layout=wrap), self.search, self.listing,
                w.HBox([self.clear_selected, self.clear_all], layout=wrap), self.confirm, old, self.message,
                staleness_widget()]
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
        self.after_cell.refresh(lambda: self._show(keep_message), self.note, self.refresh_button)

    def _show(self, keep_message: bool) -> None:
        entries = self.store.entries()
        if not keep_message:
            self.message.value = ""
        self.selected &= {e.key for e in entries}
        self.totals.value = html.escape(totals_text(entries, getattr(self.store, "size_limit", None)))
        self.rows.show(_groups(entries, self.search.value), self.selected)

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
