"""The status panel under a cached cell: a badge, what it cost or saved, "recompute", and details on demand.

It is a ``Reporter`` (see ``report.py``): the cell flow tells it "running", "saving", "done", and it shows them.
Its display bundle carries the status line as ``text/plain``, so a notebook run without a widget frontend
(nbclient, nbconvert) still holds the same text as the stderr line, and the saved notebook shows it.

Every widget is a comm the kernel opens with a message, and a hit must cost about a millisecond: the header is
one ``ToggleButtons`` widget (its HTML description is the badge and the summary, its buttons "recompute" and
"details") whose layout and style are made once per kernel and whose look is all inline (no style sheet widget),
shown alone with its final text. That header is opened from a state template without building the widget in the
kernel (``header.py``), and its ``comm_open`` and the display wake the kernel's I/O thread once (``outbox.py``).
A box under it, for the details, the progress bar and the recompute output, is built only when one of them is
first needed, and then replaces the header in the same display.
"""

from __future__ import annotations

import html
import threading
import traceback
from collections.abc import Callable
from enum import Enum
from typing import Any

import ipywidgets as w
from IPython.display import display, update_display
from ipywidgets.widgets.widget_button import ButtonStyle
from ipywidgets.widgets.widget_selection import ToggleButtonsStyle
from ipywidgets.widgets.widget_string import HTMLStyle

from nbcache.store.clearing import ClearRequest, clear
from nbcache.ui import sidebar
from nbcache.ui.details import details_html
from nbcache.ui.header import LightHeader
from nbcache.ui.ids import new_id
from nbcache.ui.outbox import outbox
from nbcache.ui.progress import SaveTicker, Ticker
from nbcache.ui.report import CellState, CellStatus, Reason, told
from nbcache.units import human_size, human_time

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# The header's label shows its HTML through the frontend's inline sanitizer (ipywidgets' ``inline_sanitize``):
# it keeps ``span`` with its ``class`` and ``style`` but drops a ``<style>`` element, so the look is inline.
_BADGE_STYLE = "color:#fff;border-radius:4px;padding:1px 7px;font-weight:600;white-space:nowrap;background:"
_BADGE_COLOURS = {CellState.HIT: "#2e7d32", CellState.MISS: "#ef6c00", CellState.FAILED: "#c62828",
                  CellState.RUNNING: "#1565c0", CellState.RESTORING: "#1565c0", CellState.WAITING: "#1565c0",
                  CellState.SAVING: "#1565c0"}
_GREY = "#757575"
# The label is a block left-aligned and cut with an ellipsis (a label is right-aligned by default).
_LINE_STYLE = "display:block;text-align:left;overflow:hidden;text-overflow:ellipsis;white-space:nowrap"
# The label takes the header's width but what its two buttons need ("recompute", "hide details", their margins).
_LABEL_WIDTH = "calc(100% - 240px)"


def badge_html(state: CellState, stored: bool = False) -> str:
    """The coloured badge: its classes say the state (``nbcache-state-miss nbcache-stored``), and so does the
    ``data-state`` the saved widget state keeps (the browser's sanitizer drops it)."""
    label = "miss · stored" if stored else state.value
    classes = f"nbcache-badge nbcache-state-{state.value.replace(' ', '-')}" + (" nbcache-stored" if stored else "")
    style = _BADGE_STYLE + _BADGE_COLOURS.get(state, _GREY)
    return (f'<span class="{classes}" style="{style}" data-state="{state.value}" '
            f'data-stored="{str(stored).lower()}">{html.escape(label)}</span>')


def header_html(state: CellState, summary: str, stored: bool = False) -> str:
    """Badge, then the summary, inline (the header's label allows inline tags only) in one line that a long
    summary ends with an ellipsis; the label's tooltip holds the full text."""
    return (f'<span class="nbcache-line" style="{_LINE_STYLE}">{badge_html(state, stored)} '
            f'<span class="nbcache-summary">{html.escape(summary)}</span></span>')


def summary_text(status: CellStatus) -> str:
    """The facts after the badge, as plain words."""
    size = human_size(status.size) if status.size is not None else "nothing"
    if status.state is CellState.HIT:
        return f"restored {size} in {human_time(status.elapsed_s)} · saved {human_time(status.saved_s)}"
    if status.state is CellState.MISS:
        stored = f"stored {size}" if status.size is not None else "not stored"
        will = f" · will save ~{human_time(status.saved_s)}" if status.size is not None else ""
        return f"{status.reason} · ran in {human_time(status.elapsed_s)} · {stored}{will}"
    return status.reason


def _publish(bundle: dict[str, Any], display_id: str, update: bool, header: LightHeader | None = None) -> None:
    """Send the panel's display (or its update) as ``display`` would, without flushing stdout and stderr first;
    ``header``: the header's model, opened first (its ``comm_open`` and the display wake the I/O thread once).

    ipykernel's publisher flushes both streams before every display, and each flush waits for its I/O thread:
    two round trips that cost a cheap hit more than the rest of the panel. The panel is shown before the cell's
    own output (a miss shows it before running, a hit before replaying), when nothing is waiting to be flushed.
    Outside a kernel (or with another publisher) it is a plain ``display``.
    """
    box = outbox()
    if header is not None:
        header.open(box)
    if box is None:
        (update_display if update else display)(bundle, raw=True, display_id=display_id)
        return
    kind = "update_display_data" if update else "display_data"
    content = {"data": bundle, "metadata": {}, "transient": {"display_id": display_id}}
    box.display(kind, content)
    box.flush()


class _Shared:
    """Layouts and styles every panel's widgets share: made once per kernel, so a panel opens no comm for them.

    Nothing may change them after they are made (a change would show in every panel).
    """

    _made: dict[str, Any] = {}

    @classmethod
    def get(cls, name: str) -> Any:
        made = cls._made.get(name)
        if made is None or made.comm is None:  # never made, or closed since (``Widget.close_all()``)
            made = cls._made[name] = cls._make(name)
        return made

    @staticmethod
    def _make(name: str) -> Any:
        return {
            "root": lambda: w.Layout(width="100%"),
            # One row: the label, then the buttons at the right end, never wrapped below it.
            "header": lambda: w.Layout(width="100%", display="flex", flex_flow="row nowrap", align_items="center",
                                       justify_content="space-between"),
            "header_style": lambda: ToggleButtonsStyle(description_width=_LABEL_WIDTH, button_width="auto"),
            "below": lambda: w.Layout(width="100%"),
            "html_style": lambda: HTMLStyle(),
            "button": lambda: w.Layout(width="auto"),
            "button_style": lambda: ButtonStyle(),
        }[name]()


class _Action(int, Enum):
    """The header's two buttons, by their position."""

    RECOMPUTE = 0
    DETAILS = 1


class StatusPanel:
    """One cell's panel. ``recompute`` re-runs the cell with -f, reporting to this same panel.

    The header is one ``ToggleButtons`` widget: its HTML description is the badge and the summary, its two
    buttons are "recompute" and "details". It is shown alone; when the details, a progress bar or the recomputed
    output are first needed, a box holding the header and them replaces it in the same display.
    """

    progress_delay_s = 1.0  # saves quicker than this show no bar
    running_delay_s = 0.5  # misses quicker than this show a plain line while they run, no badge

    def __init__(self, store: Any, recompute: Callable[[StatusPanel], Any] | None = None) -> None:
        self.store = store
        self._recompute = recompute
        self.status: CellStatus | None = None
        self.state = CellState.RUNNING
        self.summary = ""
        self._saving = ""
        self.details_open = False
        self._ticker: SaveTicker | None = None
        self._running: Ticker | None = None
        self._display_id = f"nbcache-{new_id()}"
        self._shown = False
        self._holding = False  # a miss's place is held until its first output (``output_starts``)
        self._placing = threading.Lock()  # the "running" ticker and the cell's first output may both show it
        self._text = ""  # the display's text/plain: the status line
        self._recomputing = False
        self._light: LightHeader | None = None  # the header's model, opened without a widget
        self._header: Any = None  # its widget, made on first need
        self._box: Any = None  # the header and what joined it, shown instead of the header from then on
        self.progress: Any = None
        self.details_box: Any = None
        self.out: Any = None

    # ---- widgets
    @property
    def header(self) -> Any:
        """The header's ``ToggleButtons`` widget (None before anything was shown); made here from the model
        opened without it, at the first use."""
        if self._header is None and self._light is not None:
            self._header = self._light.adopt()
            self._header.observe(self._on_click, names="index")
        return self._header

    @property
    def root(self) -> Any:
        """What the display shows: the header, later the box holding it."""
        return self._box if self._box is not None else self.header

    def _build(self, text: str, tooltip: str) -> None:
        self._light = LightHeader(text, tooltip, _Shared.get("header"), _Shared.get("header_style"),
                                  on_message=lambda msg: self.header._handle_msg(msg))

    def _join(self, widget: Any) -> None:
        """Put ``widget`` under the header: the first one builds the box, which the display shows from then on."""
        if self._box is not None:
            self._box.children = (*self._box.children, widget)
            return
        # Classes given at creation: add_class afterwards would cost a message of its own.
        self._box = w.VBox([self.header, widget], layout=_Shared.get("root"), _dom_classes=("nbcache-panel",))
        if self._shown or self.progress is not None:  # a save's bar shows, even where nothing was shown yet
            _publish(self._bundle(self._text), self._display_id, update=self._shown)
            self._shown = True

    def _labels(self) -> list[str]:
        return ["recompute", "hide details" if self.details_open else "details"]

    def _set(self, state: CellState, summary: str) -> None:
        self.state, self.summary = state, summary
        stored = self.status is not None and self.status.stored and state is CellState.MISS
        text = header_html(state, summary, stored)
        if self._light is None:
            self._build(text, summary)  # created with its text: no update message
            return
        with self.header.hold_sync():  # one message for both
            self.header.description, self.header.tooltip = text, summary

    def _on_click(self, change: dict[str, Any]) -> None:
        if change["new"] is None:
            return
        self.header.index = None  # the buttons act, they do not stay pressed
        if change["new"] == _Action.RECOMPUTE:
            self.recompute()
        else:
            self.toggle_details()

    def _bundle(self, text: str) -> dict[str, Any]:
        shown = next(part for part in (self._box, self._header, self._light) if part is not None)  # makes none
        view = {"version_major": 2, "version_minor": 0, "model_id": shown.model_id}
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
            self._display_id = f"nbcache-{new_id()}"
        update = self._shown and not again
        self._shown, self._text = True, text
        _publish(self._bundle(text), self._display_id, update, self._light)

    # ---- Reporter
    def begin(self, state: CellState, reason: Reason = "") -> None:
        if state is CellState.RUNNING and self._light is None and not self._recomputing:
            self._hold_place(state, reason)
            return
        self._stop_running()
        self._show_state(state, told(reason))

    def _show_state(self, state: CellState, reason: str) -> None:
        self._set(state, reason)
        self._show(f"nbcache: {state.value}" + (f" ({reason})" if reason else ""))

    def _hold_place(self, state: CellState, reason: Reason) -> None:
        """A miss: most run for far less than a second and show nothing, so the widget is built once, with its
        final text, by ``done``, and nothing is shown before. A plain line holds the panel's place above the cell's
        output once it has some (``output_starts``); a run still going after ``running_delay_s`` gets its
        "running" badge then, with its reason, from a ticker thread (the reason is worked out only then: see
        ``LateReason``)."""
        self.state, self._text, self._holding = state, f"nbcache: {state.value}", True
        self._running = Ticker(lambda: self._show_running(state, reason), self.running_delay_s).start()

    def output_starts(self) -> None:
        """The cell is about to show its first output: the panel's place goes above it."""
        with self._placing:
            if self._holding and not self._shown:
                self._shown = True
                _publish({"text/plain": self._text}, self._display_id, update=False)

    def _show_running(self, state: CellState, reason: Reason) -> None:
        reason = told(reason)  # before taking the place: the cell's first output need not wait for it
        with self._placing:  # not while the cell's first output takes the place from the main thread
            self._show_state(state, reason)

    def _stop_running(self) -> None:
        if self._running is not None:
            self._running.stop()  # a badge being shown is shown first, none after
            self._running = None

    def restoring(self, status: CellStatus) -> None:
        """A hit, with its final facts, before its outputs replay: shown once above them, and ``done`` with the
        same status sends nothing more (one widget and one display in all)."""
        self.status = status
        self._set(status.state, summary_text(status))
        self._show(status.line)

    def saving(self, approx_bytes: int) -> None:
        """A save shows (badge "saving" and a bar) only once it has taken ``progress_delay_s``: most are quicker."""
        self._stop_running()
        self._stop_progress()
        self._saving = f"saving ~{human_size(approx_bytes)}…"
        self._ticker = SaveTicker(self._show_progress, approx_bytes, self.progress_delay_s).start()

    def _show_progress(self, fraction: float) -> None:
        if self.progress is None:
            self._set(CellState.SAVING, self._saving)
            self.progress = w.IntProgress(value=0, max=100, bar_style="info", layout=_Shared.get("below"))
            self._join(self.progress)
        self.progress.value = round(fraction * 100)

    def _stop_progress(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        if self.progress is not None:
            self._box.children = tuple(c for c in self._box.children if c is not self.progress)
            self.progress = None

    def failed(self, error: BaseException) -> None:
        self._stop_running()
        self._stop_progress()
        self.status = None
        self._set(CellState.FAILED, f"the cell raised {type(error).__name__}; nothing was cached")
        self._show(f"nbcache: not cached (the cell raised {type(error).__name__})")

    def done(self, status: CellStatus) -> None:
        self._stop_running()
        self._stop_progress()
        if status is self.status and self._shown and not status.cleared_output:
            return  # shown by ``restoring``, before the replay
        self.status = status
        self._set(status.state, summary_text(status))
        if self.details_box is not None:
            self._fill_details()
        self._show(status.line, again=status.cleared_output)  # open sidebars refresh after the cell (post_run_cell)

    # ---- details and buttons, built on first use
    def _build_details(self) -> None:
        self.details = w.HTML("", layout=_Shared.get("below"), style=_Shared.get("html_style"))
        self.clear_button = w.Button(description="clear this entry", icon="trash", layout=_Shared.get("button"),
                                     style=_Shared.get("button_style"))
        self.clear_button.on_click(lambda _: self.clear())
        self.message = w.HTML("", style=_Shared.get("html_style"))
        self.details_box = w.VBox([self.details, w.HBox([self.clear_button, self.message])],
                                  layout=w.Layout(width="100%", display="none"))
        self.details_box.add_class("nbcache-details")
        self._join(self.details_box)

    def _fill_details(self) -> None:
        status = self.status
        self.details.value = details_html(status, self.state, self.store)
        stored = status is not None and status.size is not None and self.state is not CellState.CLEARED
        self.clear_button.layout.display = "" if stored else "none"  # nothing stored: nothing to clear

    def toggle_details(self) -> None:
        self.details_open = not self.details_open
        if self.details_box is None:
            self._build_details()
        self.details_box.layout.display = "" if self.details_open else "none"
        self.header.options = self._labels()
        self.header.index = None
        if self.details_open:
            self._fill_details()

    def recompute(self) -> None:
        if self._recompute is None:
            return
        if self.out is None:
            self.out = w.Output(layout=_Shared.get("below"))
            self.out.add_class("nbcache-recomputed")
            self._join(self.out)
        self.out.clear_output()
        self._recomputing = True
        with self.out:  # the recomputed cell's prints, displays and errors show inside the panel
            try:
                print("recomputed with -f; its output:")
                value = self._recompute(self)
                if value is not None:
                    display(value)
            except Exception:
                traceback.print_exc()  # into the panel's output area, where the user is looking
            finally:
                self._recomputing = False
        sidebar.notify()  # a button click is no cell run: tell open sidebars here

    def clear(self) -> None:
        if self.status is None or not self.status.key:
            return
        removed = clear(self.store, ClearRequest(keys=(self.status.key,)))
        self._set(CellState.CLEARED, "entry removed; the next run computes again" if removed else "entry already gone")
        if self.details_box is not None:
            self._fill_details()
        sidebar.notify()
