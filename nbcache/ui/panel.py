"""The status panel under a cached cell: a badge, what it cost or saved, and details on demand.

It is a ``Reporter`` (see ``report.py``): the cell flow tells it "running", "saving", "done", and it shows them.
Its display bundle carries the status line as ``text/plain``, so a notebook run without a widget frontend
(nbclient, nbconvert) still holds the same text as the stderr line, and the saved notebook shows it.
"""

from __future__ import annotations

import html
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import ipywidgets as w
from IPython.display import display, update_display

from nbcache.store.clearing import ClearRequest, clear
from nbcache.ui import sidebar
from nbcache.ui.progress import SaveTicker
from nbcache.ui.report import CellStatus
from nbcache.units import human_size, human_time, when

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_COLOURS = {
    "hit": "#2e7d32", "miss": "#ef6c00", "not cached": "#757575", "running": "#1565c0", "restoring": "#1565c0",
    "waiting": "#1565c0", "saving": "#1565c0", "failed": "#c62828", "cleared": "#757575",
}


def badge_html(state: str, label: str | None = None) -> str:
    colour = _COLOURS.get(state.split(",")[0], "#757575")
    return (f'<span class="nbcache-badge" data-state="{html.escape(state)}" style="background:{colour};color:#fff;'
            f'border-radius:4px;padding:1px 7px;font-weight:600">{html.escape(label or state)}</span>')


def summary_text(status: CellStatus) -> str:
    """The facts after the badge, as plain words."""
    size = human_size(status.size) if status.size is not None else "nothing"
    if status.state == "hit":
        return f"restored {size} in {human_time(status.elapsed_s)} · saved {human_time(status.saved_s)}"
    if status.state == "miss":
        stored = f"stored {size}" if status.size is not None else "not stored"
        will = f" · will save ~{human_time(status.saved_s)}" if status.size is not None else ""
        return f"{status.reason} · ran in {human_time(status.elapsed_s)} · {stored}{will}"
    return status.reason


def _row(*cells: str) -> str:
    return "<tr>" + "".join(f"<td style='padding:0 8px'>{html.escape(c)}</td>" for c in cells) + "</tr>"


def _table(title: str, rows: list[str]) -> str:
    body = "".join(rows) or _row("(none)")
    return f"<b>{html.escape(title)}</b><table class='nbcache-details-{title.lower()}'>{body}</table>"


def _short(digest: str) -> str:
    """A content hash shortened; markers such as "builtin:print" or "absent" say what they are instead."""
    return digest.split(":")[0] if ":" in digest or not digest.isalnum() else digest[:12]


def _compared_with(previous: Any) -> str:
    if previous is None:
        return "<div><i>no other entry of this cell to compare with</i></div>"
    return (f"<div><i>changes are against this cell's entry <code>{html.escape(previous.key[:12])}</code>, "
            f"made {when(previous.created)}</i></div>")


def details_html(status: CellStatus, previous: Any) -> str:
    """Key, inputs (short hash, what changed since the cell's previous entry), outputs, file dependencies.

    ``previous``: the cell's newest other entry (an ``EntryInfo``), or None.
    """
    before: dict[str, str] | None = dict(previous.meta.get("inputs", {})) if previous is not None else None

    def change(name: str, digest: str) -> str:
        if before is None:
            return ""
        return "new" if name not in before else ("changed" if before[name] != digest else "")

    inputs = [_row(n, _short(d), change(n, d)) for n, d in sorted(status.inputs.items()) if not n.startswith("file:")]
    files = [_row(n[5:], d[:12], change(n, d)) for n, d in sorted(status.inputs.items()) if n.startswith("file:")]
    outputs = [_row(n, t, "~" + human_size(status.output_sizes.get(n, 0))) for n, t in sorted(status.outputs.items())]
    key = f"<div><b>key</b> <code>{html.escape(status.key[:16])}</code></div>" if status.key else ""
    tables = _table("Inputs", inputs) + _table("Outputs", outputs) + _table("Files", files)
    return key + _compared_with(previous) + tables


class StatusPanel:
    """One cell's panel. ``recompute`` re-runs the cell with -f, reporting to this same panel."""

    progress_delay_s = 1.0  # saves quicker than this show no bar

    def __init__(self, store: Any, recompute: Callable[[StatusPanel], Any] | None = None) -> None:
        self.store = store
        self._recompute = recompute
        self.status: CellStatus | None = None
        self._ticker: SaveTicker | None = None
        self._display_id = f"nbcache-{uuid.uuid4().hex}"
        self._shown = False
        self._recomputing = False
        self._build()

    # ---- widgets
    def _build(self) -> None:
        self.badge = w.HTML(badge_html("running"))
        self.summary = w.HTML("")
        self.toggle = w.ToggleButton(value=False, description="details", icon="chevron-down",
                                     layout=w.Layout(width="auto"))
        self.toggle.observe(self._on_toggle, names="value")
        self.progress = w.IntProgress(value=0, max=100, bar_style="info", layout=w.Layout(display="none"))
        self.details = w.HTML("")
        self.recompute_button = w.Button(description="recompute", icon="refresh", tooltip="run the cell again (-f)")
        self.clear_button = w.Button(description="clear this entry", icon="trash")
        self.recompute_button.on_click(lambda _: self.recompute())
        self.clear_button.on_click(lambda _: self.clear())
        self.message = w.HTML("")
        self.out = w.Output()
        buttons = w.HBox([self.recompute_button, self.clear_button])
        self.details_box = w.VBox([self.details, buttons, self.message, self.out], layout=w.Layout(display="none"))
        header = w.HBox([self.badge, self.summary, self.toggle], layout=w.Layout(align_items="center"))
        self.root = w.VBox([header, self.progress, self.details_box])
        self.root.add_class("nbcache-panel")

    def _bundle(self, text: str) -> dict[str, Any]:
        view = {"version_major": 2, "version_minor": 0, "model_id": self.root.model_id}
        return {"text/plain": text, _WIDGET_VIEW: view}

    def _show(self, text: str, again: bool = False) -> None:
        """Display once; later calls replace the display's text so the saved notebook holds the final line.

        ``again``: the cell cleared its output (and the panel with it), so show it anew.
        During "recompute" the panel is already shown and its widgets update it; a display made then would land
        in the panel's own output area.
        """
        if self._recomputing:
            return
        if again:
            self._display_id = f"nbcache-{uuid.uuid4().hex}"
        if again or not self._shown:
            display(self._bundle(text), raw=True, display_id=self._display_id)
            self._shown = True
        else:
            update_display(self._bundle(text), raw=True, display_id=self._display_id)

    # ---- Reporter
    def begin(self, state: str, reason: str = "") -> None:
        self.badge.value = badge_html(state)
        self.summary.value = html.escape(reason)
        self._show(f"nbcache: {state}" + (f" ({reason})" if reason else ""))

    def saving(self, approx_bytes: int) -> None:
        self.badge.value = badge_html("saving")
        self.summary.value = f"saving ~{human_size(approx_bytes)}…"
        self._stop_progress()
        self._ticker = SaveTicker(self._show_progress, approx_bytes, self.progress_delay_s).start()

    def _show_progress(self, fraction: float) -> None:
        self.progress.layout.display = ""
        self.progress.value = round(fraction * 100)

    def _stop_progress(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self.progress.layout.display = "none"

    def failed(self, error: BaseException) -> None:
        self._stop_progress()
        self.badge.value = badge_html("failed")
        self.summary.value = html.escape(f"the cell raised {type(error).__name__}; nothing was cached")
        self._show(f"nbcache: not cached (the cell raised {type(error).__name__})")

    def done(self, status: CellStatus) -> None:
        self.status = status
        stored = status.state == "miss" and status.size is not None
        label = "miss · stored" if stored else status.state
        self.badge.value = badge_html("miss,stored" if stored else status.state, label)
        self.summary.value = html.escape(summary_text(status))
        self._stop_progress()
        self.clear_button.disabled = status.size is None
        self.recompute_button.disabled = self._recompute is None or not status.raw
        if self.toggle.value:
            self._fill_details()
        self._show(status.line, again=status.cleared_output)  # open sidebars refresh after the cell (post_run_cell)

    # ---- details and buttons
    def _previous_entry(self) -> Any:
        """This cell's newest other entry, to say what changed since then; None if it has none."""
        assert self.status is not None
        for entry in self.store.entries():
            if entry.meta.get("cell_ident") == self.status.cell_ident and entry.key != self.status.key:
                return entry
        return None

    def _fill_details(self) -> None:
        if self.status is not None:
            self.details.value = details_html(self.status, self._previous_entry())

    def _on_toggle(self, change: dict[str, Any]) -> None:
        self.details_box.layout.display = "" if change["new"] else "none"
        self.toggle.icon = "chevron-up" if change["new"] else "chevron-down"
        if change["new"]:
            self._fill_details()

    def recompute(self) -> None:
        if self._recompute is None:
            return
        self.out.clear_output()
        self._say("recomputed with -f; its output:")
        self._recomputing = True
        with self.out:  # the recomputed cell's prints, displays and errors show inside the panel
            try:
                value = self._recompute(self)
                if value is not None:
                    display(value)
            except Exception:
                self._say("the cell raised; see the traceback below")
                traceback.print_exc()  # into the panel's output area, where the user is looking
            finally:
                self._recomputing = False
        sidebar.notify()  # a button click is no cell run: tell open sidebars here

    def clear(self) -> None:
        if self.status is None or not self.status.key:
            return
        removed = clear(self.store, ClearRequest(keys=(self.status.key,)))
        self.badge.value = badge_html("cleared")
        self.clear_button.disabled = True
        self._say("entry removed; the next run computes again" if removed else "entry already gone")
        sidebar.notify()

    def _say(self, text: str) -> None:
        self.message.value = html.escape(text)
